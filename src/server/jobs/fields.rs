//! A job's numeric fields over a span (`GET /api/system/jobs/fields`): what its `metrics` events
//! sent, read from the saved events for as far back as history is kept, and from the hub's last
//! hour for what the writer has not saved yet (or for all of it with --no-persist). A field with
//! more points than asked for is averaged into buckets: a loss curve is read by its trend.

use crate::server::http::error::HttpError;
use crate::server::http::query::{Query, checked_span, parse_time};
use crate::server::jobs::Jobs;
use crate::server::jobs::convention::JOBS_PREFIX;
use crate::wire::{Envelope, JobFields};
use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The event whose numeric fields are drawn.
const METRICS: &str = "metrics";

#[derive(Deserialize)]
pub struct FieldsQuery {
    /// The job's channel, `jobs/…`.
    channel: Option<String>,
    /// ISO-8601 or epoch milliseconds; default: an hour before `to`.
    from: Option<String>,
    /// Default: now.
    to: Option<String>,
    /// At most this many points per field (default 500, at most 5000).
    points: Option<usize>,
}

pub async fn job_fields(
    State(jobs): State<Jobs>,
    Query(query): Query<FieldsQuery>,
) -> Result<axum::Json<JobFields>, HttpError> {
    let channel = query
        .channel
        .filter(|c| c.starts_with(JOBS_PREFIX))
        .ok_or_else(|| {
            HttpError::BadRequest(
                "ask for a job's channel: /api/system/jobs/fields?channel=jobs/train-1[&from=…][&to=…][&points=…]".into(),
            )
        })?;
    let to = match query.to.as_deref() {
        Some(to) => parse_time("to", to)?,
        None => Utc::now().timestamp_millis(),
    };
    let from = match query.from.as_deref() {
        Some(from) => parse_time("from", from)?,
        None => to - 3_600_000,
    };
    let points = checked_span(from, to, query.points)?;
    let Some(known) = jobs.book.field_names(&channel) else {
        return Err(HttpError::NotFound(format!(
            "no job '{channel}': GET /api/system/jobs lists the jobs"
        )));
    };
    let sent = metrics_between(&jobs, &channel, from, to)?;
    let bucket_ms = ((to - from) as f64 / points as f64).ceil().max(1.0) as i64;
    let mut fields = fields_of(&sent, from, bucket_ms, points);
    // Every field the job has, with no points where it sent none in the span: a chart keeps
    // the same lines (and legend) however far it is zoomed.
    for name in known {
        fields.entry(name).or_default();
    }
    Ok(axum::Json(JobFields {
        channel,
        from,
        to,
        bucket_ms,
        fields,
    }))
}

/// The job's `metrics` data from `from` to `to`, oldest first: the saved ones older than the
/// hub's ring, then the ring's.
pub(crate) fn metrics_between(
    jobs: &Jobs,
    channel: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, Value)>, HttpError> {
    let ring: Vec<Envelope> = jobs
        .hub
        .history(channel, 0, None)
        .unwrap_or_default()
        .iter()
        .filter_map(|frame| serde_json::from_str(frame.as_str()).ok())
        .collect();
    let ring_from = ring
        .first()
        .map_or(i64::MAX, |e: &Envelope| e.timestamp.timestamp_millis());
    let ring: Vec<(i64, Value)> = ring
        .into_iter()
        .filter(|e| e.event == METRICS)
        .map(|e| (e.timestamp.timestamp_millis(), e.data))
        .collect();
    let mut sent = Vec::new();
    if let Some(db) = &jobs.durable.db
        && from <= ring_from
    {
        let saved = db
            .events_between(channel, METRICS, from, to.min(ring_from))
            .map_err(|e| HttpError::Internal(e.to_string()))?;
        sent.extend(older_than_ring(saved, &ring, ring_from));
    }
    sent.extend(ring.into_iter().filter(|(t, _)| (from..=to).contains(t)));
    Ok(sent)
}

/// The saved messages the ring no longer holds: those before its oldest time, and of those at
/// that very millisecond, all but as many as the ring still has (the ring keeps the newest).
fn older_than_ring(
    saved: Vec<(i64, String)>,
    ring: &[(i64, Value)],
    ring_from: i64,
) -> impl Iterator<Item = (i64, Value)> {
    let at_edge = move |t: i64| t == ring_from;
    let saved_at_edge = saved.iter().filter(|(t, _)| at_edge(*t)).count();
    let ring_at_edge = ring.iter().filter(|(t, _)| at_edge(*t)).count();
    let mut edge_kept = saved_at_edge.saturating_sub(ring_at_edge);
    saved
        .into_iter()
        .filter(move |(t, _)| {
            !at_edge(*t)
                || edge_kept
                    .checked_sub(1)
                    .map(|left| edge_kept = left)
                    .is_some()
        })
        .filter_map(|(t, data)| Some((t, serde_json::from_str(&data).ok()?)))
}

/// Each numeric field's points; a field with more than `points` is averaged per bucket of
/// `bucket_ms` from `from` (each bucket's point at its values' mean time).
fn fields_of(
    sent: &[(i64, Value)],
    from: i64,
    bucket_ms: i64,
    points: usize,
) -> BTreeMap<String, Vec<[f64; 2]>> {
    let mut fields: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for (t, data) in sent {
        for (name, value) in data.as_object().into_iter().flatten() {
            if let Some(value) = value.as_f64().filter(|v| v.is_finite()) {
                fields.entry(name.clone()).or_default().push((*t, value));
            }
        }
    }
    fields
        .into_iter()
        .map(|(name, raw)| {
            let drawn = if raw.len() <= points {
                raw.iter().map(|&(t, v)| [t as f64, v]).collect()
            } else {
                averaged(&raw, from, bucket_ms)
            };
            (name, drawn)
        })
        .collect()
}

fn averaged(raw: &[(i64, f64)], from: i64, bucket_ms: i64) -> Vec<[f64; 2]> {
    raw.chunk_by(|a, b| (a.0 - from).div_euclid(bucket_ms) == (b.0 - from).div_euclid(bucket_ms))
        .map(|bucket| {
            let n = bucket.len() as f64;
            let t = bucket.iter().map(|&(t, _)| t as f64).sum::<f64>() / n;
            let v = bucket.iter().map(|&(_, v)| v).sum::<f64>() / n;
            [t.round(), v]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_saved_messages_stop_where_the_ring_starts_within_one_millisecond() {
        let saved: Vec<(i64, String)> = [(5, 1), (9, 2), (9, 3), (9, 4)]
            .map(|(t, step)| (t, format!("{{\"step\":{step}}}")))
            .into();
        let ring = [(9, json!({"step": 4})), (12, json!({"step": 5}))];
        let older: Vec<(i64, Value)> = older_than_ring(saved, &ring, 9).collect();
        assert_eq!(
            older,
            [
                (5, json!({"step": 1})),
                (9, json!({"step": 2})),
                (9, json!({"step": 3}))
            ]
        );
    }

    #[test]
    fn each_numeric_field_is_a_line_and_many_points_are_averaged() {
        let sent: Vec<(i64, Value)> = (0..10)
            .map(|i| {
                (
                    i * 1000,
                    json!({"step": i, "loss": 1.0 / (i + 1) as f64, "tag": "x"}),
                )
            })
            .collect();
        let raw = fields_of(&sent, 0, 1000, 10);
        assert_eq!(
            raw.keys().collect::<Vec<_>>(),
            ["loss", "step"],
            "text is no field"
        );
        assert_eq!(raw["step"][3], [3000.0, 3.0]);

        let halved = fields_of(&sent, 0, 2000, 5);
        assert_eq!(halved["step"].len(), 5);
        assert_eq!(halved["step"][0], [500.0, 0.5], "mean time, mean value");
        assert_eq!(halved["step"][4], [8500.0, 8.5]);
    }
}
