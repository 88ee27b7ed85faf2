//! Vitals' own families: firing alerts, running jobs and their fields, what the GPU reads and
//! the process scans cost.

use super::{Labels, counter, family, gauge};
use crate::server::alerts::Alerts;
use crate::server::collect::gpu::GpuCost;
use crate::server::jobs::book::JobBook;
use crate::server::pipeline::latest::Latest;
use crate::server::pipeline::process_watch::ProcessWatch;
use crate::wire::{Alert, AlertState};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use std::sync::Arc;

pub(super) struct AlertCollector(pub(super) Arc<Alerts>);

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
pub(super) struct JobCollector {
    pub(super) jobs: Arc<JobBook>,
    pub(super) latest: Latest,
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
pub(super) struct GpuReadCollector(pub(super) Arc<GpuCost>);

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
pub(super) struct ProcessScanCollector(pub(super) Arc<ProcessWatch>);

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
