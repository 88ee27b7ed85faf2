//! Messages published through the emit endpoint, kept on disk beside the metrics so a restart
//! does not forget a training run's events. Capped in bytes (the oldest go first) and in age, so a
//! runaway script cannot fill the disk.

use crate::server::history::{DbError, HistoryDb};
use rusqlite::{Connection, params};

pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, t INTEGER NOT NULL, channel TEXT NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL);
     CREATE INDEX IF NOT EXISTS events_by_time ON events (t);";

/// What one stored event costs against the cap: its text.
const ROW_BYTES: &str = "length(channel) + length(event) + length(data)";
/// Events deleted at a time when over the cap.
const TRIM_STEP: i64 = 512;

/// One emitted message as it is kept: its JSON data as text.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedEvent {
    pub at_ms: i64,
    pub channel: String,
    pub event: String,
    pub data: String,
}

impl SavedEvent {
    pub fn bytes(&self) -> u64 {
        (self.channel.len() + self.event.len() + self.data.len()) as u64
    }
}

/// Bytes the stored events take against the cap.
pub fn bytes_held(connection: &Connection) -> rusqlite::Result<u64> {
    connection.query_row(
        &format!("SELECT COALESCE(SUM({ROW_BYTES}), 0) FROM events"),
        [],
        |row| row.get::<_, i64>(0).map(|b| b.max(0) as u64),
    )
}

/// Appends events; returns the bytes they added.
pub fn store(connection: &Connection, events: &[SavedEvent]) -> rusqlite::Result<u64> {
    let mut insert = connection
        .prepare_cached("INSERT INTO events (t, channel, event, data) VALUES (?1, ?2, ?3, ?4)")?;
    for event in events {
        insert.execute(params![event.at_ms, event.channel, event.event, event.data])?;
    }
    Ok(events.iter().map(SavedEvent::bytes).sum())
}

/// Deletes the oldest events while they take more than `cap_bytes`, then those older than
/// `older_than_ms`, a step at a time; `held` is kept up to date.
pub fn trim(
    connection: &Connection,
    held: &mut u64,
    cap_bytes: u64,
    older_than_ms: i64,
) -> rusqlite::Result<()> {
    loop {
        let before_ms = if *held > cap_bytes {
            i64::MAX
        } else {
            older_than_ms
        };
        let (bytes, deleted) = delete_oldest(connection, before_ms)?;
        *held = held.saturating_sub(bytes);
        if deleted == 0 {
            return Ok(());
        }
    }
}

/// Deletes up to `TRIM_STEP` of the oldest events from before `before_ms`; returns their bytes
/// and how many they were.
fn delete_oldest(connection: &Connection, before_ms: i64) -> rusqlite::Result<(u64, usize)> {
    let (bytes, last_id): (i64, Option<i64>) = connection.query_row(
        &format!(
            "SELECT COALESCE(SUM({ROW_BYTES}), 0), MAX(id) FROM
             (SELECT id, channel, event, data FROM events WHERE t < ?1 ORDER BY id LIMIT ?2)"
        ),
        params![before_ms, TRIM_STEP],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let Some(last_id) = last_id else {
        return Ok((0, 0));
    };
    // Exactly the step chosen above: a prefix, by id, of the events from before `before_ms`.
    let deleted = connection.execute(
        "DELETE FROM events WHERE id <= ?1 AND t < ?2",
        params![last_id, before_ms],
    )?;
    Ok((bytes.max(0) as u64, deleted))
}

impl HistoryDb {
    /// The events since `from_ms`, oldest first: what a restarted server's channels start with.
    pub fn recent_events(&self, from_ms: i64) -> Result<Vec<SavedEvent>, DbError> {
        self.read_events(
            "SELECT t, channel, event, data FROM events WHERE t >= ?1 ORDER BY id",
            params![from_ms],
            |row| {
                Ok(SavedEvent {
                    at_ms: row.get(0)?,
                    channel: row.get(1)?,
                    event: row.get(2)?,
                    data: row.get(3)?,
                })
            },
        )
    }

    /// One channel's events named `event` from `from_ms` to `to_ms`, oldest first: a job's
    /// `metrics` over a span.
    pub fn events_between(
        &self,
        channel: &str,
        event: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, String)>, DbError> {
        self.read_events(
            "SELECT t, data FROM events WHERE t >= ?1 AND t <= ?2 AND channel = ?3 AND event = ?4 ORDER BY id",
            params![from_ms, to_ms, channel, event],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
    }

    /// The rows of one query over the events, each read by `row`, on the reading connection.
    fn read_events<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, DbError> {
        let connection = self.reader();
        let fail = |e| self.sqlite_error(e);
        let mut statement = connection.prepare_cached(sql).map_err(fail)?;
        let rows = statement
            .query_map(params, row)
            .map_err(fail)?
            .collect::<rusqlite::Result<_>>()
            .map_err(fail)?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::history::{Retention, scratch_dir};

    fn event(at_ms: i64, data: &str) -> SavedEvent {
        SavedEvent {
            at_ms,
            channel: "jobs/a".into(),
            event: "step".into(),
            data: data.into(),
        }
    }

    #[test]
    fn events_are_kept_within_their_byte_cap_and_age_oldest_first() {
        let dir = scratch_dir("events");
        let db = HistoryDb::open(&dir, Retention::default()).unwrap();
        let connection = db.writing_connection().unwrap();
        // 2,000 events of 100 bytes each (6 + 4 + 90).
        let events: Vec<SavedEvent> = (0..2_000).map(|i| event(i, &"x".repeat(90))).collect();
        let mut held = store(&connection, &events).unwrap();
        assert_eq!(held, 200_000);
        assert_eq!(bytes_held(&connection).unwrap(), held);

        trim(&connection, &mut held, 50_000, 0).unwrap();
        assert!(held <= 50_000, "{held}");
        assert_eq!(
            bytes_held(&connection).unwrap(),
            held,
            "the count stays true"
        );
        let kept = db.recent_events(0).unwrap();
        assert_eq!(kept.last().unwrap().at_ms, 1_999, "the newest stay");
        let oldest_kept = kept[0].at_ms;

        trim(&connection, &mut held, 50_000, oldest_kept + 10).unwrap();
        assert_eq!(
            db.recent_events(0).unwrap()[0].at_ms,
            oldest_kept + 10,
            "by age"
        );
        assert_eq!(db.recent_events(1_990).unwrap().len(), 10);
        let _ = std::fs::remove_dir_all(dir);
    }
}
