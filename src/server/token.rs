//! Tokens: the emit endpoint's (configured, or generated at start into an owner-only file), new
//! random ones, and the one constant-time comparison every credential check goes through.

use super::config::Config;
use axum::http::{HeaderMap, header};
use rand::RngCore;
use std::io::Write;
use std::path::Path;
use subtle::ConstantTimeEq;

/// The configured token, or a fresh random one written to `config.emit_token_file` (mode 0600).
pub fn emit_token(config: &Config) -> String {
    if let Some(token) = &config.emit_token {
        return token.clone();
    }
    let token = random_token();
    match write_private(&config.emit_token_file, &token) {
        Ok(()) => eprintln!(
            "vitals: emit token written to {}",
            config.emit_token_file.display()
        ),
        Err(e) => eprintln!(
            "vitals: could not write the emit token to {} ({e}); set VITALS_EMIT_TOKEN to use the emit endpoint",
            config.emit_token_file.display()
        ),
    }
    token
}

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

fn write_private(path: &Path, token: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its old mode on open: make sure it is the owner's alone.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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

    #[test]
    fn token_file_is_owner_only() {
        let path =
            std::env::temp_dir().join(format!("vitals-token-{}/emit-token", std::process::id()));
        write_private(&path, "abc").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc");
    }
}
