//! Synthetic history for benchmarks, tests and demos (`--prefill-history` for the in-memory
//! window, `--prefill-database-hours` for the database; both off by default): samples for every
//! channel as if the server had been sampling all along.

use crate::server::collect::Snapshot;
use chrono::TimeDelta;
use std::ops::Range;
use std::time::Duration;

/// The stretch a database prefill leaves out, as if Vitals had been stopped: from 60 % to 55 %
/// of `window` before the primed sample, so a day's prefill shows a gap of 72 minutes.
pub fn outage(primed: &Snapshot, window: Duration) -> Range<i64> {
    let end = primed.timestamp.timestamp_millis();
    let window_ms = window.as_millis() as i64;
    end - window_ms * 60 / 100..end - window_ms * 55 / 100
}

/// One synthetic sample per interval over `window`, oldest first, ending just before the primed
/// one. Values follow slow waves around the primed sample, so charts have a shape to draw.
pub fn samples(
    primed: &Snapshot,
    window: Duration,
    interval: Duration,
) -> impl Iterator<Item = Snapshot> {
    let ticks = (window.as_secs_f64() / interval.as_secs_f64()) as i64;
    let step = TimeDelta::from_std(interval).unwrap_or(TimeDelta::seconds(1));
    (0..ticks).map(move |tick| {
        let mut sample = primed.clone();
        sample.timestamp = primed.timestamp - step * (ticks - tick) as i32;
        let wave = |period: f64, phase: f64| (((tick as f64 / period) + phase).sin() + 1.0) / 2.0;
        sample.cpu.usage_percent = (10.0 + 60.0 * wave(90.0, 0.0)) as f32;
        for (core, usage) in sample.cpu.per_core_percent.iter_mut().enumerate() {
            *usage = (100.0 * wave(60.0, core as f64)) as f32;
        }
        sample.disk.read_bytes_per_sec = 5e6 * wave(40.0, 1.0);
        sample.disk.write_bytes_per_sec = 2e6 * wave(70.0, 2.0);
        sample.network.rx_bytes_per_sec = 1e6 * wave(30.0, 0.5);
        sample.network.tx_bytes_per_sec = 3e5 * wave(50.0, 1.5);
        for gpu in &mut sample.gpus {
            gpu.utilization_percent = gpu
                .utilization_percent
                .map(|_| (100.0 * wave(120.0, gpu.index as f64)) as u32);
        }
        sample
    })
}
