//! GPU metrics: one card's readings and depth (ECC, repairs, PCIe, NVLink, MIG, XID), why no GPU can be read, and the GPU list.

use super::profiling::GpuProfiling;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// Who it belongs to (absent when the process was gone before it could be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<crate::wire::ProcessOwner>,
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
    /// The PCI address NVML reports (`00000000:3B:00.0`), dcgm-exporter's `pci_bus_id` label.
    /// Not read back by the page, which does not show it.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub pci_bus_id: Option<String>,
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
    /// Set while its processes hold memory on it and it has done (almost) no work for longer
    /// than the idle-held time (`--idle-held-after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_held: Option<IdleHeld>,
    /// Its profiling counters (GPM), or why it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiling: Option<GpuProfiling>,
}

/// A GPU that is held but idle: since when, and by whom ("alice (jupyter)").
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct IdleHeld {
    /// When it went idle while held.
    pub since: DateTime<Utc>,
    pub held_by: String,
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

/// How busy a GPU is, for the GPU list.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GpuOccupancy {
    Idle,
    Busy,
    /// Held (memory in use by its processes) but idle for longer than the idle-held time.
    IdleHeld,
    Unavailable,
}

impl GpuOccupancy {
    pub fn label(self) -> &'static str {
        match self {
            GpuOccupancy::Idle => "idle",
            GpuOccupancy::Busy => "busy",
            GpuOccupancy::IdleHeld => "idle · held",
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

    /// Idle, busy (a process holds it, or it is working for one we cannot see), held but idle for
    /// long, or unavailable.
    pub fn occupancy(&self) -> GpuOccupancy {
        if !self.available {
            GpuOccupancy::Unavailable
        } else if self.idle_held.is_some() {
            GpuOccupancy::IdleHeld
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
