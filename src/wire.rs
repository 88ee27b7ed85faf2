//! Wire types: every message and metric the server sends and the browser reads, compiled on both sides.
//!
//! Times are UTC and travel as ISO-8601 strings (chrono's serde). Fields a source cannot provide are
//! `None` and are left out of the JSON, never sent as zero.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Bumped when a message changes shape in a way an older page cannot read.
pub const PROTOCOL_VERSION: u32 = 1;

pub const CHANNEL_CPU: &str = "system/cpu";
pub const CHANNEL_MEMORY: &str = "system/memory";
pub const CHANNEL_DISK: &str = "system/disk";
pub const CHANNEL_NETWORK: &str = "system/network";
/// Prefix of the per-GPU channels `system/gpu/{index}`.
pub const CHANNEL_GPU_PREFIX: &str = "system/gpu/";
/// Subscription pattern that matches every GPU channel, present and future.
pub const CHANNEL_GPU_ALL: &str = "system/gpu/*";
/// The event name of a periodic sample.
pub const EVENT_METRICS: &str = "metrics";

/// The host channels, in the order the dashboard shows them.
pub const HOST_CHANNELS: [&str; 4] = [CHANNEL_CPU, CHANNEL_MEMORY, CHANNEL_DISK, CHANNEL_NETWORK];

pub fn gpu_channel(index: u32) -> String {
    format!("{CHANNEL_GPU_PREFIX}{index}")
}

/// The GPU index a channel name refers to, if it is a `system/gpu/{index}` channel.
pub fn gpu_index_of(channel: &str) -> Option<u32> {
    channel.strip_prefix(CHANNEL_GPU_PREFIX)?.parse().ok()
}

/// Whether a subscription pattern (a channel name, or `prefix/*`) covers a channel.
pub fn pattern_matches(pattern: &str, channel: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => channel.starts_with(prefix),
        None => pattern == channel,
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct CpuMetrics {
    /// Busy share of all cores over the last interval, 0–100.
    pub usage_percent: f32,
    /// Busy share of each logical core, 0–100, in core order.
    pub per_core_percent: Vec<f32>,
    /// Current frequency of each logical core in MHz (empty where the kernel does not say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_core_mhz: Vec<u64>,
    pub load_average: LoadAverage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_celsius: Option<f32>,
    pub model: String,
    pub core_count: usize,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct MemoryMetrics {
    pub ram_total_bytes: u64,
    pub ram_used_bytes: u64,
    pub ram_available_bytes: u64,
    pub ram_percent: f32,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
    pub swap_percent: f32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct DiskDevice {
    /// Kernel name of the whole block device, e.g. `nvme0n1` or `sda`.
    pub name: String,
    pub read_bytes_per_sec: f64,
    pub write_bytes_per_sec: f64,
    pub read_bytes_total: u64,
    pub written_bytes_total: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Filesystem {
    pub mount_point: String,
    pub device: String,
    pub fs_type: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct DiskMetrics {
    /// Sum over physical devices only: partitions, device-mapper and loop devices are not counted twice.
    pub read_bytes_per_sec: f64,
    pub write_bytes_per_sec: f64,
    pub devices: Vec<DiskDevice>,
    pub filesystems: Vec<Filesystem>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct NetworkInterface {
    pub name: String,
    pub loopback: bool,
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub rx_bytes_total: u64,
    pub tx_bytes_total: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct NetworkMetrics {
    /// Sum over all interfaces but loopback.
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub interfaces: Vec<NetworkInterface>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum GpuProcessKind {
    #[default]
    Compute,
    Graphics,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct GpuProcess {
    pub pid: u32,
    /// Short process name (`comm`), empty if the process is already gone.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_memory_bytes: Option<u64>,
    pub kind: GpuProcessKind,
    /// Only filled when the server runs with `--show-command-lines`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// Its share of the GPU's compute (SM), memory bandwidth, encoder and decoder over the last
    /// few seconds (NVML's process utilization samples), where the driver reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<GpuProcessUtilization>,
    /// Its host CPU use since the last tick, in percent of one core (absent on its first tick).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f32>,
    /// Its resident host memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_bytes: Option<u64>,
}

/// Percentages of one GPU used by one process.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct GpuProcessUtilization {
    pub sm_percent: u32,
    pub memory_percent: u32,
    pub encoder_percent: u32,
    pub decoder_percent: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct GpuMetrics {
    pub index: u32,
    #[serde(default)]
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    /// False when the GPU could not be read on this tick (e.g. it fell off the bus).
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_utilization_percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_total_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_celsius: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_watts: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_limit_watts: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_mhz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_clock_mhz: Option<u32>,
    /// Why the clocks are held down, as NVML's bitmask of throttle reasons (4: the power cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clocks_throttle_reasons: Option<u64>,
    #[serde(default)]
    pub processes: Vec<GpuProcess>,
    /// Performance state, 0 (P0, full speed) to 15 (P15, slowest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_state: Option<u32>,
    /// Time the clocks were held down by the power limit since the driver loaded, in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_violation_ns: Option<u64>,
    /// Time the clocks were held down by temperature since the driver loaded, in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thermal_violation_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecc: Option<GpuEcc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_repair: Option<GpuMemoryRepair>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcie: Option<GpuPcie>,
    /// NVLink, on GPUs that have links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvlink: Option<GpuNvlink>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder_percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder_percent: Option<u32>,
    /// Energy used since the driver loaded, in joules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_joules: Option<f64>,
    /// Whether MIG (multi-instance GPU) mode is on, where the GPU supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mig_enabled: Option<bool>,
    /// The MIG instances carved out of this GPU while MIG is on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mig_instances: Vec<MigInstance>,
    /// XID errors this GPU reported, counted since the history began; None while they are not
    /// being watched (no event support, or the driver refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xid_count: Option<u64>,
    /// Its most recent XID errors, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xid_errors: Vec<XidError>,
}

/// ECC mode and error counts: corrected (single-bit) and uncorrected (double-bit), since the last
/// driver load (volatile) and over the card's life (aggregate). A count the card does not keep is
/// absent.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct GpuEcc {
    pub enabled: bool,
    /// The mode after the next reboot, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_volatile: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncorrected_volatile: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_aggregate: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncorrected_aggregate: Option<u64>,
}

/// Memory the card took out of service: retired pages (older cards) or remapped rows (A100 and
/// newer). Each part is absent where the card does the other.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct GpuMemoryRepair {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_pages_single_bit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_pages_double_bit: Option<u32>,
    /// Pages wait for a reboot to be retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retirement_pending: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remapped_rows_correctable: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remapped_rows_uncorrectable: Option<u32>,
    /// Rows wait for a reset to be remapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remap_pending: Option<bool>,
    /// A remap failed: the card needs service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remap_failed: Option<bool>,
}

/// The PCIe link now and at best, and its traffic. A link narrower than its best is a fault; a
/// lower generation is usually an idle card saving power.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct GpuPcie {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_generation: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_bytes_per_second: Option<f64>,
    /// Link retries since the driver loaded: a rising count is a bad slot, riser or cable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replays: Option<u64>,
}

impl GpuPcie {
    /// Whether the link runs on fewer lanes than it can: a card seated badly or in a slot that is
    /// wired narrower (x4 instead of x16).
    pub fn narrowed(&self) -> bool {
        matches!((self.width, self.max_width), (Some(now), Some(best)) if now < best)
    }
}

/// A GPU's NVLinks: how many, and their traffic all together, in bytes per second each way.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct GpuNvlink {
    pub links: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_bytes_per_second: Option<f64>,
}

/// One MIG instance: a slice of its parent GPU that runs as a GPU of its own.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct MigInstance {
    pub index: u32,
    pub uuid: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_total_bytes: Option<u64>,
}

/// One XID error: the driver's code for a GPU fault, when it came, and what it usually means.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct XidError {
    pub code: u64,
    pub at: DateTime<Utc>,
    pub meaning: String,
}

/// The event name of an XID error on a GPU's channel.
pub const EVENT_XID: &str = "xid";

/// An XID error as published on its GPU's channel (event `xid`) and kept with the history.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct XidReport {
    pub gpu_index: u32,
    pub gpu_uuid: String,
    #[serde(flatten)]
    pub error: XidError,
}

/// NVML's clock event (throttle) reasons: the bit, a key for series and metrics, and a label.
pub const CLOCK_EVENT_REASONS: [(u64, &str, &str); 8] = [
    (0x1, "idle", "Idle"),
    (0x2, "applications_clocks", "Application clocks"),
    (0x4, "power_cap", "Power cap"),
    (0x8, "hw_slowdown", "HW slowdown"),
    (0x10, "sync_boost", "Sync boost"),
    (0x20, "sw_thermal", "SW thermal"),
    (0x40, "hw_thermal", "HW thermal"),
    (0x80, "power_brake", "Power brake"),
];

/// Reasons that mean the card is slowed by heat or a hardware signal, not by choice or idleness.
pub const SLOWDOWN_REASONS: u64 = 0x8 | 0x20 | 0x40 | 0x80;

/// NVML's throttle reason: the clocks are held down to keep power under the limit.
pub const THROTTLE_SW_POWER_CAP: u64 = 0x4;

/// Why no GPU can be read, so the dashboard can say so instead of showing nothing.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GpuUnavailableReason {
    /// The NVIDIA library or driver is not installed or not loaded.
    NoDriver,
    /// The driver works but reports no devices.
    NoDevices,
    /// The driver refused us access.
    NoPermission,
    /// Anything else NVML reported.
    Error,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GpuStatus {
    Available {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        driver_version: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cuda_version: Option<String>,
        count: u32,
    },
    Unavailable {
        reason: GpuUnavailableReason,
        message: String,
    },
}

impl Default for GpuStatus {
    fn default() -> Self {
        GpuStatus::Unavailable {
            reason: GpuUnavailableReason::NoDriver,
            message: "GPUs have not been read yet".into(),
        }
    }
}

/// One message on one channel: a metrics sample or an event a local process emitted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Envelope {
    pub channel: String,
    pub event: String,
    pub data: Value,
    pub timestamp: DateTime<Utc>,
    /// Increases by one per message on this channel within one server epoch.
    pub seq: u64,
}

/// Sent first on every socket: what the server is and what it publishes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Hello {
    pub protocol: u32,
    pub server_version: String,
    /// Changes when the server restarts, so a client can tell a restart from a gap.
    pub epoch: u64,
    pub interval_seconds: f64,
    pub history_seconds: u64,
    pub server_time: DateTime<Utc>,
    pub hostname: String,
    /// When the machine booted, for the uptime the header shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<DateTime<Utc>>,
    pub channels: Vec<String>,
    pub gpu_status: GpuStatus,
    /// Whether history is kept on disk; absent when the server runs with --no-persist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
}

/// Whether the server is saving its history to disk, where, and if not, why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Persistence {
    pub saving: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is wrong, in words a person can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The tiers of the history database, finest first: raw samples, 1-minute and 1-hour rollups.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Raw,
    Minute,
    Hour,
}

/// One bucket of one series: `[start ms, min, avg, max]`.
pub type BucketValues = [f64; 4];

/// `GET /api/system/history?from=…&to=…&points=…`: a span read from the history database.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RangeAnswer {
    pub from: i64,
    pub to: i64,
    pub tier: Tier,
    pub bucket_ms: i64,
    /// The newest time the answer covers (the end of its newest tick or rollup), so a page can
    /// draw what came after it from its own live samples; None when the span holds no data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<i64>,
    /// Per series, its buckets that hold data, oldest first. A bucket with no data is absent, so
    /// a stretch when Vitals was not running is a gap, never a line across it.
    pub series: BTreeMap<String, Vec<BucketValues>>,
    /// Whether history is being saved now, and if not why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
}

/// The process table: the busiest processes, scanned only while someone subscribes to it.
pub const CHANNEL_PROCESSES: &str = "system/processes";

/// One process scan: the top processes by CPU, by memory and by storage I/O, merged, with every
/// process that holds a GPU.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ProcessList {
    pub timestamp: DateTime<Utc>,
    /// Seconds between scans.
    pub period_seconds: f64,
    /// Processes on the machine; `processes` holds the busiest of them.
    pub total: u32,
    /// Logical cores: a process's `cpu_percent` can reach 100 × this.
    pub cores: u32,
    pub memory_total_bytes: u64,
    pub processes: Vec<ProcessRow>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ProcessRow {
    pub pid: u32,
    pub parent_pid: u32,
    pub user: String,
    pub name: String,
    /// proc(5)'s one-letter state: R running, S sleeping, D waiting on disk, Z zombie, T stopped, I idle.
    pub state: String,
    /// Percent of one core since the previous scan (absent on a process's first scan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// The same as a share of the whole machine (all cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_cpu_percent: Option<f64>,
    /// Resident memory.
    pub memory_bytes: u64,
    pub memory_percent: f64,
    /// Storage reads and writes (absent for other users' processes when not running as root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_bytes_per_second: Option<f64>,
    pub threads: u32,
    pub started: DateTime<Utc>,
    /// Only with `--show-command-lines`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// The GPUs (indices) it holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_bytes: Option<u64>,
    /// Its highest SM share on any of its GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_sm_percent: Option<u32>,
}

impl ProcessRow {
    /// Storage reads and writes together, when known.
    pub fn io_bytes_per_second(&self) -> Option<f64> {
        match (self.read_bytes_per_second, self.write_bytes_per_second) {
            (None, None) => None,
            (read, write) => Some(read.unwrap_or(0.0) + write.unwrap_or(0.0)),
        }
    }
}

/// The channel alert events are published on.
pub const CHANNEL_ALERTS: &str = "system/alerts";
/// The event name of an alert's change.
pub const EVENT_ALERT: &str = "alert";

/// Which way a value must go to alert.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertComparison {
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<=")]
    AtMost,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Warning,
    Critical,
}

impl AlertSeverity {
    /// Its name as the wire spells it (`warning`, `critical`).
    pub fn name(self) -> &'static str {
        match self {
            AlertSeverity::Warning => "warning",
            AlertSeverity::Critical => "critical",
        }
    }
}

/// Pending (past the threshold, not yet for long enough), firing, or resolved (back, or gone).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Pending,
    Firing,
    Resolved,
}

/// One alert as it stands after a change: what `system/alerts` carries and the API lists.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Alert {
    pub rule: String,
    /// What it is about, in words.
    pub summary: String,
    /// The series watched, e.g. `gpu/GPU-…/temperature`.
    pub series: String,
    /// What the rule's `*` stood for (a GPU's UUID, a mount point); empty for a plain series.
    pub instance: String,
    pub severity: AlertSeverity,
    pub state: AlertState,
    /// The value that made the change; None when the series went away.
    pub value: Option<f64>,
    /// The threshold of the severity.
    pub threshold: f64,
    /// When it first went past the threshold.
    pub started: DateTime<Utc>,
    /// When its current state began.
    pub since: DateTime<Utc>,
}

/// `GET /api/system/alerts`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AlertList {
    /// Pending and firing, oldest first.
    pub active: Vec<Alert>,
    /// The latest changes, newest first.
    pub recent: Vec<Alert>,
    /// How delivery to each configured webhook is going.
    #[serde(default)]
    pub webhooks: Vec<WebhookStatus>,
}

/// The body a webhook is sent: Vitals' own JSON, or what a chat or push service takes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Generic,
    Slack,
    Discord,
    Ntfy,
}

/// Deliveries to one webhook since start.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct WebhookStatus {
    /// Scheme and host only: the rest of a webhook's URL is often its secret.
    pub url: String,
    pub format: WebhookFormat,
    pub delivered: u64,
    pub failed_attempts: u64,
    /// Changes dropped because the webhook's queue was full.
    pub dropped: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What the server sends over the socket.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello(Hello),
    /// A channel message (metrics or an emitted event).
    Message(Envelope),
    /// The subscription now covers these patterns.
    Subscribed {
        channels: Vec<String>,
    },
    Unsubscribed {
        channels: Vec<String>,
    },
    /// The missed messages of a channel could not be replayed: drop what you hold of it and refetch.
    Reset {
        channel: String,
        reason: String,
    },
    /// The client sent something the server could not use; the socket stays open.
    Error {
        message: String,
    },
    Pong,
    /// Whether history is being saved changed (say, the disk filled up): sent to every client.
    Persistence(Persistence),
}

/// What the browser (or any client) sends over the socket.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Subscribe to channels or patterns; `since` maps a channel to the last seq the client holds, and
    /// `epoch` is the server epoch that seq belongs to.
    Subscribe {
        channels: Vec<String>,
        #[serde(default)]
        since: BTreeMap<String, u64>,
        #[serde(default)]
        epoch: Option<u64>,
    },
    Unsubscribe {
        channels: Vec<String>,
    },
    Ping,
}

/// One point of a series: milliseconds since the Unix epoch (UTC) and the value.
pub type Point = (i64, f64);

/// A browser store as it travels: what the page's seed carries so the dashboard starts with the
/// server's history (thinned) and current values.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct StoreSeed {
    /// How much history the store keeps, in milliseconds.
    pub window_ms: i64,
    /// The server epoch the sequence numbers belong to.
    pub epoch: Option<u64>,
    /// The last seq held per channel: where the socket's replay continues from.
    pub last_seq: BTreeMap<String, u64>,
    pub cpu: Option<CpuMetrics>,
    pub memory: Option<MemoryMetrics>,
    pub disk: Option<DiskMetrics>,
    pub network: Option<NetworkMetrics>,
    pub gpus: BTreeMap<u32, GpuMetrics>,
    /// Every series by name, oldest point first.
    pub series: BTreeMap<String, Vec<Point>>,
    /// Time (ms) of the newest message held.
    pub last_message_ms: Option<i64>,
}

/// What a page starts from: the server's hello (host, uptime, GPU status) and its history as a
/// ready store. The page carries it (and `GET /api/system/seed` serves it), so values show at first
/// paint and the charts draw without a request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PageSeed {
    pub hello: Hello,
    pub history: StoreSeed,
    /// The alerts pending or firing now.
    #[serde(default)]
    pub alerts: Vec<Alert>,
}

/// Where a job stands: sending, silent past its heartbeat, or ended well or badly.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Stalled,
    Ok,
    Failed,
}

/// One job: a `jobs/` channel, as its `start`, `metrics`, `end` and notes told it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Job {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<DateTime<Utc>>,
    /// When it last sent anything.
    pub last_seen: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_seconds: Option<u64>,
    /// The last value of each numeric field its `metrics` sent.
    #[serde(default)]
    pub fields: BTreeMap<String, f64>,
    #[serde(default)]
    pub pids: Vec<u32>,
    /// The GPUs it uses, by UUID: declared at start, or found running its processes.
    #[serde(default)]
    pub gpus: Vec<String>,
    /// What its `end` said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `GET /api/system/jobs`: running jobs first, then the recent ones, newest first.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobList {
    pub jobs: Vec<Job>,
}

/// `GET /api/system/jobs/fields`: one job's numeric fields over a span, each as `[ms, value]`
/// points, oldest first (averaged into buckets of `bucket_ms` where there were more than asked).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobFields {
    pub channel: String,
    pub from: i64,
    pub to: i64,
    pub bucket_ms: i64,
    pub fields: BTreeMap<String, Vec<[f64; 2]>>,
}

/// `GET /api/system/metrics`: the latest sample of every channel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CurrentMetrics {
    pub epoch: u64,
    pub interval_seconds: f64,
    /// The latest envelope of every channel that has one.
    pub channels: Vec<Envelope>,
    pub gpu_status: GpuStatus,
}

/// How busy a GPU is, for the GPU list.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GpuOccupancy {
    Idle,
    Busy,
    Unavailable,
}

impl GpuOccupancy {
    pub fn label(self) -> &'static str {
        match self {
            GpuOccupancy::Idle => "idle",
            GpuOccupancy::Busy => "busy",
            GpuOccupancy::Unavailable => "unavailable",
        }
    }
}

/// A GPU counts as busy above this utilization even with no process listed (e.g. another container).
const BUSY_UTILIZATION_PERCENT: u32 = 5;

impl GpuMetrics {
    /// Whether the clocks are held down by the power limit (None: the GPU does not say).
    pub fn power_capped(&self) -> Option<bool> {
        self.clocks_throttle_reasons
            .map(|reasons| reasons & THROTTLE_SW_POWER_CAP != 0)
    }

    /// Idle, busy (a process holds it, or it is working for one we cannot see) or unavailable.
    pub fn occupancy(&self) -> GpuOccupancy {
        if !self.available {
            GpuOccupancy::Unavailable
        } else if !self.processes.is_empty()
            || self
                .utilization_percent
                .is_some_and(|u| u >= BUSY_UTILIZATION_PERCENT)
        {
            GpuOccupancy::Busy
        } else {
            GpuOccupancy::Idle
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct GpuListEntry {
    pub index: u32,
    pub uuid: String,
    pub name: String,
    pub memory_total_bytes: Option<u64>,
    pub power_limit_watts: Option<f64>,
    pub occupancy: GpuOccupancy,
    /// The processes on the GPU: its current jobs.
    pub jobs: Vec<GpuProcess>,
    /// The jobs (`jobs/` channels, see `/api/system/jobs`) that use it: declared at their start,
    /// or running one of their processes.
    #[serde(default)]
    pub named_jobs: Vec<String>,
}

/// `GET /api/system/gpus`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct GpuList {
    pub status: GpuStatus,
    pub gpus: Vec<GpuListEntry>,
}

/// `GET /api/system/history`: what the server's ring holds for one channel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ChannelHistory {
    pub epoch: u64,
    pub channel: String,
    pub messages: Vec<Envelope>,
}

/// `POST /api/internal/ws/emit` body.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmitRequest {
    pub channel: String,
    pub event: String,
    pub data: Value,
    /// The channel promises a message at least this often (1–86400 s): the `heartbeat` alert
    /// fires when it stays silent longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_seconds: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EmitResponse {
    pub delivered: usize,
    pub seq: u64,
}

/// Why a server function (`/api/system/metrics`, `/gpus`, `/seed`) failed, as the page reads it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum ServerFnFailure {
    /// The server answered but could not produce the value (its state was missing).
    Server(String),
    /// The request or its answer did not get through (network, encoding).
    Request(String),
}

impl std::fmt::Display for ServerFnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerFnFailure::Server(message) => write!(f, "the server failed: {message}"),
            ServerFnFailure::Request(message) => write!(f, "the request failed: {message}"),
        }
    }
}

/// Every JSON error body: one sentence a person can act on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ApiError {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_channels_round_trip() {
        assert_eq!(gpu_channel(3), "system/gpu/3");
        assert_eq!(gpu_index_of("system/gpu/3"), Some(3));
        assert_eq!(gpu_index_of("system/gpu/x"), None);
        assert_eq!(gpu_index_of("system/cpu"), None);
    }

    #[test]
    fn patterns_match_prefixes_only_with_a_star() {
        assert!(pattern_matches(CHANNEL_GPU_ALL, "system/gpu/0"));
        assert!(!pattern_matches(CHANNEL_GPU_ALL, "system/cpu"));
        assert!(pattern_matches("system/cpu", "system/cpu"));
        assert!(!pattern_matches("system/cpu", "system/cpu2"));
    }

    #[test]
    fn server_messages_are_tagged_and_flat() {
        let msg = ServerMessage::Message(Envelope {
            channel: CHANNEL_CPU.into(),
            event: EVENT_METRICS.into(),
            data: serde_json::json!({"usage_percent": 1.0}),
            timestamp: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .unwrap()
                .into(),
            seq: 7,
        });
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["type"], "message");
        assert_eq!(json["channel"], "system/cpu");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["timestamp"], "2026-01-02T03:04:05Z");
        let back: ServerMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn client_messages_reject_unknown_fields() {
        let ok: ClientMessage =
            serde_json::from_str(r#"{"type":"subscribe","channels":["system/cpu"]}"#).unwrap();
        assert!(matches!(ok, ClientMessage::Subscribe { .. }));
        assert!(
            serde_json::from_str::<ClientMessage>(r#"{"type":"subscribe","chanels":[]}"#).is_err()
        );
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"dance"}"#).is_err());
    }

    #[test]
    fn unsupported_gpu_fields_are_absent_not_zero() {
        let gpu = GpuMetrics {
            index: 0,
            available: true,
            ..Default::default()
        };
        let json = serde_json::to_value(&gpu).unwrap();
        assert!(json.get("fan_percent").is_none());
        assert!(json.get("temperature_celsius").is_none());
    }
}

/// `GET /api/fleet`: every host the configured Prometheus knows, as of its last refresh.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FleetView {
    /// False when no `--fleet-prometheus` is set: then nothing else is filled.
    pub configured: bool,
    /// The Prometheus read (its address, without credentials).
    pub prometheus: String,
    pub refresh_seconds: f64,
    /// When the hosts below were read; None before the first refresh succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// Seconds since `updated`, at the time of the answer (set in answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<f64>,
    /// The last refresh failed: the hosts are the last ones read, `error` says why.
    pub stale: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the last successful refresh (all queries) took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_ms: Option<f64>,
    /// The sparklines' first point and step: point `i` is at `history_start + i * history_step`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_start: Option<DateTime<Utc>>,
    pub history_step_seconds: f64,
    pub hosts: Vec<FleetHost>,
}

impl FleetView {
    /// Seconds from `updated` to `now`.
    pub fn age_at(&self, now: DateTime<Utc>) -> Option<f64> {
        self.updated
            .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
    }

    /// The same read with other hosts (a selection of them) and its age at `now`, without
    /// copying the hosts it had.
    pub fn with_hosts(&self, hosts: Vec<FleetHost>, now: DateTime<Utc>) -> FleetView {
        FleetView {
            configured: self.configured,
            prometheus: self.prometheus.clone(),
            refresh_seconds: self.refresh_seconds,
            updated: self.updated,
            age_seconds: self.age_at(now),
            stale: self.stale,
            error: self.error.clone(),
            refresh_ms: self.refresh_ms,
            history_start: self.history_start,
            history_step_seconds: self.history_step_seconds,
            hosts,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Every target of the host failed its last scrape.
    Down,
    /// Some targets are up, some down.
    Partial,
    #[default]
    Up,
}

/// One host: the targets sharing a host name (the `host` target label, else the `instance`
/// label without its port), with what node_exporter- and dcgm-exporter-named series say of it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FleetHost {
    pub name: String,
    pub state: HostState,
    /// When the host entered its state, if that was within the sparklines' hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Its scrape targets (`job` and `instance`) and whether their last scrape worked.
    pub targets: Vec<FleetTarget>,
    /// The targets' other labels (e.g. `env=prod`), what the filter searches besides the name.
    pub labels: BTreeMap<String, String>,
    /// The host's own Vitals dashboard: a target's `vitals_url` label (http or https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_read_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_write_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_receive_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_transmit_bytes_per_second: Option<f64>,
    pub gpus: Vec<FleetGpu>,
    pub alerts: Vec<FleetAlert>,
    /// CPU % over the last hour, one point per `history_step_seconds` (None: no data then).
    pub cpu_history: Vec<Option<f32>>,
    /// The mean GPU utilization % over the same points; empty for a host without GPUs.
    pub gpu_history: Vec<Option<f32>>,
}

impl FleetHost {
    /// The mean utilization of its GPUs, None without any.
    pub fn mean_gpu_utilization(&self) -> Option<f64> {
        let utils: Vec<f64> = self
            .gpus
            .iter()
            .filter_map(|g| g.utilization_percent)
            .collect();
        (!utils.is_empty()).then(|| utils.iter().sum::<f64>() / utils.len() as f64)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FleetTarget {
    pub job: String,
    pub instance: String,
    pub up: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FleetGpu {
    /// dcgm-exporter's `gpu` label: the index on its host.
    pub index: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_mib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_total_mib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_celsius: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_watts: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_limit_watts: Option<f64>,
}

/// A firing alert: Prometheus' own (`ALERTS`) or a Vitals rule's (`vitals_alert_firing`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FleetAlert {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity: String,
    /// What it is about (a Vitals alert's summary, a Prometheus alert's labels).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub about: String,
}
