//! The history every page starts from, kept typed: the sampler appends each tick's points to a
//! store shaped like the browser's (thinned as it goes), so a page load costs a copy and one
//! serialisation instead of decoding the whole ring.

use crate::server::collect::Snapshot;
use crate::server::runtime::lock::lock;
use crate::shared::store::{MetricsStore, Millis};
use crate::wire::StoreSeed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How a page's history thins with age: every point of the last 5 minutes, then one point (the
/// highest) per bucket as wide as what a chart of the next range draws as one: 15 minutes over
/// 240 points is 3.75 s, an hour 15 s. A page has what its charts draw, and little more.
pub const TIERS: [(Millis, Millis); 2] = [(5 * 60 * 1000, 3_750), (15 * 60 * 1000, 15_000)];
/// How often (in sample time) the held history is thinned again.
pub const THIN_EVERY_MS: Millis = 3_750;

struct Held {
    store: MetricsStore,
    /// The newest tick whole: its parts are a page's current values.
    latest: Option<Arc<Snapshot>>,
    thinned_at: Millis,
}

pub struct PageHistory {
    held: Mutex<Held>,
}

impl PageHistory {
    pub fn new(epoch: u64, window: Duration) -> PageHistory {
        let mut store = MetricsStore::new(window.as_millis() as Millis);
        store.set_epoch(epoch);
        PageHistory {
            held: Mutex::new(Held {
                store,
                latest: None,
                thinned_at: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        lock(&self.held)
    }

    /// Records one tick, with the sequence number the hub gave each of its channels.
    pub fn record(&self, snapshot: &Arc<Snapshot>, seqs: impl IntoIterator<Item = (String, u64)>) {
        let at = snapshot.timestamp.timestamp_millis();
        let mut held = self.lock();
        let store = &mut held.store;
        store.append_cpu(&snapshot.cpu, at);
        store.append_memory(&snapshot.memory, at);
        store.append_disk(&snapshot.disk, at);
        store.append_network(&snapshot.network, at);
        for gpu in &snapshot.gpus {
            store.append_gpu(gpu, at);
        }
        store.last_seq.extend(seqs);
        store.last_message_ms = Some(store.last_message_ms.map_or(at, |last| last.max(at)));
        if at.saturating_sub(held.thinned_at) >= THIN_EVERY_MS {
            held.store.thin(&TIERS);
            held.thinned_at = at;
        }
        held.latest = Some(snapshot.clone());
    }

    /// What a page starts from: the thinned history and the newest tick's values.
    pub fn seed(&self) -> StoreSeed {
        let (mut seed, latest) = {
            let held = self.lock();
            (held.store.to_seed(), held.latest.clone())
        };
        if let Some(latest) = latest {
            seed.cpu = Some(latest.cpu.clone());
            seed.memory = Some(latest.memory.clone());
            seed.disk = Some(latest.disk.clone());
            seed.network = Some(latest.network.clone());
            seed.gpus = latest.gpus.iter().map(|g| (g.index, g.clone())).collect();
        }
        seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::series;
    use crate::wire::{CHANNEL_CPU, GpuMetrics};
    use chrono::DateTime;

    fn tick(second: i64, usage: f32) -> Arc<Snapshot> {
        let mut snapshot = Snapshot {
            timestamp: DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap(),
            ..Default::default()
        };
        snapshot.cpu.usage_percent = usage;
        snapshot.gpus = vec![GpuMetrics {
            index: 0,
            uuid: "GPU-a".into(),
            available: true,
            utilization_percent: Some(50),
            ..Default::default()
        }];
        Arc::new(snapshot)
    }

    #[test]
    fn a_seed_holds_recent_points_all_older_ones_thinned_and_the_newest_values() {
        let history = PageHistory::new(9, Duration::from_secs(3600));
        for second in 0..3600 {
            history.record(
                &tick(second, second as f32 % 100.0),
                [(CHANNEL_CPU.to_owned(), second as u64 + 1)],
            );
        }
        let seed = history.seed();
        let cpu = &seed.series[series::CPU_USAGE];
        let newest = seed.last_message_ms.unwrap();
        let younger = |age: Millis| cpu.iter().filter(|(t, _)| *t > newest - age).count();
        assert_eq!(
            younger(5 * 60_000),
            300,
            "every point of the last 5 minutes"
        );
        assert!(
            (younger(15 * 60_000) - 300).abs_diff(160) <= 4,
            "one per 3.75 s up to 15 minutes: {}",
            younger(15 * 60_000)
        );
        assert!(
            (cpu.len() - younger(15 * 60_000)).abs_diff(180) <= 4,
            "one per 15 s before: {}",
            cpu.len()
        );
        assert!(cpu.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(seed.last_seq[CHANNEL_CPU], 3600);
        assert_eq!(seed.epoch, Some(9));
        assert_eq!(seed.cpu.as_ref().unwrap().usage_percent, 99.0);
        assert_eq!(seed.gpus[&0].uuid, "GPU-a");
        assert!(seed.series.contains_key("gpu/GPU-a/utilization"));
    }
}
