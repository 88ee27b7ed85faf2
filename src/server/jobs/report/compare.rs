//! Two runs side by side: which is slower (fewer steps a second, else longer), and the
//! differences that explain it, worst first: "run B: 18 % slower steps, 31 % of its time
//! power-capped vs 2 %".

use crate::server::jobs::report::summary::{reason_label, share_of, sm_mean};
use crate::shared::format;
use crate::wire::{JobComparison, JobReport};

/// Shares of the time (0–1) closer than this are no difference worth naming.
const SHARE_STEP: f64 = 0.05;
/// Rates and durations closer than this (a share of the larger) are the same.
const RATE_STEP: f64 = 0.03;

/// The comparison of run A with run B.
pub fn compare(a: JobReport, b: JobReport) -> JobComparison {
    let (slower, how) = slower_of(&a, &b);
    let mut differences = Vec::new();
    if let Some(slow) = slower {
        let (s, f) = if slow == 'A' { (&a, &b) } else { (&b, &a) };
        let mut why = vec![how];
        why.extend(held_back(s, f));
        differences.push(format!("run {slow}: {}", why.join(", ")));
    }
    for (run, this, other) in [('A', &a, &b), ('B', &b, &a)] {
        if Some(run) == slower {
            continue;
        }
        let found = held_back(this, other);
        if !found.is_empty() {
            differences.push(format!("run {run}: {}", found.join(", ")));
        }
    }
    if a.gpus.len() != b.gpus.len() {
        differences.push(format!(
            "run A used {} GPU(s), run B {}",
            a.gpus.len(),
            b.gpus.len()
        ));
    }
    for (run, report) in [('A', &a), ('B', &b)] {
        if !report.gaps.is_empty() {
            differences.push(format!(
                "run {run} has gaps in its history: its figures leave them out"
            ));
        }
    }
    JobComparison {
        slower: slower.map(|run| {
            if run == 'A' {
                a.channel.clone()
            } else {
                b.channel.clone()
            }
        }),
        a,
        b,
        differences,
    }
}

/// Which run is slower ('A' or 'B'), and by how much in words.
fn slower_of(a: &JobReport, b: &JobReport) -> (Option<char>, String) {
    if let (Some(ra), Some(rb)) = (a.steps_per_second, b.steps_per_second)
        && ra > 0.0
        && rb > 0.0
        && (ra - rb).abs() / ra.max(rb) >= RATE_STEP
    {
        let (slow, s, f) = if ra < rb {
            ('A', ra, rb)
        } else {
            ('B', rb, ra)
        };
        let percent = ((1.0 - s / f) * 100.0).round();
        let unit = a.counter.as_deref().unwrap_or("step");
        return (
            Some(slow),
            format!(
                "{percent} % slower {unit}s ({} vs {} a second)",
                format::reading(s),
                format::reading(f)
            ),
        );
    }
    let (da, db) = (a.duration_seconds, b.duration_seconds);
    if da.max(db) > 0.0 && (da - db).abs() / da.max(db) >= RATE_STEP {
        let (slow, s, f) = if da > db {
            ('A', da, db)
        } else {
            ('B', db, da)
        };
        let percent = ((s / f.max(1e-9) - 1.0) * 100.0).round();
        return (
            Some(slow),
            format!(
                "took {percent} % longer ({} vs {})",
                format::hours_minutes(s as u64),
                format::hours_minutes(f as u64)
            ),
        );
    }
    (None, String::new())
}

/// What held `this` run back more than `other`: throttling, idle SMs, a saturated host, errors.
fn held_back(this: &JobReport, other: &JobReport) -> Vec<String> {
    let percent = |share: f64| format!("{} %", (share * 100.0).round());
    let mut found = Vec::new();
    let reasons = this
        .throttled_seconds
        .keys()
        .chain(other.throttled_seconds.keys());
    let mut named: Vec<&String> = reasons.collect();
    named.sort();
    named.dedup();
    for reason in named {
        let (mine, theirs) = (share_of(this, reason), share_of(other, reason));
        if mine - theirs >= SHARE_STEP {
            let words = match reason.as_str() {
                "power_cap" => "power-capped".to_owned(),
                other => format!("held by {}", reason_label(other)),
            };
            found.push(format!(
                "{} of its time {words} vs {}",
                percent(mine),
                percent(theirs)
            ));
        }
    }
    if let (Some(mine), Some(theirs)) = (sm_mean(this), sm_mean(other))
        && theirs - mine >= SHARE_STEP * 100.0
    {
        found.push(format!("SM {} % vs {} %", mine.round(), theirs.round()));
    }
    let saturated = |r: &JobReport| {
        if r.duration_seconds > 0.0 {
            r.host.cpu_saturated_seconds / r.duration_seconds
        } else {
            0.0
        }
    };
    if saturated(this) - saturated(other) >= SHARE_STEP {
        found.push(format!(
            "CPUs saturated {} of its time vs {}",
            percent(saturated(this)),
            percent(saturated(other))
        ));
    }
    let xid = |r: &JobReport| r.gpus.iter().map(|g| g.xid_errors).sum::<u64>();
    if xid(this) > xid(other) {
        found.push(format!("{} XID error(s) vs {}", xid(this), xid(other)));
    }
    let narrow = |r: &JobReport| r.gpus.iter().map(|g| g.pcie_narrow_seconds).sum::<f64>();
    if narrow(this) > 0.0 && narrow(other) == 0.0 {
        found.push("a PCIe link ran narrowed".to_owned());
    }
    if this.host.swap_grew_bytes > other.host.swap_grew_bytes + (256 << 20) as f64 {
        found.push(format!(
            "swap grew by {}",
            format::gib(this.host.swap_grew_bytes as u64)
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GpuRun, JobStatus};
    use std::collections::BTreeMap;

    fn run(channel: &str, rate: f64, capped_s: f64) -> JobReport {
        JobReport {
            channel: channel.into(),
            name: None,
            status: JobStatus::Ok,
            from_ms: 0,
            to_ms: 100_000,
            through_ms: None,
            duration_seconds: 100.0,
            resolution: "raw samples".into(),
            owner: None,
            gpus: vec![GpuRun {
                uuid: "GPU-a".into(),
                sampled_seconds: 100.0,
                sm_mean_percent: Some(90.0),
                ..Default::default()
            }],
            energy_kwh: 0.01,
            cost: None,
            currency: None,
            co2_grams: None,
            throttled_seconds: BTreeMap::from([("power_cap".into(), capped_s)]),
            host: Default::default(),
            fields: BTreeMap::new(),
            counter: Some("step".into()),
            steps_per_second: Some(rate),
            gaps: Vec::new(),
            missing: Vec::new(),
            summary: String::new(),
        }
    }

    #[test]
    fn the_slower_run_is_named_with_why() {
        let compared = compare(run("jobs/a", 5.0, 2.0), run("jobs/b", 4.1, 31.0));
        assert_eq!(compared.slower.as_deref(), Some("jobs/b"));
        assert_eq!(
            compared.differences[0],
            "run B: 18 % slower steps (4.10 vs 5 a second), 31 % of its time power-capped vs 2 %"
        );
        let same = compare(run("jobs/a", 5.0, 2.0), run("jobs/b", 5.0, 2.0));
        assert_eq!((same.slower, same.differences.len()), (None, 0));
    }
}
