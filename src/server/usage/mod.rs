//! Who holds each GPU, and how much each person used: idle-held GPUs marked on every tick
//! (`idle_held`), each tick's GPU time booked to the owners of its processes (`book`), summed per
//! minute here and handed to the history writer once a minute, counted per person for
//! `/metrics` (`counters`), and read back as a report (`report`), its API (`routes`) and the
//! Usage page (`page`).

pub mod book;
pub mod counters;
pub mod idle_held;
pub mod page;
pub mod report;
pub mod routes;

use crate::server::collect::Snapshot;
use crate::server::history::usage::{UsageAmounts, UsageKey, UsageTick};
use crate::server::history::writer::Recorder;
use crate::server::runtime::lock::lock;
use counters::PersonCounters;
use idle_held::{IdleHeldSettings, IdleTracker};
use std::sync::Mutex;
use std::time::Duration;

const MINUTE_MS: i64 = 60_000;

/// What the sampler keeps between ticks.
#[derive(Default)]
struct Between {
    idle: IdleTracker,
    /// The previous tick's time, in ms.
    last_ms: Option<i64>,
    /// The open minute's start and what it has booked so far.
    minute: Option<(i64, Vec<(UsageKey, UsageAmounts)>)>,
}

/// The usage of the GPUs, fed by the sampler.
pub struct Usage {
    settings: IdleHeldSettings,
    /// The longest gap between ticks that is booked: a machine that slept did not use its GPUs.
    longest_tick: Duration,
    between: Mutex<Between>,
    counters: Mutex<PersonCounters>,
}

impl Usage {
    pub fn new(settings: IdleHeldSettings, interval: Duration) -> Usage {
        Usage {
            settings,
            longest_tick: interval * 3,
            between: Mutex::default(),
            counters: Mutex::default(),
        }
    }

    pub fn settings(&self) -> IdleHeldSettings {
        self.settings
    }

    /// One tick: marks the idle-held GPUs on `snapshot` and books the time since the last tick
    /// to the owners of each GPU's processes. A minute that closed goes to `recorder`.
    pub fn observe(&self, snapshot: &mut Snapshot, recorder: Option<&Recorder>) {
        let at_ms = snapshot.timestamp.timestamp_millis();
        let mut between = lock(&self.between);
        between
            .idle
            .mark(&mut snapshot.gpus, snapshot.timestamp, &self.settings);
        let seconds = between.last_ms.map_or(0.0, |last| {
            let gap = (at_ms - last) as f64 / 1000.0;
            gap.clamp(0.0, self.longest_tick.as_secs_f64())
        });
        between.last_ms = Some(at_ms);
        let minute = at_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        if between
            .minute
            .as_ref()
            .is_some_and(|(start, _)| *start != minute)
        {
            let closed = between.minute.take();
            send(closed, recorder);
        }
        let open = &mut between.minute.get_or_insert_with(|| (minute, Vec::new())).1;
        let mut counters = lock(&self.counters);
        for gpu in &snapshot.gpus {
            for (key, amounts) in book::book(gpu, seconds) {
                counters.add(&key.user, &amounts);
                match open.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, seen)) => seen.add(&amounts),
                    None => open.push((key, amounts)),
                }
            }
        }
    }

    /// Hands the open minute to the writer, as at a stop: nothing booked is left behind.
    pub fn flush(&self, recorder: Option<&Recorder>) {
        let open = lock(&self.between).minute.take();
        send(open, recorder);
    }

    /// Each person's use since start, for `/metrics`.
    pub fn person_totals(&self) -> Vec<(String, UsageAmounts)> {
        lock(&self.counters).totals()
    }
}

fn send(minute: Option<(i64, Vec<(UsageKey, UsageAmounts)>)>, recorder: Option<&Recorder>) {
    if let (Some((at_ms, booked)), Some(recorder)) = (minute, recorder)
        && !booked.is_empty()
    {
        recorder.record_usage(UsageTick { at_ms, booked });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GpuMetrics, GpuProcess, ProcessOwner};
    use chrono::DateTime;

    fn tick(second: i64) -> Snapshot {
        Snapshot {
            timestamp: DateTime::from_timestamp(1_767_225_600 + second, 0).unwrap(),
            gpus: vec![GpuMetrics {
                uuid: "GPU-a".into(),
                available: true,
                utilization_percent: Some(0),
                power_watts: Some(100.0),
                processes: vec![GpuProcess {
                    pid: 1,
                    used_memory_bytes: Some(2 << 30),
                    owner: Some(ProcessOwner {
                        user: "alice".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn ticks_are_booked_by_their_gaps_and_long_gaps_are_cut() {
        let usage = Usage::new(
            IdleHeldSettings {
                after: Duration::from_secs(10),
                ..Default::default()
            },
            Duration::from_secs(1),
        );
        for second in 0..=20 {
            let mut snapshot = tick(second);
            usage.observe(&mut snapshot, None);
            assert_eq!(snapshot.gpus[0].idle_held.is_some(), second >= 10);
        }
        // The machine slept for an hour: three intervals are booked, not the hour.
        usage.observe(&mut tick(3620), None);
        let totals = usage.person_totals();
        assert_eq!(totals.len(), 1);
        let alice = totals[0].1;
        assert!((alice.held_s - 23.0).abs() < 1e-9, "{alice:?}");
        assert!((alice.energy_j - 2300.0).abs() < 1e-9);
        assert!(
            (alice.idle_held_s - 14.0).abs() < 1e-9,
            "ticks 10..=20 and the 3 s after"
        );
    }
}
