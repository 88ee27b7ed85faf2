//! When each filesystem will be full at its recent rate of growth: a least-squares line through
//! one reading a minute over the last hours, as node_exporter's mixin asks `predict_linear`.

use crate::wire::{Filesystem, FillForecast};
use std::collections::{HashMap, VecDeque};

/// The trend looks this far back.
const WINDOW_MS: i64 = 6 * 3600 * 1000;
/// One reading a minute is plenty for a trend over hours.
const STEP_MS: i64 = 60 * 1000;
/// A trend needs this much history before it says anything.
const SHORTEST_MS: i64 = 30 * 60 * 1000;
/// Forecasts further out than this say nothing anyone acts on.
const FURTHEST_HOURS: f64 = 30.0 * 24.0;

/// Each filesystem's recent readings: (time ms, used bytes).
#[derive(Debug, Default)]
pub struct Trends {
    readings: HashMap<String, VecDeque<(i64, f64)>>,
}

impl Trends {
    /// Takes this tick's readings (one a minute is kept) and forecasts the filesystems that grow.
    pub fn update(&mut self, now_ms: i64, filesystems: &[Filesystem]) -> Vec<FillForecast> {
        self.readings
            .retain(|mount, _| filesystems.iter().any(|f| &f.mount_point == mount));
        let mut forecasts = Vec::new();
        for filesystem in filesystems.iter().filter(|f| f.total_bytes > 0) {
            let readings = self
                .readings
                .entry(filesystem.mount_point.clone())
                .or_default();
            if readings.back().is_none_or(|(at, _)| now_ms - at >= STEP_MS) {
                readings.push_back((now_ms, filesystem.used_bytes as f64));
            }
            while readings
                .front()
                .is_some_and(|(at, _)| now_ms - at > WINDOW_MS)
            {
                readings.pop_front();
            }
            if let Some(hours) = hours_to_full(readings, filesystem.available_bytes as f64) {
                forecasts.push(FillForecast {
                    mount_point: filesystem.mount_point.clone(),
                    hours_to_full: hours,
                });
            }
        }
        forecasts
    }
}

/// Hours until `available` bytes are used at the readings' trend; None while the trend is flat,
/// falling, too short or too far out to matter.
pub fn hours_to_full(readings: &VecDeque<(i64, f64)>, available: f64) -> Option<f64> {
    let (first, last) = (readings.front()?.0, readings.back()?.0);
    if last - first < SHORTEST_MS || readings.len() < 3 {
        return None;
    }
    let n = readings.len() as f64;
    // Hours from the first reading, so the sums stay small.
    let points = readings
        .iter()
        .map(|(at, used)| ((at - first) as f64 / 3.6e6, *used));
    let (sum_t, sum_u, sum_tt, sum_tu) = points.fold((0.0, 0.0, 0.0, 0.0), |s, (t, u)| {
        (s.0 + t, s.1 + u, s.2 + t * t, s.3 + t * u)
    });
    let spread = n * sum_tt - sum_t * sum_t;
    if spread <= 0.0 {
        return None;
    }
    let bytes_per_hour = (n * sum_tu - sum_t * sum_u) / spread;
    if bytes_per_hour <= 0.0 {
        return None;
    }
    let hours = available.max(0.0) / bytes_per_hour;
    (hours <= FURTHEST_HOURS).then_some(hours)
}

/// "about 3 days", "about 5 hours", "under an hour".
pub fn in_words(hours: f64) -> String {
    if hours < 1.0 {
        "under an hour".into()
    } else if hours < 48.0 {
        format!("about {} hours", hours.round() as i64)
    } else {
        format!("about {} days", (hours / 24.0).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filesystem(used: u64, total: u64) -> Filesystem {
        Filesystem {
            mount_point: "/data".into(),
            total_bytes: total,
            used_bytes: used,
            available_bytes: total - used,
            ..Default::default()
        }
    }

    #[test]
    fn a_steady_growth_is_forecast_to_the_hour() {
        let mut trends = Trends::default();
        let gib = 1u64 << 30;
        let mut forecast = Vec::new();
        // 1 GiB an hour for two hours, a tick every 10 s; 100 GiB free at the end.
        for tick in 0..=720 {
            let at = tick * 10_000;
            let used = 400 * gib + (tick as u64 * gib) / 360;
            forecast = trends.update(at, &[filesystem(used, 502 * gib)]);
        }
        let hours = forecast[0].hours_to_full;
        assert!((hours - 100.0).abs() < 1.0, "{hours}");
        assert_eq!(in_words(hours), "about 4 days");
    }

    #[test]
    fn flat_falling_short_and_far_trends_say_nothing() {
        let flat: VecDeque<(i64, f64)> = (0..60).map(|m| (m * STEP_MS, 5.0)).collect();
        assert_eq!(hours_to_full(&flat, 100.0), None);
        let falling: VecDeque<(i64, f64)> =
            (0..60).map(|m| (m * STEP_MS, 100.0 - m as f64)).collect();
        assert_eq!(hours_to_full(&falling, 100.0), None);
        let short: VecDeque<(i64, f64)> = (0..10).map(|m| (m * STEP_MS, m as f64)).collect();
        assert_eq!(hours_to_full(&short, 100.0), None);
        let slow: VecDeque<(i64, f64)> = (0..60).map(|m| (m * STEP_MS, m as f64)).collect();
        assert_eq!(hours_to_full(&slow, 1e9), None, "years away");
        assert_eq!(in_words(0.4), "under an hour");
        assert_eq!(in_words(5.2), "about 5 hours");
    }
}
