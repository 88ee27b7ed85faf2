//! The series vocabulary, defined once for both sides: the name of every value the store charts,
//! the history database keeps, alert rules watch and the page reads back, and the unit each is in.
//!
//! Host series are dotted (`cpu.usage`), per-thing series are slashed (`gpu/{key}/{metric}`,
//! `disk/{device}/read`, `process/{name}/cpu_percent`), and a rule's pattern puts `*` for the thing
//! (`gpu/*/temperature`).

use super::gpu::GpuMetrics;

pub const CPU_USAGE: &str = "cpu.usage";
pub const CPU_TEMPERATURE: &str = "cpu.temperature";
pub const CPU_LOAD: [&str; 3] = ["cpu.load1", "cpu.load5", "cpu.load15"];
pub const RAM_PERCENT: &str = "memory.ram";
pub const SWAP_PERCENT: &str = "memory.swap";
pub const RAM_USED_BYTES: &str = "memory.ram_used_bytes";
pub const SWAP_USED_BYTES: &str = "memory.swap_used_bytes";
pub const DISK_READ: &str = "disk.read";
pub const DISK_WRITE: &str = "disk.write";
pub const NET_RX: &str = "network.rx";
pub const NET_TX: &str = "network.tx";
/// Every host series the page's store keeps.
pub const ALL: [&str; 8] = [
    CPU_USAGE,
    CPU_TEMPERATURE,
    RAM_PERCENT,
    SWAP_PERCENT,
    DISK_READ,
    DISK_WRITE,
    NET_RX,
    NET_TX,
];

/// The metrics of each GPU's series (`gpu/{key}/{metric}`).
pub mod gpu_metric {
    pub const UTILIZATION: &str = "utilization";
    pub const MEMORY_UTILIZATION: &str = "memory_utilization";
    pub const TEMPERATURE: &str = "temperature";
    pub const POWER: &str = "power";
    pub const MEMORY_USED: &str = "memory_used";
    /// Joules since the driver loaded, kept with the history (the page works out a range's
    /// energy from its power: a counter this large loses its last digits on the way).
    pub const ENERGY: &str = "energy";
    /// The share of the time its tensor cores were busy (GPM): the chart's tensor lane.
    pub const TENSOR_ACTIVE: &str = "tensor_active_percent";
    /// Every GPU metric the page's store keeps.
    pub const ALL: [&str; 6] = [
        UTILIZATION,
        MEMORY_UTILIZATION,
        TEMPERATURE,
        POWER,
        MEMORY_USED,
        TENSOR_ACTIVE,
    ];
    /// Prefix of the clock event (throttle) reasons' series, one per reason: 1 while it holds.
    pub const CLOCK_EVENT: &str = "clock_event/";

    // Detail the history keeps beside what the page draws.
    pub const SM_CLOCK: &str = "sm_clock";
    pub const MEMORY_CLOCK: &str = "memory_clock";
    pub const FAN: &str = "fan";
    pub const PERFORMANCE_STATE: &str = "performance_state";
    pub const POWER_VIOLATION_SECONDS: &str = "power_violation_seconds";
    pub const THERMAL_VIOLATION_SECONDS: &str = "thermal_violation_seconds";
    pub const ECC_CORRECTED: &str = "ecc_corrected_volatile";
    pub const ECC_UNCORRECTED: &str = "ecc_uncorrected_volatile";
    pub const XID_ERRORS: &str = "xid_errors";
    pub const PCIE_RX: &str = "pcie_rx";
    pub const PCIE_TX: &str = "pcie_tx";
    /// 1 while its PCIe link runs on fewer lanes than it can, 0 while it runs on all of them.
    pub const PCIE_NARROW: &str = "pcie_narrow";
    pub const NVLINK_RX: &str = "nvlink_rx";
    pub const NVLINK_TX: &str = "nvlink_tx";
    pub const ENCODER: &str = "encoder";
    pub const DECODER: &str = "decoder";
    // The other profiling counters (GPM), in percent of the time.
    pub const GRAPHICS_ACTIVE: &str = "graphics_active_percent";
    pub const SM_ACTIVE: &str = "sm_active_percent";
    pub const SM_OCCUPANCY: &str = "sm_occupancy_percent";
    pub const DRAM_ACTIVE: &str = "dram_active_percent";
    pub const FP64_ACTIVE: &str = "fp64_active_percent";
    pub const FP32_ACTIVE: &str = "fp32_active_percent";
    pub const FP16_ACTIVE: &str = "fp16_active_percent";

    // Worked out each tick for the alert rules, never stored.
    /// 1 while the GPU answers, 0 once it is gone.
    pub const AVAILABLE: &str = "available";
    pub const MEMORY_PERCENT: &str = "memory_percent";
    /// 1 while the clocks are held down by the power limit.
    pub const POWER_CAPPED: &str = "power_capped";
    /// 1 while heat or a hardware signal slows the clocks.
    pub const SLOWDOWN: &str = "slowdown";
    pub const XID_LAST_HOUR: &str = "xid_last_hour";
    /// 1 while its processes hold its memory and it has stayed idle past the idle-held time.
    pub const IDLE_HELD: &str = "idle_held";
}

/// A GPU's kept metrics with their values (None where the card does not report one).
pub fn gpu_values(gpu: &GpuMetrics) -> [(&'static str, Option<f64>); 6] {
    [
        (
            gpu_metric::UTILIZATION,
            gpu.utilization_percent.map(f64::from),
        ),
        (
            gpu_metric::MEMORY_UTILIZATION,
            gpu.memory_utilization_percent.map(f64::from),
        ),
        (
            gpu_metric::TEMPERATURE,
            gpu.temperature_celsius.map(f64::from),
        ),
        (gpu_metric::POWER, gpu.power_watts),
        (
            gpu_metric::MEMORY_USED,
            gpu.memory_used_bytes.map(|b| b as f64),
        ),
        (
            gpu_metric::TENSOR_ACTIVE,
            gpu.profiling.as_ref().and_then(|p| p.tensor_active_percent),
        ),
    ]
}

/// A GPU's stable key: its UUID, or its index while the UUID is unknown.
pub fn gpu_key(gpu: &GpuMetrics) -> String {
    if gpu.uuid.is_empty() {
        format!("index-{}", gpu.index)
    } else {
        gpu.uuid.clone()
    }
}

/// The per-GPU series, keyed by the GPU's UUID so a GPU that disappears and returns keeps its own.
pub fn gpu_series(gpu_key: &str, metric: &str) -> String {
    format!("gpu/{gpu_key}/{metric}")
}

/// A rule's pattern for one metric of every GPU.
pub fn gpu_pattern(metric: &str) -> String {
    gpu_series("*", metric)
}

/// The series of one clock event reason of a GPU (`reason` as in `CLOCK_EVENT_REASONS`).
pub fn clock_event_series(gpu_key: &str, reason: &str) -> String {
    format!("gpu/{gpu_key}/{}{reason}", gpu_metric::CLOCK_EVENT)
}

pub fn core_series(core: usize) -> String {
    format!("cpu.core/{core}")
}

/// A disk device's rate, `direction` being `read` or `write`.
pub fn disk_series(device: &str, direction: &str) -> String {
    format!("disk/{device}/{direction}")
}

/// A network interface's rate, `direction` being `rx` or `tx`.
pub fn network_series(interface: &str, direction: &str) -> String {
    format!("network/{interface}/{direction}")
}

/// A filesystem's use as a percentage (worked out for the alert rules).
pub fn filesystem_used_series(mount_point: &str) -> String {
    format!("filesystem/{mount_point}/used_percent")
}

/// A disk's health as the alert rules watch it (`smart_failing` 1 or 0, `wear_percent`,
/// `pending_sectors`), worked out for them from its SMART.
pub fn disk_health_series(device: &str, measure: &str) -> String {
    format!("disk/{device}/{measure}")
}

/// A hwmon sensor's reading, °C or RPM (`sensor/platform_coretemp_0/temp1`), kept with the
/// history.
pub fn sensor_series(chip_id: &str, sensor: &str) -> String {
    format!("sensor/{chip_id}/{sensor}")
}

/// 1 while a fan (`{chip}/{sensor}`, `nct6775/fan2`) reads 0 RPM with the machine warm (worked
/// out for the alert rules).
pub fn fan_stopped_series(fan: &str) -> String {
    format!("fan/{fan}/stopped")
}

/// A memory controller's uncorrected errors (EDAC), for the alert rules.
pub fn memory_uncorrected_series(controller: &str) -> String {
    format!("memory/mc{controller}/uncorrected_errors")
}

/// A PCIe device's fatal AER errors, for the alert rules.
pub fn pcie_fatal_series(address: &str) -> String {
    format!("pcie/{address}/fatal_errors")
}

/// Hours until a filesystem is full at its recent growth (worked out for the alert rules).
pub fn filesystem_hours_to_full_series(mount_point: &str) -> String {
    format!("filesystem/{mount_point}/hours_to_full")
}

/// Seconds a channel is late for its promised heartbeat (worked out for the alert rules).
pub fn channel_lateness_series(channel: &str) -> String {
    format!("channel/{channel}/lateness")
}

const PROCESS_PREFIX: &str = "process/";
/// One process name's total over its processes: `cpu_percent` (of one core) or `memory_percent`.
pub fn process_series(name: &str, measure: &str) -> String {
    format!("{PROCESS_PREFIX}{name}/{measure}")
}

/// Whether a series (or a rule's pattern) is about processes.
pub fn is_process_series(series: &str) -> bool {
    series.starts_with(PROCESS_PREFIX)
}

/// What a series' values are measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Percent,
    Celsius,
    Bytes,
    /// 1 or 0: available or not.
    Availability,
    /// A count, a load, a clock or anything shown as the bare number.
    Plain,
}

/// The unit of a series, from its name as this vocabulary builds it.
pub fn unit_of(series: &str) -> Unit {
    let metric = series.rsplit('/').next().unwrap_or(series);
    if metric == gpu_metric::AVAILABLE {
        Unit::Availability
    } else if series == RAM_USED_BYTES || series == SWAP_USED_BYTES || metric.ends_with("_bytes") {
        Unit::Bytes
    } else if metric == gpu_metric::TEMPERATURE || series == CPU_TEMPERATURE {
        Unit::Celsius
    } else if metric.ends_with("percent")
        || [CPU_USAGE, RAM_PERCENT, SWAP_PERCENT].contains(&series)
        || metric == gpu_metric::UTILIZATION
        || metric == gpu_metric::MEMORY_UTILIZATION
    {
        Unit::Percent
    } else {
        Unit::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_built_one_way() {
        assert_eq!(gpu_series("GPU-a", gpu_metric::POWER), "gpu/GPU-a/power");
        assert_eq!(gpu_pattern(gpu_metric::TEMPERATURE), "gpu/*/temperature");
        assert_eq!(
            clock_event_series("GPU-a", "sw_power_cap"),
            "gpu/GPU-a/clock_event/sw_power_cap"
        );
        assert_eq!(core_series(3), "cpu.core/3");
        assert_eq!(
            filesystem_used_series("/data"),
            "filesystem//data/used_percent"
        );
        assert!(is_process_series(&process_series("python", "cpu_percent")));
        assert!(!is_process_series(CPU_USAGE));
    }

    #[test]
    fn units_follow_the_names() {
        assert_eq!(unit_of("gpu/GPU-a/available"), Unit::Availability);
        assert_eq!(unit_of(SWAP_USED_BYTES), Unit::Bytes);
        assert_eq!(unit_of("gpu/GPU-a/temperature"), Unit::Celsius);
        assert_eq!(unit_of(CPU_TEMPERATURE), Unit::Celsius);
        assert_eq!(unit_of(RAM_PERCENT), Unit::Percent);
        assert_eq!(unit_of(CPU_USAGE), Unit::Percent);
        assert_eq!(unit_of("gpu/GPU-a/memory_percent"), Unit::Percent);
        assert_eq!(unit_of("process/python/cpu_percent"), Unit::Percent);
        assert_eq!(unit_of("cpu.load1"), Unit::Plain);
    }
}
