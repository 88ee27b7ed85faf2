//! Durable history in SQLite (rusqlite with its bundled library): every tick's series in three
//! tiers — raw samples, 1-minute and 1-hour rollups of min/avg/max — in a data directory that a
//! second Vitals cannot share, written by a thread of its own so the sampler never waits.
//!
//! A row holds one tick (or one rollup bucket) of every series as packed f32 values, in the order
//! of a layout (the list of series names, stored once): 64 cores and 8 GPUs take about 1 KB a tick
//! instead of a row per value.

pub mod events;
pub mod file;
pub mod layouts;
pub mod query;
pub mod scan;
pub mod series;
pub mod usage;
pub mod writer;

use crate::server::runtime::lock::lock;
use crate::wire::Persistence;
use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use writer::Recorder;

/// Bumped when the tables change in a way an older Vitals cannot read.
pub const SCHEMA_VERSION: i32 = 1;
const DATABASE_FILE: &str = "history.sqlite";
const LOCK_FILE: &str = "vitals.lock";

/// Series values by name, as one tick (or one bucket) holds them.
pub type NamedValues = Vec<(String, f64)>;
/// A tick: its time in milliseconds and its values.
pub type Row = (i64, NamedValues);
/// A bucket being filled: running min, sum, max and count.
pub type Accumulator = (f64, f64, f64, u32);

pub use crate::wire::Tier;

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::Minute, Tier::Hour];

    pub fn table(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "minute",
            Tier::Hour => "hour",
        }
    }

    /// The width of one rollup bucket (raw samples are as far apart as the sample interval).
    pub fn bucket_ms(self) -> Option<i64> {
        match self {
            Tier::Raw => None,
            Tier::Minute => Some(60_000),
            Tier::Hour => Some(3_600_000),
        }
    }
}

/// How long each tier is kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retention {
    pub raw: Duration,
    pub minute: Duration,
    pub hour: Duration,
    /// Bytes that emitted events may take on disk; they are also kept no longer than minutes.
    pub event_bytes: u64,
}

impl Retention {
    pub fn of(&self, tier: Tier) -> Duration {
        match tier {
            Tier::Raw => self.raw,
            Tier::Minute => self.minute,
            Tier::Hour => self.hour,
        }
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: Duration::from_secs(48 * 3600),
            minute: Duration::from_secs(30 * 24 * 3600),
            hour: Duration::from_secs(365 * 24 * 3600),
            event_bytes: 64 << 20,
        }
    }
}

/// The server's durable history as it started: the database and its writer, or why there is none.
#[derive(Clone, Default)]
pub struct Durable {
    pub db: Option<Arc<HistoryDb>>,
    pub recorder: Option<Arc<Recorder>>,
    /// Where the history is kept; None with --no-persist.
    pub dir: Option<PathBuf>,
    /// Why it could not be opened.
    pub problem: Option<String>,
}

impl Durable {
    /// Opens the history in `dir` and starts its writer; a failure is reported (and the server
    /// goes on with its history in memory), never fatal.
    pub fn start(dir: Option<&Path>, retention: Retention) -> Durable {
        let Some(dir) = dir else {
            return Durable::default();
        };
        let opened = HistoryDb::open(dir, retention).and_then(|db| {
            let recorder = Recorder::start(&db)?;
            Ok((Arc::new(db), Arc::new(recorder)))
        });
        match opened {
            Ok((db, recorder)) => Durable {
                db: Some(db),
                recorder: Some(recorder),
                dir: Some(dir.to_path_buf()),
                problem: None,
            },
            Err(error) => {
                tracing::warn!("history is not being saved: {error}");
                Durable {
                    dir: Some(dir.to_path_buf()),
                    problem: Some(error.to_string()),
                    ..Default::default()
                }
            }
        }
    }

    /// What the page and the API say about it; None with --no-persist.
    pub fn status(&self) -> Option<Persistence> {
        let dir = self.dir.as_ref()?;
        let writer = self.recorder.as_ref().map(|r| r.status());
        Some(Persistence {
            saving: writer.as_ref().is_some_and(|w| w.saving),
            path: Some(self.db.as_ref().map_or_else(
                || dir.display().to_string(),
                |db| db.path().display().to_string(),
            )),
            problem: self
                .problem
                .clone()
                .or_else(|| writer.and_then(|w| w.problem)),
        })
    }

    /// Writes what is queued; called when the server stops.
    pub fn stop(&self) {
        if let Some(recorder) = &self.recorder {
            recorder.stop();
        }
    }
}

/// Why the history cannot be kept, naming the path and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DbError {
    #[error(
        "cannot use the data directory {path}: {reason} (pick another with --data-dir, or run with --no-persist)"
    )]
    DataDir { path: String, reason: String },
    #[error(
        "another Vitals (pid {pid}) keeps its history in {path}: stop it, or start this one with another --data-dir"
    )]
    Locked { path: String, pid: String },
    #[error(
        "the history database {path} was written by a newer Vitals (schema {found}; this one reads {SCHEMA_VERSION}): upgrade Vitals, or start with another --data-dir"
    )]
    Newer { path: String, found: i32 },
    #[error(
        "{path} is not a Vitals history: {reason}. Vitals leaves it as it is: move it away, or start with another --data-dir"
    )]
    Foreign { path: String, reason: String },
    #[error("history database {path}: {reason}")]
    Sqlite { path: String, reason: String },
}

/// The open history: its path, the lock that keeps a second Vitals out, and a reading connection.
pub struct HistoryDb {
    path: PathBuf,
    retention: Retention,
    reader: Mutex<Connection>,
    _lock: File,
}

impl HistoryDb {
    /// Opens (or creates) the history in `dir`, created owner-only if missing.
    pub fn open(dir: &Path, retention: Retention) -> Result<HistoryDb, DbError> {
        let lock = lock_dir(dir)?;
        if let Some(warning) = file::open_directory_warning(dir) {
            tracing::warn!("{warning}");
        }
        let path = dir.join(DATABASE_FILE);
        // Before anything opens it for writing: another application's file is left untouched.
        file::claim(&path)?;
        let connection = connect(&path, OpenFlags::default())?;
        let sqlite = |e: rusqlite::Error| sqlite_error(&path, e);
        // `sessions` held plain session ids (earlier Vitals): `signed_in` holds only their hashes.
        connection
            .execute_batch(&format!(
                "PRAGMA application_id = {};
                 PRAGMA journal_mode = WAL;
                 CREATE TABLE IF NOT EXISTS layouts (id INTEGER PRIMARY KEY, names TEXT NOT NULL UNIQUE);
                 CREATE TABLE IF NOT EXISTS raw (t INTEGER PRIMARY KEY, layout INTEGER NOT NULL, data BLOB NOT NULL);
                 CREATE TABLE IF NOT EXISTS minute (t INTEGER PRIMARY KEY, layout INTEGER NOT NULL, data BLOB NOT NULL);
                 CREATE TABLE IF NOT EXISTS hour (t INTEGER PRIMARY KEY, layout INTEGER NOT NULL, data BLOB NOT NULL);
                 DROP TABLE IF EXISTS sessions;
                 CREATE TABLE IF NOT EXISTS signed_in (key TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL);
                 {}
                 {}
                 PRAGMA user_version = {SCHEMA_VERSION};",
                file::APPLICATION_ID,
                events::CREATE_TABLE,
                usage::CREATE_TABLES
            ))
            .map_err(sqlite)?;
        Ok(HistoryDb {
            path,
            retention,
            reader: Mutex::new(connection),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// A connection of its own, for the writer thread.
    pub fn writing_connection(&self) -> Result<Connection, DbError> {
        connect(&self.path, OpenFlags::default())
    }

    /// Keeps a browser session across restarts, by its key (a hash: never the id itself).
    pub fn save_session(&self, key: &str, expires_ms: i64) -> Result<(), DbError> {
        self.reader()
            .execute(
                "INSERT OR REPLACE INTO signed_in (key, expires_ms) VALUES (?1, ?2)",
                rusqlite::params![key, expires_ms],
            )
            .map(drop)
            .map_err(|e| self.sqlite_error(e))
    }

    /// Forgets a session (signed out).
    pub fn forget_session(&self, key: &str) -> Result<(), DbError> {
        self.reader()
            .execute("DELETE FROM signed_in WHERE key = ?1", [key])
            .map(drop)
            .map_err(|e| self.sqlite_error(e))
    }

    /// The sessions' keys still valid at `now_ms` (expired ones are deleted).
    pub fn load_sessions(&self, now_ms: i64) -> Result<Vec<(String, i64)>, DbError> {
        let connection = self.reader();
        let fail = |e| self.sqlite_error(e);
        connection
            .execute("DELETE FROM signed_in WHERE expires_ms <= ?1", [now_ms])
            .map_err(fail)?;
        let mut statement = connection
            .prepare("SELECT key, expires_ms FROM signed_in")
            .map_err(fail)?;
        let sessions = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(fail)?
            .collect::<rusqlite::Result<_>>()
            .map_err(fail)?;
        Ok(sessions)
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        lock(&self.reader)
    }

    fn sqlite_error(&self, error: rusqlite::Error) -> DbError {
        sqlite_error(&self.path, error)
    }
}

fn sqlite_error(path: &Path, error: rusqlite::Error) -> DbError {
    let reason = match &error {
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DiskFull => {
            "the disk is full: free some space (or shorten the retention)".to_owned()
        }
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ReadOnly => {
            "it is read-only: make it writable for this user, or pick another --data-dir".to_owned()
        }
        _ => error.to_string(),
    };
    DbError::Sqlite {
        path: path.display().to_string(),
        reason,
    }
}

pub(crate) fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, DbError> {
    let connection = Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(path, e))?;
    // WAL with NORMAL sync: a crash (even kill -9) loses at most the last unwritten batch and
    // never corrupts the file. The log is cut back to 16 MiB after a large catch-up batch.
    connection
        .execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
             PRAGMA journal_size_limit = 16777216;",
        )
        .map_err(|e| sqlite_error(path, e))?;
    Ok(connection)
}

/// Creates the directory owner-only and takes its lock, or says who holds it.
fn lock_dir(dir: &Path) -> Result<File, DbError> {
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let shown = dir.display().to_string();
    let data_dir = |reason: String| DbError::DataDir {
        path: shown.clone(),
        reason,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| data_dir(e.to_string()))?;
    let mut lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(LOCK_FILE))
        .map_err(|e| data_dir(e.to_string()))?;
    // SAFETY: flock on a descriptor we own; released when the file is closed (or the process ends).
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let mut pid = String::new();
        let _ = lock.read_to_string(&mut pid);
        return Err(DbError::Locked {
            path: shown,
            pid: pid.trim().to_owned(),
        });
    }
    let _ = lock.set_len(0);
    let _ = lock.rewind();
    let _ = write!(lock, "{}", std::process::id());
    Ok(lock)
}

/// `$XDG_STATE_HOME/vitals`, else `~/.local/state/vitals`.
pub fn default_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("vitals")
}

#[cfg(test)]
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitals-db-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_directory_is_owner_only_and_a_second_vitals_is_refused() {
        let dir = scratch_dir("lock");
        let first = HistoryDb::open(&dir, Retention::default()).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let second = HistoryDb::open(&dir, Retention::default()).err().unwrap();
        assert!(matches!(second, DbError::Locked { .. }), "{second}");
        assert!(second.to_string().contains(&std::process::id().to_string()));
        drop(first);
        assert!(
            HistoryDb::open(&dir, Retention::default()).is_ok(),
            "the lock goes with it"
        );
    }

    #[test]
    fn a_database_from_a_newer_vitals_is_refused_with_its_path() {
        let dir = scratch_dir("newer");
        drop(HistoryDb::open(&dir, Retention::default()).unwrap());
        let connection = Connection::open(dir.join(DATABASE_FILE)).unwrap();
        connection
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        drop(connection);
        let error = HistoryDb::open(&dir, Retention::default()).err().unwrap();
        assert!(matches!(error, DbError::Newer { found: 99, .. }), "{error}");
        assert!(error.to_string().contains(DATABASE_FILE));
    }

    #[test]
    fn an_unwritable_directory_is_named() {
        let error = HistoryDb::open(
            Path::new("/proc/vitals-cannot-be-here"),
            Retention::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(error, DbError::DataDir { .. }), "{error}");
        assert!(error.to_string().contains("/proc/vitals-cannot-be-here"));
        assert!(error.to_string().contains("--data-dir"));
    }
}
