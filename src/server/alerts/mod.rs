//! Alerts: rules that watch every tick on the server. A change (pending, firing, resolved) is
//! published on `system/alerts`, kept with the history as an event of that channel, and listed by
//! `GET /api/system/alerts`.

pub mod engine;
pub mod rules;
pub mod webhooks;

use crate::server::collect::Snapshot;
use crate::server::history::{NamedValues, events::SavedEvent, writer::Recorder};
use crate::server::hub::Hub;
use crate::server::runtime::lock::lock;
use crate::wire::series::{
    channel_lateness_series, filesystem_used_series, gpu_key, gpu_metric, gpu_series,
};
use crate::wire::{Alert, AlertList, AlertState, CHANNEL_ALERTS, EVENT_ALERT, SLOWDOWN_REASONS};
use engine::Engine;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use webhooks::Webhooks;

/// The engine, shared by the sampler (which feeds it) and the API (which reads it), and the
/// webhooks changes go to.
pub struct Alerts {
    engine: Mutex<Engine>,
    webhooks: Webhooks,
    /// Alerts the webhooks were told are firing: only those are told when they resolve.
    announced: Mutex<HashSet<(String, String)>>,
}

impl Alerts {
    pub fn new(rules: Vec<rules::Rule>, webhooks: Webhooks) -> Alerts {
        Alerts {
            engine: Mutex::new(Engine::new(rules)),
            webhooks,
            announced: Mutex::default(),
        }
    }

    /// Tells the webhooks of an alert that fired (or changed severity while firing), and of the
    /// resolving of one they were told of; a pending alert is nobody's business yet.
    fn deliver(&self, alert: &Alert) {
        let mut announced = lock(&self.announced);
        let key = (alert.rule.clone(), alert.series.clone());
        let tell = match alert.state {
            AlertState::Pending => false,
            AlertState::Firing => {
                announced.insert(key);
                true
            }
            AlertState::Resolved => announced.remove(&key),
        };
        if tell {
            self.webhooks.send(alert);
        }
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        lock(&self.engine)
    }

    /// Evaluates one tick (its stored series, made once by the sampler, the process totals, and
    /// what rules watch besides) and announces what changed: on the channel, and to the history.
    pub fn watch(
        &self,
        snapshot: &Snapshot,
        stored: &NamedValues,
        processes: &NamedValues,
        hub: &Hub,
        recorder: Option<&Recorder>,
    ) {
        let mut values = derived_values(snapshot);
        for (channel, lateness) in hub.heartbeat_lateness(snapshot.timestamp) {
            values.push((channel_lateness_series(&channel), lateness));
        }
        let changes = {
            let mut engine = self.engine();
            engine.set_details(details(snapshot));
            engine.evaluate(
                snapshot.timestamp,
                stored.iter().chain(processes).chain(&values),
            )
        };
        for alert in changes {
            self.deliver(&alert);
            let Ok(data) = serde_json::to_value(&alert) else {
                continue;
            };
            if let Some(recorder) = recorder {
                recorder.record_event(SavedEvent {
                    at_ms: alert.since.timestamp_millis(),
                    channel: CHANNEL_ALERTS.into(),
                    event: EVENT_ALERT.into(),
                    data: data.to_string(),
                });
            }
            let _ = hub.publish(CHANNEL_ALERTS, EVENT_ALERT, data, alert.since);
        }
    }

    /// Pending and firing alerts, oldest first: what a page starts with.
    pub fn active(&self) -> Vec<Alert> {
        self.engine().active()
    }

    pub fn list(&self) -> AlertList {
        let engine = self.engine();
        AlertList {
            active: engine.active(),
            recent: engine.recent(),
            webhooks: self.webhooks.statuses(),
        }
    }
}

/// Words the values alone do not carry, by series: who holds each idle-held GPU, and how long.
pub fn details(snapshot: &Snapshot) -> BTreeMap<String, String> {
    let now = snapshot.timestamp.timestamp_millis();
    snapshot
        .gpus
        .iter()
        .filter_map(|gpu| {
            let held = gpu.idle_held.as_ref()?;
            let series = gpu_series(&gpu_key(gpu), gpu_metric::IDLE_HELD);
            Some((series, crate::shared::format::idle_held(held, now)))
        })
        .collect()
}

/// What rules watch besides the stored series (`series::of_snapshot`): each GPU's memory in use
/// as a percentage, whether it is available, whether its clocks are held down by its power
/// limit and whether by heat or a hardware signal (1 or 0), the XID errors it reported in the
/// last hour (of the latest it keeps), and each filesystem's use as a percentage.
pub fn derived_values(snapshot: &Snapshot) -> NamedValues {
    let mut values = NamedValues::new();
    for gpu in &snapshot.gpus {
        let key = gpu_key(gpu);
        let available = if gpu.available { 1.0 } else { 0.0 };
        values.push((gpu_series(&key, gpu_metric::AVAILABLE), available));
        if gpu.available {
            let held = if gpu.idle_held.is_some() { 1.0 } else { 0.0 };
            values.push((gpu_series(&key, gpu_metric::IDLE_HELD), held));
        }
        if let Some(capped) = gpu.power_capped() {
            let capped = if capped { 1.0 } else { 0.0 };
            values.push((gpu_series(&key, gpu_metric::POWER_CAPPED), capped));
        }
        if gpu.xid_count.is_some() {
            let hour_ago = snapshot.timestamp - chrono::TimeDelta::hours(1);
            let recent = gpu.xid_errors.iter().filter(|x| x.at > hour_ago).count();
            values.push((gpu_series(&key, gpu_metric::XID_LAST_HOUR), recent as f64));
        }
        if let Some(reasons) = gpu.clocks_throttle_reasons {
            let slowed = if reasons & SLOWDOWN_REASONS != 0 {
                1.0
            } else {
                0.0
            };
            values.push((gpu_series(&key, gpu_metric::SLOWDOWN), slowed));
        }
        if let (Some(used), Some(total)) = (gpu.memory_used_bytes, gpu.memory_total_bytes)
            && total > 0
        {
            let percent = used as f64 * 100.0 / total as f64;
            values.push((gpu_series(&key, gpu_metric::MEMORY_PERCENT), percent));
        }
    }
    health_values(snapshot, &mut values);
    for filesystem in &snapshot.disk.filesystems {
        if filesystem.total_bytes > 0 {
            let percent = filesystem.used_bytes as f64 * 100.0 / filesystem.total_bytes as f64;
            let name = filesystem_used_series(&filesystem.mount_point);
            values.push((name, percent));
        }
    }
    values
}

/// The machine's health as rules watch it: each disk's SMART verdict (1 failing), wear and
/// pending sectors, each fan stopped while the machine is warm (1), each memory controller's
/// uncorrected errors, each PCIe device's fatal errors, and the hours until a growing
/// filesystem is full.
fn health_values(snapshot: &Snapshot, values: &mut NamedValues) {
    use crate::server::health::checks::{fan_stopped, warmest};
    use crate::wire::series::{
        disk_health_series, fan_stopped_series, filesystem_hours_to_full_series,
        memory_uncorrected_series, pcie_fatal_series,
    };
    let health = &snapshot.health;
    for disk in &health.disks {
        let measures = [
            (
                "smart_failing",
                disk.passed.map(|passed| if passed { 0.0 } else { 1.0 }),
            ),
            ("wear_percent", disk.percentage_used.map(|p| p as f64)),
            ("pending_sectors", disk.pending_sectors.map(|p| p as f64)),
        ];
        for (measure, value) in measures {
            if let Some(value) = value {
                values.push((disk_health_series(&disk.device, measure), value));
            }
        }
    }
    let warmest = warmest(snapshot);
    for sensor in health
        .sensors
        .iter()
        .filter(|s| s.kind == crate::wire::SensorKind::Fan)
    {
        let stopped = if fan_stopped(sensor, warmest) {
            1.0
        } else {
            0.0
        };
        let fan = format!("{}/{}", sensor.chip, sensor.sensor);
        values.push((fan_stopped_series(&fan), stopped));
    }
    for controller in &health.memory_controllers {
        let series = memory_uncorrected_series(&controller.controller);
        values.push((series, controller.uncorrected as f64));
    }
    for device in &health.pcie {
        values.push((pcie_fatal_series(&device.address), device.fatal as f64));
    }
    for forecast in &health.fill_forecasts {
        let series = filesystem_hours_to_full_series(&forecast.mount_point);
        values.push((series, forecast.hours_to_full));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AlertState, Filesystem, GpuMetrics};
    use chrono::DateTime;

    #[test]
    fn the_machines_health_is_watched_under_its_series() {
        use crate::wire::{DiskHealth, MemoryController, PcieErrors, Sensor, SensorKind};
        let mut snapshot = Snapshot::default();
        snapshot.health.disks = vec![DiskHealth {
            device: "sda".into(),
            passed: Some(false),
            pending_sectors: Some(8),
            ..Default::default()
        }];
        snapshot.health.sensors = vec![
            Sensor {
                chip: "nct6775".into(),
                sensor: "fan2".into(),
                kind: SensorKind::Fan,
                ..Default::default()
            },
            Sensor {
                value: 70.0,
                ..Default::default()
            },
        ];
        snapshot.health.memory_controllers = vec![MemoryController {
            controller: "0".into(),
            uncorrected: 2,
            ..Default::default()
        }];
        snapshot.health.pcie = vec![PcieErrors {
            address: "0000:3b:00.0".into(),
            fatal: 1,
            ..Default::default()
        }];
        let values = derived_values(&snapshot);
        let get = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(get("disk/sda/smart_failing"), Some(1.0));
        assert_eq!(get("disk/sda/pending_sectors"), Some(8.0));
        assert_eq!(
            get("disk/sda/wear_percent"),
            None,
            "not reported: not watched"
        );
        assert_eq!(get("fan/nct6775/fan2/stopped"), Some(1.0));
        assert_eq!(get("memory/mc0/uncorrected_errors"), Some(2.0));
        assert_eq!(get("pcie/0000:3b:00.0/fatal_errors"), Some(1.0));
    }

    #[test]
    fn a_tick_is_watched_under_the_names_rules_use_and_changes_are_published() {
        let mut snapshot = Snapshot {
            timestamp: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            ..Default::default()
        };
        snapshot.gpus = vec![GpuMetrics {
            uuid: "GPU-a".into(),
            available: false,
            memory_used_bytes: Some(3),
            memory_total_bytes: Some(4),
            ..Default::default()
        }];
        snapshot.disk.filesystems = vec![Filesystem {
            mount_point: "/data".into(),
            total_bytes: 100,
            used_bytes: 98,
            ..Default::default()
        }];
        let values = derived_values(&snapshot);
        let get = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(get("gpu/GPU-a/available"), Some(0.0));
        assert_eq!(get("gpu/GPU-a/memory_percent"), Some(75.0));
        assert_eq!(get("filesystem//data/used_percent"), Some(98.0));

        let hub = Hub::new(1, std::time::Duration::from_secs(60), 8, 1 << 20);
        let alerts = Alerts::new(rules::defaults(), Webhooks::none());
        let stored = crate::server::history::series::of_snapshot(&snapshot);
        alerts.watch(&snapshot, &stored, &Vec::new(), &hub, None);
        let list = alerts.list();
        let firing: Vec<&str> = list.active.iter().map(|a| a.rule.as_str()).collect();
        assert_eq!(firing, ["gpu_unavailable", "filesystem"]);
        assert!(list.active.iter().all(|a| a.state == AlertState::Firing));
        let published = hub.history(CHANNEL_ALERTS, 0, None).unwrap();
        assert_eq!(published.len(), 2, "one message per change");
    }
}
