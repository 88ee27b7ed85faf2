//! The saved rows over a run's span: which tier they are read from, how many seconds each row
//! stands for within the span, and where no row was saved at all (the server stopped, or was
//! not saving) — a gap is reported, never filled in.

use crate::server::history::scan::Spread;
use crate::server::history::writer::BATCH_EVERY;
use crate::server::history::{DbError, HistoryDb, Retention, Tier};
use crate::wire::HistoryGap;

/// Spans up to this long are read sample by sample; longer ones from the minute rollups, which
/// hold each minute's mean (and extremes) of every series: a day of minutes reads in
/// milliseconds where a day of samples takes seconds.
const RAW_UP_TO_MS: i64 = 3 * 3_600_000;
/// Raw samples further apart than this many intervals leave a gap between them.
const GAP_INTERVALS: i64 = 3;

/// The span a report covers and the tier it is read from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub from_ms: i64,
    pub to_ms: i64,
    pub tier: Tier,
    /// What one row stands for: the sample interval, a minute or an hour.
    pub width_ms: i64,
}

impl Span {
    /// The finest tier that is short enough to read and still kept back to `from_ms`.
    pub fn choose(
        from_ms: i64,
        to_ms: i64,
        interval_ms: i64,
        now_ms: i64,
        retention: Retention,
    ) -> Span {
        let kept = |tier: Tier| now_ms - retention.of(tier).as_millis() as i64 <= from_ms;
        let tier = if to_ms - from_ms <= RAW_UP_TO_MS && kept(Tier::Raw) {
            Tier::Raw
        } else if kept(Tier::Minute) {
            Tier::Minute
        } else {
            Tier::Hour
        };
        Span {
            from_ms,
            to_ms,
            tier,
            width_ms: tier.bucket_ms().unwrap_or(interval_ms.max(1)),
        }
    }

    /// How the figures were read, in words.
    pub fn resolution(&self) -> &'static str {
        match self.tier {
            Tier::Raw => "raw samples",
            Tier::Minute => "1-minute rollups",
            Tier::Hour => "1-hour rollups",
        }
    }

    /// How far behind its end the newest saved row may be without a gap: the writer saves
    /// every few seconds, and a rollup only once its minute (or hour) has closed.
    fn allowance_ms(&self) -> i64 {
        let batch = BATCH_EVERY.as_millis() as i64;
        match self.tier {
            Tier::Raw => GAP_INTERVALS * self.width_ms + batch,
            _ => self.width_ms + batch,
        }
    }

    /// How long after the span's start its first row may come without a gap.
    fn lead_allowance_ms(&self) -> i64 {
        match self.tier {
            Tier::Raw => GAP_INTERVALS * self.width_ms,
            _ => self.width_ms - 1,
        }
    }

    /// Where the row at `t` stops standing for time, given the next row's time.
    fn row_end(&self, t: i64, next: Option<i64>) -> i64 {
        match (self.tier, next) {
            (Tier::Raw, Some(next)) if next - t <= GAP_INTERVALS * self.width_ms => next,
            _ => t + self.width_ms,
        }
    }

    fn seconds_within(&self, start: i64, end: i64) -> f64 {
        (end.min(self.to_ms) - start.max(self.from_ms)).max(0) as f64 / 1000.0
    }
}

/// What walking the span found beside the rows themselves.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Walked {
    pub rows: usize,
    /// The newest row's time.
    pub through_ms: Option<i64>,
    pub gaps: Vec<HistoryGap>,
}

/// Calls `visit(t, seconds, values)` for each row of the span, oldest first, with the seconds
/// it stands for within the span and the values of `names` in it.
pub fn walk(
    db: &HistoryDb,
    span: &Span,
    names: &[String],
    mut visit: impl FnMut(i64, f64, &[Option<Spread>]),
) -> Result<Walked, DbError> {
    // A rollup row is keyed by its bucket's start, which may come before the span's.
    let scan_from = match span.tier {
        Tier::Raw => span.from_ms,
        _ => span.from_ms - span.width_ms + 1,
    };
    let mut walked = Walked::default();
    let mut held: Option<(i64, Vec<Option<Spread>>)> = None;
    let mut take = |walked: &mut Walked, t: i64, values: &[Option<Spread>], next: Option<i64>| {
        let end = span.row_end(t, next);
        visit(t, span.seconds_within(t, end), values);
        if let Some(next) = next
            && next - end >= span.width_ms
        {
            walked.gaps.push(HistoryGap {
                from_ms: end,
                to_ms: next,
            });
        }
        end
    };
    walked.rows = db.scan(span.tier, scan_from, span.to_ms, names, |t, values| {
        match held.as_mut() {
            None => {
                if t - span.from_ms > span.lead_allowance_ms() {
                    walked.gaps.push(HistoryGap {
                        from_ms: span.from_ms,
                        to_ms: t,
                    });
                }
                held = Some((t, values.to_vec()));
            }
            Some((held_t, held_values)) => {
                take(&mut walked, *held_t, held_values, Some(t));
                *held_t = t;
                held_values.copy_from_slice(values);
            }
        }
    })?;
    let end = match &held {
        Some((t, values)) => {
            walked.through_ms = Some(*t);
            take(&mut walked, *t, values, None)
        }
        None => span.from_ms,
    };
    if span.to_ms - end > span.allowance_ms() {
        walked.gaps.push(HistoryGap {
            from_ms: end,
            to_ms: span.to_ms,
        });
    }
    Ok(walked)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn short_recent_spans_read_samples_and_long_or_old_ones_rollups() {
        let retention = Retention::default();
        let now = 1_000 * HOUR;
        let span = |from: i64, to: i64| Span::choose(from, to, 1000, now, retention).tier;
        assert_eq!(span(now - HOUR, now), Tier::Raw);
        assert_eq!(span(now - 24 * HOUR, now), Tier::Minute);
        assert_eq!(span(now - 72 * HOUR, now - 71 * HOUR), Tier::Minute, "raw is gone");
        assert_eq!(span(now - 40 * 24 * HOUR, now - 39 * 24 * HOUR), Tier::Hour);
    }

    #[test]
    fn a_raw_row_stands_until_the_next_unless_they_are_far_apart() {
        let span = Span {
            from_ms: 0,
            to_ms: 100_000,
            tier: Tier::Raw,
            width_ms: 1000,
        };
        assert_eq!(span.row_end(5_000, Some(6_000)), 6_000);
        assert_eq!(span.row_end(5_000, Some(7_500)), 7_500, "a late tick");
        assert_eq!(span.row_end(5_000, Some(60_000)), 6_000, "a restart");
        assert_eq!(span.seconds_within(99_500, 101_000), 0.5, "clipped at the end");
    }
}
