//! `POST /api/internal/ws/emit`: lets local processes publish an event into a channel.

use super::guard::error;
use super::hub::valid_channel_name;
use super::state::AppState;
use crate::wire::{EmitRequest, EmitResponse};
use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use subtle::ConstantTimeEq;

pub const MAX_EMIT_BYTES: usize = 64 * 1024;
const MAX_EVENT_NAME: usize = 64;

pub async fn emit(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if headers.contains_key(header::ORIGIN) {
        return error(
            StatusCode::FORBIDDEN,
            "emit is for local processes, not web pages: requests that carry an Origin header are refused",
        );
    }
    if !bearer_matches(&headers, &app.emit_token) {
        return error(
            StatusCode::UNAUTHORIZED,
            format!(
                "missing or wrong emit token: send 'Authorization: Bearer <token>' with the token from {}",
                app.config.emit_token_file.display()
            ),
        );
    }
    if !is_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with 'Content-Type: application/json'",
        );
    }
    let Ok(bytes) = to_bytes(body, MAX_EMIT_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_EMIT_BYTES} bytes"),
        );
    };
    let request: EmitRequest = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body is not a valid emit request ({e}); expected {{\"channel\":\"jobs/train\",\"event\":\"step\",\"data\":{{…}}}}"
                ),
            );
        }
    };
    if let Err(message) = check_request(&request) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, message);
    }
    match app
        .hub
        .publish(&request.channel, &request.event, request.data, Utc::now())
    {
        Ok(published) => (
            StatusCode::ACCEPTED,
            Json(EmitResponse {
                delivered: published.delivered,
                seq: published.seq,
            }),
        )
            .into_response(),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    }
}

/// Compares the bearer token in constant time, so timing reveals nothing about the right one.
pub fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
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
    Ok(())
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
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let mut headers = HeaderMap::new();
        assert!(!bearer_matches(&headers, "secret-token"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret-token"),
        );
        assert!(bearer_matches(&headers, "secret-token"));
        assert!(!bearer_matches(&headers, "secret-token2"));
        assert!(!bearer_matches(&headers, ""));
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
