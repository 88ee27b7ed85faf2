//! Whole-box health beyond the GPUs: what the machine's sensors read (hwmon), its host memory
//! errors (EDAC), its PCIe links' errors (AER), and each disk's SMART verdict and counters. A
//! reading the machine does not give is absent, never zero.

use serde::{Deserialize, Serialize};

/// What a hwmon sensor measures.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SensorKind {
    /// °C.
    #[default]
    Temperature,
    /// Revolutions a minute.
    Fan,
}

/// One hwmon sensor (`/sys/class/hwmon/hwmonN/tempM_*` or `fanM_*`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Sensor {
    /// The chip's driver name (`k10temp`, `coretemp`, `nvme`, `nct6775`).
    pub chip: String,
    /// The chip's hwmon directory (`hwmon2`): what tells two chips of one driver apart.
    pub hwmon: String,
    /// node_exporter's `chip` label (`platform_coretemp_0`): stable across boots, unlike `hwmon`.
    #[serde(default)]
    pub id: String,
    /// `temp1`, `fan2`: node_exporter's `sensor` label.
    pub sensor: String,
    /// The kernel's label (`Tctl`, `Package id 0`, `Composite`, `CPU fan`), or the sensor's name.
    pub label: String,
    pub kind: SensorKind,
    /// °C or RPM.
    pub value: f64,
    /// The kernel's limits, where it gives them: °C for temperatures; `min` is a fan's minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
}

/// One memory controller's error counts (`/sys/devices/system/edac/mc/mcN`), and per DIMM where
/// the kernel names them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct MemoryController {
    /// `0` for `mc0`: node_exporter's `controller` label.
    pub controller: String,
    pub corrected: u64,
    pub uncorrected: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimms: Vec<DimmErrors>,
}

/// One DIMM (or csrow channel on older kernels) and its error counts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct DimmErrors {
    /// Its sysfs name, stable where the label may repeat or be absent: `dimm0`, or `csrow0_ch1`
    /// on kernels that count per csrow channel (those count uncorrected errors per csrow only,
    /// and `uncorrected` is 0 here).
    #[serde(default)]
    pub name: String,
    /// The board's label for the slot (`CPU_SrcID#0_Ha#0_Chan#0_DIMM#0`, `DIMM_A1`), or its sysfs
    /// name (`dimm0`, `csrow0 ch1`) when the kernel has none.
    pub label: String,
    pub corrected: u64,
    pub uncorrected: u64,
}

/// One PCIe device's AER error counts (`/sys/bus/pci/devices/…/aer_dev_*`), with what it is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct PcieErrors {
    /// Its PCI address (`0000:3b:00.0`).
    pub address: String,
    /// What a person calls it: `GPU 0`, `nvme0`, `eth0`, or its PCI class where nothing better is
    /// known (`PCI bridge`).
    pub name: String,
    pub correctable: u64,
    pub nonfatal: u64,
    pub fatal: u64,
}

/// What a disk's SMART says, through smartmontools (`smartctl --json`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct DiskHealth {
    /// `nvme0`, `sda`.
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// `nvme`, `ata`, `scsi`, as smartctl says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The overall verdict: true passed, false failing; None where the disk has no SMART.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// Why there is no verdict ("no SMART on this virtual disk", "asleep: not woken to ask").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_celsius: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_on_hours: Option<u64>,
    // NVMe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage_used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_spare: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_spare_threshold: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_errors: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsafe_shutdowns: Option<u64>,
    /// NVMe's critical warning bits (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_warning: Option<u64>,
    // ATA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reallocated_sectors: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_sectors: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_uncorrectable: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc_errors: Option<u64>,
}

/// What the readers saw of the machine in one tick (SMART is read apart, every few minutes).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct HostHealth {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensors: Vec<Sensor>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory_controllers: Vec<MemoryController>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pcie: Vec<PcieErrors>,
    /// Each disk's SMART as last read (every `--smart-interval`, off the sampler's thread).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<DiskHealth>,
    /// Why SMART could not be read at all ("smartctl not found …"), when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smart_status: Option<String>,
    /// Filesystems forecast to fill, from their trend over the last hours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fill_forecasts: Vec<FillForecast>,
}

/// When a filesystem is forecast to be full at its recent rate of growth.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FillForecast {
    pub mount_point: String,
    pub hours_to_full: f64,
}

/// One thing wrong with the machine, and what to do about it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HealthItem {
    /// Which check found it (`disk_smart`, `fan_stopped`, `gpu_xid`, …).
    pub check: String,
    /// What it is about: `nvme0`, `GPU 0`, `fan2 (nct6775)`, `/data`.
    pub subject: String,
    pub severity: super::alerts::AlertSeverity,
    /// Since when it has been seen (this server's start at the earliest).
    pub since: chrono::DateTime<chrono::Utc>,
    /// The reading, in words ("SMART says FAILED · 1975 reallocated, 8 pending sectors").
    pub value: String,
    /// One sentence of what to do.
    pub action: String,
    /// Where its chart or its readings are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Everything wrong on the machine, worst first, and how many checks ran.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct HealthReport {
    /// How many things were checked (each disk, sensor, controller, device and GPU check).
    pub checks: usize,
    pub items: Vec<HealthItem>,
    /// What could not be checked and why ("SMART: smartctl not found …").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
    /// What the readers saw: sensors, memory controllers, PCIe devices, disks, forecasts.
    pub host: HostHealth,
}
