//! node_exporter's host families, with its names, labels and units.

use super::{counter, family, gauge};
use crate::server::collect::Snapshot;
use prometheus_client::encoding::DescriptorEncoder;

pub(super) fn encode_host(
    encoder: &mut DescriptorEncoder,
    snapshot: &Snapshot,
) -> std::fmt::Result {
    let cpu = &snapshot.cpu;
    // node_exporter's counter, named without `_total`: the encoder appends it.
    family(
        encoder,
        "node_cpu_seconds",
        "Seconds the CPUs spent in each mode.",
        snapshot.cpu_seconds_by_mode.iter().flat_map(|m| {
            [
                ("user", m.user),
                ("nice", m.nice),
                ("system", m.system),
                ("idle", m.idle),
                ("iowait", m.iowait),
                ("irq", m.irq),
                ("softirq", m.softirq),
                ("steal", m.steal),
            ]
            .map(|(mode, seconds)| {
                (
                    vec![("cpu", m.cpu.to_string()), ("mode", mode.to_owned())],
                    counter(seconds),
                )
            })
        }),
    )?;
    for (name, value) in [
        ("node_load1", cpu.load_average.one),
        ("node_load5", cpu.load_average.five),
        ("node_load15", cpu.load_average.fifteen),
    ] {
        family(encoder, name, "Load average.", [(vec![], gauge(value))])?;
    }
    let memory = &snapshot.memory;
    for (name, help, bytes) in [
        (
            "node_memory_MemTotal_bytes",
            "Memory information field MemTotal_bytes.",
            memory.ram_total_bytes,
        ),
        (
            "node_memory_MemAvailable_bytes",
            "Memory information field MemAvailable_bytes.",
            memory.ram_available_bytes,
        ),
        (
            "node_memory_SwapTotal_bytes",
            "Memory information field SwapTotal_bytes.",
            memory.swap_total_bytes,
        ),
        (
            "node_memory_SwapFree_bytes",
            "Memory information field SwapFree_bytes.",
            memory
                .swap_total_bytes
                .saturating_sub(memory.swap_used_bytes),
        ),
    ] {
        family(encoder, name, help, [(vec![], gauge(bytes as f64))])?;
    }
    let devices = &snapshot.disk.devices;
    let by_device = |name: &str| vec![("device", name.to_owned())];
    family(
        encoder,
        "node_disk_read_bytes",
        "The total number of bytes read successfully.",
        devices
            .iter()
            .map(|d| (by_device(&d.name), counter(d.read_bytes_total as f64))),
    )?;
    family(
        encoder,
        "node_disk_written_bytes",
        "The total number of bytes written successfully.",
        devices
            .iter()
            .map(|d| (by_device(&d.name), counter(d.written_bytes_total as f64))),
    )?;
    let interfaces = &snapshot.network.interfaces;
    family(
        encoder,
        "node_network_receive_bytes",
        "Network device statistic receive_bytes.",
        interfaces
            .iter()
            .map(|i| (by_device(&i.name), counter(i.rx_bytes_total as f64))),
    )?;
    family(
        encoder,
        "node_network_transmit_bytes",
        "Network device statistic transmit_bytes.",
        interfaces
            .iter()
            .map(|i| (by_device(&i.name), counter(i.tx_bytes_total as f64))),
    )?;
    let filesystems = &snapshot.disk.filesystems;
    let fs_labels = |f: &crate::wire::Filesystem| {
        vec![
            ("device", f.device.clone()),
            ("fstype", f.fs_type.clone()),
            ("mountpoint", f.mount_point.clone()),
        ]
    };
    family(
        encoder,
        "node_filesystem_size_bytes",
        "Filesystem size in bytes.",
        filesystems
            .iter()
            .map(|f| (fs_labels(f), gauge(f.total_bytes as f64))),
    )?;
    family(
        encoder,
        "node_filesystem_avail_bytes",
        "Filesystem space available to non-root users in bytes.",
        filesystems
            .iter()
            .map(|f| (fs_labels(f), gauge(f.available_bytes as f64))),
    )
}
