//! The machine's health in one list: everything wrong with its disks, sensors, memory, PCIe
//! devices, GPUs and filesystems, worst first, each with since when, its reading and one
//! sentence of what to do. Worked out at every tick (the checks are a few comparisons), served
//! by `GET /api/system/health` and drawn by the server (`/health`, and the dashboard's card).

pub mod checks;
pub mod forecast;
pub mod page;
pub mod routes;

use crate::server::collect::Snapshot;
use crate::server::runtime::lock::lock;
use crate::wire::{HealthItem, HealthReport};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// The latest report, and since when each finding has been seen.
#[derive(Default)]
pub struct Health {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    trends: forecast::Trends,
    /// By (check, subject): when it was first seen in the run it is in now.
    since: HashMap<(&'static str, String), DateTime<Utc>>,
    report: HealthReport,
}

impl Health {
    /// Forecasts the filesystems (into the snapshot, for the alert rules) and checks the tick.
    pub fn observe(&self, snapshot: &mut Snapshot) {
        let mut state = lock(&self.state);
        let now = snapshot.timestamp;
        snapshot.health.fill_forecasts = state
            .trends
            .update(now.timestamp_millis(), &snapshot.disk.filesystems);
        let (checks, findings) = checks::run(snapshot);
        state.since.retain(|key, _| {
            findings
                .iter()
                .any(|f| (f.check, &f.subject) == (key.0, &key.1))
        });
        let mut items: Vec<HealthItem> = findings
            .into_iter()
            .map(|finding| {
                let since = *state
                    .since
                    .entry((finding.check, finding.subject.clone()))
                    .or_insert(now);
                HealthItem {
                    check: finding.check.into(),
                    subject: finding.subject,
                    severity: finding.severity,
                    since,
                    value: finding.value,
                    action: finding.action,
                    link: finding.link,
                }
            })
            .collect();
        // Worst first, then the oldest.
        items.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.since.cmp(&b.since)));
        let host = &snapshot.health;
        let mut unavailable: Vec<String> = host
            .smart_status
            .iter()
            .map(|status| format!("SMART: {status}"))
            .collect();
        // What this machine's sysfs does not have, said rather than left blank.
        for (absent, what) in [
            (host.sensors.is_empty(), "Sensors: no hwmon sensors here"),
            (
                host.memory_controllers.is_empty(),
                "Memory errors: EDAC is not available here",
            ),
            (
                host.pcie.is_empty(),
                "PCIe errors: no device reports AER here",
            ),
        ] {
            if absent {
                unavailable.push(what.to_owned());
            }
        }
        state.report = HealthReport {
            checks,
            items,
            unavailable,
            host: snapshot.health.clone(),
        };
    }

    pub fn report(&self) -> HealthReport {
        lock(&self.state).report.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AlertSeverity, DiskHealth, Sensor, SensorKind};

    #[test]
    fn findings_keep_their_since_while_they_last_and_come_worst_first() {
        let health = Health::default();
        let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let mut snapshot = Snapshot {
            timestamp: start,
            ..Default::default()
        };
        snapshot.health.sensors = vec![
            Sensor {
                kind: SensorKind::Fan,
                label: "CPU fan".into(),
                chip: "nct6775".into(),
                ..Default::default()
            },
            Sensor {
                label: "Tctl".into(),
                chip: "k10temp".into(),
                value: 60.0,
                ..Default::default()
            },
        ];
        health.observe(&mut snapshot.clone());
        snapshot.timestamp = start + chrono::TimeDelta::minutes(5);
        snapshot.health.disks = vec![DiskHealth {
            device: "nvme0".into(),
            passed: Some(false),
            ..Default::default()
        }];
        health.observe(&mut snapshot.clone());
        let report = health.report();
        assert_eq!(report.checks, 3);
        let items: Vec<(&str, AlertSeverity, DateTime<Utc>)> = report
            .items
            .iter()
            .map(|i| (i.check.as_str(), i.severity, i.since))
            .collect();
        assert_eq!(
            items,
            [
                ("disk_smart", AlertSeverity::Critical, snapshot.timestamp),
                ("fan_stopped", AlertSeverity::Warning, start),
            ]
        );
        // The fan turns again: gone, and a later stop starts a new run.
        snapshot.health.sensors[0].value = 900.0;
        health.observe(&mut snapshot.clone());
        assert_eq!(health.report().items.len(), 1);
    }
}
