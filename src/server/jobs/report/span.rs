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

    /// How long after the span's start the time its first row stands for may begin without a
    /// gap.
    fn lead_allowance_ms(&self) -> i64 {
        match self.tier {
            Tier::Raw => GAP_INTERVALS * self.width_ms,
            _ => self.width_ms - 1,
        }
    }

    /// The time the row at `t` stands for, given the row before it (a gap between them, too).
    /// A sample is the reading over the interval before it (NVML's power is averaged over the
    /// last second), so it stands back to the sample before; a rollup stands for its bucket.
    fn row_time(&self, t: i64, before: Option<i64>) -> ((i64, i64), Option<HistoryGap>) {
        match (self.tier, before) {
            (Tier::Raw, Some(before)) if t - before <= GAP_INTERVALS * self.width_ms => {
                ((before, t), None)
            }
            (Tier::Raw, before) => {
                let start = t - self.width_ms;
                let gap = before.map(|before| HistoryGap {
                    from_ms: before,
                    to_ms: start,
                });
                ((start, t), gap)
            }
            (_, before) => {
                let end = t + self.width_ms;
                let gap = before
                    .map(|before| before + self.width_ms)
                    .filter(|&stopped| t - stopped >= self.width_ms)
                    .map(|stopped| HistoryGap {
                        from_ms: stopped,
                        to_ms: t,
                    });
                ((t, end), gap)
            }
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
    // A rollup row is keyed by its bucket's start, which may come before the span's; the sample
    // just after the end still stands for the end's last moments.
    let (scan_from, scan_to) = match span.tier {
        Tier::Raw => (span.from_ms, span.to_ms + span.width_ms),
        _ => (span.from_ms - span.width_ms + 1, span.to_ms),
    };
    let mut walked = Walked::default();
    let mut covered_to = span.from_ms;
    walked.rows = db.scan(span.tier, scan_from, scan_to, names, |t, values| {
        let ((start, end), gap) = span.row_time(t, walked.through_ms);
        if walked.through_ms.is_none() && start - span.from_ms > span.lead_allowance_ms() {
            walked.gaps.push(HistoryGap {
                from_ms: span.from_ms,
                to_ms: start,
            });
        }
        walked.gaps.extend(gap.filter(|g| g.to_ms > g.from_ms));
        visit(t, span.seconds_within(start, end), values);
        walked.through_ms = Some(t);
        covered_to = end;
    })?;
    if span.to_ms - covered_to > span.allowance_ms() {
        walked.gaps.push(HistoryGap {
            from_ms: covered_to.max(span.from_ms),
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
        assert_eq!(
            span(now - 72 * HOUR, now - 71 * HOUR),
            Tier::Minute,
            "raw is gone"
        );
        assert_eq!(span(now - 40 * 24 * HOUR, now - 39 * 24 * HOUR), Tier::Hour);
    }

    #[test]
    fn a_sample_stands_back_to_the_one_before_unless_they_are_far_apart() {
        let span = Span {
            from_ms: 0,
            to_ms: 100_000,
            tier: Tier::Raw,
            width_ms: 1000,
        };
        assert_eq!(span.row_time(6_000, Some(5_000)), ((5_000, 6_000), None));
        assert_eq!(
            span.row_time(7_500, Some(5_000)).0,
            (5_000, 7_500),
            "a late tick"
        );
        assert_eq!(
            span.row_time(60_000, Some(5_000)),
            (
                (59_000, 60_000),
                Some(HistoryGap {
                    from_ms: 5_000,
                    to_ms: 59_000
                })
            ),
            "a restart"
        );
        assert_eq!(
            span.seconds_within(99_500, 101_000),
            0.5,
            "clipped at the end"
        );
        let minutes = Span {
            tier: Tier::Minute,
            width_ms: 60_000,
            ..span
        };
        assert_eq!(
            minutes.row_time(120_000, Some(60_000)),
            ((120_000, 180_000), None)
        );
        assert_eq!(
            minutes.row_time(300_000, Some(60_000)).1,
            Some(HistoryGap {
                from_ms: 120_000,
                to_ms: 300_000
            })
        );
    }
}
