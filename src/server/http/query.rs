//! Query strings every route reads the same way: the whole string (a bad one answered like every
//! other error, as JSON), times and spans.

use crate::server::http::error::HttpError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::DateTime;
use serde::de::DeserializeOwned;

/// axum's `Query`, refused with a JSON `{"error": …}` 400 instead of axum's plain text.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(query)| Query(query))
            .map_err(|rejection| HttpError::BadRequest(rejection.body_text()))
    }
}

const DEFAULT_POINTS: usize = 500;
const MAX_POINTS: usize = 5000;

/// A time as ISO-8601 or epoch milliseconds.
pub fn parse_time(name: &str, value: &str) -> Result<i64, HttpError> {
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(ms);
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            HttpError::BadRequest(format!(
                "{name}='{value}' is neither epoch milliseconds nor an ISO-8601 time like 2026-01-02T03:04:05Z"
            ))
        })
}

/// The points asked for over `from..to` (default 500), once the span runs forward and the
/// points are 1 to 5000.
pub fn checked_span(from: i64, to: i64, points: Option<usize>) -> Result<usize, HttpError> {
    if to <= from {
        return Err(HttpError::BadRequest(format!(
            "to ({to}) must be after from ({from})"
        )));
    }
    let points = points.unwrap_or(DEFAULT_POINTS);
    if !(1..=MAX_POINTS).contains(&points) {
        return Err(HttpError::BadRequest(format!(
            "points={points}: ask for 1 to {MAX_POINTS} points"
        )));
    }
    Ok(points)
}
