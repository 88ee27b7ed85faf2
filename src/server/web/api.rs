//! REST routes: the current snapshot, the GPU list and channel history, all read from memory.

use crate::server::collect::Snapshot;
use crate::server::history::query::RangeRequest;
use crate::server::http::error::HttpError;
use crate::server::http::query::{Query, checked_span, parse_time};
use crate::server::runtime::turns::in_turn;
use crate::server::web::state::AppState;
use crate::shared::page_source::PageSource;
use crate::wire::{
    CHANNEL_GPU_PREFIX, CurrentMetrics, GpuList, GpuListEntry, GpuMetrics, HOST_CHANNELS, PageSeed,
};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

impl PageSource for AppState {
    fn current_metrics(&self) -> CurrentMetrics {
        current_metrics(self)
    }

    fn gpus(&self) -> GpuList {
        gpus(self)
    }

    fn page_seed(&self) -> PageSeed {
        page_seed(self)
    }
}

/// The latest message of every system channel: what a browser polls while its socket is down.
pub fn current_metrics(app: &AppState) -> CurrentMetrics {
    let channels = app.hub.latest(is_metrics_channel);
    CurrentMetrics {
        epoch: app.hub.epoch(),
        interval_seconds: app.config.interval.as_secs_f64(),
        channels,
        gpu_status: app.latest.gpu_status(),
    }
}

pub fn gpus(app: &AppState) -> GpuList {
    match app.latest.get() {
        Some(snapshot) => {
            let mut list = gpu_list(&snapshot);
            // Each GPU's named jobs, from the job book.
            let jobs = app.jobs.book.list(chrono::Utc::now(), &snapshot.gpus);
            for entry in &mut list.gpus {
                entry.named_jobs = jobs
                    .jobs
                    .iter()
                    .filter(|job| job.gpus.contains(&entry.uuid))
                    .map(|job| job.channel.clone())
                    .collect();
            }
            list
        }
        None => GpuList {
            status: app.latest.gpu_status(),
            gpus: Vec::new(),
        },
    }
}

/// What a page starts from: the hello and the history the sampler keeps for pages.
pub fn page_seed(app: &AppState) -> PageSeed {
    PageSeed {
        hello: crate::server::web::ws::hello(app),
        history: app.page_history.seed(),
        alerts: app.alerts.active(),
    }
}

fn is_metrics_channel(name: &str) -> bool {
    HOST_CHANNELS.contains(&name) || name.starts_with(CHANNEL_GPU_PREFIX)
}

/// Every GPU with its static facts, whether it is free, and its current jobs (its processes).
pub fn gpu_list(snapshot: &Snapshot) -> GpuList {
    GpuList {
        status: snapshot.gpu_status.clone(),
        gpus: snapshot.gpus.iter().map(gpu_entry).collect(),
    }
}

fn gpu_entry(gpu: &GpuMetrics) -> GpuListEntry {
    GpuListEntry {
        index: gpu.index,
        uuid: gpu.uuid.clone(),
        name: gpu.name.clone(),
        memory_total_bytes: gpu.memory_total_bytes,
        power_limit_watts: gpu.power_limit_watts,
        occupancy: gpu.occupancy(),
        jobs: gpu.processes.clone(),
        named_jobs: Vec::new(),
    }
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    /// A channel of the in-memory ring.
    channel: Option<String>,
    /// Either a sequence number (messages after it) or an ISO-8601 time (messages at or after it).
    since: Option<String>,
    /// The start of a range read from the history database (ISO-8601 or epoch milliseconds).
    from: Option<String>,
    /// Its end (default: now).
    to: Option<String>,
    /// At most about this many buckets per series (default 500, at most 5000).
    points: Option<usize>,
    /// Series names or `prefix*` patterns, comma-separated (default: every series).
    series: Option<String>,
}

/// `GET /api/system/history?from=…[&to=…][&points=…][&series=…]`: min/avg/max buckets from disk.
/// Read and encoded on a blocking thread, one range at a time: a client reading days of raw
/// samples never holds up the async workers that serve everyone else.
async fn range(app: &AppState, query: &HistoryQuery, from: &str) -> Result<Response, HttpError> {
    let now = Utc::now().timestamp_millis();
    let from = parse_time("from", from)?;
    let to = match query.to.as_deref() {
        Some(to) => parse_time("to", to)?,
        None => now,
    };
    let points = checked_span(from, to, query.points)?;
    let Some(db) = app.durable.db.clone() else {
        return Err(HttpError::ServiceUnavailable(match &app.durable.problem {
            Some(problem) => format!("no saved history: {problem}"),
            None => "this server keeps its history in memory only (--no-persist): ask for channel=…&since=… instead".into(),
        }));
    };
    let filter: Vec<String> = query
        .series
        .as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let interval_ms = app.config.interval.as_millis() as i64;
    let persistence = app.durable.status();
    // The database has one reading connection: waiting for it here keeps the wait off the
    // blocking pool too.
    let read = in_turn(&app.history_reads, move || {
        let request = RangeRequest {
            from_ms: from,
            to_ms: to,
            points,
            series: &filter,
        };
        let mut answer = db
            .range(&request, interval_ms, now)
            .map_err(|e| HttpError::Internal(e.to_string()))?;
        answer.persistence = persistence;
        serde_json::to_vec(&answer).map_err(|e| HttpError::Internal(e.to_string()))
    });
    let body = read
        .await
        .map_err(|e| HttpError::Internal(format!("the history read failed: {e}")))??;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /api/system/alerts`: pending and firing alerts, and the latest changes.
pub async fn alerts(State(app): State<AppState>) -> axum::Json<crate::wire::AlertList> {
    axum::Json(app.alerts.list())
}

/// The process table now: the latest scan if it is fresh, else the next one (which this starts).
pub async fn processes(
    State(app): State<AppState>,
) -> Result<axum::Json<std::sync::Arc<crate::wire::ProcessList>>, HttpError> {
    app.processes
        .current()
        .await
        .map(axum::Json)
        .map_err(|error| HttpError::ServiceUnavailable(error.to_string()))
}

/// `GET /api/system/jobs`: the jobs the `jobs/` channels tell of, with their status and GPUs.
pub async fn jobs(State(app): State<AppState>) -> axum::Json<crate::wire::JobList> {
    let gpus = app.latest.get().map(|s| s.gpus.clone()).unwrap_or_default();
    axum::Json(app.jobs.book.list(chrono::Utc::now(), &gpus))
}

pub async fn history(
    State(app): State<AppState>,
    Query(query): Query<HistoryQuery>,
) -> Result<Response, HttpError> {
    if let Some(from) = query.from.as_deref() {
        return range(&app, &query, from).await;
    }
    let Some(channel) = query.channel.as_deref() else {
        return Err(HttpError::BadRequest(
            "ask for a channel of the last hour (channel=system/cpu[&since=…]) or a range from disk (from=…[&to=…][&points=…])".into(),
        ));
    };
    let (after_seq, since_time) = match query.since.as_deref().map(parse_since) {
        None => (0, None),
        Some(since) => since.map_err(HttpError::BadRequest)?,
    };
    let frames = app
        .hub
        .history(channel, after_seq, since_time)
        .ok_or_else(|| {
            HttpError::NotFound(format!(
                "no channel '{channel}' has any messages; channels: {}",
                app.hub.channel_names().join(", ")
            ))
        })?;
    // The ring holds ready-made JSON: join it instead of decoding and encoding every message again.
    let channel = serde_json::to_string(channel).unwrap_or_default();
    let mut body = format!(
        r#"{{"epoch":{},"channel":{channel},"messages":["#,
        app.hub.epoch()
    );
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(frame.as_str());
    }
    body.push_str("]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `since` as a sequence number or an ISO-8601 time.
pub fn parse_since(since: &str) -> Result<(u64, Option<DateTime<Utc>>), String> {
    if let Ok(seq) = since.parse::<u64>() {
        return Ok((seq, None));
    }
    DateTime::parse_from_rfc3339(since)
        .map(|time| (0, Some(time.with_timezone(&Utc))))
        .map_err(|_| format!("since='{since}' is neither a sequence number nor an ISO-8601 time like 2026-01-02T03:04:05Z"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GpuOccupancy, GpuProcess};

    #[test]
    fn since_takes_a_seq_or_a_time() {
        assert_eq!(parse_since("12"), Ok((12, None)));
        let (seq, time) = parse_since("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(seq, 0);
        assert_eq!(time.unwrap().to_rfc3339(), "2026-01-02T03:04:05+00:00");
        assert!(parse_since("yesterday").unwrap_err().contains("ISO-8601"));
    }

    #[test]
    fn occupancy_follows_processes_and_utilization() {
        let idle = GpuMetrics {
            available: true,
            utilization_percent: Some(0),
            ..Default::default()
        };
        assert_eq!(idle.occupancy(), GpuOccupancy::Idle);
        let hot = GpuMetrics {
            utilization_percent: Some(90),
            ..idle.clone()
        };
        assert_eq!(hot.occupancy(), GpuOccupancy::Busy);
        let with_job = GpuMetrics {
            processes: vec![GpuProcess {
                pid: 1,
                name: "python".into(),
                ..Default::default()
            }],
            ..idle.clone()
        };
        assert_eq!(with_job.occupancy(), GpuOccupancy::Busy);
        let gone = GpuMetrics {
            available: false,
            ..Default::default()
        };
        assert_eq!(gone.occupancy(), GpuOccupancy::Unavailable);
    }
}
