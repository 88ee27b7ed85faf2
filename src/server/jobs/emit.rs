//! `POST /api/internal/ws/emit`: lets local processes publish an event into a channel.

use crate::server::collect::procfs::sockets::local_socket_uid;
use crate::server::history::events::SavedEvent;
use crate::server::http::body::read_limited;
use crate::server::http::error::HttpError;
use crate::server::http::token::bearer_matches;
use crate::server::hub::valid_channel_name;
use crate::server::jobs::Jobs;
use crate::server::jobs::book::JobLimit;
use crate::server::jobs::convention::JOBS_PREFIX;
use crate::server::jobs::report::routes::{job_of, report_of};
use crate::wire::{EVENT_JOB_END, EVENT_JOB_START, EmitRequest, EmitResponse};
use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use std::net::SocketAddr;

/// Where local processes post their events.
pub const EMIT_PATH: &str = "/api/internal/ws/emit";

pub const MAX_EMIT_BYTES: usize = 64 * 1024;
const MAX_EVENT_NAME: usize = 64;
/// How long a job's `end` waits for the writer to save its last samples: a tick and a write.
const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

pub async fn emit(
    State(jobs): State<Jobs>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    if headers.contains_key(header::ORIGIN) {
        return Err(HttpError::Forbidden(
            "emit is for local processes, not web pages: requests that carry an Origin header are refused".into(),
        ));
    }
    if !bearer_matches(&headers, &jobs.emit_token) {
        return Err(HttpError::Unauthorized(format!(
            "missing or wrong emit token: send 'Authorization: Bearer <token>' with the token from {}",
            jobs.emit_token_file.display()
        )));
    }
    if !is_json(&headers) {
        return Err(HttpError::UnsupportedMediaType(
            "send the body as JSON with 'Content-Type: application/json'".into(),
        ));
    }
    let bytes = read_limited(&headers, body, MAX_EMIT_BYTES).await?;
    let request: EmitRequest = serde_json::from_slice(&bytes).map_err(|e| {
        HttpError::BadRequest(format!(
            "the body is not a valid emit request ({e}); expected {{\"channel\":\"jobs/train\",\"event\":\"step\",\"data\":{{…}}}}"
        ))
    })?;
    check_request(&request).map_err(HttpError::Unprocessable)?;
    jobs.book
        .admit(
            &request.channel,
            &request.event,
            &request.data,
            std::time::Instant::now(),
        )
        .map_err(|limit| match limit {
            JobLimit::Rate(message) => HttpError::TooManyRequests(message),
            JobLimit::Fields(message) => HttpError::Unprocessable(message),
        })?;
    let now = Utc::now();
    // What the job book takes, kept before the data goes to the hub.
    let for_jobs = request
        .channel
        .starts_with(JOBS_PREFIX)
        .then(|| request.data.clone());
    // Kept on disk too, as it was sent, when history is.
    let saved = jobs.durable.recorder.as_ref().map(|recorder| {
        let event = SavedEvent {
            at_ms: now.timestamp_millis(),
            channel: request.channel.clone(),
            event: request.event.clone(),
            data: request.data.to_string(),
        };
        (recorder, event)
    });
    let published = jobs
        .hub
        .publish(&request.channel, &request.event, request.data, now);
    if let Some((recorder, event)) = saved {
        recorder.record_event(event);
    }
    if let Some(data) = for_jobs {
        let heartbeat = request.heartbeat_seconds;
        jobs.book
            .record(&request.channel, &request.event, &data, now, heartbeat);
        // Who sent it, from the kernel's socket table: known for a local sender only (one
        // behind a proxy or on another machine proves nothing about its pids either way).
        if request.event == EVENT_JOB_START
            && peer.ip().is_loopback()
            && let Some(uid) = local_socket_uid(peer)
        {
            jobs.book.check_claims(&request.channel, uid);
        }
    }
    if let Some(seconds) = request.heartbeat_seconds {
        jobs.hub
            .set_heartbeat(&request.channel, std::time::Duration::from_secs(seconds));
    }
    let report = if request.event == EVENT_JOB_END && request.channel.starts_with(JOBS_PREFIX) {
        ended_summary(&jobs, &request.channel).await
    } else {
        None
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(EmitResponse {
            delivered: published.delivered,
            seq: published.seq,
            report,
        }),
    )
        .into_response())
}

/// The ended run's summary line: the writer is asked to save what it holds first (it does so
/// with the next tick), so the report includes the run's last seconds. None without history.
async fn ended_summary(jobs: &Jobs, channel: &str) -> Option<String> {
    let recorder = jobs.durable.recorder.as_ref()?;
    let written = recorder.flush_soon();
    let deadline = tokio::time::Instant::now() + FLUSH_WAIT;
    while recorder.status().batches <= written && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let job = job_of(jobs, Some(channel), "channel").ok()?;
    report_of(jobs, job).await.ok().map(|r| r.summary.clone())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The checks a well-formed request must still pass.
pub fn check_request(request: &EmitRequest) -> Result<(), String> {
    if !valid_channel_name(&request.channel, false) {
        return Err(format!(
            "'{}' is not a valid channel: use lowercase words of a-z, 0-9, '_' or '-' separated by '/', e.g. jobs/train-1",
            request.channel
        ));
    }
    if request.channel.starts_with("system/") || request.channel == "system" {
        return Err("channels under system/ are reserved for the server's own metrics; pick another, e.g. jobs/…".into());
    }
    let event_ok = !request.event.is_empty()
        && request.event.len() <= MAX_EVENT_NAME
        && request
            .event
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    if !event_ok {
        return Err(format!(
            "event '{}' must be 1–{MAX_EVENT_NAME} characters of letters, digits, '_', '-', '.' or ':'",
            request.event
        ));
    }
    if let Some(seconds) = request.heartbeat_seconds
        && !(1..=86_400).contains(&seconds)
    {
        return Err(format!(
            "heartbeat_seconds={seconds}: promise a message every 1 to 86400 seconds"
        ));
    }
    crate::server::jobs::convention::check(&request.channel, &request.event, &request.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn request(channel: &str, event: &str) -> EmitRequest {
        EmitRequest {
            channel: channel.into(),
            event: event.into(),
            data: json!({}),
            heartbeat_seconds: None,
        }
    }

    #[test]
    fn requests_are_validated() {
        assert!(check_request(&request("jobs/train-1", "step")).is_ok());
        assert!(
            check_request(&request("system/cpu", "metrics"))
                .unwrap_err()
                .contains("reserved")
        );
        assert!(
            check_request(&request("Jobs!", "step"))
                .unwrap_err()
                .contains("not a valid channel")
        );
        assert!(check_request(&request("jobs/a", "")).is_err());
        assert!(check_request(&request("jobs/a", "has space")).is_err());
        let promise = |heartbeat_seconds| EmitRequest {
            heartbeat_seconds: Some(heartbeat_seconds),
            ..request("jobs/a", "step")
        };
        assert!(check_request(&promise(30)).is_ok());
        assert!(
            check_request(&promise(0))
                .unwrap_err()
                .contains("heartbeat_seconds=0")
        );
    }

    #[test]
    fn json_content_type_allows_parameters() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(is_json(&headers));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_json(&headers));
    }
}
