//! The sampler loop: runs the monitor on its own thread every interval and publishes each tick.

use crate::server::alerts::Alerts;
use crate::server::collect::{Monitor, Snapshot};
use crate::server::history::Durable;
use crate::server::history::series::of_snapshot;
use crate::server::hub::Hub;
use crate::server::jobs::book::JobBook;
use crate::server::pipeline::latest::Latest;
use crate::server::pipeline::page_history::PageHistory;
use crate::server::usage::Usage;
use crate::wire::{
    CHANNEL_CPU, CHANNEL_DISK, CHANNEL_MEMORY, CHANNEL_NETWORK, EVENT_METRICS, Persistence,
    ServerMessage, gpu_channel,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Where every tick goes: the channels, the latest snapshot, and the pages' history.
#[derive(Clone)]
pub struct Outlets {
    pub hub: Arc<Hub>,
    pub latest: Latest,
    pub page_history: Arc<PageHistory>,
    /// The history database and its writer, when history is kept on disk.
    pub durable: Durable,
    pub alerts: Arc<Alerts>,
    /// The process scans, whose per-name totals alert rules may watch.
    pub processes: Arc<crate::server::pipeline::process_watch::ProcessWatch>,
    /// The emitted jobs, which GPU processes' owners name.
    pub jobs: Arc<JobBook>,
    /// Idle-held GPUs and each person's GPU time.
    pub usage: Arc<Usage>,
    /// The machine's health list, checked at every tick.
    pub health: Arc<crate::server::health::Health>,
}

/// Whether history is being saved, as clients last heard it: they are told when it changes.
struct PersistenceWatch {
    told: Option<Persistence>,
}

impl PersistenceWatch {
    /// The status to tell every client, if it changed since they were last told.
    fn changed(&mut self, now: Option<Persistence>) -> Option<Persistence> {
        if now == self.told {
            return None;
        }
        self.told = now.clone();
        now
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

/// Starts the one sampler of this server, with a monitor already primed (its first sample only
/// primes the counters).
pub fn spawn(
    mut monitor: Monitor,
    outlets: Outlets,
    interval: Duration,
) -> std::io::Result<SamplerHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = std::thread::Builder::new()
        .name("vitals-sampler".into())
        .spawn(move || {
            // CPU usage needs two readings at least sysinfo's minimum interval apart.
            std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.min(interval));
            let mut next = Instant::now();
            let mut persistence = PersistenceWatch {
                told: outlets.durable.status(),
            };
            let mut give_back = crate::server::runtime::heap::Periodic::default();
            while !stopped.load(Ordering::Relaxed) {
                let mut snapshot = monitor.sample();
                name_jobs(&mut snapshot, &outlets.jobs);
                outlets
                    .usage
                    .observe(&mut snapshot, outlets.durable.recorder.as_deref());
                outlets.health.observe(&mut snapshot);
                let snapshot = Arc::new(snapshot);
                publish(&outlets.hub, &outlets.page_history, &snapshot);
                // The tick as series, made once: for the alerts, then for the history.
                let stored = of_snapshot(&snapshot);
                let recorder = outlets.durable.recorder.as_deref();
                let process_values = outlets.processes.values_for_rules();
                outlets
                    .alerts
                    .watch(&snapshot, &stored, &process_values, &outlets.hub, recorder);
                if let Some(recorder) = recorder {
                    recorder.record((snapshot.timestamp.timestamp_millis(), stored));
                }
                if let Some(status) = persistence.changed(outlets.durable.status()) {
                    outlets.hub.broadcast(&ServerMessage::Persistence(status));
                }
                outlets.latest.set(snapshot);
                // Page loads and history reads free what they built between ticks.
                give_back.tick(Instant::now());
                next = next_deadline(next, interval, Instant::now());
                while !stopped.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now >= next {
                        break;
                    }
                    std::thread::park_timeout(next - now);
                }
            }
            outlets.usage.flush(outlets.durable.recorder.as_deref());
        })?;
    Ok(SamplerHandle {
        stop,
        thread: Some(thread),
    })
}

/// Names the job of each GPU process that runs one (declared by pid, or a child of one).
pub fn name_jobs(snapshot: &mut Snapshot, jobs: &JobBook) {
    if !jobs.names_processes() {
        return;
    }
    for process in snapshot
        .gpus
        .iter_mut()
        .flat_map(|gpu| gpu.processes.iter_mut())
    {
        if let Some(owner) = process.owner.as_mut() {
            owner.job = jobs.job_of(process.pid);
            if owner.job.is_some() {
                owner.line = owner.compose_line();
            }
        }
    }
}

/// The next tick on a fixed grid; ticks missed while the machine was stalled are skipped, not bunched.
pub fn next_deadline(previous: Instant, interval: Duration, now: Instant) -> Instant {
    let next = previous + interval;
    if next > now { next } else { now + interval }
}

/// Publishes one snapshot to its channels and records it in the pages' history.
pub fn publish(hub: &Hub, page_history: &PageHistory, snapshot: &Arc<Snapshot>) {
    use serde_json::to_value;
    let host = [
        (CHANNEL_CPU.to_owned(), to_value(&snapshot.cpu)),
        (CHANNEL_MEMORY.to_owned(), to_value(&snapshot.memory)),
        (CHANNEL_DISK.to_owned(), to_value(&snapshot.disk)),
        (CHANNEL_NETWORK.to_owned(), to_value(&snapshot.network)),
    ];
    let gpus = snapshot
        .gpus
        .iter()
        .map(|gpu| (gpu_channel(gpu.index), to_value(gpu)));
    let mut seqs = Vec::with_capacity(host.len() + snapshot.gpus.len());
    for (channel, data) in host.into_iter().chain(gpus) {
        match data {
            Ok(value) => {
                let published = hub.publish(&channel, EVENT_METRICS, value, snapshot.timestamp);
                seqs.push((channel, published.seq));
            }
            Err(error) => tracing::warn!("could not encode {channel}: {error}"),
        }
    }
    page_history.record(snapshot, seqs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_told_when_saving_stops_or_resumes_and_only_then() {
        let saving = Persistence {
            saving: true,
            path: Some("/var/lib/vitals/history.sqlite".into()),
            problem: None,
        };
        let full = Persistence {
            saving: false,
            problem: Some("the disk is full".into()),
            ..saving.clone()
        };
        let mut watch = PersistenceWatch {
            told: Some(saving.clone()),
        };
        assert_eq!(watch.changed(Some(saving.clone())), None);
        assert_eq!(watch.changed(Some(full.clone())), Some(full.clone()));
        assert_eq!(watch.changed(Some(full)), None, "told once");
        assert_eq!(watch.changed(Some(saving.clone())), Some(saving));
    }

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
