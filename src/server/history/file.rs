//! The database file itself: whether the file at the history path is Vitals' to use (another
//! application's SQLite file is refused and never written to), and that what we create there is
//! the owner's alone.

use crate::server::history::{DbError, SCHEMA_VERSION};
use rusqlite::{Connection, OpenFlags};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// `PRAGMA application_id` of a Vitals history ("VITL"): how a Vitals database says it is one.
pub const APPLICATION_ID: i32 = 0x5649_544c;

/// Every table a Vitals history has held: a database whose tables are all among them (and that
/// carries no other application's id) is ours, as are the ones written before the id was set.
const OUR_TABLES: [&str; 7] = [
    "layouts",
    "raw",
    "minute",
    "hour",
    "events",
    "sessions",
    "signed_in",
];

/// Whose a database file is.
#[derive(Debug, PartialEq)]
enum Owner {
    /// No file yet, or an empty one: ours to create.
    Nobody,
    /// A Vitals history, of this schema version or another.
    Vitals { version: i32 },
    /// Another application's: what says so.
    Foreign(String),
}

/// Checks the file at `path` before anything writes to it: refuses another application's
/// database (leaving it as it is) and one from a newer Vitals; creates a missing one owner-only,
/// so SQLite's `-wal` and `-shm` beside it are too; and takes read access away from others on
/// ours (it holds the session table).
pub fn claim(path: &Path) -> Result<(), DbError> {
    let shown = || path.display().to_string();
    match owner(path)? {
        Owner::Foreign(why) => Err(DbError::Foreign {
            path: shown(),
            reason: why,
        }),
        Owner::Vitals { version } if version > SCHEMA_VERSION => Err(DbError::Newer {
            path: shown(),
            found: version,
        }),
        Owner::Nobody | Owner::Vitals { .. } => owner_only(path),
    }
}

fn owner(path: &Path) -> Result<Owner, DbError> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(Owner::Nobody);
    };
    if meta.len() == 0 {
        return Ok(Owner::Nobody);
    }
    let sqlite = |e: rusqlite::Error| DbError::Sqlite {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    // Read-only, so a file that turns out not to be ours is never written to.
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    let not_sqlite = |e: rusqlite::Error| match e {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == rusqlite::ErrorCode::NotADatabase =>
        {
            DbError::Foreign {
                path: path.display().to_string(),
                reason: "it is not an SQLite database".into(),
            }
        }
        other => sqlite(other),
    };
    let application_id: i32 = connection
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(not_sqlite)?;
    let version: i32 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(not_sqlite)?;
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .map_err(not_sqlite)?;
    let tables: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .map_err(sqlite)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sqlite)?;
    Ok(judge(application_id, version, &tables))
}

/// The verdict on a file's application id, schema version and tables.
fn judge(application_id: i32, version: i32, tables: &[String]) -> Owner {
    if application_id == APPLICATION_ID {
        return Owner::Vitals { version };
    }
    if application_id != 0 {
        return Owner::Foreign(format!(
            "it belongs to another application (SQLite application_id {application_id:#x})"
        ));
    }
    let theirs: Vec<&str> = tables
        .iter()
        .map(String::as_str)
        .filter(|table| !OUR_TABLES.contains(table))
        .collect();
    if !theirs.is_empty() {
        let listed = theirs
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        return Owner::Foreign(format!("it holds tables that are not Vitals' ({listed})"));
    }
    if tables.is_empty() && version == 0 {
        Owner::Nobody
    } else if tables.is_empty() {
        Owner::Foreign(format!(
            "it has a schema version ({version}) but none of Vitals' tables"
        ))
    } else {
        Owner::Vitals { version }
    }
}

/// Creates the file owner-only if missing, else makes it and its `-wal` and `-shm` so.
fn owner_only(path: &Path) -> Result<(), DbError> {
    let failed = |e: std::io::Error| DbError::DataDir {
        path: path.display().to_string(),
        reason: format!("cannot make it readable by its owner only: {e}"),
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = path.with_file_name(format!(
            "{}{suffix}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(failed)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A warning when others may list or enter the data directory: its files are owner-only, but
/// the directory is best kept so too.
pub fn open_directory_warning(dir: &Path) -> Option<String> {
    let mode = std::fs::metadata(dir).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the data directory {} is open to other users (mode {mode:o}); its files are owner-only, but `chmod 700 {}` keeps them from even listing it",
            dir.display(),
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn ours_is_told_by_its_id_or_by_its_tables_and_anything_else_is_foreign() {
        assert_eq!(judge(0, 0, &[]), Owner::Nobody);
        assert_eq!(
            judge(APPLICATION_ID, 1, &tables(&["raw"])),
            Owner::Vitals { version: 1 }
        );
        assert_eq!(
            judge(0, 1, &tables(&["layouts", "raw", "sessions"])),
            Owner::Vitals { version: 1 },
            "written before the id was set"
        );
        assert!(matches!(judge(0x1234, 1, &[]), Owner::Foreign(why) if why.contains("0x1234")));
        assert!(
            matches!(judge(0, 40, &tables(&["raw", "moz_places"])), Owner::Foreign(why) if why.contains("moz_places"))
        );
        assert!(matches!(judge(0, 7, &[]), Owner::Foreign(_)));
    }
}
