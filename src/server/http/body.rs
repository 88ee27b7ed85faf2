//! Reading a request body under a size cap and a time limit: a declared length over the cap is
//! refused before a byte of the body is read, a body that runs past it is cut off there, and a body
//! that trickles in is cut off after `BODY_READ_TIMEOUT` (it would otherwise hold its connection,
//! which counts as busy, for as long as the sender likes).

use crate::server::http::error::HttpError;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, header};
use std::time::Duration;

pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The body, at most `max_bytes` long and sent within `BODY_READ_TIMEOUT`, or 413 or 408.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    max_bytes: usize,
) -> Result<Bytes, HttpError> {
    read_limited_within(headers, body, max_bytes, BODY_READ_TIMEOUT).await
}

async fn read_limited_within(
    headers: &HeaderMap,
    body: Body,
    max_bytes: usize,
    limit: Duration,
) -> Result<Bytes, HttpError> {
    let too_large =
        || HttpError::PayloadTooLarge(format!("the body is larger than {max_bytes} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_bytes as u64) {
        return Err(too_large());
    }
    tokio::time::timeout(limit, to_bytes(body, max_bytes))
        .await
        .map_err(|_| {
            HttpError::RequestTimeout(format!(
                "the body did not arrive within {} s",
                limit.as_secs()
            ))
        })?
        .map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[tokio::test]
    async fn a_declared_length_over_the_cap_is_refused_unread() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1000000"));
        // A body that never ends: reading it would hang the test.
        let endless =
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
        let error = read_limited(&headers, endless, 1024).await.unwrap_err();
        assert!(matches!(error, HttpError::PayloadTooLarge(_)), "{error}");
    }

    #[tokio::test]
    async fn a_body_that_trickles_is_cut_off_in_time() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("100"));
        let never =
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
        let error = read_limited_within(&headers, never, 1024, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(error, HttpError::RequestTimeout(_)), "{error}");
        assert_eq!(error.status(), axum::http::StatusCode::REQUEST_TIMEOUT);
    }

    #[tokio::test]
    async fn bodies_within_the_cap_are_read_and_longer_ones_cut() {
        let ok = read_limited(&HeaderMap::new(), Body::from("hello"), 8)
            .await
            .unwrap();
        assert_eq!(&ok[..], b"hello");
        let long = read_limited(&HeaderMap::new(), Body::from("x".repeat(9)), 8).await;
        assert!(matches!(long, Err(HttpError::PayloadTooLarge(_))));
    }
}
