//! Run reports: what one job cost and suffered, worked out from the history database over its
//! span and its GPUs (declared, found running its processes, or booked to it in the usage
//! tables), and two of them compared. Each part has a file: the span and its gaps, one GPU's
//! figures, the host's, the job's own fields, the summary line, the comparison, the cache of
//! ended runs, the routes, the printable page and the comparison page with its chart.

pub mod cache;
pub mod compare;
pub mod compare_page;
pub mod field_runs;
pub mod gpu_run;
pub mod host_run;
pub mod page;
pub mod routes;
pub mod span;
pub mod summary;
pub mod svg_chart;

use crate::server::history::{DbError, HistoryDb};
use crate::server::usage::idle_held::IdleHeldSettings;
use crate::shared::format;
use crate::wire::{GpuMetrics, Job, JobReport, JobStatus, RunOwner};
use gpu_run::GpuTally;
use host_run::HostTally;
use serde_json::Value;
use span::Span;
use std::collections::HashMap;

/// What a report is worked out with, from the configuration.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReportSettings {
    pub interval_ms: i64,
    pub idle: IdleHeldSettings,
    /// `energy_price_per_kwh`, and the currency it is in (`energy_currency`).
    pub price_per_kwh: Option<f64>,
    pub currency: Option<String>,
    /// `carbon_grams_per_kwh`.
    pub carbon_grams_per_kwh: Option<f64>,
}

/// What a report is worked out from besides the database.
pub struct RunInputs<'a> {
    pub job: &'a Job,
    /// The GPUs as they are now: their indices and names.
    pub gpus_now: &'a [GpuMetrics],
    /// The job's `metrics` over its span (ms, data), oldest first.
    pub sent: &'a [(i64, Value)],
    pub now_ms: i64,
}

/// The job's span: its start (else its first message) to its end (else now).
pub fn span_of(job: &Job, sent: &[(i64, Value)], now_ms: i64) -> (i64, i64) {
    let from = job
        .started
        .map(|t| t.timestamp_millis())
        .or_else(|| sent.first().map(|(t, _)| *t))
        .unwrap_or_else(|| job.last_seen.timestamp_millis());
    let to = job.ended.map_or(now_ms, |t| t.timestamp_millis());
    (from, to.max(from))
}

/// The report of one job.
pub fn report(
    db: &HistoryDb,
    inputs: &RunInputs,
    settings: &ReportSettings,
) -> Result<JobReport, DbError> {
    let RunInputs {
        job,
        gpus_now,
        sent,
        now_ms,
    } = *inputs;
    let (from, to) = span_of(job, sent, now_ms);
    let mut missing = Vec::new();
    if job.started.is_none() {
        missing.push(
            "its start was not seen (sent before the saved events begin): the run is reported from its first saved message".to_owned(),
        );
    }
    // Who the usage tables booked this job's GPU time to, and on which GPUs.
    let booked: Vec<_> = db
        .usage_totals(from, to + 1, now_ms)?
        .0
        .into_iter()
        .filter(|total| total.key.job == job.channel)
        .collect();
    let mut uuids: Vec<String> = job.gpus.clone();
    for total in &booked {
        if !uuids.contains(&total.key.gpu) {
            uuids.push(total.key.gpu.clone());
        }
    }
    let owner = booked
        .iter()
        .max_by(|a, b| a.amounts.held_s.total_cmp(&b.amounts.held_s))
        .map(|total| RunOwner {
            user: total.key.user.clone(),
            owner: total.key.owner.clone(),
        });

    let span = Span::choose(from, to, settings.interval_ms, now_ms, db.retention());
    let block = gpu_run::series_count();
    let mut names: Vec<String> = uuids.iter().flat_map(|u| gpu_run::series_of(u)).collect();
    names.extend(host_run::series());
    let mut tallies: Vec<GpuTally> = uuids.iter().map(|_| GpuTally::default()).collect();
    let mut host = HostTally::default();
    let walked = span::walk(db, &span, &names, |t, seconds, values| {
        for (g, tally) in tallies.iter_mut().enumerate() {
            tally.add(
                t,
                seconds,
                &values[g * block..(g + 1) * block],
                &settings.idle,
            );
        }
        host.add(seconds, &values[uuids.len() * block..]);
    })?;

    let known: HashMap<&str, &GpuMetrics> = gpus_now.iter().map(|g| (g.uuid.as_str(), g)).collect();
    let gpus: Vec<_> = uuids
        .iter()
        .zip(tallies)
        .map(|(uuid, tally)| {
            let now = known.get(uuid.as_str());
            let name = now.map(|g| g.name.clone()).filter(|n| !n.is_empty());
            tally.finish(uuid, now.map(|g| g.index), name)
        })
        .collect();

    if uuids.is_empty() {
        missing.push(
            "no GPU was declared by the job or seen running its processes: GPU figures are empty (name them with \"gpus\" or \"pids\" in its start)".to_owned(),
        );
    }
    let reported_to = walked.through_ms.map_or(to, |t| t.max(from));
    for gpu in &gpus {
        missing.extend(gpu_coverage(gpu, from, reported_to, span.width_ms));
    }
    let gap_seconds: i64 = walked.gaps.iter().map(|g| g.to_ms - g.from_ms).sum::<i64>() / 1000;
    if !walked.gaps.is_empty() {
        let oldest = db.oldest(span.tier)?;
        let pruned = walked.gaps.first().filter(|g| g.from_ms == from).is_some()
            && oldest.is_none_or(|oldest| oldest > from);
        missing.push(if pruned {
            format!(
                "history before {} is no longer kept ({} are kept for {}): the figures start there",
                iso(walked.gaps[0].to_ms),
                span.resolution(),
                format::hours_minutes(db.retention().of(span.tier).as_secs())
            )
        } else {
            format!(
                "{} with no saved history in {} gap(s) (the server was stopped or not saving): the figures leave them out",
                format::hours_minutes(gap_seconds.max(0) as u64),
                walked.gaps.len()
            )
        });
    }

    let (fields, counter) = field_runs::field_runs(sent);
    let energy_kwh: f64 = gpus.iter().map(|g| g.energy_kwh).sum();
    let mut throttled_seconds = std::collections::BTreeMap::new();
    for gpu in &gpus {
        for (reason, seconds) in &gpu.throttled_seconds {
            let most = throttled_seconds.entry(reason.clone()).or_insert(0.0_f64);
            *most = most.max(*seconds);
        }
    }
    let running = matches!(job.status, JobStatus::Running | JobStatus::Stalled);
    let mut report = JobReport {
        channel: job.channel.clone(),
        name: job.name.clone(),
        status: job.status,
        from_ms: from,
        to_ms: if running { reported_to } else { to },
        through_ms: walked.through_ms,
        duration_seconds: ((if running { reported_to } else { to }) - from) as f64 / 1000.0,
        resolution: span.resolution().to_owned(),
        owner,
        gpus,
        energy_kwh,
        cost: settings.price_per_kwh.map(|price| price * energy_kwh),
        currency: settings.currency.clone(),
        co2_grams: settings.carbon_grams_per_kwh.map(|g| g * energy_kwh),
        throttled_seconds,
        host: host.finish(),
        fields,
        steps_per_second: counter.as_ref().map(|(_, rate)| *rate),
        counter: counter.map(|(name, _)| name),
        gaps: walked.gaps,
        missing,
        summary: String::new(),
    };
    report.summary = summary::line(&report);
    Ok(report)
}

/// What a GPU's samples leave out of the run: it came, went or stopped answering mid-run.
fn gpu_coverage(gpu: &crate::wire::GpuRun, from: i64, to: i64, width: i64) -> Option<String> {
    let label = summary::gpu_label(gpu);
    let (Some(first), Some(last)) = (gpu.first_ms, gpu.last_ms) else {
        return Some(format!(
            "{label} has no saved sample in the run: it was not readable, or the run is older than the history kept"
        ));
    };
    let slack = 3 * width;
    (first - from > slack || to - last > slack).then(|| {
        format!(
            "{label} has samples only from {} to {} into the run: it was added, removed or unreadable for the rest",
            format::hours_minutes(((first - from).max(0) / 1000) as u64),
            format::hours_minutes(((last - from).max(0) / 1000) as u64),
        )
    })
}

/// An ISO-8601 time of day from ms, for the notes.
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
