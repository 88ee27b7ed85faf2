//! Which series a tick is stored as: every number the dashboard draws, under the names the
//! browser store uses, plus the per-core, per-device and per-GPU detail behind them.

use crate::server::collect::Snapshot;
use crate::server::history::NamedValues;
use crate::wire::series::{
    self, clock_event_series, core_series, disk_series, gpu_key, gpu_metric, gpu_series,
    gpu_values, network_series,
};
use crate::wire::{CLOCK_EVENT_REASONS, GpuMetrics, GpuProfiling, LoadAverage};
use chrono::DateTime;
use std::collections::HashMap;

/// One tick as (series name, value) pairs; fields a source did not provide are left out.
pub fn of_snapshot(snapshot: &Snapshot) -> NamedValues {
    let mut values: NamedValues = Vec::with_capacity(32 + snapshot.cpu.core_count);
    let mut put = |name: &str, value: f64| {
        if value.is_finite() {
            values.push((name.to_owned(), value));
        }
    };
    let cpu = &snapshot.cpu;
    put(series::CPU_USAGE, cpu.usage_percent as f64);
    if let Some(t) = cpu.temperature_celsius {
        put(series::CPU_TEMPERATURE, t as f64);
    }
    let load = &cpu.load_average;
    for (name, value) in series::CPU_LOAD
        .into_iter()
        .zip([load.one, load.five, load.fifteen])
    {
        put(name, value);
    }
    for (core, percent) in cpu.per_core_percent.iter().enumerate() {
        put(&core_series(core), *percent as f64);
    }
    let memory = &snapshot.memory;
    put(series::RAM_PERCENT, memory.ram_percent as f64);
    put(series::SWAP_PERCENT, memory.swap_percent as f64);
    put(series::RAM_USED_BYTES, memory.ram_used_bytes as f64);
    put(series::SWAP_USED_BYTES, memory.swap_used_bytes as f64);
    let disk = &snapshot.disk;
    put(series::DISK_READ, disk.read_bytes_per_sec);
    put(series::DISK_WRITE, disk.write_bytes_per_sec);
    for device in &disk.devices {
        put(
            &disk_series(&device.name, "read"),
            device.read_bytes_per_sec,
        );
        put(
            &disk_series(&device.name, "write"),
            device.write_bytes_per_sec,
        );
    }
    let network = &snapshot.network;
    put(series::NET_RX, network.rx_bytes_per_sec);
    put(series::NET_TX, network.tx_bytes_per_sec);
    for interface in network.interfaces.iter().filter(|i| !i.loopback) {
        put(
            &network_series(&interface.name, "rx"),
            interface.rx_bytes_per_sec,
        );
        put(
            &network_series(&interface.name, "tx"),
            interface.tx_bytes_per_sec,
        );
    }
    for sensor in &snapshot.health.sensors {
        put(
            &series::sensor_series(&sensor.id, &sensor.sensor),
            sensor.value,
        );
    }
    for gpu in snapshot.gpus.iter().filter(|g| g.available) {
        let key = gpu_key(gpu);
        let fields = gpu_values(gpu).into_iter().chain(gpu_detail(gpu));
        for (metric, value) in fields {
            if let Some(value) = value {
                put(&gpu_series(&key, metric), value);
            }
        }
        // Every reason, 1 or 0, so a rollup's average is the share of the time it held.
        if let Some(reasons) = gpu.clocks_throttle_reasons {
            for (bit, reason, _) in CLOCK_EVENT_REASONS {
                let held = if reasons & bit != 0 { 1.0 } else { 0.0 };
                put(&clock_event_series(&key, reason), held);
            }
        }
    }
    values
}

/// GPU detail stored beside what the dashboard draws, for alerts, `/metrics`-like questions
/// over time and the record: clocks, fan, state, violations, errors, links, engines.
fn gpu_detail(gpu: &GpuMetrics) -> [(&'static str, Option<f64>); 24] {
    let ecc = gpu.ecc.unwrap_or_default();
    let profiled = |read: fn(&GpuProfiling) -> Option<f64>| gpu.profiling.as_ref().and_then(read);
    let pcie = gpu.pcie.unwrap_or_default();
    let nvlink = gpu.nvlink.unwrap_or_default();
    let seconds = |ns: Option<u64>| ns.map(|ns| ns as f64 / 1e9);
    [
        (gpu_metric::SM_CLOCK, gpu.sm_clock_mhz.map(f64::from)),
        (
            gpu_metric::MEMORY_CLOCK,
            gpu.memory_clock_mhz.map(f64::from),
        ),
        (gpu_metric::FAN, gpu.fan_percent.map(f64::from)),
        (gpu_metric::ENERGY, gpu.energy_joules),
        (
            gpu_metric::PERFORMANCE_STATE,
            gpu.performance_state.map(f64::from),
        ),
        (
            gpu_metric::POWER_VIOLATION_SECONDS,
            seconds(gpu.power_violation_ns),
        ),
        (
            gpu_metric::THERMAL_VIOLATION_SECONDS,
            seconds(gpu.thermal_violation_ns),
        ),
        (
            gpu_metric::ECC_CORRECTED,
            ecc.corrected_volatile.map(|n| n as f64),
        ),
        (
            gpu_metric::ECC_UNCORRECTED,
            ecc.uncorrected_volatile.map(|n| n as f64),
        ),
        (gpu_metric::XID_ERRORS, gpu.xid_count.map(|n| n as f64)),
        (gpu_metric::PCIE_RX, pcie.rx_bytes_per_second),
        (gpu_metric::PCIE_TX, pcie.tx_bytes_per_second),
        (
            gpu_metric::PCIE_NARROW,
            (pcie.width.is_some() && pcie.max_width.is_some())
                .then(|| if pcie.narrowed() { 1.0 } else { 0.0 }),
        ),
        (gpu_metric::NVLINK_RX, nvlink.rx_bytes_per_second),
        (gpu_metric::NVLINK_TX, nvlink.tx_bytes_per_second),
        (gpu_metric::ENCODER, gpu.encoder_percent.map(f64::from)),
        (gpu_metric::DECODER, gpu.decoder_percent.map(f64::from)),
        (
            gpu_metric::GRAPHICS_ACTIVE,
            profiled(|p| p.graphics_active_percent),
        ),
        (gpu_metric::SM_ACTIVE, profiled(|p| p.sm_active_percent)),
        (
            gpu_metric::SM_OCCUPANCY,
            profiled(|p| p.sm_occupancy_percent),
        ),
        (gpu_metric::DRAM_ACTIVE, profiled(|p| p.dram_active_percent)),
        (gpu_metric::FP64_ACTIVE, profiled(|p| p.fp64_active_percent)),
        (gpu_metric::FP32_ACTIVE, profiled(|p| p.fp32_active_percent)),
        (gpu_metric::FP16_ACTIVE, profiled(|p| p.fp16_active_percent)),
    ]
}

/// A saved tick as a snapshot again, the inverse of `of_snapshot`: what was stored comes from
/// `values`; what never is (the CPU model, memory sizes, device and GPU names) from `template`,
/// the machine as it is now. Devices and GPUs with no value in the tick are left out, and
/// cumulative counters and GPU processes, which are not stored, read zero and none.
pub fn snapshot_of(template: &Snapshot, at_ms: i64, values: &NamedValues) -> Snapshot {
    let by_name: HashMap<&str, f64> = values.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let get = |name: &str| by_name.get(name).copied();
    let mut snapshot = template.clone();
    snapshot.timestamp = DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    snapshot.cpu_seconds_by_mode.clear();

    let cpu = &mut snapshot.cpu;
    cpu.usage_percent = get(series::CPU_USAGE).unwrap_or(0.0) as f32;
    cpu.temperature_celsius = get(series::CPU_TEMPERATURE).map(|t| t as f32);
    let [one, five, fifteen] = series::CPU_LOAD.map(|name| get(name).unwrap_or(0.0));
    cpu.load_average = LoadAverage { one, five, fifteen };
    cpu.per_core_percent = (0..)
        .map_while(|core| get(&core_series(core)).map(|p| p as f32))
        .collect();
    cpu.per_core_mhz.clear();

    let memory = &mut snapshot.memory;
    memory.ram_percent = get(series::RAM_PERCENT).unwrap_or(0.0) as f32;
    memory.swap_percent = get(series::SWAP_PERCENT).unwrap_or(0.0) as f32;
    memory.ram_used_bytes = get(series::RAM_USED_BYTES).unwrap_or(0.0) as u64;
    memory.swap_used_bytes = get(series::SWAP_USED_BYTES).unwrap_or(0.0) as u64;
    memory.ram_available_bytes = memory.ram_total_bytes.saturating_sub(memory.ram_used_bytes);

    let disk = &mut snapshot.disk;
    disk.read_bytes_per_sec = get(series::DISK_READ).unwrap_or(0.0);
    disk.write_bytes_per_sec = get(series::DISK_WRITE).unwrap_or(0.0);
    // A device's two rates, when the tick has either (0 for the one it lacks).
    let pair = |first: String, second: String| {
        let (first, second) = (get(&first), get(&second));
        (first.is_some() || second.is_some()).then(|| (first.unwrap_or(0.0), second.unwrap_or(0.0)))
    };
    disk.devices.retain_mut(|device| {
        let name = &device.name;
        let Some(rates) = pair(disk_series(name, "read"), disk_series(name, "write")) else {
            return false;
        };
        (device.read_bytes_per_sec, device.write_bytes_per_sec) = rates;
        (device.read_bytes_total, device.written_bytes_total) = (0, 0);
        true
    });

    let network = &mut snapshot.network;
    network.rx_bytes_per_sec = get(series::NET_RX).unwrap_or(0.0);
    network.tx_bytes_per_sec = get(series::NET_TX).unwrap_or(0.0);
    network.interfaces.retain_mut(|interface| {
        let name = &interface.name;
        let Some(rates) = pair(network_series(name, "rx"), network_series(name, "tx")) else {
            return false;
        };
        (interface.rx_bytes_per_sec, interface.tx_bytes_per_sec) = rates;
        (interface.rx_bytes_total, interface.tx_bytes_total) = (0, 0);
        true
    });

    snapshot.gpus.retain_mut(|gpu| {
        let key = gpu_key(gpu);
        let metric = |name: &str| get(&gpu_series(&key, name));
        gpu.utilization_percent = metric(gpu_metric::UTILIZATION).map(|v| v as u32);
        gpu.memory_utilization_percent = metric(gpu_metric::MEMORY_UTILIZATION).map(|v| v as u32);
        gpu.temperature_celsius = metric(gpu_metric::TEMPERATURE).map(|v| v as u32);
        gpu.power_watts = metric(gpu_metric::POWER);
        gpu.memory_used_bytes = metric(gpu_metric::MEMORY_USED).map(|v| v as u64);
        gpu.sm_clock_mhz = metric(gpu_metric::SM_CLOCK).map(|v| v as u32);
        gpu.memory_clock_mhz = metric(gpu_metric::MEMORY_CLOCK).map(|v| v as u32);
        gpu.fan_percent = metric(gpu_metric::FAN).map(|v| v as u32);
        gpu.energy_joules = metric(gpu_metric::ENERGY);
        gpu.clocks_throttle_reasons = CLOCK_EVENT_REASONS
            .iter()
            .map(|(bit, reason, _)| Some((*bit, get(&clock_event_series(&key, reason))?)))
            .try_fold(0, |reasons, held| {
                held.map(|(bit, value)| if value > 0.0 { reasons | bit } else { reasons })
            });
        gpu.processes.clear();
        (gpu.available, gpu.error) = (true, None);
        gpu.utilization_percent.is_some() || gpu.memory_used_bytes.is_some()
    });
    snapshot
}

/// Whether a series name matches a filter of names and `prefix*` patterns (none: every series).
pub fn selected(name: &str, filter: &[String]) -> bool {
    filter.is_empty() || filter.iter().any(|pattern| glob_matches(pattern, name))
}

/// Whether `name` matches `pattern`, where each `*` stands for any run of characters
/// (`gpu/*/clock_event/*`).
fn glob_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let mut parts = parts.peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return rest.len() >= part.len() && rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{DiskDevice, GpuMetrics};

    #[test]
    fn a_tick_becomes_every_number_the_dashboard_draws_and_its_detail() {
        let mut snapshot = Snapshot::default();
        snapshot.cpu.usage_percent = 12.5;
        snapshot.cpu.per_core_percent = vec![10.0, 15.0];
        snapshot.disk.devices = vec![DiskDevice {
            name: "nvme0n1".into(),
            read_bytes_per_sec: 5.0,
            ..Default::default()
        }];
        snapshot.gpus = vec![GpuMetrics {
            index: 0,
            uuid: "GPU-a".into(),
            available: true,
            utilization_percent: Some(80),
            profiling: Some(GpuProfiling {
                tensor_active_percent: Some(63.0),
                dram_active_percent: Some(41.0),
                ..Default::default()
            }),
            ..Default::default()
        }];
        snapshot.health.sensors = vec![crate::wire::Sensor {
            id: "platform_coretemp_0".into(),
            sensor: "temp1".into(),
            value: 61.0,
            ..Default::default()
        }];
        let values = of_snapshot(&snapshot);
        let get = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(get("sensor/platform_coretemp_0/temp1"), Some(61.0));
        assert_eq!(get("cpu.usage"), Some(12.5));
        assert_eq!(get("cpu.core/1"), Some(15.0));
        assert_eq!(get("disk/nvme0n1/read"), Some(5.0));
        assert_eq!(get("gpu/GPU-a/utilization"), Some(80.0));
        assert_eq!(get("gpu/GPU-a/power"), None, "not reported: not stored");
        // The profiling counters (GPM), the tensor share with what the page draws.
        assert_eq!(get("gpu/GPU-a/tensor_active_percent"), Some(63.0));
        assert_eq!(get("gpu/GPU-a/dram_active_percent"), Some(41.0));
        assert_eq!(get("gpu/GPU-a/sm_occupancy_percent"), None);
        assert!(selected("gpu/GPU-a/power", &["gpu/*".into()]));
        assert!(!selected("cpu.usage", &["gpu/*".into()]));
        let drawn = ["gpu/*/power".into(), "gpu/*/clock_event/*".into()];
        assert!(selected("gpu/GPU-a/power", &drawn));
        assert!(!selected("gpu/GPU-a/power_violation_seconds", &drawn));
        assert!(selected("gpu/GPU-a/clock_event/power_cap", &drawn));
        assert!(selected("cpu.usage", &["cpu.usage".into()]));
        assert!(!selected("cpu.usage2", &["cpu.usage".into()]));
    }

    #[test]
    fn a_saved_tick_becomes_a_snapshot_that_saves_the_same() {
        let mut then = Snapshot::default();
        then.cpu.usage_percent = 42.0;
        then.cpu.per_core_percent = vec![40.0, 44.0];
        then.cpu.load_average.five = 1.5;
        then.memory.ram_used_bytes = 3 << 30;
        then.memory.ram_percent = 25.0;
        then.disk.devices = vec![DiskDevice {
            name: "sda".into(),
            write_bytes_per_sec: 7e6,
            ..Default::default()
        }];
        let gpu = GpuMetrics {
            index: 0,
            uuid: "GPU-a".into(),
            name: "Fake H100".into(),
            available: true,
            utilization_percent: Some(80),
            power_watts: Some(300.5),
            sm_clock_mhz: Some(1_500),
            ..Default::default()
        };
        then.gpus = vec![gpu.clone()];
        let saved = of_snapshot(&then);

        // Now: the same machine, with a second disk and GPU it did not have then.
        let mut now = then.clone();
        now.memory.ram_total_bytes = 12 << 30;
        now.disk.devices.push(DiskDevice {
            name: "sdb".into(),
            ..Default::default()
        });
        now.gpus.push(GpuMetrics {
            index: 1,
            uuid: "GPU-b".into(),
            ..gpu
        });
        let at = 1_767_225_600_000;
        let rebuilt = snapshot_of(&now, at, &saved);
        assert_eq!(rebuilt.timestamp.timestamp_millis(), at);
        assert_eq!(rebuilt.cpu.per_core_percent, [40.0, 44.0]);
        assert_eq!(rebuilt.memory.ram_available_bytes, 9 << 30);
        assert_eq!(rebuilt.disk.devices.len(), 1, "sdb was not there then");
        assert_eq!(rebuilt.gpus.len(), 1, "nor was GPU-b");
        assert_eq!(rebuilt.gpus[0].name, "Fake H100", "names come from now");
        let mut resaved = of_snapshot(&rebuilt);
        let mut saved = saved;
        resaved.sort_by(|a, b| a.0.cmp(&b.0));
        saved.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(resaved, saved);
    }
}
