//! The emit endpoint's token: configured, or generated at start into an owner-only file that
//! `vitals emit` and the job scripts on this machine read.

use crate::server::config::Config;
use crate::server::http::token::random_token;
use std::io::Write;
use std::path::Path;

/// The configured token, or a fresh random one written to `config.emit_token_file` (mode 0600).
pub fn emit_token(config: &Config) -> String {
    if let Some(token) = &config.emit_token {
        return token.clone();
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
    fn token_file_is_owner_only() {
        let path =
            std::env::temp_dir().join(format!("vitals-token-{}/emit-token", std::process::id()));
        write_private(&path, "abc").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc");
    }
}
