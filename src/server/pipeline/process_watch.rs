//! The process table: a scan of `/proc` on a thread of its own, only while someone watches.
//!
//! Someone watches while a WebSocket client is subscribed to `system/processes`, for a little
//! while after `GET /api/system/processes`, and always when an alert rule is about processes.
//! Otherwise the thread only checks, twice a second, whether that has changed, and keeps nothing.

use crate::server::collect::owners::Owners;
use crate::server::collect::processes::{rows, scan, top};
use crate::server::history::NamedValues;
use crate::server::hub::Hub;
use crate::server::jobs::book::JobBook;
use crate::server::pipeline::latest::Latest;
use crate::server::runtime::lock::lock;
use crate::wire::series::process_series;
use crate::wire::{CHANNEL_PROCESSES, EVENT_METRICS, ProcessList, ProcessRow, pattern_matches};
use chrono::Utc;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often an idle watch looks for a new watcher.
const IDLE_CHECK: Duration = Duration::from_millis(500);
/// The gap between a priming scan and the first one with rates.
const PRIMING: Duration = Duration::from_millis(500);
/// How long one `GET /api/system/processes` keeps the scans going.
const REQUEST_KEEPS_SCANNING: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq)]
pub struct ProcessOptions {
    /// How many processes each measure (CPU, memory, storage I/O) contributes.
    pub top: usize,
    pub period: Duration,
    pub show_command_lines: bool,
    /// An alert rule watches processes: scan all the time.
    pub always: bool,
    /// Stat files kept open between scans (`scan::files_to_keep`).
    pub keep_files: usize,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            top: 25,
            period: Duration::from_secs(2),
            show_command_lines: false,
            always: false,
            keep_files: 0,
        }
    }
}

/// The scans' shared state: the latest list, who wants scans, and what the scans cost.
pub struct ProcessWatch {
    options: ProcessOptions,
    /// Who owns each row's process, shared with the GPU collector.
    owners: Arc<Owners>,
    /// The emitted jobs, whose processes the rows name.
    jobs: Arc<JobBook>,
    latest: tokio::sync::watch::Sender<Option<Arc<ProcessList>>>,
    requested_until: Mutex<Option<Instant>>,
    /// Per process name, for alert rules: CPU (% of one core) and memory, summed.
    by_name: Mutex<NamedValues>,
    thread: Mutex<Option<std::thread::Thread>>,
    stop: AtomicBool,
    scans: AtomicU64,
    scan_nanos: AtomicU64,
}

/// Stops the scanning thread when dropped.
pub struct ProcessHandle {
    watch: Arc<ProcessWatch>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ProcessHandle {
    fn drop(&mut self) {
        self.watch.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// Why the process list could not be given.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("the process scan did not answer within {0:?}; try again")]
pub struct NotScanned(pub Duration);

impl std::fmt::Debug for ProcessWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessWatch")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ProcessWatch {
    pub fn new(
        options: ProcessOptions,
        owners: Arc<Owners>,
        jobs: Arc<JobBook>,
    ) -> Arc<ProcessWatch> {
        Arc::new(ProcessWatch {
            options,
            owners,
            jobs,
            latest: tokio::sync::watch::Sender::new(None),
            requested_until: Mutex::new(None),
            by_name: Mutex::new(Vec::new()),
            thread: Mutex::new(None),
            stop: AtomicBool::new(false),
            scans: AtomicU64::new(0),
            scan_nanos: AtomicU64::new(0),
        })
    }

    pub fn period(&self) -> Duration {
        self.options.period
    }

    /// Scans done, and the CPU-thread time they took in all, since start (for `/metrics`).
    pub fn cost(&self) -> (u64, Duration) {
        (
            self.scans.load(Ordering::Relaxed),
            Duration::from_nanos(self.scan_nanos.load(Ordering::Relaxed)),
        )
    }

    /// Starts the scanning thread.
    pub fn spawn(
        self: &Arc<Self>,
        hub: Arc<Hub>,
        latest: Latest,
    ) -> std::io::Result<ProcessHandle> {
        let watch = self.clone();
        let thread = std::thread::Builder::new()
            .name("vitals-processes".into())
            .spawn(move || watch.run(&hub, &latest))?;
        *lock(&self.thread) = Some(thread.thread().clone());
        Ok(ProcessHandle {
            watch: self.clone(),
            thread: Some(thread),
        })
    }

    fn wanted(&self, hub: &Hub) -> bool {
        self.options.always
            || lock(&self.requested_until).is_some_and(|until| Instant::now() < until)
            || hub.watched(|pattern| pattern_matches(pattern, CHANNEL_PROCESSES))
    }

    fn run(&self, hub: &Hub, latest: &Latest) {
        let host = rows::Host::read();
        let mut scanner = scan::Scanner::keeping(self.options.keep_files);
        while !self.stop.load(Ordering::Relaxed) {
            if !self.wanted(hub) {
                if scanner.is_primed() {
                    scanner.forget();
                    self.latest.send_replace(None);
                    lock(&self.by_name).clear();
                }
                std::thread::park_timeout(IDLE_CHECK);
                continue;
            }
            let began = Instant::now();
            if !scanner.is_primed() {
                self.timed(|| scanner.scan());
                self.sleep_until(Instant::now() + PRIMING);
            }
            let list = self.timed(|| {
                let pass = scanner.scan();
                self.list(&pass, &host, latest)
            });
            let list = Arc::new(list);
            if let Ok(data) = serde_json::to_value(&*list) {
                let _ = hub.publish(CHANNEL_PROCESSES, EVENT_METRICS, data, list.timestamp);
            }
            self.latest.send_replace(Some(list));
            self.sleep_until(began + self.options.period);
        }
    }

    fn timed<T>(&self, work: impl FnOnce() -> T) -> T {
        let began = Instant::now();
        let result = work();
        self.scans.fetch_add(1, Ordering::Relaxed);
        self.scan_nanos
            .fetch_add(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }

    /// Sleeps until `deadline` or until stopped; a request's wake-up does not cut a period short.
    fn sleep_until(&self, deadline: Instant) {
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            std::thread::park_timeout(deadline - now);
        }
    }

    fn list(&self, pass: &[scan::Measured], host: &rows::Host, latest: &Latest) -> ProcessList {
        let snapshot = latest.get();
        let on_gpu = rows::gpu_use(snapshot.as_deref().map_or(&[], |s| &s.gpus[..]));
        if self.options.always {
            *lock(&self.by_name) = totals_by_name(pass, host);
        }
        let picked = top::select(pass, self.options.top, |pid| on_gpu.contains_key(&pid));
        let mut rows: Vec<ProcessRow> = picked
            .into_iter()
            .map(|i| {
                let process = &pass[i];
                let gpu = on_gpu.get(&process.pid);
                rows::row(
                    process,
                    host,
                    gpu,
                    self.options.show_command_lines,
                    &self.owners,
                )
            })
            .collect();
        if self.jobs.names_processes() {
            name_jobs(&mut rows, pass, &self.jobs);
        }
        ProcessList {
            timestamp: Utc::now(),
            period_seconds: self.options.period.as_secs_f64(),
            total: pass.len() as u32,
            cores: host.cores,
            memory_total_bytes: host.memory_total_bytes,
            processes: rows,
        }
    }

    /// The latest list if it is fresh; otherwise starts the scans (if nobody else had) and waits
    /// for the next one.
    pub async fn current(&self) -> Result<Arc<ProcessList>, NotScanned> {
        let fresh_for = self.options.period * 2 + PRIMING;
        let is_fresh = |list: &Option<Arc<ProcessList>>| {
            list.as_ref().is_some_and(|list| {
                (Utc::now() - list.timestamp)
                    .to_std()
                    .is_ok_and(|age| age <= fresh_for)
            })
        };
        *lock(&self.requested_until) = Some(Instant::now() + REQUEST_KEEPS_SCANNING);
        let mut receiver = self.latest.subscribe();
        let now = receiver.borrow().clone();
        if is_fresh(&now)
            && let Some(list) = now
        {
            return Ok(list);
        }
        if let Some(thread) = lock(&self.thread).as_ref() {
            thread.unpark();
        }
        let wait = self.options.period + PRIMING + Duration::from_secs(3);
        match tokio::time::timeout(wait, receiver.wait_for(is_fresh)).await {
            Ok(Ok(list)) => list.clone().ok_or(NotScanned(wait)),
            _ => Err(NotScanned(wait)),
        }
    }

    /// Each process name's CPU (% of one core) and memory (% of RAM), summed over its processes,
    /// as `process/{name}/cpu_percent` and `process/{name}/memory_percent`: what alert rules read.
    pub fn values_for_rules(&self) -> NamedValues {
        lock(&self.by_name).clone()
    }
}

/// Names each row's job, following its parents through the scan itself (no more reads).
fn name_jobs(rows: &mut [ProcessRow], pass: &[scan::Measured], jobs: &JobBook) {
    let parents: HashMap<u32, u32> = pass.iter().map(|p| (p.pid, p.stat.parent_pid)).collect();
    for row in rows {
        let mut line = vec![row.pid];
        while line.len() < 16 {
            match line.last().and_then(|pid| parents.get(pid)) {
                Some(&parent) if parent > 1 => line.push(parent),
                _ => break,
            }
        }
        if let Some(owner) = row.owner.as_mut() {
            owner.job = jobs.job_of_lineage(&line);
            if owner.job.is_some() {
                owner.line = owner.compose_line();
            }
        }
    }
}

fn totals_by_name(pass: &[scan::Measured], host: &rows::Host) -> NamedValues {
    let mut totals: BTreeMap<&str, (f64, u64)> = BTreeMap::new();
    for process in pass {
        let total = totals.entry(&process.stat.name).or_default();
        total.0 += process.cpu_percent.unwrap_or(0.0);
        total.1 += process.stat.resident_pages;
    }
    let mut values = NamedValues::with_capacity(totals.len() * 2);
    for (name, (cpu, pages)) in totals {
        let memory =
            (pages * host.page_bytes) as f64 * 100.0 / host.memory_total_bytes.max(1) as f64;
        values.push((process_series(name, "cpu_percent"), cpu));
        values.push((process_series(name, "memory_percent"), memory));
    }
    values
}
