//! What the fleet page asks Prometheus: one instant query per metric for every host at once, and
//! one range query per sparkline. The names are node_exporter's and dcgm-exporter's, so hosts that
//! run those instead of Vitals show up the same way.

use std::time::Duration;

/// The label each answer is grouped by: the target's `host` label when it has one, else its
/// `instance` without the port (node_exporter on :9100 and dcgm-exporter on :9400 are one host).
pub const HOST: &str = "fleet_host";
/// A target label naming the host's own Vitals dashboard.
pub const DASHBOARD_LABEL: &str = "vitals_url";

/// Wraps a vector expression so that each series carries `fleet_host`. label_replace leaves a
/// series alone when the regex does not match, so an empty `host` keeps the instance's name.
pub fn by_host(expr: &str) -> String {
    format!(
        r#"label_replace(label_replace({expr}, "{HOST}", "$1", "instance", "(.+?)(?::[0-9]+)?"), "{HOST}", "$1", "host", "(.+)")"#
    )
}

/// The host-level instant queries, each answered with one sample per host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostMetric {
    Cpu,
    Memory,
    Load,
    DiskRead,
    DiskWrite,
    NetworkReceive,
    NetworkTransmit,
}

impl HostMetric {
    pub const ALL: [HostMetric; 7] = [
        HostMetric::Cpu,
        HostMetric::Memory,
        HostMetric::Load,
        HostMetric::DiskRead,
        HostMetric::DiskWrite,
        HostMetric::NetworkReceive,
        HostMetric::NetworkTransmit,
    ];

    /// The PromQL, with counters turned into rates over `window`.
    pub fn query(self, window: Duration) -> String {
        let w = window.as_secs();
        let rate = |selector: &str| {
            format!(
                "sum by ({HOST}) ({})",
                by_host(&format!("rate({selector}[{w}s])"))
            )
        };
        match self {
            HostMetric::Cpu => cpu_percent(window),
            HostMetric::Memory => format!(
                "100 * (1 - sum by ({HOST}) ({}) / sum by ({HOST}) ({}))",
                by_host("node_memory_MemAvailable_bytes"),
                by_host("node_memory_MemTotal_bytes")
            ),
            HostMetric::Load => format!("max by ({HOST}) ({})", by_host("node_load1")),
            HostMetric::DiskRead => rate("node_disk_read_bytes_total"),
            HostMetric::DiskWrite => rate("node_disk_written_bytes_total"),
            HostMetric::NetworkReceive => rate(r#"node_network_receive_bytes_total{device!="lo"}"#),
            HostMetric::NetworkTransmit => {
                rate(r#"node_network_transmit_bytes_total{device!="lo"}"#)
            }
        }
    }
}

/// CPU busy %: what the idle counters did not count, averaged over the host's CPUs.
pub fn cpu_percent(window: Duration) -> String {
    format!(
        r#"100 * (1 - avg by ({HOST}) ({}))"#,
        by_host(&format!(
            r#"rate(node_cpu_seconds_total{{mode="idle"}}[{}s])"#,
            window.as_secs()
        ))
    )
}

/// The per-GPU gauges, in dcgm-exporter's names and units (MiB, °C, W).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuMetric {
    Utilization,
    MemoryUsed,
    MemoryFree,
    Temperature,
    Power,
    PowerLimit,
}

impl GpuMetric {
    pub const ALL: [GpuMetric; 6] = [
        GpuMetric::Utilization,
        GpuMetric::MemoryUsed,
        GpuMetric::MemoryFree,
        GpuMetric::Temperature,
        GpuMetric::Power,
        GpuMetric::PowerLimit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GpuMetric::Utilization => "DCGM_FI_DEV_GPU_UTIL",
            GpuMetric::MemoryUsed => "DCGM_FI_DEV_FB_USED",
            GpuMetric::MemoryFree => "DCGM_FI_DEV_FB_FREE",
            GpuMetric::Temperature => "DCGM_FI_DEV_GPU_TEMP",
            GpuMetric::Power => "DCGM_FI_DEV_POWER_USAGE",
            GpuMetric::PowerLimit => "DCGM_FI_DEV_POWER_MGMT_LIMIT",
        }
    }

    /// Only the labels the page shows travel: a fleet of 4000 GPUs answers in a fraction of
    /// the bytes (and of the server's memory) that all of dcgm-exporter's labels take.
    pub fn query(self) -> String {
        format!("max by ({HOST}, gpu, modelName) ({})", by_host(self.name()))
    }
}

/// Every scrape target's `up`, with its labels (job, instance, and the ones the config gave it).
pub fn up() -> String {
    by_host("up")
}

/// Whether any of a host's targets was up: the state line the "since" is read from.
pub fn host_up() -> String {
    format!("max by ({HOST}) ({})", by_host("up"))
}

/// The mean utilization of a host's GPUs: its GPU sparkline.
pub fn gpu_utilization_mean() -> String {
    format!(
        "avg by ({HOST}) ({})",
        by_host(GpuMetric::Utilization.name())
    )
}

/// Firing alerts: Prometheus' own rules, and the rules of each Vitals.
pub fn prometheus_alerts() -> String {
    by_host(r#"ALERTS{alertstate="firing"}"#)
}

pub fn vitals_alerts() -> String {
    by_host("vitals_alert_firing")
}

/// The per-person counters each Vitals exports, and what the fleet's table calls them.
pub const USER_COUNTERS: [&str; 4] = [
    "vitals_gpu_user_held_seconds_total",
    "vitals_gpu_user_used_seconds_total",
    "vitals_gpu_user_idle_held_seconds_total",
    "vitals_gpu_user_energy_joules_total",
];

/// One person counter's growth over the last week, summed over the hosts.
pub fn user_totals(counter: &str) -> String {
    format!("sum by (user) (increase({counter}[7d]))")
}

/// On how many hosts each person held a GPU in the last week.
pub fn user_hosts() -> String {
    format!(
        "count by (user) (sum by (user, {HOST}) ({}) > 0)",
        by_host(&format!("increase({}[7d])", USER_COUNTERS[0]))
    )
}
