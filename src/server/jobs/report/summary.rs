//! A run in one line, for the Jobs card, the printable page and a training script's log:
//! "3 h 12 min · 4 GPUs · 11.8 kWh · 92 % SM · 14 min power-capped".

use crate::shared::format;
use crate::wire::{CLOCK_EVENT_REASONS, GpuRun, JobReport, JobStatus};

/// The reasons the line names, with their words; the page lists every one.
const NAMED_REASONS: [(&str, &str); 5] = [
    ("power_cap", "power-capped"),
    ("sw_thermal", "thermal"),
    ("hw_thermal", "HW thermal"),
    ("hw_slowdown", "HW slowdown"),
    ("power_brake", "power brake"),
];

/// A GPU as a person knows it: `GPU 2`, else its UUID.
pub fn gpu_label(gpu: &GpuRun) -> String {
    match gpu.index {
        Some(index) => format!("GPU {index}"),
        None => gpu.uuid.clone(),
    }
}

/// A clock event reason in words, as the GPU card names it.
pub fn reason_label(reason: &str) -> &str {
    CLOCK_EVENT_REASONS
        .iter()
        .find(|(_, key, _)| *key == reason)
        .map_or(reason, |(_, _, label)| label)
}

/// The mean SM use over the run's GPUs, weighted by their sampled time.
pub fn sm_mean(report: &JobReport) -> Option<f64> {
    let (sum, seconds) = report.gpus.iter().fold((0.0, 0.0), |(sum, seconds), gpu| {
        match gpu.sm_mean_percent {
            Some(mean) => (
                sum + mean * gpu.sampled_seconds,
                seconds + gpu.sampled_seconds,
            ),
            None => (sum, seconds),
        }
    });
    (seconds > 0.0).then(|| sum / seconds)
}

/// The share of the run (0–1) its most held-back GPU spent under `reason`.
pub fn share_of(report: &JobReport, reason: &str) -> f64 {
    let seconds = report.throttled_seconds.get(reason).copied().unwrap_or(0.0);
    if report.duration_seconds > 0.0 {
        (seconds / report.duration_seconds).min(1.0)
    } else {
        0.0
    }
}

/// Energy at the precision it deserves: `11.8 kWh`, `0.0042 kWh`.
pub fn kwh(energy: f64) -> String {
    format!("{} kWh", format::reading(energy))
}

pub fn line(report: &JobReport) -> String {
    let mut parts = Vec::new();
    if matches!(report.status, JobStatus::Running | JobStatus::Stalled) {
        parts.push("running".to_owned());
    }
    parts.push(format::hours_minutes(
        report.duration_seconds.max(0.0) as u64
    ));
    match report.gpus.len() {
        0 => parts.push("no GPU found".to_owned()),
        1 => parts.push("1 GPU".to_owned()),
        n => parts.push(format!("{n} GPUs")),
    }
    if !report.gpus.is_empty() {
        parts.push(kwh(report.energy_kwh));
        if let Some(sm) = sm_mean(report) {
            parts.push(format!("{} % SM", sm.round()));
        }
    }
    for (reason, words) in NAMED_REASONS {
        if let Some(&seconds) = report.throttled_seconds.get(reason)
            && seconds >= 1.0
        {
            parts.push(format!("{} {words}", format::hours_minutes(seconds as u64)));
        }
    }
    let xid: u64 = report.gpus.iter().map(|g| g.xid_errors).sum();
    if xid > 0 {
        parts.push(format!(
            "{xid} XID error{}",
            if xid == 1 { "" } else { "s" }
        ));
    }
    if let (Some(rate), Some(counter)) = (report.steps_per_second, &report.counter) {
        parts.push(format!("{} {counter}/s", format::reading(rate)));
    }
    if let Some(cost) = report.cost {
        let currency = report.currency.as_deref().unwrap_or("");
        parts.push(format!("{cost:.2} {currency}").trim_end().to_owned());
    }
    if let Some(grams) = report.co2_grams {
        parts.push(if grams >= 1000.0 {
            format!("{} kg CO₂", format::reading(grams / 1000.0))
        } else {
            format!("{} g CO₂", format::reading(grams))
        });
    }
    if !report.gaps.is_empty() {
        parts.push("history has gaps".to_owned());
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    pub fn report_of(seconds: f64, gpus: usize) -> JobReport {
        JobReport {
            channel: "jobs/a".into(),
            name: None,
            status: JobStatus::Ok,
            from_ms: 0,
            to_ms: (seconds * 1000.0) as i64,
            through_ms: None,
            duration_seconds: seconds,
            resolution: "raw samples".into(),
            owner: None,
            gpus: (0..gpus)
                .map(|i| GpuRun {
                    uuid: format!("GPU-{i}"),
                    index: Some(i as u32),
                    sampled_seconds: seconds,
                    sm_mean_percent: Some(92.0),
                    energy_kwh: 2.95,
                    ..Default::default()
                })
                .collect(),
            energy_kwh: 2.95 * gpus as f64,
            cost: None,
            currency: None,
            co2_grams: None,
            throttled_seconds: BTreeMap::from([("power_cap".into(), 840.0)]),
            host: Default::default(),
            fields: BTreeMap::new(),
            counter: None,
            steps_per_second: None,
            gaps: Vec::new(),
            missing: Vec::new(),
            summary: String::new(),
        }
    }

    #[test]
    fn the_line_reads_as_the_issue_writes_it() {
        assert_eq!(
            line(&report_of(11_520.0, 4)),
            "3 h 12 min · 4 GPUs · 11.8 kWh · 92 % SM · 14 min power-capped"
        );
        let mut priced = report_of(60.0, 0);
        priced.throttled_seconds.clear();
        priced.cost = Some(0.0);
        priced.currency = Some("EUR".into());
        assert_eq!(line(&priced), "1 min · no GPU found · 0.00 EUR");
    }
}
