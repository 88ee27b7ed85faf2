//! `GET /metrics`: the latest snapshot in Prometheus' text format (OpenMetrics when asked), under the
//! names node_exporter and dcgm-exporter users already have dashboards for.

mod gpu;
mod health;
mod host;
mod node;
mod own;
mod smart;
mod usage;

use crate::server::alerts::Alerts;
use crate::server::collect::gpu::GpuCost;
use crate::server::http::error::HttpError;
use crate::server::jobs::book::JobBook;
use crate::server::pipeline::latest::Latest;
use crate::server::pipeline::process_watch::ProcessWatch;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use own::{AlertCollector, GpuReadCollector, JobCollector, ProcessScanCollector};
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
    /// Where the node families' /proc and /sys files are read, on each scrape.
    node_files: node::NodeFiles,
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
    /// Idle-held GPUs and each person's GPU time.
    pub usage: Arc<crate::server::usage::Usage>,
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
        usage,
    } = sources;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(AlertCollector(alerts)));
    registry.register_collector(Box::new(JobCollector {
        jobs,
        latest: latest.clone(),
    }));
    registry.register_collector(Box::new(usage::UsageCollector {
        usage,
        latest: latest.clone(),
        hostname: hostname.clone(),
    }));
    registry.register_collector(Box::new(SnapshotCollector {
        latest,
        hostname,
        node_files: node::NodeFiles::default(),
    }));
    registry.register_collector(Box::new(ProcessScanCollector(processes)));
    registry.register_collector(Box::new(GpuReadCollector(gpu_cost)));
    Arc::new(registry)
}

/// Each firing alert as `vitals_alert_firing 1`, so a fleet page (or Grafana) sees them.
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
        host::encode_host(&mut encoder, &snapshot)?;
        node::encode_node(&mut encoder, &self.node_files, &snapshot)?;
        health::encode_health(&mut encoder, &snapshot.health)?;
        smart::encode_smart(&mut encoder, &snapshot.health.disks)?;
        gpu::encode_gpus(&mut encoder, &snapshot.gpus, &self.hostname)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::collect::Snapshot;
    use crate::server::collect::cpu::CpuModeSeconds;
    use crate::wire::{GpuMetrics, GpuProcess};

    fn encoded(snapshot: Snapshot, openmetrics: bool) -> String {
        let latest = Latest::default();
        latest.set(Arc::new(snapshot));
        let processes = ProcessWatch::new(Default::default(), Arc::default(), Arc::default());
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
            usage: Arc::new(crate::server::usage::Usage::new(
                Default::default(),
                std::time::Duration::from_secs(1),
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
        snapshot.gpus = vec![GpuMetrics {
            index: 0,
            uuid: "GPU-1".into(),
            name: "Fake H100".into(),
            pci_bus_id: Some("00000000:3B:00.0".into()),
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
        // Memory is this machine's /proc/meminfo, read at the scrape (node/meminfo.rs).
        assert!(text.contains("# TYPE node_memory_MemTotal_bytes gauge"));
        assert!(
            text.lines()
                .any(|l| l.starts_with("node_memory_MemTotal_bytes ")),
            "{text}"
        );
        assert!(text.contains(
            r#"DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",pci_bus_id="00000000:3B:00.0",device="nvidia0",modelName="Fake H100",Hostname="box"} 37"#
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
    fn profiling_counters_are_dcgm_ratios_and_absent_without_gpm() {
        let mut profiled = snapshot();
        profiled.gpus[0].profiling = Some(
            crate::wire::GpuProfiling {
                tensor_active_percent: Some(63.0),
                dram_active_percent: Some(41.0),
                pcie_rx_bytes_per_second: Some(2048.0),
                ..Default::default()
            }
            .described(),
        );
        let text = encoded(profiled.clone(), false);
        let value = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{name}{{")))
                .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        };
        assert_eq!(value("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"), Some(0.63));
        assert_eq!(value("DCGM_FI_PROF_DRAM_ACTIVE"), Some(0.41));
        assert_eq!(
            value("DCGM_FI_PROF_PCIE_RX_BYTES"),
            Some(2048.0),
            "GPM's PCIe bytes stand in where the counters are missing"
        );
        assert_eq!(value("DCGM_FI_PROF_SM_OCCUPANCY"), None, "{text}");
        profiled.gpus[0].profiling = Some(crate::wire::GpuProfiling::unavailable("no GPM"));
        let text = encoded(profiled, false);
        assert!(
            !text.contains("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"),
            "never a zero"
        );
    }

    #[test]
    fn openmetrics_is_offered_too() {
        let text = encoded(snapshot(), true);
        assert!(text.contains("# TYPE node_cpu_seconds counter"));
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
