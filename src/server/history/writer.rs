//! The writer: a thread of its own that takes ticks from the sampler through a bounded queue (the
//! sampler never waits: a full queue drops the tick and says so), writes them in one transaction
//! every few seconds with their minute and hour rollups, and prunes what is past its retention in
//! small steps.

use crate::server::collect::Snapshot;
use crate::server::history::events::{self, SavedEvent};
use crate::server::history::layouts::{Layouts, pack, unpack};
use crate::server::history::usage::{self, UsageTick, UsageWriter};
use crate::server::history::{Accumulator, DbError, HistoryDb, Retention, Row, Tier, series};
use crate::server::runtime::lock::lock;
use rusqlite::{Connection, params};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Ticks the queue holds before the sampler's next one is dropped (minutes at any interval).
const QUEUE_TICKS: usize = 512;
/// Emitted events the queue holds between batches, and their bytes at most: past either, an
/// event is published but not saved, and the page says so.
const QUEUE_EVENTS: usize = 4_096;
const QUEUE_EVENT_BYTES: u64 = 8 << 20;
/// Minutes of GPU usage the queue holds (the sampler hands over one a minute): two days, so a
/// replay of a day faster than real time fits too.
const QUEUE_USAGE_MINUTES: usize = 2_880;
/// How often a batch is written.
pub const BATCH_EVERY: Duration = Duration::from_secs(5);
/// Rows deleted per tier per batch when pruning, so a long-overdue prune never stalls the writer.
const PRUNE_STEP: usize = 2_000;

/// Whether history is being saved, and if not, why: what the page and `/api` report.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct WriterStatus {
    pub saving: bool,
    /// The last problem, in words a person can act on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Ticks dropped because the database could not keep up.
    pub dropped_ticks: u64,
    /// Emitted events not saved because they came faster than they could be written.
    pub dropped_events: u64,
    /// Batches written since start.
    pub batches: u64,
}

/// The writer is no longer taking ticks; its status says why.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("the history writer has stopped: later ticks are not saved")]
pub struct WriterStopped;

/// The sampler's end of the writer.
pub struct Recorder {
    queue: Mutex<Option<SyncSender<Row>>>,
    events: Mutex<Option<SyncSender<SavedEvent>>>,
    queued_event_bytes: Arc<AtomicU64>,
    /// Each tick's GPU usage, booked to owners.
    usage: Mutex<Option<SyncSender<UsageTick>>>,
    status: Arc<Mutex<WriterStatus>>,
    /// Set to have the next batch written at the next tick rather than when due.
    flush: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Recorder {
    /// Starts the writer thread on its own connection.
    pub fn start(db: &HistoryDb) -> Result<Recorder, DbError> {
        let connection = db.writing_connection()?;
        let retention = db.retention();
        let path = db.path().display().to_string();
        let status = Arc::new(Mutex::new(WriterStatus {
            saving: true,
            ..Default::default()
        }));
        let (queue, ticks) = sync_channel(QUEUE_TICKS);
        let (events, emitted) = sync_channel(QUEUE_EVENTS);
        let (usage, usage_ticks) = sync_channel(QUEUE_USAGE_MINUTES);
        let queued_event_bytes = Arc::new(AtomicU64::new(0));
        let flush = Arc::new(AtomicBool::new(false));
        let thread = {
            let status = status.clone();
            let flush = flush.clone();
            let emitted = Emitted {
                queue: emitted,
                queued_bytes: queued_event_bytes.clone(),
                held_bytes: None,
            };
            std::thread::Builder::new()
                .name("vitals-history".into())
                .spawn(move || {
                    let mut writer = Writer::new(connection, retention, path, status, emitted);
                    writer.usage_ticks = Some(usage_ticks);
                    writer.flush = flush;
                    writer.run(ticks)
                })
                .map_err(|e| DbError::Sqlite {
                    path: db.path().display().to_string(),
                    reason: format!("cannot start the writer thread: {e}"),
                })?
        };
        Ok(Recorder {
            queue: Mutex::new(Some(queue)),
            events: Mutex::new(Some(events)),
            queued_event_bytes,
            usage: Mutex::new(Some(usage)),
            status,
            flush,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Hands a tick's GPU usage to the writer without waiting (a full queue drops it and says so).
    pub fn record_usage(&self, tick: UsageTick) {
        let usage = lock(&self.usage);
        let Some(usage) = usage.as_ref() else { return };
        if let Err(TrySendError::Full(_)) = usage.try_send(tick) {
            let mut status = lock(&self.status);
            status.dropped_ticks += 1;
            status.problem = Some(
                "the history database cannot keep up: some GPU usage is not being saved".into(),
            );
        }
    }

    /// Hands a tick's GPU usage to the writer, waiting for room (tests and benchmarks that book
    /// faster than real time).
    pub fn record_usage_waiting(&self, tick: UsageTick) -> Result<(), WriterStopped> {
        let usage = lock(&self.usage).clone().ok_or(WriterStopped)?;
        usage.send(tick).map_err(|_| WriterStopped)
    }

    /// Hands a tick's series (`series::of_snapshot`, which the sampler already made for the
    /// alerts) to the writer without waiting.
    pub fn record(&self, tick: Row) {
        let queue = lock(&self.queue);
        let Some(queue) = queue.as_ref() else { return };
        if let Err(TrySendError::Full(_)) = queue.try_send(tick) {
            let mut status = lock(&self.status);
            status.dropped_ticks += 1;
            status.problem = Some(
                "the history database cannot keep up: some samples are not being saved".into(),
            );
        }
    }

    /// Hands an emitted event to the writer without waiting; one that does not fit the queue is
    /// not saved, and the status says so.
    pub fn record_event(&self, event: SavedEvent) {
        let events = lock(&self.events);
        let Some(events) = events.as_ref() else {
            return;
        };
        let bytes = event.bytes();
        let queued = self.queued_event_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if queued > QUEUE_EVENT_BYTES || events.try_send(event).is_err() {
            self.queued_event_bytes.fetch_sub(bytes, Ordering::Relaxed);
            let mut status = lock(&self.status);
            status.dropped_events += 1;
            status.problem = Some(
                "events are emitted faster than they can be saved: some are not being saved".into(),
            );
        }
    }

    /// Hands a tick to the writer, waiting for room: for the prefill, tests and benchmarks that
    /// record faster than real time (the sampler uses `record`). Fails once the writer has
    /// stopped (it hit an error it reports in its status, or `stop` was called).
    pub fn record_waiting(&self, snapshot: &Snapshot) -> Result<(), WriterStopped> {
        let queue = lock(&self.queue).clone().ok_or(WriterStopped)?;
        let at = snapshot.timestamp.timestamp_millis();
        queue
            .send((at, series::of_snapshot(snapshot)))
            .map_err(|_| WriterStopped)
    }

    pub fn status(&self) -> WriterStatus {
        lock(&self.status).clone()
    }

    /// Has what is queued written with the next tick instead of when the batch is due (a job's
    /// end wants its report whole); returns the batches written so far, to wait on the next.
    pub fn flush_soon(&self) -> u64 {
        let written = self.status().batches;
        self.flush.store(true, Ordering::Relaxed);
        written
    }
}

impl Recorder {
    /// Writes what is queued and stops the writer; later ticks are not recorded.
    pub fn stop(&self) {
        lock(&self.usage).take();
        lock(&self.events).take();
        lock(&self.queue).take();
        let thread = lock(&self.thread).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A rollup bucket being filled: per series (min, sum, max, count).
struct Bucket {
    start: i64,
    by_series: BTreeMap<String, Accumulator>,
}

struct Rollup {
    tier: Tier,
    width_ms: i64,
    open: Option<Bucket>,
}

impl Rollup {
    fn new(tier: Tier) -> Rollup {
        Rollup {
            tier,
            width_ms: tier.bucket_ms().unwrap_or(60_000),
            open: None,
        }
    }

    /// Adds one tick; returns the bucket it closed, if the tick starts a new one.
    fn add(&mut self, t: i64, values: &[(String, f64)]) -> Option<Bucket> {
        let start = t.div_euclid(self.width_ms) * self.width_ms;
        let closed = match &self.open {
            Some(bucket) if bucket.start != start => self.open.take(),
            _ => None,
        };
        let bucket = self.open.get_or_insert_with(|| Bucket {
            start,
            by_series: BTreeMap::new(),
        });
        for (name, value) in values {
            // Names are cloned only the first time a bucket sees them.
            if !bucket.by_series.contains_key(name) {
                bucket
                    .by_series
                    .insert(name.clone(), (f64::INFINITY, 0.0, f64::NEG_INFINITY, 0));
            }
            let Some(entry) = bucket.by_series.get_mut(name) else {
                continue;
            };
            entry.0 = entry.0.min(*value);
            entry.1 += value;
            entry.2 = entry.2.max(*value);
            entry.3 += 1;
        }
        closed
    }
}

/// The writer's end of the events queue.
struct Emitted {
    queue: Receiver<SavedEvent>,
    queued_bytes: Arc<AtomicU64>,
    /// Bytes the stored events take, counted once at the first batch.
    held_bytes: Option<u64>,
}

struct Writer {
    connection: Connection,
    emitted: Emitted,
    layouts: Layouts,
    retention: Retention,
    path: String,
    status: Arc<Mutex<WriterStatus>>,
    rollups: [Rollup; 2],
    resumed: bool,
    /// GPU usage ticks, and the interned owners they are written under.
    usage_ticks: Option<Receiver<UsageTick>>,
    usage: UsageWriter,
    /// The recorder's ask to write now.
    flush: Arc<AtomicBool>,
}

impl Writer {
    fn new(
        connection: Connection,
        retention: Retention,
        path: String,
        status: Arc<Mutex<WriterStatus>>,
        emitted: Emitted,
    ) -> Writer {
        Writer {
            connection,
            emitted,
            layouts: Layouts::default(),
            retention,
            path,
            status,
            rollups: [Rollup::new(Tier::Minute), Rollup::new(Tier::Hour)],
            resumed: false,
            usage_ticks: None,
            usage: UsageWriter::default(),
            flush: Arc::default(),
        }
    }

    fn run(mut self, ticks: Receiver<Row>) {
        let mut batch: Vec<Row> = Vec::new();
        let mut due = Instant::now() + BATCH_EVERY;
        loop {
            let wait = due.saturating_duration_since(Instant::now());
            match ticks.recv_timeout(wait) {
                Ok(tick) => batch.push(tick),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.write(std::mem::take(&mut batch));
                    return;
                }
            }
            if Instant::now() >= due || self.flush.swap(false, Ordering::Relaxed) {
                self.write(std::mem::take(&mut batch));
                due = Instant::now() + BATCH_EVERY;
            }
        }
    }

    /// Writes one batch in one transaction; a failure is reported and the batch dropped, so
    /// memory stays bounded and the live stream is never touched.
    fn write(&mut self, batch: Vec<Row>) {
        let outcome = self.write_batch(&batch);
        let mut status = lock(&self.status);
        match outcome {
            Ok(()) => {
                status.saving = true;
                status.batches += 1;
                if status.dropped_ticks == 0 && status.dropped_events == 0 {
                    status.problem = None;
                }
            }
            Err(error) => {
                let problem =
                    crate::server::history::sqlite_error(std::path::Path::new(&self.path), error);
                tracing::warn!("history not saved: {problem}");
                status.saving = false;
                status.problem = Some(problem.to_string());
            }
        }
    }

    fn write_batch(&mut self, batch: &[Row]) -> rusqlite::Result<()> {
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        match self.write_rows(batch) {
            Ok(()) => self.connection.execute_batch("COMMIT"),
            Err(error) => {
                let _ = self.connection.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }

    fn write_rows(&mut self, batch: &[Row]) -> rusqlite::Result<()> {
        if !self.resumed {
            // Buckets still open when the last run stopped are filled again from its raw samples.
            if let Some(&(first, _)) = batch.first() {
                self.resume(first)?;
            }
            self.resumed = true;
        }
        for (t, values) in batch {
            store_raw(&self.connection, &mut self.layouts, *t, values)?;
            self.roll(*t, values)?;
        }
        self.write_events()?;
        self.write_usage()?;
        // Deleting twice what was added keeps up even when ticks arrive faster than real time.
        let step = PRUNE_STEP.max(2 * batch.len());
        prune(
            &self.connection,
            self.retention,
            batch.last().map(|(t, _)| *t),
            step,
        )
    }

    /// Stores the events emitted since the last batch and keeps them within their cap and age.
    fn write_usage(&mut self) -> rusqlite::Result<()> {
        let Some(queue) = &self.usage_ticks else {
            return Ok(());
        };
        let ticks: Vec<UsageTick> = queue.try_iter().collect();
        if let Some(last) = ticks.last() {
            self.usage.store(&self.connection, &ticks)?;
            usage::prune(&self.connection, last.at_ms, self.retention, PRUNE_STEP)?;
        }
        Ok(())
    }

    fn write_events(&mut self) -> rusqlite::Result<()> {
        let emitted = &mut self.emitted;
        let events: Vec<SavedEvent> = emitted.queue.try_iter().collect();
        let bytes: u64 = events.iter().map(SavedEvent::bytes).sum();
        emitted.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        let held = match emitted.held_bytes {
            Some(held) => held,
            None => events::bytes_held(&self.connection)?,
        };
        let mut held = held + events::store(&self.connection, &events)?;
        let oldest_kept =
            chrono::Utc::now().timestamp_millis() - self.retention.minute.as_millis() as i64;
        events::trim(
            &self.connection,
            &mut held,
            self.retention.event_bytes,
            oldest_kept,
        )?;
        emitted.held_bytes = Some(held);
        Ok(())
    }

    fn roll(&mut self, t: i64, values: &[(String, f64)]) -> rusqlite::Result<()> {
        for index in 0..self.rollups.len() {
            if let Some(closed) = self.rollups[index].add(t, values) {
                let tier = self.rollups[index].tier;
                store_bucket(&self.connection, &mut self.layouts, tier, &closed)?;
            }
        }
        Ok(())
    }

    /// Feeds the raw samples of the current hour, before `first`, into the open buckets.
    fn resume(&mut self, first: i64) -> rusqlite::Result<()> {
        let hour_start = first.div_euclid(3_600_000) * 3_600_000;
        let earlier = read_raw(&self.connection, &mut self.layouts, hour_start, first - 1)?;
        for (t, values) in earlier {
            self.roll(t, &values)?;
        }
        Ok(())
    }
}

fn store_raw(
    connection: &Connection,
    layouts: &mut Layouts,
    t: i64,
    values: &[(String, f64)],
) -> rusqlite::Result<()> {
    let layout = layouts.id_of_values(connection, values)?;
    let data = pack(values.iter().map(|(_, v)| *v));
    connection
        .prepare_cached("INSERT OR REPLACE INTO raw (t, layout, data) VALUES (?1, ?2, ?3)")?
        .execute(params![t, layout, data])?;
    Ok(())
}

/// A closed bucket as one row: min, avg and max of every series, in layout order. Written again
/// (replaced) when a restart refills the same bucket.
fn store_bucket(
    connection: &Connection,
    layouts: &mut Layouts,
    tier: Tier,
    bucket: &Bucket,
) -> rusqlite::Result<()> {
    let names: Vec<String> = bucket.by_series.keys().cloned().collect();
    let layout = layouts.id_of(connection, &names)?;
    let data = pack(
        bucket
            .by_series
            .values()
            .flat_map(|(min, sum, max, n)| [*min, sum / f64::from(*n), *max]),
    );
    let sql = format!(
        "INSERT OR REPLACE INTO {} (t, layout, data) VALUES (?1, ?2, ?3)",
        tier.table()
    );
    connection
        .prepare_cached(&sql)?
        .execute(params![bucket.start, layout, data])?;
    Ok(())
}

/// Raw rows with `from <= t <= to`, as (t, series values).
pub fn read_raw(
    connection: &Connection,
    layouts: &mut Layouts,
    from: i64,
    to: i64,
) -> rusqlite::Result<Vec<Row>> {
    let mut statement = connection
        .prepare_cached("SELECT t, layout, data FROM raw WHERE t BETWEEN ?1 AND ?2 ORDER BY t")?;
    let rows: Vec<(i64, i64, Vec<u8>)> = statement
        .query_map(params![from, to], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(t, layout, data)| {
            let names = layouts.names_of(connection, layout)?;
            let values = names
                .iter()
                .cloned()
                .zip(unpack(&data))
                .filter(|(_, v)| v.is_finite())
                .collect();
            Ok((t, values))
        })
        .collect()
}

/// Deletes rows past each tier's retention, oldest first, a bounded number per call.
fn prune(
    connection: &Connection,
    retention: Retention,
    now: Option<i64>,
    step: usize,
) -> rusqlite::Result<()> {
    let Some(now) = now else { return Ok(()) };
    for tier in Tier::ALL {
        let oldest_kept = now - retention.of(tier).as_millis() as i64;
        let sql = format!(
            "DELETE FROM {table} WHERE t IN (SELECT t FROM {table} WHERE t < ?1 ORDER BY t LIMIT {step})",
            table = tier.table()
        );
        connection
            .prepare_cached(&sql)?
            .execute(params![oldest_kept])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn tick(t_ms: i64, usage: f32) -> Arc<Snapshot> {
        let mut snapshot = Snapshot {
            timestamp: DateTime::from_timestamp_millis(t_ms).unwrap(),
            ..Default::default()
        };
        snapshot.cpu.usage_percent = usage;
        Arc::new(snapshot)
    }

    fn rows(db: &HistoryDb, tier: Tier) -> Vec<Row> {
        let connection = db.reader();
        let mut layouts = Layouts::default();
        let sql = format!("SELECT t, layout, data FROM {} ORDER BY t", tier.table());
        let mut statement = connection.prepare(&sql).unwrap();
        let raw: Vec<(i64, i64, Vec<u8>)> = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        raw.into_iter()
            .map(|(t, layout, data)| {
                let names = layouts.names_of(&connection, layout).unwrap();
                let values: Vec<f64> = unpack(&data).collect();
                let per_series = values.len() / names.len();
                let named = names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), values[i * per_series + per_series / 2]))
                    .collect();
                (t, named)
            })
            .collect()
    }

    /// A writer on `connection`, as `Recorder::start` makes one.
    fn writer_on(db: &HistoryDb, connection: Connection) -> (Writer, Arc<Mutex<WriterStatus>>) {
        let status = Arc::new(Mutex::new(WriterStatus {
            saving: true,
            ..Default::default()
        }));
        let (_, queue) = sync_channel(1);
        let emitted = Emitted {
            queue,
            queued_bytes: Arc::default(),
            held_bytes: None,
        };
        let path = db.path().display().to_string();
        let writer = Writer::new(connection, db.retention(), path, status.clone(), emitted);
        (writer, status)
    }

    fn batch(from_ms: i64, ticks: i64) -> Vec<Row> {
        (0..ticks)
            .map(|i| {
                let mut snapshot = Snapshot::clone(&tick(from_ms + i * 1_000, 1.0));
                snapshot.cpu.per_core_percent = vec![1.0; 64];
                let t = snapshot.timestamp.timestamp_millis();
                (t, series::of_snapshot(&snapshot))
            })
            .collect()
    }

    #[test]
    fn a_full_disk_is_reported_and_saving_resumes_when_there_is_room_again() {
        let dir = crate::server::history::scratch_dir("full");
        let db = HistoryDb::open(&dir, Retention::default()).unwrap();
        let connection = db.writing_connection().unwrap();
        // SQLite's own limit on the file's size fails writes exactly as a full disk does.
        let pages: i64 = connection
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        connection
            .execute_batch(&format!("PRAGMA max_page_count = {}", pages + 24))
            .unwrap();
        let (mut writer, status) = writer_on(&db, connection);
        let mut start = HOUR;
        while status.lock().unwrap().saving {
            writer.write(batch(start, 10));
            start += 10_000;
            assert!(start < HOUR + 3_600_000, "the limit was never reached");
        }
        let problem = status.lock().unwrap().problem.clone().unwrap();
        assert!(
            problem.contains("the disk is full") && problem.contains(db.path().to_str().unwrap()),
            "{problem}"
        );
        let saved_before = rows(&db, Tier::Raw).len();
        assert!(saved_before > 0, "what fitted is kept");

        writer
            .connection
            .execute_batch("PRAGMA max_page_count = 1000000")
            .unwrap();
        writer.write(batch(start, 5));
        let status = status.lock().unwrap().clone();
        assert!(status.saving && status.problem.is_none(), "{status:?}");
        assert_eq!(rows(&db, Tier::Raw).len(), saved_before + 5);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_read_only_database_is_reported_with_what_to_do() {
        let dir = crate::server::history::scratch_dir("read-only");
        let db = HistoryDb::open(&dir, Retention::default()).unwrap();
        let read_only =
            crate::server::history::connect(db.path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let (mut writer, status) = writer_on(&db, read_only);
        writer.write(batch(HOUR, 3));
        let status = status.lock().unwrap().clone();
        assert!(!status.saving);
        let problem = status.problem.unwrap();
        assert!(
            problem.contains("read-only") && problem.contains("writable"),
            "{problem}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    fn value(row: &[(String, f64)], name: &str) -> f64 {
        row.iter().find(|(n, _)| n == name).unwrap().1
    }

    /// (min, avg, max) of one series in the rollup row at `t`.
    fn triple(db: &HistoryDb, tier: Tier, t: i64, name: &str) -> Vec<f64> {
        let connection = db.reader();
        let sql = format!("SELECT layout, data FROM {} WHERE t = ?1", tier.table());
        let (layout, data): (i64, Vec<u8>) = connection
            .query_row(&sql, [t], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        let names = Layouts::default().names_of(&connection, layout).unwrap();
        let at = names.iter().position(|n| n == name).unwrap();
        unpack(&data).skip(at * 3).take(3).collect()
    }

    /// 2026-01-01T00:00:00Z, on a whole hour.
    const HOUR: i64 = 1_767_225_600_000;

    #[test]
    fn rollups_hold_the_min_avg_and_max_of_their_raw_samples() {
        let dir = crate::server::history::scratch_dir("rollups");
        let db = HistoryDb::open(&dir, Retention::default()).unwrap();
        let recorder = Recorder::start(&db).unwrap();
        // Two minutes and a bit at 1 s: usage climbs 0, 1, 2, … within each minute.
        for second in 0..=125 {
            recorder
                .record_waiting(&tick(HOUR + second * 1000, (second % 60) as f32))
                .unwrap();
        }
        drop(recorder);
        let raw = rows(&db, Tier::Raw);
        assert_eq!(raw.len(), 126);
        let minutes = rows(&db, Tier::Minute);
        assert_eq!(
            minutes.len(),
            2,
            "two closed minutes; the third is still open"
        );
        assert_eq!(
            triple(&db, Tier::Minute, HOUR, "cpu.usage"),
            [0.0, 29.5, 59.0],
            "min, avg and max of 0..=59"
        );
        assert!(rows(&db, Tier::Hour).is_empty(), "the hour is still open");
        assert_eq!(value(&minutes[1].1, "cpu.usage"), 29.5);
    }

    #[test]
    fn a_restart_mid_hour_refills_the_open_buckets_from_raw_samples() {
        let dir = crate::server::history::scratch_dir("resume");
        let db = HistoryDb::open(&dir, Retention::default()).unwrap();
        let first = Recorder::start(&db).unwrap();
        for minute in 0..30 {
            first
                .record_waiting(&tick(HOUR + minute * 60_000, 10.0))
                .unwrap();
        }
        drop(first);
        let second = Recorder::start(&db).unwrap();
        for minute in 30..61 {
            second
                .record_waiting(&tick(HOUR + minute * 60_000, 30.0))
                .unwrap();
        }
        drop(second);
        assert_eq!(rows(&db, Tier::Hour).len(), 1);
        assert_eq!(
            triple(&db, Tier::Hour, HOUR, "cpu.usage"),
            [10.0, 20.0, 30.0],
            "the 30 minutes before the restart count as much as the 30 after"
        );
    }

    #[test]
    fn retention_prunes_old_rows() {
        let dir = crate::server::history::scratch_dir("prune");
        let retention = Retention {
            raw: Duration::from_secs(60),
            minute: Duration::from_secs(600),
            hour: Duration::from_secs(3 * 3600),
            ..Retention::default()
        };
        let db = HistoryDb::open(&dir, retention).unwrap();
        let recorder = Recorder::start(&db).unwrap();
        for minute in 0..300 {
            recorder
                .record_waiting(&tick(HOUR + minute * 60_000, 1.0))
                .unwrap();
        }
        drop(recorder);
        let raw = rows(&db, Tier::Raw);
        let newest = HOUR + 299 * 60_000;
        assert!(
            raw.iter().all(|(t, _)| *t >= newest - 60_000),
            "{}",
            raw.len()
        );
        let minutes = rows(&db, Tier::Minute);
        assert!(minutes.iter().all(|(t, _)| *t >= newest - 600_000));
        assert!(!minutes.is_empty());
        let hours: Vec<i64> = rows(&db, Tier::Hour).iter().map(|(t, _)| *t).collect();
        assert_eq!(
            hours,
            [HOUR + 2 * 3_600_000, HOUR + 3 * 3_600_000],
            "closed hours that start within 3 h of the newest sample"
        );
    }
}
