//! Tokens: new random ones, and the one constant-time comparison every credential check (the
//! access token, sessions, the emit token) goes through.

use axum::http::{HeaderMap, header};
use rand::RngCore;
use subtle::ConstantTimeEq;

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `given` is the `expected` token, compared in constant time so timing reveals nothing
/// about the right one. An empty expected token matches nothing.
pub fn matches(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
}

/// Whether the request carries `Authorization: Bearer <expected>`.
pub fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    matches(bearer(headers).unwrap_or_default(), expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        use axum::http::HeaderValue;
        let mut headers = HeaderMap::new();
        assert!(!bearer_matches(&headers, "secret-token"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret-token"),
        );
        assert!(bearer_matches(&headers, "secret-token"));
        assert!(!bearer_matches(&headers, "secret-token2"));
        assert!(!bearer_matches(&headers, ""));
        assert!(!matches("", ""), "an empty token opens nothing");
    }
}
