//! Human-readable numbers: byte sizes, rates and durations.

use crate::wire::series::{Unit, unit_of};
use crate::wire::{Alert, IdleHeld};

const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];

/// Decimal units (1 MB = 10^6 bytes), as disk and network tools report throughput.
pub fn rate(bytes_per_sec: f64) -> String {
    let (value, unit) = scale(bytes_per_sec, 1000.0);
    format!("{value:.1} {unit}/s")
}

/// Binary units for memory sizes, shown as GiB like free -h and nvidia-smi.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn scale(mut value: f64, step: f64) -> (f64, &'static str) {
    if !value.is_finite() || value < 0.0 {
        value = 0.0;
    }
    let mut unit = 0;
    while value >= step && unit < UNITS.len() - 1 {
        value /= step;
        unit += 1;
    }
    (value, UNITS[unit])
}

/// A reading at the precision it deserves: whole numbers as they are, otherwise three significant
/// digits at most (12.3, 1.25, 215), as the card headers show them.
pub fn reading(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let magnitude = value.abs();
    if value.fract() == 0.0 || magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 0.01 {
        format!("{value:.2}")
    } else {
        // A small loss or learning rate keeps its first two digits (0.0012, 0.0000034).
        let decimals = (1.0 - magnitude.log10().floor()).min(9.0) as usize;
        format!("{value:.decimals$}")
    }
}

/// `3d 4h`, `5h 12m`, `7m`.
pub fn uptime(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

/// The UTC time of day of a Unix time in milliseconds: `09:41:07 UTC`. Plain arithmetic, so the
/// browser bundle carries no date-formatting machinery.
pub fn clock_utc(unix_ms: i64) -> String {
    let seconds = unix_ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// How long ago something happened: `3 s ago`, `4 min ago`, `2 h ago`.
pub fn age(seconds: u64) -> String {
    format!("{} ago", span(seconds))
}

/// A length of time at a glance: `3 s`, `4 min`, `2 h`.
pub fn span(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        _ => format!("{} h", seconds / 3600),
    }
}

/// A length of time to the minute: `40 s`, `25 min`, `2 h 10 min`.
pub fn hours_minutes(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        _ => format!("{} h {} min", seconds / 3600, seconds / 60 % 60),
    }
}

/// What an idle-held GPU's card says: `idle · held by alice (jupyter) for 2 h 10 min`.
pub fn idle_held(held: &IdleHeld, now_ms: i64) -> String {
    let seconds = (now_ms - held.since.timestamp_millis()).max(0) / 1000;
    format!(
        "idle · held by {} for {}",
        held.held_by,
        hours_minutes(seconds as u64)
    )
}

/// An alert's value with its unit, from the series vocabulary (`wire::series::unit_of`).
pub fn alert_value(alert: &Alert) -> String {
    let Some(value) = alert.value else {
        return "no reading".into();
    };
    match unit_of(&alert.series) {
        Unit::Availability if value > 0.0 => "available".into(),
        Unit::Availability => "unavailable".into(),
        Unit::Bytes => format!("{} GiB", reading(value / (1u64 << 30) as f64)),
        Unit::Celsius => format!("{} °C", reading(value)),
        Unit::Percent => format!("{} %", reading(value)),
        Unit::Plain => reading(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_show_a_sensible_precision() {
        assert_eq!(reading(71.0), "71");
        assert_eq!(reading(12.34), "12.3");
        assert_eq!(reading(215.4), "215");
        assert_eq!(reading(1.254), "1.25");
        assert_eq!(reading(f64::NAN), "–");
        assert_eq!(reading(0.42), "0.42");
        assert_eq!(reading(0.00123), "0.0012", "a small loss keeps its digits");
        assert_eq!(reading(-0.05), "-0.05");
        assert_eq!(reading(3.4e-6), "0.0000034");
    }

    #[test]
    fn clock_times_match_chrono() {
        for ms in [0, 1_700_000_000_123, 1_795_943_560_922, -1_500] {
            let expected = chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .format("%H:%M:%S UTC")
                .to_string();
            assert_eq!(clock_utc(ms), expected, "{ms}");
        }
    }

    #[test]
    fn ages_read_in_the_largest_whole_unit() {
        assert_eq!(age(0), "0 s ago");
        assert_eq!(age(59), "59 s ago");
        assert_eq!(age(61), "1 min ago");
        assert_eq!(age(7300), "2 h ago");
    }

    #[test]
    fn rates_scale_to_readable_units() {
        assert_eq!(rate(0.0), "0.0 B/s");
        assert_eq!(rate(1_500.0), "1.5 KB/s");
        assert_eq!(rate(12_300_000.0), "12.3 MB/s");
        assert_eq!(rate(2.5e9), "2.5 GB/s");
        assert_eq!(rate(f64::NAN), "0.0 B/s");
    }

    #[test]
    fn idle_held_cards_say_by_whom_and_for_how_long() {
        let since = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let held = IdleHeld {
            since,
            held_by: "alice (jupyter)".into(),
        };
        let now = since.timestamp_millis() + (2 * 3600 + 10 * 60 + 7) * 1000;
        assert_eq!(
            idle_held(&held, now),
            "idle · held by alice (jupyter) for 2 h 10 min"
        );
        assert_eq!(hours_minutes(59), "59 s");
        assert_eq!(hours_minutes(15 * 60), "15 min");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(gib(8 * (1 << 30)), "8.0 GiB");
        assert_eq!(uptime(59), "0m");
        assert_eq!(uptime(3 * 3600 + 120), "3h 2m");
        assert_eq!(uptime(2 * 86_400 + 5 * 3600), "2d 5h");
    }
}
