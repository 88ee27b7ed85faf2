//! The NVIDIA GPU collector: reads every GPU through NVML each tick, and says why when it cannot.

mod depth;
mod device;
mod processes;
mod profiling;
mod queries;
pub mod xid;

use crate::server::collect::GpuSource;
use crate::server::collect::owners::Owners;
use crate::server::runtime::lock::lock;
use crate::wire::{GpuMetrics, GpuStatus, GpuUnavailableReason};
use device::{GpuState, read_device};
use nvml_wrapper::Nvml;
use nvml_wrapper::error::NvmlError;
use queries::needs_reinit;
use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use xid::XidLog;

/// The file NVML is loaded from when no path is configured.
pub const DEFAULT_LIBRARY: &str = "libnvidia-ml.so.1";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// Load NVML from this file instead of the system's `libnvidia-ml.so.1`.
    pub library_path: Option<PathBuf>,
    /// Report each GPU process's full command line; off by default because it may hold secrets.
    pub show_command_lines: bool,
    /// How long to wait before initialising NVML again after it failed or a GPU was lost.
    pub reinit_backoff: Backoff,
}

/// An exponential backoff: `first`, then doubling on each further failure, never above `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait after `failures` consecutive failures (1 waits `first`).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Reads GPUs through NVML, initialised once and again only when it failed or a GPU was lost.
pub struct NvmlSource {
    options: GpuOptions,
    session: Option<Session>,
    /// Why `session` is `None`, kept beside it so every tick can say why there are no GPUs.
    init_error: GpuStatus,
    retry: Retry,
    /// GPUs that failed so badly that reading them again must wait for the next re-initialisation,
    /// with the error to report meanwhile.
    lost: BTreeMap<u32, String>,
    /// The last name and uuid read per index, so an unreadable GPU is still recognisable.
    known: HashMap<u32, (String, String)>,
    /// What each GPU's readings keep between ticks; forgotten when NVML is opened anew.
    states: HashMap<u32, GpuState>,
    xids: Arc<XidLog>,
    cost: Arc<GpuCost>,
    /// Who owns each GPU process, shared with the process table.
    owners: Arc<Owners>,
}

/// What reading the GPUs has cost: ticks and wall time, and the time of each query summed over
/// the GPUs, for `/metrics` and the benchmark.
#[derive(Debug, Default)]
pub struct GpuCost {
    pub reads: AtomicU64,
    pub nanos: AtomicU64,
    queries: std::sync::Mutex<BTreeMap<&'static str, u64>>,
}

impl GpuCost {
    pub(crate) fn add_query(&self, name: &'static str, spent: Duration) {
        let nanos = spent.as_nanos().min(u64::MAX.into()) as u64;
        let mut queries = lock(&self.queries);
        *queries.entry(name).or_default() += nanos;
    }

    /// Each query's time since start, in ns.
    pub fn query_nanos(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.queries).clone()
    }
}

/// A working NVML handle and the versions it reported when it started.
struct Session {
    /// Dropped before `nvml` (fields drop in order): its samples are freed through NVML.
    gpm: profiling::Gpm,
    nvml: Nvml,
    driver_version: Option<String>,
    cuda_version: Option<String>,
}

impl NvmlSource {
    /// Initialises NVML now; if that fails, the source reports why and retries with backoff.
    pub fn new(options: GpuOptions) -> Self {
        Self::with_xids(options, Arc::default())
    }

    /// Like `new`, with the XID log to fill: one whose sink is set (and whose saved errors are
    /// restored) before any XID can arrive.
    pub fn with_xids(options: GpuOptions, xids: Arc<XidLog>) -> Self {
        let now = Instant::now();
        let mut source = NvmlSource {
            retry: Retry::new(options.reinit_backoff),
            options,
            session: None,
            init_error: GpuStatus::default(),
            lost: BTreeMap::new(),
            known: HashMap::new(),
            states: HashMap::new(),
            xids,
            cost: Arc::default(),
            owners: Arc::default(),
        };
        source.reinit();
        if source.session.is_none() {
            source.retry.failed(now);
        }
        source
    }

    /// Reads the GPU processes' owners through `owners` (shared with the process table).
    pub fn with_owners(mut self, owners: Arc<Owners>) -> Self {
        self.owners = owners;
        self
    }

    /// The XID errors the GPUs reported, kept and handed on by a thread of their own.
    pub fn xid_log(&self) -> Arc<XidLog> {
        self.xids.clone()
    }

    pub fn cost(&self) -> Arc<GpuCost> {
        self.cost.clone()
    }

    /// One tick at time `now`: re-initialises first if a retry is due, then reads every GPU.
    fn sample_at(&mut self, now: Instant) -> (GpuStatus, Vec<GpuMetrics>) {
        let attempted = self.retry.due(now);
        if attempted {
            self.reinit();
        }
        if self.session.is_some() {
            self.xids.watch_again_if_due(&self.options, now);
        }
        let (status, gpus, healthy) = self.read_all();
        if healthy {
            self.retry.succeeded();
        } else if attempted || !self.retry.pending() {
            self.retry.failed(now);
        }
        (status, gpus)
    }

    /// Replaces the session with a fresh one; a failure keeps the old one (its healthy GPUs still
    /// read) and records why. Either way, lost GPUs get another try this tick.
    fn reinit(&mut self) {
        self.lost.clear();
        match open(&self.options) {
            Ok(session) => {
                self.session = Some(session);
                self.states.clear();
                self.xids.watch(&self.options);
            }
            Err(status) => self.init_error = status,
        }
    }

    /// The status, every GPU's metrics, and whether everything read without needing a re-init.
    fn read_all(&mut self) -> (GpuStatus, Vec<GpuMetrics>, bool) {
        let Some(session) = &self.session else {
            return (self.init_error.clone(), Vec::new(), false);
        };
        let count = match session.nvml.device_count() {
            Ok(0) => return (no_devices(), Vec::new(), true),
            Ok(count) => count,
            Err(error) => {
                let message = format!("NVML could not count the GPUs: {error}");
                return (
                    unavailable(GpuUnavailableReason::Error, message),
                    Vec::new(),
                    false,
                );
            }
        };
        let status = GpuStatus::Available {
            driver_version: session.driver_version.clone(),
            cuda_version: session.cuda_version.clone(),
            count,
        };
        let gpus = (0..count).map(|index| self.read_gpu(index)).collect();
        (status, gpus, self.lost.is_empty())
    }

    /// One GPU's metrics; a GPU that cannot be read is reported unavailable with the reason.
    fn read_gpu(&mut self, index: u32) -> GpuMetrics {
        if let Some(message) = self.lost.get(&index) {
            return self.unreadable(index, message.clone());
        }
        let Some(session) = self.session.as_mut() else {
            return self.unreadable(index, "NVML is not initialised".into());
        };
        let state = self
            .states
            .entry(index)
            .or_insert_with(|| GpuState::new(index, self.cost.clone()));
        match read_device(
            &session.nvml,
            index,
            state,
            self.options.show_command_lines,
            &self.owners,
            &mut session.gpm,
        ) {
            Ok(mut gpu) => {
                self.known
                    .insert(index, (gpu.name.clone(), gpu.uuid.clone()));
                self.xids.attach(&mut gpu);
                gpu
            }
            Err(error) => {
                let message = gpu_error_message(&error);
                if needs_reinit(&error) {
                    self.lost.insert(index, message.clone());
                }
                self.unreadable(index, message)
            }
        }
    }

    fn unreadable(&self, index: u32, message: String) -> GpuMetrics {
        let (name, uuid) = self.known.get(&index).cloned().unwrap_or_default();
        GpuMetrics {
            index,
            name,
            uuid,
            available: false,
            error: Some(message),
            ..Default::default()
        }
    }
}

impl Drop for NvmlSource {
    fn drop(&mut self) {
        self.xids.stop_watching();
    }
}

impl GpuSource for NvmlSource {
    fn sample(&mut self) -> (GpuStatus, Vec<GpuMetrics>) {
        // NVML is foreign code behind a young wrapper: a surprise in it must not stop host metrics.
        let started = Instant::now();
        let sampled = catch_unwind(AssertUnwindSafe(|| self.sample_at(started)));
        let nanos = started.elapsed().as_nanos().min(u64::MAX.into()) as u64;
        self.cost.reads.fetch_add(1, Ordering::Relaxed);
        self.cost.nanos.fetch_add(nanos, Ordering::Relaxed);
        sampled.unwrap_or_else(|_| {
            let message = "the GPU collector failed unexpectedly; see the server log".to_owned();
            (
                unavailable(GpuUnavailableReason::Error, message),
                Vec::new(),
            )
        })
    }
}

/// When NVML may be initialised again. Time is passed in, so the schedule is testable.
#[derive(Debug)]
struct Retry {
    backoff: Backoff,
    failures: u32,
    next: Option<Instant>,
}

impl Retry {
    fn new(backoff: Backoff) -> Self {
        Retry {
            backoff,
            failures: 0,
            next: None,
        }
    }

    fn pending(&self) -> bool {
        self.next.is_some()
    }

    fn due(&self, now: Instant) -> bool {
        self.next.is_some_and(|at| now >= at)
    }

    /// Records a failure (a new one, or a retry that did not help) and schedules the next try.
    fn failed(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        // Only an absurd `max` overflows; retrying at once then beats never retrying.
        self.next = Some(
            now.checked_add(self.backoff.delay(self.failures))
                .unwrap_or(now),
        );
    }

    fn succeeded(&mut self) {
        self.failures = 0;
        self.next = None;
    }
}

/// NVML from the configured library, or the system's.
fn open_nvml(options: &GpuOptions) -> Result<Nvml, NvmlError> {
    match &options.library_path {
        Some(path) => Nvml::builder().lib_path(path.as_os_str()).init(),
        None => Nvml::init(),
    }
}

fn open(options: &GpuOptions) -> Result<Session, GpuStatus> {
    let library = options
        .library_path
        .as_ref()
        .map_or_else(|| DEFAULT_LIBRARY.to_owned(), |p| p.display().to_string());
    let nvml = open_nvml(options).map_err(|error| init_failure(&error, &library))?;
    if nvml.lib().nvmlShutdown.is_err() {
        // Dropping an `Nvml` calls nvmlShutdown unchecked and would panic; a leak is harmless.
        std::mem::forget(nvml);
        let message = format!("{library} is not a usable NVML library: it has no nvmlShutdown");
        return Err(unavailable(GpuUnavailableReason::Error, message));
    }
    Ok(Session {
        gpm: Default::default(),
        driver_version: nvml.sys_driver_version().ok(),
        cuda_version: nvml
            .sys_cuda_driver_version()
            .ok()
            .and_then(format_cuda_version),
        nvml,
    })
}

/// What the status says when NVML cannot be initialised from `library`.
fn init_failure(error: &NvmlError, library: &str) -> GpuStatus {
    use GpuUnavailableReason::*;
    let (reason, what) = match error {
        NvmlError::LibloadingError(_)
        | NvmlError::LibraryNotFound
        | NvmlError::FailedToLoadSymbol(_) => (
            NoDriver,
            format!("NVIDIA driver not found ({library} could not be loaded)"),
        ),
        NvmlError::DriverNotLoaded => (
            NoDriver,
            format!("NVIDIA driver not loaded ({library} loads, the kernel driver is not running)"),
        ),
        NvmlError::NoPermission => (
            NoPermission,
            "No permission to use the NVIDIA driver (run as a user that can open /dev/nvidia*)"
                .into(),
        ),
        _ => (
            Error,
            format!("NVML could not be initialised from {library}"),
        ),
    };
    unavailable(reason, format!("{what}: {error}"))
}

fn no_devices() -> GpuStatus {
    unavailable(
        GpuUnavailableReason::NoDevices,
        "NVIDIA driver loaded but it reports no GPUs".into(),
    )
}

fn unavailable(reason: GpuUnavailableReason, message: String) -> GpuStatus {
    GpuStatus::Unavailable { reason, message }
}

/// Said of a GPU that stopped answering; it rarely comes back without a reset or a reboot.
const LOST: &str = "GPU is lost (fell off the bus or became inaccessible): check dmesg, reset it";

fn gpu_error_message(error: &NvmlError) -> String {
    match error {
        NvmlError::GpuLost => LOST.into(),
        NvmlError::ResetRequired => {
            "GPU needs a reset before it can be read again (nvidia-smi -r)".into()
        }
        other => format!("GPU could not be read: {other}"),
    }
}

/// NVML's CUDA version number as people write it: 12040 is "12.4".
fn format_cuda_version(version: i32) -> Option<String> {
    (version > 0).then(|| format!("{}.{}", version / 1000, version % 1000 / 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(status: &GpuStatus) -> Option<GpuUnavailableReason> {
        match status {
            GpuStatus::Unavailable { reason, .. } => Some(*reason),
            GpuStatus::Available { .. } => None,
        }
    }

    fn message(status: &GpuStatus) -> &str {
        match status {
            GpuStatus::Unavailable { message, .. } => message,
            GpuStatus::Available { .. } => "",
        }
    }

    #[test]
    fn init_errors_map_to_reasons() {
        use GpuUnavailableReason::*;
        let lib = "libnvidia-ml.so.1";
        let cases = [
            (NvmlError::LibraryNotFound, NoDriver),
            (
                NvmlError::FailedToLoadSymbol("nvmlInit_v2: undefined symbol".into()),
                NoDriver,
            ),
            (NvmlError::DriverNotLoaded, NoDriver),
            (NvmlError::NoPermission, NoPermission),
            (NvmlError::Unknown, Error),
            (NvmlError::Uninitialized, Error),
        ];
        for (error, expected) in cases {
            let status = init_failure(&error, lib);
            assert_eq!(reason(&status), Some(expected), "{error:?}");
            assert!(message(&status).contains(&error.to_string()), "{status:?}");
        }
        let missing = init_failure(&NvmlError::LibraryNotFound, lib);
        assert!(
            message(&missing)
                .starts_with("NVIDIA driver not found (libnvidia-ml.so.1 could not be loaded)")
        );
    }

    #[test]
    fn no_devices_says_the_driver_works() {
        assert_eq!(reason(&no_devices()), Some(GpuUnavailableReason::NoDevices));
        assert_eq!(
            message(&no_devices()),
            "NVIDIA driver loaded but it reports no GPUs"
        );
    }

    #[test]
    fn cuda_versions_read_as_major_dot_minor() {
        assert_eq!(format_cuda_version(12040).as_deref(), Some("12.4"));
        assert_eq!(format_cuda_version(11080).as_deref(), Some("11.8"));
        assert_eq!(format_cuda_version(13000).as_deref(), Some("13.0"));
        assert_eq!(format_cuda_version(0), None);
    }

    #[test]
    fn power_is_reported_in_watts() {
        assert_eq!(device::milliwatts_to_watts(123_456), 123.456);
        assert_eq!(device::milliwatts_to_watts(0), 0.0);
    }

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute() {
        let backoff = Backoff::default();
        let secs: Vec<u64> = (1..=9).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(60));
        assert_eq!(backoff.delay(0), Duration::from_secs(1));
    }

    #[test]
    fn retries_wait_for_their_time_and_back_off() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut retry = Retry::new(Backoff::default());
        assert!(!retry.pending() && !retry.due(at(100)));

        retry.failed(at(0));
        assert!(retry.pending() && !retry.due(at(0)) && retry.due(at(1)));
        retry.failed(at(1));
        assert!(!retry.due(at(2)) && retry.due(at(3)));
        retry.failed(at(3));
        assert!(!retry.due(at(6)) && retry.due(at(7)));

        retry.succeeded();
        assert!(!retry.pending());
        retry.failed(at(10));
        assert!(retry.due(at(11)), "a success restarts the schedule");
    }

    #[test]
    fn a_failed_init_is_retried_only_when_the_backoff_allows() {
        let library_path = Some("/nonexistent/libnvidia-ml.so.1".into());
        let mut source = NvmlSource::new(GpuOptions {
            library_path,
            ..Default::default()
        });
        let first = source.retry.next.expect("a retry is scheduled");

        let (status, gpus) = source.sample_at(first - Duration::from_millis(1));
        assert_eq!(reason(&status), Some(GpuUnavailableReason::NoDriver));
        assert!(gpus.is_empty());
        assert_eq!(source.retry.next, Some(first), "no attempt before its time");

        source.sample_at(first);
        assert_eq!(
            source.retry.next,
            Some(first + Duration::from_secs(2)),
            "the wait doubled"
        );
    }

    #[test]
    fn a_lost_gpu_says_what_to_do() {
        assert!(gpu_error_message(&NvmlError::GpuLost).starts_with("GPU is lost"));
        assert!(gpu_error_message(&NvmlError::ResetRequired).contains("nvidia-smi -r"));
    }
}
