//! XID errors, the driver's codes for GPU faults. NVML delivers them through an event set whose
//! wait blocks, so a thread of its own waits on it; the errors are kept per GPU (the latest few
//! and a count), handed to a sink that publishes and stores them, and attached to every reading.

use crate::server::collect::gpu::{GpuOptions, open_nvml};
use crate::server::runtime::lock::lock;
use crate::wire::{GpuMetrics, XidError};
use chrono::Utc;
use nvml_wrapper::bitmasks::event::EventTypes;
use nvml_wrapper::enums::event::XidError as NvmlXid;
use nvml_wrapper::error::NvmlError;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The latest errors kept per GPU; the count covers them all.
const KEPT_PER_GPU: usize = 8;
/// How long one wait blocks, so the thread notices a driver that went away.
const WAIT_MS: u32 = 1000;
/// Waits that fail one after another before the watcher gives up until its restart.
const MAX_FAILED_WAITS: u32 = 10;
/// How long after a failure the watcher is started again.
const RESTART_AFTER: Duration = Duration::from_secs(60);

/// The code NVML gives an XID it could not read.
const UNKNOWN_XID: u64 = 999;

/// What receives each new XID error: the GPU's index and uuid, and the error.
pub type XidSink = Box<dyn Fn(u32, &str, &XidError) + Send + Sync>;

#[derive(Default)]
pub struct XidLog {
    state: Mutex<LogState>,
    sink: OnceLock<XidSink>,
    watcher_running: AtomicBool,
    /// Asks the watcher to end after its current wait.
    stop: AtomicBool,
    watcher: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// When a watcher that ended on an error may be started again.
    restart_after: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct LogState {
    /// Per GPU uuid: how many errors, and the latest.
    by_gpu: HashMap<String, (u64, VecDeque<XidError>)>,
    /// GPU indices whose events are being waited on.
    watched: HashSet<u32>,
}

impl XidLog {
    fn state(&self) -> MutexGuard<'_, LogState> {
        lock(&self.state)
    }

    /// Where new errors go from now on (once).
    pub fn set_sink(&self, sink: XidSink) {
        let _ = self.sink.set(sink);
    }

    /// Takes back an error saved before a restart; it is not handed to the sink again.
    pub fn restore(&self, gpu_uuid: &str, error: XidError) {
        keep(&mut self.state(), gpu_uuid, error);
    }

    /// A new error from the driver: kept, then handed to the sink.
    pub fn record(&self, gpu_index: u32, gpu_uuid: &str, error: XidError) {
        keep(&mut self.state(), gpu_uuid, error.clone());
        if let Some(sink) = self.sink.get() {
            sink(gpu_index, gpu_uuid, &error);
        }
    }

    /// Puts a GPU's count (when its events are watched, or it has errors on record) and latest
    /// errors on its reading.
    pub fn attach(&self, gpu: &mut GpuMetrics) {
        let state = self.state();
        let recorded = state.by_gpu.get(&gpu.uuid);
        if recorded.is_some() || state.watched.contains(&gpu.index) {
            gpu.xid_count = Some(recorded.map_or(0, |(count, _)| *count));
        }
        if let Some((_, latest)) = recorded {
            gpu.xid_errors = latest.iter().cloned().collect();
        }
    }

    /// Starts the thread that waits for XID errors, unless it runs already.
    pub fn watch(self: &Arc<Self>, options: &GpuOptions) {
        if self.watcher_running.swap(true, Ordering::SeqCst) {
            return;
        }
        *lock(&self.restart_after) = None;
        let (log, options) = (self.clone(), options.clone());
        let started = std::thread::Builder::new()
            .name("vitals-xid".into())
            .spawn(move || {
                // Cleared however the thread ends, a panic included, so it can be started again.
                let _running = Running(&log);
                if let Err(error) = wait_for_errors(&options, &log) {
                    tracing::warn!(
                        "XID errors are not being watched ({error}); trying again in a minute"
                    );
                    *lock(&log.restart_after) = Some(Instant::now() + RESTART_AFTER);
                }
            });
        match started {
            Ok(handle) => *lock(&self.watcher) = Some(handle),
            Err(_) => self.watcher_running.store(false, Ordering::SeqCst),
        }
    }

    /// Starts the watcher again if it ended on an error a while ago.
    pub fn watch_again_if_due(self: &Arc<Self>, options: &GpuOptions, now: Instant) {
        let due = lock(&self.restart_after).is_some_and(|at| now >= at);
        if due && !self.watcher_running.load(Ordering::SeqCst) {
            self.watch(options);
        }
    }

    /// Ends the watcher and waits for it (at most one wait), so nothing calls NVML after.
    pub fn stop_watching(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let handle = lock(&self.watcher).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// Marks the watcher as running for as long as it lives.
struct Running<'a>(&'a XidLog);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.state().watched.clear();
        self.0.watcher_running.store(false, Ordering::SeqCst);
    }
}

/// Keeps the latest errors in time order, so one restored after a newer one still sits before it.
fn keep(state: &mut LogState, gpu_uuid: &str, error: XidError) {
    let (count, latest) = state.by_gpu.entry(gpu_uuid.to_owned()).or_default();
    *count += 1;
    let at = latest.partition_point(|kept| kept.at <= error.at);
    latest.insert(at, error);
    if latest.len() > KEPT_PER_GPU {
        latest.pop_front();
    }
}

/// A watched GPU: its index and uuid, known from registration, since a GPU that just fell off
/// the bus (XID 79) no longer answers for itself.
type Identity = (u32, String);

/// Registers every GPU that offers XID events (one that cannot be registered is left out, not
/// the others) and waits for them until asked to stop; Ok when none offers them.
fn wait_for_errors(options: &GpuOptions, log: &XidLog) -> Result<(), NvmlError> {
    let nvml = open_nvml(options)?;
    let mut candidates: Vec<(u32, nvml_wrapper::Device)> = Vec::new();
    for index in 0..nvml.device_count()? {
        match nvml.device_by_index(index) {
            Ok(device)
                if device
                    .supported_event_types()
                    .is_ok_and(|t| t.contains(EventTypes::CRITICAL_XID_ERROR)) =>
            {
                candidates.push((index, device))
            }
            Ok(_) => {}
            Err(error) => tracing::warn!("GPU {index}: XID errors not watched ({error})"),
        }
    }
    // A failed registration frees the whole set: start again without that GPU.
    let (set, identities) = loop {
        if candidates.is_empty() {
            return Ok(());
        }
        let mut set = Some(nvml.create_event_set()?);
        let mut identities: HashMap<usize, Identity> = HashMap::new();
        let mut failed = None;
        for (position, (index, device)) in candidates.iter().enumerate() {
            let Some(current) = set.take() else {
                break;
            };
            match device.register_events(EventTypes::CRITICAL_XID_ERROR, current) {
                Ok(registered) => {
                    set = Some(registered);
                    // SAFETY: the handle is only compared with the ones events carry.
                    let handle = unsafe { device.handle() } as usize;
                    identities.insert(handle, (*index, device.uuid().unwrap_or_default()));
                }
                Err(error) => {
                    tracing::warn!("GPU {index}: XID errors not watched ({})", error.error);
                    failed = Some(position);
                    break;
                }
            }
        }
        match (failed, set) {
            (None, Some(set)) => break (set, identities),
            (Some(position), _) => {
                candidates.remove(position);
            }
            (None, None) => return Ok(()),
        }
    };
    log.state().watched = identities.values().map(|(index, _)| *index).collect();
    let mut failures = 0;
    while !log.stop.load(Ordering::SeqCst) {
        match set.wait(WAIT_MS) {
            Ok(event) if event.event_type.contains(EventTypes::CRITICAL_XID_ERROR) => {
                failures = 0;
                // SAFETY: as above, only compared.
                let handle = unsafe { event.device.handle() } as usize;
                let (index, uuid) = identities.get(&handle).cloned().unwrap_or_else(|| {
                    let index = event.device.index().unwrap_or(u32::MAX);
                    (index, event.device.uuid().unwrap_or_default())
                });
                let code = match event.event_data {
                    Some(NvmlXid::Value(code)) => code,
                    _ => UNKNOWN_XID,
                };
                let error = XidError {
                    code,
                    at: Utc::now(),
                    meaning: meaning(code).into(),
                };
                log.record(index, &uuid, error);
            }
            Ok(_) | Err(NvmlError::Timeout) => failures = 0,
            Err(error @ (NvmlError::Uninitialized | NvmlError::DriverNotLoaded)) => {
                return Err(error);
            }
            // A lost GPU can make the wait fail at once: pause, and give up only if it persists.
            Err(error) => {
                failures += 1;
                if failures >= MAX_FAILED_WAITS {
                    return Err(error);
                }
                std::thread::sleep(std::time::Duration::from_millis(WAIT_MS.into()));
            }
        }
    }
    Ok(())
}

/// What an XID code usually means, in a few words (after NVIDIA's XID catalog).
pub fn meaning(code: u64) -> &'static str {
    match code {
        8 | 43 => "GPU stopped processing",
        13 => "Graphics engine exception",
        31 => "GPU memory page fault",
        32 => "Invalid or corrupted push buffer stream",
        38 => "Driver firmware error",
        45 => "Preemptive cleanup after earlier errors",
        48 => "Double-bit ECC error",
        61 => "Internal micro-controller breakpoint or warning",
        62 => "Internal micro-controller halt",
        63 => "ECC page retirement or row remapping recorded",
        64 => "ECC page retirement or row remapping failed",
        68 => "Video decoder exception",
        69 => "Graphics engine class error",
        74 => "NVLink error",
        79 => "GPU has fallen off the bus",
        92 => "High single-bit ECC error rate",
        94 => "Contained ECC error",
        95 => "Uncontained ECC error",
        109 => "Context switch timeout",
        119 => "GSP RPC timeout",
        120 => "GSP error",
        121 => "C2C link error",
        140 => "Unrecovered ECC error",
        154 => "GPU recovery action changed",
        _ => "See NVIDIA's XID catalog",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn error(code: u64) -> XidError {
        XidError {
            code,
            at: Utc::now(),
            meaning: meaning(code).into(),
        }
    }

    #[test]
    fn errors_are_kept_per_gpu_counted_and_handed_on_once() {
        let log = XidLog::default();
        let handed = Arc::new(AtomicUsize::new(0));
        let seen = handed.clone();
        log.set_sink(Box::new(move |index, uuid, error| {
            assert_eq!((index, uuid, error.code), (1, "GPU-b", 79));
            seen.fetch_add(1, Ordering::SeqCst);
        }));
        log.restore("GPU-b", error(48));
        log.record(1, "GPU-b", error(79));
        assert_eq!(
            handed.load(Ordering::SeqCst),
            1,
            "restored errors are not handed on"
        );

        let mut gpu = GpuMetrics {
            index: 1,
            uuid: "GPU-b".into(),
            ..Default::default()
        };
        log.attach(&mut gpu);
        assert_eq!(gpu.xid_count, Some(2));
        let codes: Vec<u64> = gpu.xid_errors.iter().map(|e| e.code).collect();
        assert_eq!(codes, [48, 79]);
        assert_eq!(gpu.xid_errors[1].meaning, "GPU has fallen off the bus");

        let mut quiet = GpuMetrics::default();
        log.attach(&mut quiet);
        assert_eq!(quiet.xid_count, None, "not watched and nothing on record");
        log.state().watched.insert(0);
        log.attach(&mut quiet);
        assert_eq!(quiet.xid_count, Some(0), "watched: zero is a reading");
    }

    #[test]
    fn only_the_latest_errors_are_kept_but_all_are_counted() {
        let log = XidLog::default();
        for code in 0..20 {
            log.record(0, "GPU-a", error(code));
        }
        let mut gpu = GpuMetrics {
            uuid: "GPU-a".into(),
            ..Default::default()
        };
        log.attach(&mut gpu);
        assert_eq!(gpu.xid_count, Some(20));
        assert_eq!(gpu.xid_errors.len(), KEPT_PER_GPU);
        assert_eq!(gpu.xid_errors[0].code, 12);
        assert_eq!(meaning(12345), "See NVIDIA's XID catalog");
    }
}
