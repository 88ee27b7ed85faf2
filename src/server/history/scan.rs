//! Reading named series row by row: every saved tick (or rollup bucket) of one tier over a span,
//! handed to a visitor with the values of the series asked for, in the order asked. What a run
//! report adds up over a job's span, without the strings and vectors of a whole row per tick.

use crate::server::history::layouts::{Layouts, value_at};
use crate::server::history::{DbError, HistoryDb, Tier};
use rusqlite::params;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// One series in one row: its minimum, mean and maximum (all three the sample in the raw tier).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

impl HistoryDb {
    /// Calls `visit` with each row's time and the values of `names` in it (None where the row
    /// has none), oldest first, for the rows of `tier` from `from_ms` to `to_ms`, both included.
    /// Returns how many rows were read.
    pub fn scan(
        &self,
        tier: Tier,
        from_ms: i64,
        to_ms: i64,
        names: &[String],
        mut visit: impl FnMut(i64, &[Option<Spread>]),
    ) -> Result<usize, DbError> {
        let connection = self.reader();
        let fail = |e| self.sqlite_error(e);
        let sql = format!(
            "SELECT t, layout, data FROM {} WHERE t BETWEEN ?1 AND ?2 ORDER BY t",
            tier.table()
        );
        let mut statement = connection.prepare_cached(&sql).map_err(fail)?;
        let mut rows = statement.query(params![from_ms, to_ms]).map_err(fail)?;
        let per_value = if tier == Tier::Raw { 1 } else { 3 };
        let wanted: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut layouts = Layouts::default();
        // Each layout's positions of the series asked for, found once per layout.
        let mut positions: HashMap<i64, Vec<(usize, usize)>> = HashMap::new();
        let mut values: Vec<Option<Spread>> = vec![None; names.len()];
        let mut read = 0;
        while let Some(row) = rows.next().map_err(fail)? {
            let t: i64 = row.get(0).map_err(fail)?;
            let layout: i64 = row.get(1).map_err(fail)?;
            let data = row
                .get_ref(2)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(fail)?;
            let layout_positions = match positions.entry(layout) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(unseen) => {
                    let layout_names = layouts.names_of(&connection, layout).map_err(fail)?;
                    unseen.insert(
                        layout_names
                            .iter()
                            .enumerate()
                            .filter_map(|(position, name)| {
                                Some((position, *wanted.get(name.as_str())?))
                            })
                            .collect(),
                    )
                }
            };
            values.iter_mut().for_each(|v| *v = None);
            for &(position, slot) in layout_positions.iter() {
                let at = |k: usize| value_at(data, position * per_value + k);
                let spread = if per_value == 1 {
                    at(0).map(|v| Spread {
                        min: v,
                        avg: v,
                        max: v,
                    })
                } else {
                    match (at(0), at(1), at(2)) {
                        (Some(min), Some(avg), Some(max)) => Some(Spread { min, avg, max }),
                        _ => None,
                    }
                };
                values[slot] = spread.filter(|s| s.avg.is_finite());
            }
            read += 1;
            visit(t, &values);
        }
        Ok(read)
    }

    /// The time of the oldest row the tier keeps, if it has any.
    pub fn oldest(&self, tier: Tier) -> Result<Option<i64>, DbError> {
        let connection = self.reader();
        connection
            .query_row(&format!("SELECT min(t) FROM {}", tier.table()), [], |r| {
                r.get(0)
            })
            .map_err(|e| self.sqlite_error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::collect::Snapshot;
    use crate::server::history::Retention;
    use crate::server::history::writer::Recorder;
    use chrono::DateTime;
    use std::sync::Arc;

    #[test]
    fn each_row_gives_the_values_asked_for_in_their_order() {
        let dir = crate::server::history::scratch_dir("scan");
        let db = HistoryDb::open(&dir, Retention::default()).unwrap();
        let recorder = Recorder::start(&db).unwrap();
        let start = 1_767_225_600_000;
        for second in 0..130 {
            let mut snapshot = Snapshot {
                timestamp: DateTime::from_timestamp_millis(start + second * 1000).unwrap(),
                ..Default::default()
            };
            snapshot.cpu.usage_percent = (second % 10) as f32;
            snapshot.memory.swap_percent = 3.0;
            recorder.record_waiting(&Arc::new(snapshot)).unwrap();
        }
        drop(recorder);
        let names = [
            "memory.swap".to_string(),
            "no.such".into(),
            "cpu.usage".into(),
        ];
        let mut seen = Vec::new();
        let read = db
            .scan(Tier::Raw, start + 5_000, start + 7_000, &names, |t, v| {
                seen.push((t, v.to_vec()))
            })
            .unwrap();
        assert_eq!(read, 3);
        let one = |v: f64| {
            Some(Spread {
                min: v,
                avg: v,
                max: v,
            })
        };
        assert_eq!(seen[0], (start + 5_000, vec![one(3.0), None, one(5.0)]));
        let mut minutes = Vec::new();
        db.scan(Tier::Minute, start, start + 130_000, &names, |t, v| {
            minutes.push((t, v[2]))
        })
        .unwrap();
        assert_eq!(minutes.len(), 2, "two closed minutes");
        assert_eq!(
            minutes[0].1,
            Some(Spread {
                min: 0.0,
                avg: 4.5,
                max: 9.0
            })
        );
        assert_eq!(db.oldest(Tier::Raw).unwrap(), Some(start));
    }
}
