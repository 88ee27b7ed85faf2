//! A usage report out of the database's sums: rows per person (owner, job, GPU), biggest holder
//! first, with each one's top owners and jobs, and the same as CSV.

use crate::server::history::usage::{UsageAmounts, UsageTotal};
use crate::wire::{UsageGrouping, UsageReport, UsageRow};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// How a row names plain processes and processes outside any job.
pub const NO_OWNER: &str = "(plain processes)";
pub const NO_JOB: &str = "(no job)";
/// Top owners and jobs listed per row.
const TOP: usize = 3;

/// Everything one row gathers.
#[derive(Default)]
struct Gathered {
    amounts: UsageAmounts,
    owners: BTreeMap<String, f64>,
    jobs: BTreeMap<String, f64>,
    gpus: BTreeMap<String, f64>,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

pub fn report(
    totals: &[UsageTotal],
    by: UsageGrouping,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    resolution: &str,
) -> UsageReport {
    let mut rows: BTreeMap<String, Gathered> = BTreeMap::new();
    for total in totals {
        let key = &total.key;
        let owner = if key.owner.is_empty() {
            NO_OWNER
        } else {
            &key.owner
        };
        let job = if key.job.is_empty() { NO_JOB } else { &key.job };
        let name = match by {
            UsageGrouping::User => key.user.as_str(),
            UsageGrouping::Owner => owner,
            UsageGrouping::Job => job,
            UsageGrouping::Gpu => key.gpu.as_str(),
        };
        let row = rows.entry(name.to_owned()).or_default();
        let held = total.amounts.held_s;
        row.amounts.add(&total.amounts);
        if !key.owner.is_empty() {
            *row.owners.entry(key.owner.clone()).or_default() += held;
        }
        if !key.job.is_empty() {
            *row.jobs.entry(key.job.clone()).or_default() += held;
        }
        *row.gpus.entry(key.gpu.clone()).or_default() += held;
        row.first_ms = Some(
            row.first_ms
                .map_or(total.first_ms, |f| f.min(total.first_ms)),
        );
        row.last_ms = Some(row.last_ms.map_or(total.last_ms, |l| l.max(total.last_ms)));
    }
    let mut rows: Vec<UsageRow> = rows
        .into_iter()
        .map(|(name, gathered)| row(name, gathered))
        .collect();
    rows.sort_by(|a, b| {
        b.gpu_hours_held
            .total_cmp(&a.gpu_hours_held)
            .then(a.name.cmp(&b.name))
    });
    UsageReport {
        from,
        to,
        by,
        resolution: resolution.to_owned(),
        rows,
    }
}

fn row(name: String, gathered: Gathered) -> UsageRow {
    let a = gathered.amounts;
    let hours = |seconds: f64| seconds / 3600.0;
    let top = |by_held: BTreeMap<String, f64>| {
        let mut named: Vec<(String, f64)> = by_held.into_iter().collect();
        named.sort_by(|a, b| b.1.total_cmp(&a.1));
        named.into_iter().take(TOP).map(|(name, _)| name).collect()
    };
    let at = |ms: Option<i64>| ms.and_then(DateTime::from_timestamp_millis);
    UsageRow {
        name,
        gpu_hours_held: hours(a.held_s),
        gpu_hours_used: hours(a.used_s),
        efficiency_percent: (a.held_s > 0.0).then(|| a.used_s / a.held_s * 100.0),
        used_from_samples_percent: (a.used_s > 0.0).then(|| a.used_sampled_s / a.used_s * 100.0),
        idle_held_hours: hours(a.idle_held_s),
        memory_gib_hours: hours(a.memory_gib_s),
        energy_wh: a.energy_j / 3600.0,
        top_owners: top(gathered.owners),
        top_jobs: top(gathered.jobs),
        gpus: {
            let mut gpus: Vec<String> = gathered.gpus.into_keys().collect();
            gpus.sort();
            gpus
        },
        first_held: at(gathered.first_ms),
        last_held: at(gathered.last_ms),
    }
}

/// The report as CSV (RFC 4180), a row per line under a header.
pub fn csv(report: &UsageReport) -> String {
    let mut out = String::from(
        "name,gpu_hours_held,gpu_hours_used,efficiency_percent,idle_held_hours,memory_gib_hours,energy_wh,top_owners,top_jobs,first_held,last_held\r\n",
    );
    let number = |v: f64| format!("{v:.4}");
    let time = |t: &Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for row in &report.rows {
        let fields = [
            cell(&row.name),
            number(row.gpu_hours_held),
            number(row.gpu_hours_used),
            row.efficiency_percent
                .map(|e| format!("{e:.1}"))
                .unwrap_or_default(),
            number(row.idle_held_hours),
            number(row.memory_gib_hours),
            number(row.energy_wh),
            cell(&row.top_owners.join("; ")),
            cell(&row.top_jobs.join("; ")),
            time(&row.first_held),
            time(&row.last_held),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One text cell: quoted where it must be, and a leading `=`, `+`, `-` or `@` defused, so a
/// container named `=HYPERLINK(…)` is text in a spreadsheet, not a formula.
fn cell(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::history::usage::UsageKey;

    fn total(user: &str, owner: &str, job: &str, held_h: f64, used_h: f64) -> UsageTotal {
        UsageTotal {
            key: UsageKey {
                gpu: "GPU-a".into(),
                user: user.into(),
                owner: owner.into(),
                job: job.into(),
            },
            amounts: UsageAmounts {
                held_s: held_h * 3600.0,
                used_s: used_h * 3600.0,
                energy_j: held_h * 3600.0 * 200.0,
                ..Default::default()
            },
            first_ms: 1_000,
            last_ms: 2_000,
        }
    }

    #[test]
    fn rows_gather_per_person_with_their_top_owners_and_jobs() {
        let totals = [
            total("alice", "train.service", "jobs/a", 2.0, 1.0),
            total("alice", "", "", 1.0, 0.5),
            total("bob", "container web", "", 5.0, 0.0),
        ];
        let now = Utc::now();
        let report = report(&totals, UsageGrouping::User, now, now, "minute");
        let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["bob", "alice"], "biggest holder first");
        let alice = &report.rows[1];
        assert!((alice.gpu_hours_held - 3.0).abs() < 1e-9);
        assert!((alice.efficiency_percent.unwrap() - 50.0).abs() < 1e-9);
        assert!((alice.energy_wh - 600.0).abs() < 1e-9);
        assert_eq!(alice.top_owners, ["train.service"]);
        assert_eq!(alice.top_jobs, ["jobs/a"]);
        let by_owner = super::report(&totals, UsageGrouping::Owner, now, now, "minute");
        let owners: Vec<&str> = by_owner.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(owners, ["container web", "train.service", NO_OWNER]);
    }

    #[test]
    fn csv_quotes_and_defuses_cells() {
        let now = Utc::now();
        let totals = [total("=cmd|calc", "a, \"b\"", "", 1.0, 1.0)];
        let text = csv(&report(&totals, UsageGrouping::User, now, now, "minute"));
        let mut lines = text.split("\r\n");
        assert!(lines.next().unwrap().starts_with("name,gpu_hours_held,"));
        let line = lines.next().unwrap();
        assert!(
            line.starts_with("'=cmd|calc,1.0000,1.0000,100.0,"),
            "{line}"
        );
        assert!(line.contains("\"a, \"\"b\"\"\""), "{line}");
    }
}
