//! `GET /api/system/usage` (JSON, or CSV with `format=csv`) and `GET /usage` (the page): the
//! sums read from the history database on a blocking thread, in turn with the other history
//! reads.

use crate::server::history::Durable;
use crate::server::http::error::HttpError;
use crate::server::http::query::{Query, parse_time};
use crate::server::http::server_page;
use crate::server::runtime::turns::in_turn;
use crate::server::usage::page::{self, RANGES};
use crate::server::usage::report;
use crate::wire::{UsageGrouping, UsageReport};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The longest range one report sums: the hour rollups' longest retention.
const MAX_RANGE_DAYS: i64 = 36_500;

/// What the usage routes read: the database, and the turn its reads take.
#[derive(Clone)]
pub struct UsageReads {
    pub durable: Durable,
    pub turns: Arc<Semaphore>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// ISO-8601 or epoch ms; default: `to` less the range (7 days).
    from: Option<String>,
    to: Option<String>,
    /// `24h`, `7d` or `30d`: the page's selector (and a short form for the API).
    range: Option<String>,
    by: Option<UsageGrouping>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

struct Asked {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: UsageGrouping,
    range: &'static str,
}

fn asked(query: &UsageQuery, now: DateTime<Utc>) -> Result<Asked, HttpError> {
    let time = |name: &str, value: &Option<String>| -> Result<Option<DateTime<Utc>>, HttpError> {
        value
            .as_deref()
            .map(|v| {
                let ms = parse_time(name, v)?;
                DateTime::from_timestamp_millis(ms)
                    .ok_or_else(|| HttpError::BadRequest(format!("{name}={v} is out of range")))
            })
            .transpose()
    };
    let (range, days) = match query.range.as_deref() {
        None => ("7d", 7),
        Some(asked) => RANGES
            .iter()
            .find(|(name, _)| *name == asked)
            .copied()
            .ok_or_else(|| {
                HttpError::BadRequest(format!(
                    "range={asked}: use 24h, 7d or 30d (or from= and to=)"
                ))
            })?,
    };
    let to = time("to", &query.to)?.unwrap_or(now);
    let from = time("from", &query.from)?.unwrap_or(to - TimeDelta::days(days));
    if to <= from {
        return Err(HttpError::BadRequest(format!(
            "to ({to}) must be after from ({from})"
        )));
    }
    if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
        return Err(HttpError::BadRequest(format!(
            "a report spans at most {MAX_RANGE_DAYS} days"
        )));
    }
    Ok(Asked {
        from,
        to,
        by: query.by.unwrap_or_default(),
        range,
    })
}

/// Reads and sums the range on a blocking thread, in turn with the other history reads.
async fn read(
    reads: &UsageReads,
    asked: &Asked,
    now: DateTime<Utc>,
) -> Result<UsageReport, HttpError> {
    let Some(db) = reads.durable.db.clone() else {
        return Err(HttpError::ServiceUnavailable(match &reads.durable.problem {
            Some(problem) => format!("no saved usage: {problem}"),
            None => "GPU usage is kept in the history database, and this server keeps none (--no-persist); /metrics still counts each person's use since start".into(),
        }));
    };
    let (from, to, by) = (asked.from, asked.to, asked.by);
    let work = move || {
        let (totals, tier) = db
            .usage_totals(
                from.timestamp_millis(),
                to.timestamp_millis(),
                now.timestamp_millis(),
            )
            .map_err(|e| HttpError::Internal(e.to_string()))?;
        Ok::<_, HttpError>(report::report(&totals, by, from, to, tier.table()))
    };
    in_turn(&reads.turns, work)
        .await
        .map_err(|e| HttpError::Internal(format!("the usage read failed: {e}")))?
}

/// `GET /api/system/usage?from=&to=&by=user|owner|job|gpu[&format=csv]`.
pub async fn api(
    State(reads): State<UsageReads>,
    Query(query): Query<UsageQuery>,
) -> Result<Response, HttpError> {
    let now = Utc::now();
    let asked = asked(&query, now)?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(HttpError::BadRequest(format!(
                "format={other}: use json or csv"
            )));
        }
    };
    let report = read(&reads, &asked, now).await?;
    if csv {
        let name = format!(
            "attachment; filename=\"vitals-usage-by-{}.csv\"",
            asked.by.name()
        );
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, name),
            ],
            report::csv(&report),
        )
            .into_response())
    } else {
        Ok(axum::Json(report).into_response())
    }
}

/// `GET /usage[?range=24h|7d|30d][&by=…]`: the page, server-rendered.
pub async fn usage_page(
    State(reads): State<UsageReads>,
    Query(query): Query<UsageQuery>,
) -> Response {
    let now = Utc::now();
    let asked = match asked(&query, now) {
        Ok(asked) => asked,
        Err(error) => return error.into_response(),
    };
    let answer = read(&reads, &asked, now).await;
    let html = page::render(
        &answer.map_err(|e| e.to_string()),
        asked.range,
        asked.by,
        now,
    );
    server_page::answer(html)
}
