//! Idle-held GPUs: memory held by processes while the GPU does (almost) nothing, for longer than
//! people would leave a GPU they are using. The tracker marks them on each tick's snapshot, so the
//! card, the API, the alert and `/metrics` all say the same.

use crate::wire::{GpuMetrics, IdleHeld};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

pub const DEFAULT_MIN_MEMORY_MIB: u64 = 1024;
pub const DEFAULT_MAX_UTILIZATION: u32 = 5;
pub const DEFAULT_AFTER_SECONDS: u64 = 900;

/// When a GPU counts as idle-held (`--idle-held-min-memory`, `--idle-held-max-utilization`,
/// `--idle-held-after`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleHeldSettings {
    /// Its processes hold at least this much of its memory…
    pub min_memory_bytes: u64,
    /// …while its SM use stays below this percentage…
    pub max_utilization_percent: u32,
    /// …for at least this long.
    pub after: Duration,
}

impl Default for IdleHeldSettings {
    fn default() -> Self {
        IdleHeldSettings {
            min_memory_bytes: DEFAULT_MIN_MEMORY_MIB << 20,
            max_utilization_percent: DEFAULT_MAX_UTILIZATION,
            after: Duration::from_secs(DEFAULT_AFTER_SECONDS),
        }
    }
}

/// Since when each GPU (by UUID) has been held while idle.
#[derive(Debug, Default)]
pub struct IdleTracker {
    since: HashMap<String, DateTime<Utc>>,
}

impl IdleTracker {
    /// Marks the GPUs that have been held idle for long enough on this tick's readings.
    pub fn mark(
        &mut self,
        gpus: &mut [GpuMetrics],
        at: DateTime<Utc>,
        settings: &IdleHeldSettings,
    ) {
        let mut seen = HashMap::with_capacity(gpus.len());
        for gpu in gpus.iter_mut() {
            gpu.idle_held = None;
            if !held_idle(gpu, settings) {
                continue;
            }
            let since = self.since.get(&gpu.uuid).copied().unwrap_or(at);
            seen.insert(gpu.uuid.clone(), since);
            let waited = (at - since).to_std().unwrap_or_default();
            if waited >= settings.after {
                gpu.idle_held = Some(IdleHeld {
                    since,
                    held_by: holders(gpu),
                });
            }
        }
        self.since = seen;
    }
}

/// Whether the GPU's processes hold enough memory while it works below the threshold. A GPU
/// whose utilization cannot be read is never called idle.
fn held_idle(gpu: &GpuMetrics, settings: &IdleHeldSettings) -> bool {
    if !gpu.available || gpu.processes.is_empty() {
        return false;
    }
    let Some(utilization) = gpu.utilization_percent else {
        return false;
    };
    let known: Vec<u64> = gpu
        .processes
        .iter()
        .filter_map(|p| p.used_memory_bytes)
        .collect();
    // Where the driver does not say per process (some vGPU and WSL drivers), the GPU's own use.
    let held = if known.is_empty() {
        gpu.memory_used_bytes.unwrap_or(0)
    } else {
        known.iter().sum()
    };
    held >= settings.min_memory_bytes && utilization < settings.max_utilization_percent
}

/// Who holds it, biggest first: "alice (jupyter), bob (python)".
fn holders(gpu: &GpuMetrics) -> String {
    let mut processes: Vec<_> = gpu.processes.iter().collect();
    processes.sort_by_key(|p| std::cmp::Reverse(p.used_memory_bytes.unwrap_or(0)));
    let mut named: Vec<String> = Vec::new();
    for process in processes {
        let person = process
            .owner
            .as_ref()
            .map(|o| o.user.clone())
            .or_else(|| process.user.clone())
            .unwrap_or_else(|| "unknown".into());
        let what = if process.name.is_empty() {
            format!("pid {}", process.pid)
        } else {
            process.name.clone()
        };
        let holder = format!("{person} ({what})");
        if !named.contains(&holder) {
            named.push(holder);
        }
    }
    named.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GpuProcess, ProcessOwner};

    fn gpu(utilization: u32, held_mib: u64) -> GpuMetrics {
        GpuMetrics {
            uuid: "GPU-a".into(),
            available: true,
            utilization_percent: Some(utilization),
            processes: vec![GpuProcess {
                pid: 7,
                name: "jupyter".into(),
                used_memory_bytes: Some(held_mib << 20),
                owner: Some(ProcessOwner {
                    user: "alice".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + second, 0).unwrap()
    }

    #[test]
    fn a_gpu_is_idle_held_only_after_the_wait_and_until_it_works_again() {
        let settings = IdleHeldSettings {
            after: Duration::from_secs(60),
            ..Default::default()
        };
        let mut tracker = IdleTracker::default();
        let mut gpus = vec![gpu(0, 18 * 1024)];
        tracker.mark(&mut gpus, at(0), &settings);
        assert_eq!(gpus[0].idle_held, None, "not yet");
        tracker.mark(&mut gpus, at(59), &settings);
        assert_eq!(gpus[0].idle_held, None);
        tracker.mark(&mut gpus, at(60), &settings);
        let held = gpus[0].idle_held.clone().expect("held idle for a minute");
        assert_eq!(
            (held.since, held.held_by.as_str()),
            (at(0), "alice (jupyter)")
        );
        assert_eq!(gpus[0].occupancy(), crate::wire::GpuOccupancy::IdleHeld);

        // It works: no longer idle, and the wait starts again.
        let mut busy = vec![gpu(40, 18 * 1024)];
        tracker.mark(&mut busy, at(61), &settings);
        assert_eq!(busy[0].idle_held, None);
        tracker.mark(&mut gpus, at(62), &settings);
        tracker.mark(&mut gpus, at(100), &settings);
        assert_eq!(gpus[0].idle_held, None, "the wait started again at 62");
    }

    #[test]
    fn small_holders_unknown_utilization_and_lost_gpus_are_never_idle_held() {
        let settings = IdleHeldSettings {
            after: Duration::ZERO,
            ..Default::default()
        };
        let mut tracker = IdleTracker::default();
        let small = gpu(0, 512);
        let mut unknown = gpu(0, 4096);
        unknown.utilization_percent = None;
        let mut lost = gpu(0, 4096);
        lost.available = false;
        let mut none = gpu(0, 4096);
        none.processes.clear();
        for case in [small, unknown, lost, none] {
            let mut gpus = vec![case];
            tracker.mark(&mut gpus, at(0), &settings);
            assert_eq!(gpus[0].idle_held, None, "{:?}", gpus[0]);
        }
        // Memory unknown per process: the GPU's own use stands in.
        let mut whole = gpu(0, 0);
        whole.processes[0].used_memory_bytes = None;
        whole.memory_used_bytes = Some(2 << 30);
        let mut gpus = vec![whole];
        tracker.mark(&mut gpus, at(0), &settings);
        assert!(gpus[0].idle_held.is_some());
    }
}
