//! node_exporter's CPU families from the sampler's snapshot: seconds per mode and core, and the
//! load averages. The families read straight from /proc and /sys at scrape time are node/'s.

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
    Ok(())
}
