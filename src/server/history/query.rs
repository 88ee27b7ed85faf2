//! Reading the history back: ranges at a budget of points (the tier is picked to fit), and the
//! recent raw samples a restarted server starts its pages from.

use crate::server::history::layouts::{Layouts, value_at};
use crate::server::history::writer::read_raw;
use crate::server::history::{Accumulator, DbError, HistoryDb, Row, Tier, series};
use crate::wire::RangeAnswer;
use rusqlite::params;
use std::collections::BTreeMap;

/// What a range read asks for.
#[derive(Clone, Copy, Debug)]
pub struct RangeRequest<'a> {
    /// The span, in ms since the epoch, both ends included.
    pub from_ms: i64,
    pub to_ms: i64,
    /// About how many buckets each series may have.
    pub points: usize,
    /// The series wanted (`prefix*` patterns allowed); empty for every series.
    pub series: &'a [String],
}

impl HistoryDb {
    /// Every series the request names over its span in at most about `points` buckets each, from
    /// the coarsest tier that is still fine enough and kept that far back. `interval_ms` is the
    /// sampling interval (the raw tier's resolution), `now` the clock the tiers' retention is
    /// counted from.
    pub fn range(
        &self,
        request: &RangeRequest,
        interval_ms: i64,
        now: i64,
    ) -> Result<RangeAnswer, DbError> {
        let RangeRequest {
            from_ms: from,
            to_ms: to,
            points,
            series: filter,
        } = *request;
        let wanted_ms = ((to - from) as f64 / points.max(1) as f64).ceil() as i64;
        let tier = pick_tier(from, wanted_ms, interval_ms, now, self.retention());
        let resolution = tier.bucket_ms().unwrap_or(interval_ms);
        // Whole multiples of the tier's resolution, so buckets fall on minute and hour edges.
        let resolution = resolution.max(1);
        let bucket_ms = (wanted_ms.max(resolution) + resolution - 1) / resolution * resolution;
        let connection = self.reader();
        let sql = format!(
            "SELECT t, layout, data FROM {} WHERE t BETWEEN ?1 AND ?2 ORDER BY t",
            tier.table()
        );
        let mut statement = connection
            .prepare_cached(&sql)
            .map_err(|e| self.sqlite_error(e))?;
        let fail = |e| self.sqlite_error(e);
        let mut rows = statement.query(params![from, to]).map_err(fail)?;
        let per_value = if tier == Tier::Raw { 1 } else { 3 };
        let mut layouts = Layouts::default();
        // Series are numbered once; each layout lists its selected positions with their
        // numbers, so the loop over values touches no strings and skips what was not asked for.
        let mut names: Vec<String> = Vec::new();
        let mut number_of: BTreeMap<String, usize> = BTreeMap::new();
        let mut selected: BTreeMap<i64, Vec<(usize, usize)>> = BTreeMap::new();
        // Rows come in time order, so each series' buckets are appended, never looked up.
        let mut buckets: Vec<Vec<(i64, Accumulator)>> = Vec::new();
        let mut newest: Option<i64> = None;
        while let Some(row) = rows.next().map_err(fail)? {
            let t: i64 = row.get(0).map_err(fail)?;
            let layout: i64 = row.get(1).map_err(fail)?;
            // Read in place: a month of minute rows is 43,200 blobs not worth copying.
            let data = row
                .get_ref(2)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(fail)?;
            newest = Some(t);
            let wanted = match selected.entry(layout) {
                std::collections::btree_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::btree_map::Entry::Vacant(new) => {
                    let layout_names = layouts.names_of(&connection, layout).map_err(fail)?;
                    let wanted = layout_names
                        .iter()
                        .enumerate()
                        .filter(|(_, name)| series::selected(name, filter))
                        .map(|(position, name)| {
                            let number = *number_of.entry(name.clone()).or_insert_with(|| {
                                names.push(name.clone());
                                buckets.push(Vec::new());
                                names.len() - 1
                            });
                            (position, number)
                        })
                        .collect();
                    new.insert(wanted)
                }
            };
            let start = t.div_euclid(bucket_ms) * bucket_ms;
            for &(position, number) in wanted.iter() {
                let at = |k: usize| value_at(data, position * per_value + k);
                let (min, avg, max) = if per_value == 1 {
                    let Some(v) = at(0) else { continue };
                    (v, v, v)
                } else {
                    let (Some(min), Some(avg), Some(max)) = (at(0), at(1), at(2)) else {
                        continue;
                    };
                    (min, avg, max)
                };
                if !avg.is_finite() {
                    continue;
                }
                let of_series = &mut buckets[number];
                match of_series.last_mut() {
                    Some((last, entry)) if *last == start => {
                        entry.0 = entry.0.min(min);
                        entry.1 += avg;
                        entry.2 = entry.2.max(max);
                        entry.3 += 1;
                    }
                    _ => of_series.push((start, (min, avg, max, 1))),
                }
            }
        }
        let series = names
            .into_iter()
            .zip(buckets)
            .map(|(name, by_start)| {
                let values = by_start
                    .into_iter()
                    .map(|(start, (min, sum, max, n))| [start as f64, min, sum / f64::from(n), max])
                    .collect();
                (name, values)
            })
            .collect();
        Ok(RangeAnswer {
            from,
            to,
            tier,
            bucket_ms,
            // A rollup row stands for its whole minute or hour.
            through: newest.map(|t| t + tier.bucket_ms().map_or(0, |width| width - 1)),
            series,
            persistence: None,
        })
    }

    /// The raw samples since `from`, oldest first: what a restarted server fills its memory with.
    pub fn recent(&self, from: i64) -> Result<Vec<Row>, DbError> {
        let connection = self.reader();
        read_raw(&connection, &mut Layouts::default(), from, i64::MAX)
            .map_err(|e| self.sqlite_error(e))
    }
}

/// The coarsest tier whose resolution still fits `wanted_ms` and that is kept back to `from`;
/// when none is fine enough, the finest that is kept that far; when none is, the hours.
pub fn pick_tier(
    from: i64,
    wanted_ms: i64,
    interval_ms: i64,
    now: i64,
    retention: crate::server::history::Retention,
) -> Tier {
    let kept = |tier: Tier| now - retention.of(tier).as_millis() as i64 <= from;
    let resolution = |tier: Tier| tier.bucket_ms().unwrap_or(interval_ms);
    Tier::ALL
        .into_iter()
        .rev()
        .find(|&tier| kept(tier) && resolution(tier) <= wanted_ms)
        .or_else(|| Tier::ALL.into_iter().find(|&tier| kept(tier)))
        .unwrap_or(Tier::Hour)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::collect::Snapshot;
    use crate::server::history::Retention;
    use crate::server::history::writer::Recorder;
    use chrono::DateTime;
    use std::sync::Arc;

    const HOUR: i64 = 1_767_225_600_000;

    #[test]
    fn the_tier_fits_the_budget_and_the_retention() {
        let retention = Retention::default();
        let now = HOUR + 100 * 24 * 3_600_000;
        let day = 24 * 3_600_000;
        // 5 minutes in 300 points: raw samples.
        assert_eq!(
            pick_tier(now - 300_000, 1_000, 1_000, now, retention),
            Tier::Raw
        );
        // A day in 500 points (173 s each): minutes are fine enough.
        assert_eq!(
            pick_tier(now - day, 172_800, 1_000, now, retention),
            Tier::Minute
        );
        // 30 days in 500 points (86 min each): hours.
        assert_eq!(
            pick_tier(now - 30 * day, 5_184_000, 1_000, now, retention),
            Tier::Hour
        );
        // 3 days ago in fine points: raw is gone (48 h), minutes are kept.
        assert_eq!(
            pick_tier(now - 3 * day, 1_000, 1_000, now, retention),
            Tier::Minute
        );
    }

    #[test]
    fn ranges_return_min_avg_max_buckets_and_gaps_stay_gaps() {
        let dir = crate::server::history::scratch_dir("range");
        let db = HistoryDb::open(&dir, Retention::default()).unwrap();
        let recorder = Recorder::start(&db).unwrap();
        let tick = |second: i64, usage: f32| {
            let mut snapshot = Snapshot {
                timestamp: DateTime::from_timestamp_millis(HOUR + second * 1000).unwrap(),
                ..Default::default()
            };
            snapshot.cpu.usage_percent = usage;
            Arc::new(snapshot)
        };
        // Ten minutes running, ten minutes stopped, ten minutes running.
        for second in (0..600).chain(1200..1800) {
            recorder
                .record_waiting(&tick(second, (second % 10) as f32))
                .unwrap();
        }
        drop(recorder);
        let now = HOUR + 1800 * 1000;
        let wanted = ["cpu.usage".to_string()];
        let request = RangeRequest {
            from_ms: HOUR,
            to_ms: now,
            points: 30,
            series: &wanted,
        };
        let answer = db.range(&request, 1000, now).unwrap();
        assert_eq!(answer.tier, Tier::Minute);
        assert_eq!(answer.bucket_ms, 60_000);
        let usage = &answer.series["cpu.usage"];
        assert_eq!(
            usage.len(),
            19,
            "10 + 9 closed minutes; the 10 stopped ones are absent"
        );
        assert_eq!(usage[0], [HOUR as f64, 0.0, 4.5, 9.0]);
        assert!(
            usage
                .iter()
                .all(|b| b[0] < (HOUR + 600_000) as f64 || b[0] >= (HOUR + 1_200_000) as f64)
        );
        assert_eq!(answer.series.len(), 1, "only the series asked for");
        assert_eq!(
            answer.through,
            Some(HOUR + 1_680_000 + 59_999),
            "through the end of the newest closed minute"
        );

        let request = RangeRequest {
            from_ms: HOUR,
            to_ms: HOUR + 20_000,
            points: 20,
            series: &[],
        };
        let fine = db.range(&request, 1000, now).unwrap();
        assert_eq!(fine.tier, Tier::Raw);
        assert_eq!(fine.series["cpu.usage"].len(), 21);
        assert!(
            fine.series.contains_key("memory.ram"),
            "every series without a filter"
        );

        let recent = db.recent(HOUR + 1_790_000).unwrap();
        assert_eq!(recent.len(), 10);
        assert_eq!(recent[0].0, HOUR + 1_790_000);
    }
}
