//! Honest rates from cumulative counters: deltas over measured monotonic time, never a spike.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Bytes (or any unit) per second between two readings of a cumulative counter.
///
/// A counter that went backwards (reset, wrap, device replaced) and an interval of zero give 0: a
/// made-up huge number would be worse than one missing point.
pub fn rate(previous: u64, current: u64, elapsed: Duration) -> f64 {
    if current < previous || elapsed.is_zero() {
        return 0.0;
    }
    (current - previous) as f64 / elapsed.as_secs_f64()
}

/// Tracks many named counters read together once per tick.
///
/// Keys seen for the first time read 0 (they only prime), and keys that disappear are forgotten, so a
/// device that comes back starts fresh instead of producing a delta across its absence.
#[derive(Default)]
pub struct RateTracker {
    previous: HashMap<String, u64>,
    current: HashMap<String, u64>,
    last_tick: Option<Instant>,
    elapsed: Option<Duration>,
}

impl RateTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a new round of readings taken at `now`.
    pub fn tick(&mut self, now: Instant) {
        self.elapsed = self
            .last_tick
            .map(|last| now.saturating_duration_since(last));
        self.last_tick = Some(now);
        self.previous = std::mem::take(&mut self.current);
    }

    /// Records this round's reading of `key` and returns its rate per second since the last round.
    pub fn rate(&mut self, key: &str, total: u64) -> f64 {
        self.current.insert(key.to_owned(), total);
        match (self.previous.get(key), self.elapsed) {
            (Some(&previous), Some(elapsed)) => rate(previous, total, elapsed),
            _ => 0.0,
        }
    }
}

/// `part` as a percentage of `whole`, 0 when `whole` is 0, clamped to 0–100.
pub fn percent(part: u64, whole: u64) -> f32 {
    if whole == 0 {
        return 0.0;
    }
    ((part as f64 / whole as f64) * 100.0).clamp(0.0, 100.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_delta_over_elapsed_time() {
        assert_eq!(rate(1_000, 3_000, Duration::from_secs(2)), 1_000.0);
        assert_eq!(rate(0, 500, Duration::from_millis(250)), 2_000.0);
    }

    #[test]
    fn rate_is_zero_on_reset_or_no_time() {
        assert_eq!(rate(5_000, 10, Duration::from_secs(1)), 0.0);
        assert_eq!(rate(u64::MAX, 0, Duration::from_secs(1)), 0.0);
        assert_eq!(rate(10, 20, Duration::ZERO), 0.0);
    }

    #[test]
    fn tracker_primes_then_measures() {
        let start = Instant::now();
        let mut tracker = RateTracker::new();
        tracker.tick(start);
        assert_eq!(
            tracker.rate("eth0", 1_000_000),
            0.0,
            "the first reading only primes"
        );
        tracker.tick(start + Duration::from_secs(2));
        assert_eq!(tracker.rate("eth0", 1_004_000), 2_000.0);
        tracker.tick(start + Duration::from_secs(3));
        assert_eq!(tracker.rate("eth0", 10), 0.0, "a counter reset gives 0");
        tracker.tick(start + Duration::from_secs(4));
        assert_eq!(
            tracker.rate("eth0", 110),
            100.0,
            "and measures again after it"
        );
    }

    #[test]
    fn tracker_forgets_keys_that_vanish() {
        let start = Instant::now();
        let mut tracker = RateTracker::new();
        tracker.tick(start);
        tracker.rate("usb0", 100);
        tracker.tick(start + Duration::from_secs(1));
        // usb0 unplugged: not read this round.
        tracker.tick(start + Duration::from_secs(2));
        assert_eq!(
            tracker.rate("usb0", 9_000_000),
            0.0,
            "a returning device primes again"
        );
    }

    #[test]
    fn percent_is_bounded() {
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(percent(1, 0), 0.0);
        assert_eq!(percent(10, 5), 100.0);
    }
}
