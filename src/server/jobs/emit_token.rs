//! The emit endpoint's token: configured, or generated at start into an owner-only file that
//! `vitals emit` and the job scripts on this machine read.

use crate::server::config::Config;
use crate::server::http::token::random_token;
use std::io::Write;
use std::path::Path;

/// The configured token; else the one already in `config.emit_token_file` when that file is
/// this user's alone and holds a token of ours (so a second Vitals sharing the default file does
/// not lock the first one's `vitals emit` out); else a fresh random one written there (mode 0600).
pub fn emit_token(config: &Config) -> String {
    if let Some(token) = &config.emit_token {
        return token.clone();
    }
    if let Some(token) = existing_token(&config.emit_token_file) {
        tracing::warn!(
            "emit token read from {} (kept from an earlier start or another Vitals of this user)",
            config.emit_token_file.display()
        );
        return token;
    }
    let token = random_token();
    match write_private(&config.emit_token_file, &token) {
        // Said at the default log level: it is where `vitals emit` and job scripts find the token.
        Ok(()) => tracing::warn!("emit token written to {}", config.emit_token_file.display()),
        Err(e) => tracing::warn!(
            "could not write the emit token to {} ({e}); set VITALS_EMIT_TOKEN to use the emit endpoint",
            config.emit_token_file.display()
        ),
    }
    token
}

/// The token in `path` when the file is a regular file owned by this user, readable by no one
/// else, and holds 64 hex digits (what `random_token` makes): anything else is made anew.
fn existing_token(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).ok()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let token = text.trim();
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| token.to_owned())
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
    fn an_owner_only_file_with_a_token_of_ours_is_kept_and_anything_else_is_not() {
        let dir = std::env::temp_dir().join(format!("vitals-token-keep-{}", std::process::id()));
        let path = dir.join("emit-token");
        let token = random_token();
        write_private(&path, &format!("{token}\n")).unwrap();
        assert_eq!(existing_token(&path), Some(token.clone()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            existing_token(&path),
            None,
            "readable by others: not trusted"
        );
        write_private(&path, "short").unwrap();
        assert_eq!(existing_token(&path), None, "not a token of ours");
        assert_eq!(existing_token(&dir.join("absent")), None);
        let _ = std::fs::remove_dir_all(&dir);
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
