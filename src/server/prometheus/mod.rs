//! `GET /metrics`: the latest snapshot in Prometheus' text format (OpenMetrics when asked), under the
//! names node_exporter and dcgm-exporter users already have dashboards for.

use crate::server::alerts::Alerts;
use crate::server::collect::Snapshot;
use crate::server::collect::gpu::GpuCost;
use crate::server::http::error::HttpError;
use crate::server::jobs::book::JobBook;
use crate::server::pipeline::latest::Latest;
use crate::server::pipeline::process_watch::ProcessWatch;
use crate::wire::{Alert, AlertState, CLOCK_EVENT_REASONS, GpuMetrics};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const BYTES_PER_MIB: f64 = 1024.0 * 1024.0;

/// Reads the sampler's latest snapshot on every scrape: a scrape never triggers a collection.
#[derive(Debug)]
struct SnapshotCollector {
    latest: Latest,
    hostname: Arc<str>,
}

/// What a scrape reads from: the handles of everything /metrics reports.
pub struct MetricSources {
    /// The sampler's latest snapshot: host and GPU families.
    pub latest: Latest,
    /// The machine's name: the `Hostname` label of the DCGM families, as dcgm-exporter sets it.
    pub hostname: Arc<str>,
    /// The process table's scans: their cost.
    pub processes: Arc<ProcessWatch>,
    /// What each NVML query costs a tick.
    pub gpu_cost: Arc<GpuCost>,
    /// Published jobs: running ones and their fields.
    pub jobs: Arc<JobBook>,
    /// Firing alerts.
    pub alerts: Arc<Alerts>,
}

/// The registry every scrape encodes; built once at start.
pub fn registry(sources: MetricSources) -> Arc<Registry> {
    let MetricSources {
        latest,
        hostname,
        processes,
        gpu_cost,
        jobs,
        alerts,
    } = sources;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(AlertCollector(alerts)));
    registry.register_collector(Box::new(JobCollector {
        jobs,
        latest: latest.clone(),
    }));
    registry.register_collector(Box::new(SnapshotCollector { latest, hostname }));
    registry.register_collector(Box::new(ProcessScanCollector(processes)));
    registry.register_collector(Box::new(GpuReadCollector(gpu_cost)));
    Arc::new(registry)
}

/// Each firing alert as `vitals_alert_firing 1`, so a fleet page (or Grafana) sees them.
struct AlertCollector(Arc<Alerts>);

impl std::fmt::Debug for AlertCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertCollector")
    }
}

impl Collector for AlertCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let firing: Vec<Alert> = self
            .0
            .active()
            .into_iter()
            .filter(|alert| alert.state == AlertState::Firing)
            .collect();
        family(
            &mut encoder,
            "vitals_alert_firing",
            "A Vitals alert rule that is firing (one series per alert).",
            firing.iter().map(|alert| {
                let labels: Labels = vec![
                    ("rule", alert.rule.clone()),
                    ("severity", alert.severity.name().to_owned()),
                    ("subject", alert.instance.clone()),
                    ("summary", alert.summary.clone()),
                ];
                (labels, gauge(1.0))
            }),
        )
    }
}

/// Jobs exported at most: the running ones first, then the latest ended.
const MAX_EXPORTED_JOBS: usize = 32;

/// Each job as an info series with its status, and its numeric fields as gauges.
#[derive(Debug)]
struct JobCollector {
    jobs: Arc<JobBook>,
    latest: Latest,
}

impl Collector for JobCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let gpus = self
            .latest
            .get()
            .map(|s| s.gpus.clone())
            .unwrap_or_default();
        let list = self.jobs.list(chrono::Utc::now(), &gpus);
        let jobs = &list.jobs[..list.jobs.len().min(MAX_EXPORTED_JOBS)];
        family(
            &mut encoder,
            "vitals_job_info",
            "A job (a jobs/ channel) and its status: running, stalled, ok or failed.",
            jobs.iter().map(|job| {
                let status = serde_json::to_value(job.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let labels = vec![
                    ("job", job.channel.clone()),
                    ("name", job.name.clone().unwrap_or_default()),
                    ("status", status),
                ];
                (labels, gauge(1.0))
            }),
        )?;
        family(
            &mut encoder,
            "vitals_job_field",
            "The last value of each numeric field a job's metrics sent.",
            jobs.iter().flat_map(|job| {
                job.fields.iter().map(|(field, value)| {
                    let labels = vec![("job", job.channel.clone()), ("field", field.clone())];
                    (labels, gauge(*value))
                })
            }),
        )
    }
}

/// What reading the GPUs has cost, so the price of each tick's NVML calls is visible.
#[derive(Debug)]
struct GpuReadCollector(Arc<GpuCost>);

impl Collector for GpuReadCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        use std::sync::atomic::Ordering::Relaxed;
        family(
            &mut encoder,
            "vitals_gpu_reads",
            "Ticks that read the GPUs since start.",
            [(Labels::new(), counter(self.0.reads.load(Relaxed) as f64))],
        )?;
        let seconds = self.0.nanos.load(Relaxed) as f64 / 1e9;
        family(
            &mut encoder,
            "vitals_gpu_read_seconds",
            "Wall time spent reading the GPUs through NVML since start.",
            [(Labels::new(), counter(seconds))],
        )?;
        family(
            &mut encoder,
            "vitals_gpu_query_seconds",
            "Wall time of each NVML query since start, summed over the GPUs.",
            self.0.query_nanos().into_iter().map(|(query, nanos)| {
                (
                    vec![("query", query.to_owned())],
                    counter(nanos as f64 / 1e9),
                )
            }),
        )
    }
}

/// What the process scans have cost: they run only while someone watches, and this shows it.
#[derive(Debug)]
struct ProcessScanCollector(Arc<ProcessWatch>);

impl Collector for ProcessScanCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let (scans, spent) = self.0.cost();
        family(
            &mut encoder,
            "vitals_process_scans",
            "Process table scans done since start (they run only while someone watches).",
            [(Labels::new(), counter(scans as f64))],
        )?;
        family(
            &mut encoder,
            "vitals_process_scan_seconds",
            "Time spent scanning processes since start.",
            [(Labels::new(), counter(spent.as_secs_f64()))],
        )
    }
}

pub async fn metrics(State(registry): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    let mut body = String::new();
    let (encoded, content_type) = if openmetrics {
        (
            prometheus_client::encoding::text::encode(&mut body, &registry),
            OPENMETRICS,
        )
    } else {
        (
            prometheus_client::encoding::prometheus_text::encode(&mut body, &registry),
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )
    };
    match encoded {
        Ok(()) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(_) => HttpError::Internal("could not encode the metrics".into()).into_response(),
    }
}

type Labels = Vec<(&'static str, String)>;

/// Writes one metric family: a name, its help, and one sample per label set.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, M)>,
) -> std::fmt::Result {
    let mut samples = samples.into_iter().peekable();
    let Some((_, first)) = samples.peek() else {
        return Ok(());
    };
    let metric_type = first.metric_type();
    let mut metric_encoder = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (labels, metric) in samples {
        metric.encode(metric_encoder.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(value: f64) -> ConstGauge<f64> {
    ConstGauge::new(value)
}

fn counter(value: f64) -> ConstCounter<f64> {
    ConstCounter::new(value)
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        family(
            &mut encoder,
            "vitals_build_info",
            "Vitals build information.",
            [(
                vec![("version", env!("CARGO_PKG_VERSION").to_owned())],
                gauge(1.0),
            )],
        )?;
        let Some(snapshot) = self.latest.get() else {
            return Ok(());
        };
        encode_host(&mut encoder, &snapshot)?;
        encode_gpus(&mut encoder, &snapshot.gpus, &self.hostname)
    }
}

fn encode_host(encoder: &mut DescriptorEncoder, snapshot: &Snapshot) -> std::fmt::Result {
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

/// A dcgm-exporter field: its name, help, and how to read it from a GPU (None: not supported).
type GpuField = (&'static str, &'static str, fn(&GpuMetrics) -> Option<f64>);

/// dcgm-exporter's names, labels and units (MiB for framebuffer memory, W, MHz, °C, %).
fn encode_gpus(
    encoder: &mut DescriptorEncoder,
    gpus: &[GpuMetrics],
    hostname: &str,
) -> std::fmt::Result {
    let readable: Vec<&GpuMetrics> = gpus.iter().filter(|g| g.available).collect();
    let labels = |gpu: &GpuMetrics| {
        vec![
            ("gpu", gpu.index.to_string()),
            ("UUID", gpu.uuid.clone()),
            ("device", format!("nvidia{}", gpu.index)),
            ("modelName", gpu.name.clone()),
            ("Hostname", hostname.to_owned()),
        ]
    };
    // All gauges, as dcgm-exporter's counters keep their names (a counter here would gain _total).
    let fields: [GpuField; 38] = [
        ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", |g| {
            g.utilization_percent.map(f64::from)
        }),
        (
            "DCGM_FI_DEV_MEM_COPY_UTIL",
            "Memory utilization (in %).",
            |g| g.memory_utilization_percent.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_FB_USED",
            "Framebuffer memory used (in MiB).",
            |g| {
                g.memory_used_bytes
                    .map(|b| (b as f64 / BYTES_PER_MIB).round())
            },
        ),
        (
            "DCGM_FI_DEV_FB_FREE",
            "Framebuffer memory free (in MiB).",
            |g| {
                Some(
                    (g.memory_total_bytes?.saturating_sub(g.memory_used_bytes?) as f64
                        / BYTES_PER_MIB)
                        .round(),
                )
            },
        ),
        ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", |g| {
            g.temperature_celsius.map(f64::from)
        }),
        ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", |g| {
            g.power_watts
        }),
        (
            "DCGM_FI_DEV_POWER_MGMT_LIMIT",
            "Power management limit (in W).",
            |g| g.power_limit_watts,
        ),
        (
            "DCGM_FI_DEV_SM_CLOCK",
            "SM clock frequency (in MHz).",
            |g| g.sm_clock_mhz.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_MEM_CLOCK",
            "Memory clock frequency (in MHz).",
            |g| g.memory_clock_mhz.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
            "Current clock throttle reasons (bitmask of NVML's; 4: the power cap).",
            |g| g.clocks_throttle_reasons.map(|r| r as f64),
        ),
        (
            "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
            "Current clock event reasons (bitmask of NVML's; 4: the power cap).",
            |g| g.clocks_throttle_reasons.map(|r| r as f64),
        ),
        (
            "DCGM_FI_DEV_PSTATE",
            "Performance state (P-state) 0-15, 0 is the highest.",
            |g| g.performance_state.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_POWER_VIOLATION",
            "Throttling duration due to power constraints (in ns).",
            |g| g.power_violation_ns.map(|ns| ns as f64),
        ),
        (
            "DCGM_FI_DEV_THERMAL_VIOLATION",
            "Throttling duration due to thermal constraints (in ns).",
            |g| g.thermal_violation_ns.map(|ns| ns as f64),
        ),
        (
            "DCGM_FI_DEV_XID_ERRORS",
            "Value of the last XID error encountered.",
            |g| g.xid_errors.last().map(|e| e.code as f64),
        ),
        (
            "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
            "Total number of single-bit volatile ECC errors.",
            |g| g.ecc?.corrected_volatile.map(|n| n as f64),
        ),
        (
            "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
            "Total number of double-bit volatile ECC errors.",
            |g| g.ecc?.uncorrected_volatile.map(|n| n as f64),
        ),
        (
            "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
            "Total number of single-bit persistent ECC errors.",
            |g| g.ecc?.corrected_aggregate.map(|n| n as f64),
        ),
        (
            "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
            "Total number of double-bit persistent ECC errors.",
            |g| g.ecc?.uncorrected_aggregate.map(|n| n as f64),
        ),
        (
            "DCGM_FI_DEV_RETIRED_SBE",
            "Total number of retired pages due to single-bit errors.",
            |g| g.memory_repair?.retired_pages_single_bit.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_RETIRED_DBE",
            "Total number of retired pages due to double-bit errors.",
            |g| g.memory_repair?.retired_pages_double_bit.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_RETIRED_PENDING",
            "Whether pages are pending retirement (1) or not (0).",
            |g| g.memory_repair?.retirement_pending.map(flag),
        ),
        (
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
            "Number of remapped rows for correctable errors",
            |g| g.memory_repair?.remapped_rows_correctable.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
            "Number of remapped rows for uncorrectable errors",
            |g| g.memory_repair?.remapped_rows_uncorrectable.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_ROW_REMAP_FAILURE",
            "Whether remapping of rows has failed",
            |g| g.memory_repair?.remap_failed.map(flag),
        ),
        (
            "DCGM_FI_DEV_ROW_REMAP_PENDING",
            "Whether remapping of rows is pending",
            |g| g.memory_repair?.remap_pending.map(flag),
        ),
        (
            "DCGM_FI_PROF_PCIE_RX_BYTES",
            "The rate of data received over the PCIe bus, in bytes per second.",
            |g| g.pcie?.rx_bytes_per_second,
        ),
        (
            "DCGM_FI_PROF_PCIE_TX_BYTES",
            "The rate of data transmitted over the PCIe bus, in bytes per second.",
            |g| g.pcie?.tx_bytes_per_second,
        ),
        (
            "DCGM_FI_DEV_PCIE_LINK_GEN",
            "PCIe link generation now.",
            |g| g.pcie?.generation.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_PCIE_MAX_LINK_GEN",
            "Highest PCIe link generation of the device and system.",
            |g| g.pcie?.max_generation.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_PCIE_LINK_WIDTH",
            "PCIe link width now (lanes).",
            |g| g.pcie?.width.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_PCIE_MAX_LINK_WIDTH",
            "Widest PCIe link of the device and system (lanes).",
            |g| g.pcie?.max_width.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
            "Total number of PCIe retries.",
            |g| g.pcie?.replays.map(|n| n as f64),
        ),
        (
            "DCGM_FI_PROF_NVLINK_RX_BYTES",
            "The rate of data received over NVLink, in bytes per second.",
            |g| g.nvlink?.rx_bytes_per_second,
        ),
        (
            "DCGM_FI_PROF_NVLINK_TX_BYTES",
            "The rate of data transmitted over NVLink, in bytes per second.",
            |g| g.nvlink?.tx_bytes_per_second,
        ),
        (
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
            "Total energy consumption since the driver loaded (in mJ).",
            |g| g.energy_joules.map(|j| (j * 1000.0).round()),
        ),
        ("DCGM_FI_DEV_ENC_UTIL", "Encoder utilization (in %).", |g| {
            g.encoder_percent.map(f64::from)
        }),
        ("DCGM_FI_DEV_DEC_UTIL", "Decoder utilization (in %).", |g| {
            g.decoder_percent.map(f64::from)
        }),
    ];
    for (name, help, read) in fields {
        // A field a GPU does not support is left out, never exported as zero.
        family(
            encoder,
            name,
            help,
            readable
                .iter()
                .filter_map(|g| Some((labels(g), gauge(read(g)?)))),
        )?;
    }
    family(
        encoder,
        "vitals_gpu_clock_event",
        "Whether each clock event (throttle) reason holds now (1) or not (0).",
        readable.iter().flat_map(|g| {
            CLOCK_EVENT_REASONS
                .iter()
                .filter_map(move |(bit, reason, _)| {
                    let reasons = g.clocks_throttle_reasons?;
                    let mut labels = labels(g);
                    labels.push(("reason", (*reason).to_owned()));
                    Some((labels, gauge(flag(reasons & bit != 0))))
                })
        }),
    )?;
    family(
        encoder,
        "vitals_gpu_xid_errors",
        "XID errors the GPU reported since the history began.",
        readable
            .iter()
            .filter_map(|g| Some((labels(g), counter(g.xid_count? as f64)))),
    )?;
    family(
        encoder,
        "vitals_gpu_processes",
        "Processes running on the GPU.",
        readable
            .iter()
            .map(|g| (labels(g), gauge(g.processes.len() as f64))),
    )?;
    // Every GPU, readable or not: what an alert on a lost GPU watches.
    family(
        encoder,
        "vitals_gpu_available",
        "Whether the GPU can be read (1) or is lost or unavailable (0).",
        gpus.iter()
            .map(|g| (labels(g), gauge(if g.available { 1.0 } else { 0.0 }))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::collect::cpu::CpuModeSeconds;
    use crate::wire::{GpuProcess, MemoryMetrics};

    fn encoded(snapshot: Snapshot, openmetrics: bool) -> String {
        let latest = Latest::default();
        latest.set(Arc::new(snapshot));
        let processes = ProcessWatch::new(Default::default());
        let registry = registry(MetricSources {
            latest,
            hostname: "box".into(),
            processes,
            gpu_cost: Default::default(),
            jobs: Default::default(),
            alerts: Arc::new(Alerts::new(
                Vec::new(),
                crate::server::alerts::webhooks::Webhooks::none(),
            )),
        });
        let mut out = String::new();
        if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
        }
        out
    }

    fn snapshot() -> Snapshot {
        let mut snapshot = Snapshot {
            cpu_seconds_by_mode: vec![CpuModeSeconds {
                cpu: 0,
                user: 12.5,
                idle: 100.0,
                ..Default::default()
            }],
            ..Default::default()
        };
        snapshot.memory = MemoryMetrics {
            ram_total_bytes: 8 << 30,
            ram_available_bytes: 6 << 30,
            ..Default::default()
        };
        snapshot.gpus = vec![GpuMetrics {
            index: 0,
            uuid: "GPU-1".into(),
            name: "Fake H100".into(),
            available: true,
            utilization_percent: Some(37),
            memory_used_bytes: Some(2 << 30),
            memory_total_bytes: Some(80 << 30),
            power_watts: Some(123.5),
            processes: vec![GpuProcess {
                pid: 1,
                name: "python".into(),
                ..Default::default()
            }],
            ..Default::default()
        }];
        snapshot
    }

    #[test]
    fn node_exporter_and_dcgm_names_and_units() {
        let text = encoded(snapshot(), false);
        assert!(
            text.contains("# TYPE node_cpu_seconds_total counter"),
            "{text}"
        );
        assert!(
            text.contains(r#"node_cpu_seconds_total{cpu="0",mode="user"} 12.5"#),
            "{text}"
        );
        assert!(text.contains("# TYPE node_memory_MemTotal_bytes gauge"));
        assert!(text.contains("node_memory_MemTotal_bytes 8589934592"));
        assert!(text.contains(
            r#"DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",device="nvidia0",modelName="Fake H100",Hostname="box"} 37"#
        ));
        assert!(
            text.contains(r#"DCGM_FI_DEV_FB_USED{gpu="0""#) && text.contains("} 2048.0\n"),
            "MiB, as dcgm-exporter"
        );
        assert!(text.contains(r#"DCGM_FI_DEV_FB_FREE{gpu="0""#) && text.contains("} 79872.0\n"));
        assert!(text.contains("} 123.5\n"), "power in W");
        assert!(
            !text.contains("DCGM_FI_DEV_GPU_TEMP"),
            "an unsupported field is absent, not zero"
        );
        assert!(text.contains(r#"vitals_gpu_processes{gpu="0""#));
        assert!(text.contains(r#"vitals_gpu_available{gpu="0""#));
        assert!(text.contains(r#"vitals_build_info{version=""#));
    }

    #[test]
    fn a_lost_gpu_is_exported_as_unavailable_and_nothing_else() {
        let mut lost = snapshot();
        lost.gpus.push(GpuMetrics {
            index: 1,
            uuid: "GPU-2".into(),
            available: false,
            temperature_celsius: Some(50),
            ..Default::default()
        });
        let text = encoded(lost, false);
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .map(str::to_owned)
        };
        let available = line(r#"vitals_gpu_available{gpu="1""#).unwrap();
        assert!(
            available.ends_with(" 0") || available.ends_with(" 0.0"),
            "{available}"
        );
        assert!(
            line(r#"vitals_gpu_available{gpu="0""#)
                .unwrap()
                .contains("} 1")
        );
        assert!(line(r#"DCGM_FI_DEV_GPU_TEMP{gpu="1""#).is_none());
    }

    #[test]
    fn openmetrics_is_offered_too() {
        let text = encoded(snapshot(), true);
        assert!(text.contains("# TYPE node_cpu_seconds counter"));
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
