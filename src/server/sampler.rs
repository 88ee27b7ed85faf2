//! The sampler loop: runs the monitor on its own thread every interval and publishes each tick.

use super::collect::Monitor;
use super::hub::Hub;
use crate::wire::{
    CHANNEL_CPU, CHANNEL_DISK, CHANNEL_MEMORY, CHANNEL_NETWORK, EVENT_METRICS, GpuStatus, Snapshot,
    gpu_channel,
};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The latest snapshot, shared with REST and Prometheus so a request never triggers a collection,
/// and the GPU status, known from the priming sample on (before the first full tick).
#[derive(Clone, Default)]
pub struct Latest {
    snapshot: Arc<RwLock<Option<Arc<Snapshot>>>>,
    gpu_status: Arc<RwLock<GpuStatus>>,
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read()
        .map(|guard| guard.clone())
        .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
}

fn write<T>(lock: &RwLock<T>, value: T) {
    match lock.write() {
        Ok(mut guard) => *guard = value,
        Err(poisoned) => *poisoned.into_inner() = value,
    }
}

impl Latest {
    pub fn get(&self) -> Option<Arc<Snapshot>> {
        read(&self.snapshot)
    }

    pub fn gpu_status(&self) -> GpuStatus {
        read(&self.gpu_status)
    }

    pub(crate) fn set(&self, snapshot: Arc<Snapshot>) {
        write(&self.gpu_status, snapshot.gpu_status.clone());
        write(&self.snapshot, Some(snapshot));
    }
}

/// Stops the sampler thread when dropped.
pub struct SamplerHandle {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SamplerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// Starts the one sampler of this server. The first sample only primes the counters.
pub fn spawn(
    mut monitor: Monitor,
    hub: Arc<Hub>,
    latest: Latest,
    interval: Duration,
    prefill_history: bool,
) -> std::io::Result<SamplerHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    // Prime here, before the server answers, so the first hello already knows the GPU status.
    let primed = monitor.sample();
    if prefill_history {
        super::prefill::fill(&hub, &primed, interval);
    }
    write(&latest.gpu_status, primed.gpu_status);
    let thread = std::thread::Builder::new()
        .name("vitals-sampler".into())
        .spawn(move || {
            // CPU usage needs two readings at least sysinfo's minimum interval apart.
            std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.min(interval));
            let mut next = Instant::now();
            while !stopped.load(Ordering::Relaxed) {
                let snapshot = Arc::new(monitor.sample());
                publish(&hub, &snapshot);
                latest.set(snapshot);
                next = next_deadline(next, interval, Instant::now());
                while !stopped.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now >= next {
                        break;
                    }
                    std::thread::park_timeout(next - now);
                }
            }
        })?;
    Ok(SamplerHandle {
        stop,
        thread: Some(thread),
    })
}

/// The next tick on a fixed grid; ticks missed while the machine was stalled are skipped, not bunched.
pub fn next_deadline(previous: Instant, interval: Duration, now: Instant) -> Instant {
    let next = previous + interval;
    if next > now { next } else { now + interval }
}

/// Publishes one snapshot to its channels.
pub fn publish(hub: &Hub, snapshot: &Snapshot) {
    let mut cpu = snapshot.cpu.clone();
    // Per-mode seconds are for Prometheus; the live stream and its history carry no copy of them.
    cpu.seconds_by_mode.clear();
    let at = snapshot.timestamp;
    send(hub, CHANNEL_CPU, &cpu, at);
    send(hub, CHANNEL_MEMORY, &snapshot.memory, at);
    send(hub, CHANNEL_DISK, &snapshot.disk, at);
    send(hub, CHANNEL_NETWORK, &snapshot.network, at);
    for gpu in &snapshot.gpus {
        send(hub, &gpu_channel(gpu.index), gpu, at);
    }
}

fn send(hub: &Hub, channel: &str, data: &impl Serialize, at: chrono::DateTime<chrono::Utc>) {
    match serde_json::to_value(data) {
        // System channels are never refused (the custom-channel cap does not apply to them).
        Ok(value) => drop(hub.publish(channel, EVENT_METRICS, value, at)),
        Err(error) => tracing::warn!("could not encode {channel}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_keep_a_grid_and_skip_stalls() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        assert_eq!(
            next_deadline(start, second, start + Duration::from_millis(10)),
            start + second
        );
        let late = start + Duration::from_secs(5);
        assert_eq!(next_deadline(start, second, late), late + second);
    }
}
