//! Which series a tick is stored as: every number the dashboard draws, under the names the
//! browser store uses, plus the per-core, per-device and per-GPU detail behind them.

use super::NamedValues;
use crate::app::store::{gpu_key, gpu_metric, gpu_series, gpu_values, series};
use crate::server::collect::Snapshot;

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
    put("cpu.load1", cpu.load_average.one);
    put("cpu.load5", cpu.load_average.five);
    put("cpu.load15", cpu.load_average.fifteen);
    for (core, percent) in cpu.per_core_percent.iter().enumerate() {
        put(&format!("cpu.core/{core}"), *percent as f64);
    }
    let memory = &snapshot.memory;
    put(series::RAM_PERCENT, memory.ram_percent as f64);
    put(series::SWAP_PERCENT, memory.swap_percent as f64);
    put("memory.ram_used_bytes", memory.ram_used_bytes as f64);
    put("memory.swap_used_bytes", memory.swap_used_bytes as f64);
    let disk = &snapshot.disk;
    put(series::DISK_READ, disk.read_bytes_per_sec);
    put(series::DISK_WRITE, disk.write_bytes_per_sec);
    for device in &disk.devices {
        put(
            &format!("disk/{}/read", device.name),
            device.read_bytes_per_sec,
        );
        put(
            &format!("disk/{}/write", device.name),
            device.write_bytes_per_sec,
        );
    }
    let network = &snapshot.network;
    put(series::NET_RX, network.rx_bytes_per_sec);
    put(series::NET_TX, network.tx_bytes_per_sec);
    for interface in network.interfaces.iter().filter(|i| !i.loopback) {
        put(
            &format!("network/{}/rx", interface.name),
            interface.rx_bytes_per_sec,
        );
        put(
            &format!("network/{}/tx", interface.name),
            interface.tx_bytes_per_sec,
        );
    }
    for gpu in snapshot.gpus.iter().filter(|g| g.available) {
        let key = gpu_key(gpu);
        let detail = [
            ("sm_clock", gpu.sm_clock_mhz.map(f64::from)),
            ("memory_clock", gpu.memory_clock_mhz.map(f64::from)),
            ("fan", gpu.fan_percent.map(f64::from)),
        ];
        let fields = gpu_values(gpu).into_iter().chain(detail);
        for (metric, value) in fields {
            if let Some(value) = value {
                put(&gpu_series(&key, metric), value);
            }
        }
    }
    values
}

/// Whether the browser store keeps this series (the ones a page starts with after a restart).
pub fn drawn(name: &str) -> bool {
    series::ALL.contains(&name)
        || name
            .strip_prefix("gpu/")
            .and_then(|rest| rest.rsplit_once('/'))
            .is_some_and(|(_, metric)| gpu_metric::ALL.contains(&metric))
}

/// Whether a series name matches a filter of names and `prefix*` patterns (none: every series).
pub fn selected(name: &str, filter: &[String]) -> bool {
    filter.is_empty()
        || filter.iter().any(|f| match f.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => f == name,
        })
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
            ..Default::default()
        }];
        let values = of_snapshot(&snapshot);
        let get = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(get("cpu.usage"), Some(12.5));
        assert_eq!(get("cpu.core/1"), Some(15.0));
        assert_eq!(get("disk/nvme0n1/read"), Some(5.0));
        assert_eq!(get("gpu/GPU-a/utilization"), Some(80.0));
        assert_eq!(get("gpu/GPU-a/power"), None, "not reported: not stored");
        assert!(drawn("gpu/GPU-a/utilization") && drawn("memory.ram"));
        assert!(!drawn("cpu.core/1") && !drawn("gpu/GPU-a/sm_clock"));
        assert!(selected("gpu/GPU-a/power", &["gpu/*".into()]));
        assert!(!selected("cpu.usage", &["gpu/*".into()]));
    }
}
