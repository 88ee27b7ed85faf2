//! GPU usage on disk: each owner's share of each GPU, per minute and per hour, summed as the
//! writer takes ticks (so a restart loses at most the last batch), kept as long as the minute
//! and hour rollups, and read back summed over a range.
//!
//! An owner is interned once in `usage_keys` (GPU, person, where, job), so a row is its minute,
//! its key and six numbers.

use crate::server::history::{DbError, HistoryDb, Tier};
use rusqlite::{Connection, params};
use std::collections::HashMap;

pub const CREATE_TABLES: &str = "
    CREATE TABLE IF NOT EXISTS usage_keys (
        id INTEGER PRIMARY KEY, gpu TEXT NOT NULL, user TEXT NOT NULL, owner TEXT NOT NULL,
        job TEXT NOT NULL, UNIQUE (gpu, user, owner, job));
    CREATE TABLE IF NOT EXISTS usage_minute (
        t INTEGER NOT NULL, key INTEGER NOT NULL, held REAL NOT NULL, used REAL NOT NULL,
        used_sampled REAL NOT NULL, memory_gib_s REAL NOT NULL, energy_j REAL NOT NULL,
        idle_held REAL NOT NULL, PRIMARY KEY (t, key)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS usage_hour (
        t INTEGER NOT NULL, key INTEGER NOT NULL, held REAL NOT NULL, used REAL NOT NULL,
        used_sampled REAL NOT NULL, memory_gib_s REAL NOT NULL, energy_j REAL NOT NULL,
        idle_held REAL NOT NULL, PRIMARY KEY (t, key)) WITHOUT ROWID;";

/// Whose use: one GPU (by UUID), one person, where they ran ("" for plain processes) and the
/// emitted job ("" for none).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct UsageKey {
    pub gpu: String,
    pub user: String,
    pub owner: String,
    pub job: String,
}

/// How much: GPU-seconds held and used (and how much of the use came from per-process samples),
/// memory held over time, energy, and GPU-seconds held while idle.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct UsageAmounts {
    pub held_s: f64,
    pub used_s: f64,
    pub used_sampled_s: f64,
    pub memory_gib_s: f64,
    pub energy_j: f64,
    pub idle_held_s: f64,
}

impl UsageAmounts {
    pub fn add(&mut self, other: &UsageAmounts) {
        self.held_s += other.held_s;
        self.used_s += other.used_s;
        self.used_sampled_s += other.used_sampled_s;
        self.memory_gib_s += other.memory_gib_s;
        self.energy_j += other.energy_j;
        self.idle_held_s += other.idle_held_s;
    }
}

/// One tick's bookings, as the sampler hands them to the writer.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct UsageTick {
    pub at_ms: i64,
    pub booked: Vec<(UsageKey, UsageAmounts)>,
}

/// One owner's use over a range, and the first and last minute (or hour) it was booked.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageTotal {
    pub key: UsageKey,
    pub amounts: UsageAmounts,
    pub first_ms: i64,
    pub last_ms: i64,
}

const TIERS: [(Tier, &str, i64); 2] = [
    (Tier::Minute, "usage_minute", 60_000),
    (Tier::Hour, "usage_hour", 3_600_000),
];

/// The writer's side: keys interned, and a batch of ticks summed per minute and hour in memory
/// before it is added to what the tables hold.
#[derive(Default)]
pub struct UsageWriter {
    ids: HashMap<UsageKey, i64>,
}

impl UsageWriter {
    /// Adds a batch of ticks to both tables (inside the writer's transaction).
    pub fn store(&mut self, connection: &Connection, ticks: &[UsageTick]) -> rusqlite::Result<()> {
        for (_, table, width) in TIERS {
            let mut summed: HashMap<(i64, &UsageKey), UsageAmounts> = HashMap::new();
            for tick in ticks {
                let start = tick.at_ms.div_euclid(width) * width;
                for (key, amounts) in &tick.booked {
                    summed.entry((start, key)).or_default().add(amounts);
                }
            }
            let sql = format!(
                "INSERT INTO {table} (t, key, held, used, used_sampled, memory_gib_s, energy_j, idle_held)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (t, key) DO UPDATE SET held = held + excluded.held,
                   used = used + excluded.used, used_sampled = used_sampled + excluded.used_sampled,
                   memory_gib_s = memory_gib_s + excluded.memory_gib_s,
                   energy_j = energy_j + excluded.energy_j, idle_held = idle_held + excluded.idle_held"
            );
            for ((start, key), a) in summed {
                let id = self.id_of(connection, key)?;
                connection.prepare_cached(&sql)?.execute(params![
                    start,
                    id,
                    a.held_s,
                    a.used_s,
                    a.used_sampled_s,
                    a.memory_gib_s,
                    a.energy_j,
                    a.idle_held_s
                ])?;
            }
        }
        Ok(())
    }

    fn id_of(&mut self, connection: &Connection, key: &UsageKey) -> rusqlite::Result<i64> {
        if let Some(&id) = self.ids.get(key) {
            return Ok(id);
        }
        connection
            .prepare_cached(
                "INSERT INTO usage_keys (gpu, user, owner, job) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (gpu, user, owner, job) DO NOTHING",
            )?
            .execute(params![key.gpu, key.user, key.owner, key.job])?;
        let id = connection
            .prepare_cached(
                "SELECT id FROM usage_keys WHERE gpu = ?1 AND user = ?2 AND owner = ?3 AND job = ?4",
            )?
            .query_row(params![key.gpu, key.user, key.owner, key.job], |r| r.get(0))?;
        self.ids.insert(key.clone(), id);
        Ok(id)
    }
}

/// Drops rows past the retention of their tier, a step at a time.
pub fn prune(
    connection: &Connection,
    now_ms: i64,
    retention: crate::server::history::Retention,
    step: usize,
) -> rusqlite::Result<()> {
    for (tier, table, _) in TIERS {
        let oldest_kept = now_ms - retention.of(tier).as_millis() as i64;
        let sql = format!(
            "DELETE FROM {table} WHERE (t, key) IN (SELECT t, key FROM {table} WHERE t < ?1 LIMIT {step})"
        );
        connection
            .prepare_cached(&sql)?
            .execute(params![oldest_kept])?;
    }
    Ok(())
}

impl HistoryDb {
    /// Each owner's use from `from_ms` to `to_ms`, from the minute table where it still reaches
    /// that far back, else from the hour table; says which.
    pub fn usage_totals(
        &self,
        from_ms: i64,
        to_ms: i64,
        now_ms: i64,
    ) -> Result<(Vec<UsageTotal>, Tier), DbError> {
        let minute_reach = now_ms - self.retention().minute.as_millis() as i64;
        let (tier, table) = if from_ms >= minute_reach {
            (Tier::Minute, "usage_minute")
        } else {
            (Tier::Hour, "usage_hour")
        };
        let connection = self.reader();
        let sql = format!(
            "SELECT k.gpu, k.user, k.owner, k.job, sum(u.held), sum(u.used), sum(u.used_sampled),
                    sum(u.memory_gib_s), sum(u.energy_j), sum(u.idle_held), min(u.t), max(u.t)
             FROM {table} u JOIN usage_keys k ON k.id = u.key
             WHERE u.t >= ?1 AND u.t < ?2 GROUP BY u.key"
        );
        let read = || -> rusqlite::Result<Vec<UsageTotal>> {
            let mut statement = connection.prepare_cached(&sql)?;
            let rows = statement.query_map(params![from_ms, to_ms], |r| {
                Ok(UsageTotal {
                    key: UsageKey {
                        gpu: r.get(0)?,
                        user: r.get(1)?,
                        owner: r.get(2)?,
                        job: r.get(3)?,
                    },
                    amounts: UsageAmounts {
                        held_s: r.get(4)?,
                        used_s: r.get(5)?,
                        used_sampled_s: r.get(6)?,
                        memory_gib_s: r.get(7)?,
                        energy_j: r.get(8)?,
                        idle_held_s: r.get(9)?,
                    },
                    first_ms: r.get(10)?,
                    last_ms: r.get(11)?,
                })
            })?;
            rows.collect()
        };
        read()
            .map(|totals| (totals, tier))
            .map_err(|e| crate::server::history::sqlite_error(self.path(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::history::Retention;

    fn key(user: &str) -> UsageKey {
        UsageKey {
            gpu: "GPU-a".into(),
            user: user.into(),
            ..Default::default()
        }
    }

    fn held(seconds: f64) -> UsageAmounts {
        UsageAmounts {
            held_s: seconds,
            ..Default::default()
        }
    }

    #[test]
    fn ticks_add_up_per_minute_and_hour_and_are_read_back_summed() {
        let dir = crate::server::history::scratch_dir("usage");
        let db = HistoryDb::open(&dir, Retention::default()).unwrap();
        let connection = db.writing_connection().unwrap();
        let mut writer = UsageWriter::default();
        let hour = 1_767_225_600_000;
        let ticks: Vec<UsageTick> = (0..180)
            .map(|i| UsageTick {
                at_ms: hour + i * 1000,
                booked: vec![(key("alice"), held(1.0)), (key("bob"), held(0.5))],
            })
            .collect();
        // Two batches that meet inside a minute add up, not overwrite.
        writer.store(&connection, &ticks[..90]).unwrap();
        writer.store(&connection, &ticks[90..]).unwrap();
        let minutes: i64 = connection
            .query_row("SELECT count(*) FROM usage_minute", [], |r| r.get(0))
            .unwrap();
        assert_eq!(minutes, 6, "3 minutes × 2 owners");
        let (totals, tier) = db
            .usage_totals(hour, hour + 3_600_000, hour + 200_000)
            .unwrap();
        assert_eq!(tier, Tier::Minute);
        let alice = totals.iter().find(|t| t.key.user == "alice").unwrap();
        assert!((alice.amounts.held_s - 180.0).abs() < 1e-9);
        assert_eq!((alice.first_ms, alice.last_ms), (hour, hour + 120_000));
        // Past the minutes' reach the hours answer, with the same sums.
        let far_later = hour + 40 * 86_400_000;
        let (totals, tier) = db.usage_totals(hour, hour + 3_600_000, far_later).unwrap();
        assert_eq!(tier, Tier::Hour);
        let bob = totals.iter().find(|t| t.key.user == "bob").unwrap();
        assert!((bob.amounts.held_s - 90.0).abs() < 1e-9);
        // Pruning drops the minutes first.
        prune(&connection, far_later, Retention::default(), 100).unwrap();
        let left: (i64, i64) = connection
            .query_row(
                "SELECT (SELECT count(*) FROM usage_minute), (SELECT count(*) FROM usage_hour)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(left, (0, 2));
        std::fs::remove_dir_all(&dir).ok();
    }
}
