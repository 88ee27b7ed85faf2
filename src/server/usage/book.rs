//! Booking one tick of a GPU to the owners of its processes: each holder's share is its part of
//! the memory the processes hold (an equal part where the driver does not say), and its use is
//! its own SM share where the driver reports per-process samples, the GPU's utilization split by
//! that share where it does not.

use crate::server::history::usage::{UsageAmounts, UsageKey};
use crate::wire::GpuMetrics;

/// What one tick of `seconds` on `gpu` books, per owner.
pub fn book(gpu: &GpuMetrics, seconds: f64) -> Vec<(UsageKey, UsageAmounts)> {
    if !gpu.available || gpu.processes.is_empty() || seconds.is_nan() || seconds <= 0.0 {
        return Vec::new();
    }
    let memory: Vec<Option<u64>> = gpu.processes.iter().map(|p| p.used_memory_bytes).collect();
    let total: u64 = memory.iter().flatten().sum();
    let count = gpu.processes.len() as f64;
    // Per-process samples where any process has one this tick: a process with none used nothing.
    let sampled = gpu.processes.iter().any(|p| p.utilization.is_some());
    let sm_sum: f64 = gpu
        .processes
        .iter()
        .filter_map(|p| p.utilization.map(|u| f64::from(u.sm_percent)))
        .sum();
    // Samples of processes that overlap can add up past the whole GPU.
    let sm_scale = if sm_sum > 100.0 { 100.0 / sm_sum } else { 1.0 };
    let utilization = gpu.utilization_percent.map_or(0.0, f64::from).min(100.0) / 100.0;
    let power = gpu.power_watts.unwrap_or(0.0).max(0.0);
    let mut booked: Vec<(UsageKey, UsageAmounts)> = Vec::new();
    for (process, held_bytes) in gpu.processes.iter().zip(&memory) {
        let share = if total > 0 {
            held_bytes.unwrap_or(0) as f64 / total as f64
        } else {
            1.0 / count
        };
        let used_s = if sampled {
            let sm = process.utilization.map_or(0.0, |u| f64::from(u.sm_percent));
            seconds * sm * sm_scale / 100.0
        } else {
            seconds * utilization * share
        };
        let held_s = seconds * share;
        let amounts = UsageAmounts {
            held_s,
            used_s,
            used_sampled_s: if sampled { used_s } else { 0.0 },
            memory_gib_s: seconds * held_bytes.unwrap_or(0) as f64 / (1u64 << 30) as f64,
            energy_j: power * seconds * share,
            idle_held_s: if gpu.idle_held.is_some() { held_s } else { 0.0 },
        };
        let owner = process.owner.as_ref();
        let key = UsageKey {
            gpu: gpu.uuid.clone(),
            user: owner
                .map(|o| o.user.clone())
                .or_else(|| process.user.clone())
                .unwrap_or_else(|| "unknown".into()),
            owner: owner.and_then(|o| o.place()).unwrap_or_default(),
            job: owner.and_then(|o| o.job.clone()).unwrap_or_default(),
        };
        match booked.iter_mut().find(|(k, _)| *k == key) {
            Some((_, seen)) => seen.add(&amounts),
            None => booked.push((key, amounts)),
        }
    }
    booked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GpuProcess, GpuProcessUtilization, IdleHeld, ProcessOwner};

    fn process(pid: u32, user: &str, mib: Option<u64>, sm: Option<u32>) -> GpuProcess {
        GpuProcess {
            pid,
            used_memory_bytes: mib.map(|m| m << 20),
            utilization: sm.map(|sm_percent| GpuProcessUtilization {
                sm_percent,
                ..Default::default()
            }),
            owner: Some(ProcessOwner {
                user: user.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn gpu(processes: Vec<GpuProcess>) -> GpuMetrics {
        GpuMetrics {
            uuid: "GPU-a".into(),
            available: true,
            utilization_percent: Some(60),
            power_watts: Some(300.0),
            processes,
            ..Default::default()
        }
    }

    fn of<'a>(booked: &'a [(UsageKey, UsageAmounts)], user: &str) -> &'a UsageAmounts {
        &booked.iter().find(|(k, _)| k.user == user).unwrap().1
    }

    #[test]
    fn without_samples_use_and_energy_are_split_by_memory() {
        let booked = book(
            &gpu(vec![
                process(1, "alice", Some(3072), None),
                process(2, "bob", Some(1024), None),
            ]),
            10.0,
        );
        let alice = of(&booked, "alice");
        assert!((alice.held_s - 7.5).abs() < 1e-9);
        assert!((alice.used_s - 4.5).abs() < 1e-9, "60 % of 7.5 s");
        assert_eq!(alice.used_sampled_s, 0.0);
        assert!((alice.energy_j - 2250.0).abs() < 1e-9);
        assert!((alice.memory_gib_s - 30.0).abs() < 1e-9);
        let bob = of(&booked, "bob");
        assert!((bob.held_s - 2.5).abs() < 1e-9);
        assert_eq!(bob.idle_held_s, 0.0);
    }

    #[test]
    fn with_samples_use_is_each_process_own_share() {
        let mut g = gpu(vec![
            process(1, "alice", Some(1024), Some(80)),
            process(2, "bob", Some(1024), None),
        ]);
        g.idle_held = Some(IdleHeld {
            since: chrono::Utc::now(),
            held_by: "x".into(),
        });
        let booked = book(&g, 2.0);
        assert!((of(&booked, "alice").used_s - 1.6).abs() < 1e-9);
        assert_eq!(
            of(&booked, "alice").used_sampled_s,
            of(&booked, "alice").used_s
        );
        assert_eq!(of(&booked, "bob").used_s, 0.0, "no sample: no use");
        assert!((of(&booked, "bob").idle_held_s - 1.0).abs() < 1e-9);
        // Overlapping samples never book more than the whole GPU.
        let over = book(
            &gpu(vec![
                process(1, "alice", None, Some(90)),
                process(2, "bob", None, Some(90)),
            ]),
            1.0,
        );
        let used: f64 = over.iter().map(|(_, a)| a.used_s).sum();
        assert!((used - 1.0).abs() < 1e-9);
        // No memory known: equal parts.
        assert!((of(&over, "bob").held_s - 0.5).abs() < 1e-9);
    }

    #[test]
    fn processes_of_one_owner_are_booked_together_and_empty_gpus_book_nothing() {
        let booked = book(
            &gpu(vec![
                process(1, "alice", Some(1024), None),
                process(2, "alice", Some(1024), None),
            ]),
            4.0,
        );
        assert_eq!(booked.len(), 1);
        assert!((booked[0].1.held_s - 4.0).abs() < 1e-9);
        assert!(book(&gpu(vec![]), 4.0).is_empty());
        assert!(book(&gpu(vec![process(1, "a", None, None)]), f64::NAN).is_empty());
    }
}
