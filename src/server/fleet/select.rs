//! Which hosts a page or API client sees, in what order: `?q=` filters by name or label
//! (`env=prod`, a GPU model), `?sort=` and `?order=` sort by any column.

use crate::wire::{FleetHost, HostState};
use serde::Deserialize;
use std::cmp::Ordering;

/// The longest filter accepted.
const MAX_FILTER_CHARS: usize = 200;
/// Hosts one answer (the page or `/api/fleet`) carries at most, in the selection's order: past
/// it the page says how many more match, and a filter narrows them down.
pub const MAX_HOSTS_SHOWN: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Down first, then partial, then up; by name within each.
    #[default]
    State,
    Host,
    Cpu,
    Memory,
    Load,
    Disk,
    Network,
    Gpu,
    GpuMemory,
    Temperature,
    Power,
    Alerts,
}

impl SortKey {
    pub const ALL: [(SortKey, &'static str); 12] = [
        (SortKey::Host, "host"),
        (SortKey::State, "state"),
        (SortKey::Cpu, "cpu"),
        (SortKey::Memory, "memory"),
        (SortKey::Load, "load"),
        (SortKey::Disk, "disk"),
        (SortKey::Network, "network"),
        (SortKey::Gpu, "gpu"),
        (SortKey::GpuMemory, "gpu_memory"),
        (SortKey::Temperature, "temperature"),
        (SortKey::Power, "power"),
        (SortKey::Alerts, "alerts"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(key, _)| *key == self)
            .map_or("state", |(_, name)| name)
    }

    /// The order a first click on the column sorts in: busiest first, names A to Z.
    pub fn natural_order(self) -> SortOrder {
        match self {
            SortKey::Host | SortKey::State => SortOrder::Asc,
            _ => SortOrder::Desc,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// The query string of `/fleet` and `/api/fleet`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: SortKey,
    pub order: Option<SortOrder>,
}

impl Selection {
    pub fn order(&self) -> SortOrder {
        self.order.unwrap_or(self.sort.natural_order())
    }

    pub fn check(&self) -> Result<(), String> {
        if self.q.chars().count() > MAX_FILTER_CHARS {
            return Err(format!(
                "the filter is longer than {MAX_FILTER_CHARS} characters"
            ));
        }
        Ok(())
    }
}

/// The message for a query string that does not parse.
pub fn explain(error: &str) -> String {
    let keys: Vec<&str> = SortKey::ALL.iter().map(|(_, name)| *name).collect();
    format!(
        "{error}; use ?q=TEXT (a host name or a label such as env=prod), ?sort={} and ?order=asc|desc",
        keys.join("|")
    )
}

/// Whether every word of the filter is in the host's name, a `key=value` label, a job, or a GPU model.
pub fn matches(host: &FleetHost, filter: &str) -> bool {
    let haystack = searchable(host);
    filter
        .split_whitespace()
        .all(|word| haystack.contains(&word.to_lowercase()))
}

fn searchable(host: &FleetHost) -> String {
    let mut text = host.name.to_lowercase();
    for (key, value) in &host.labels {
        text.push_str(&format!(" {key}={value}").to_lowercase());
    }
    for target in &host.targets {
        text.push_str(&format!(" job={}", target.job).to_lowercase());
    }
    for gpu in &host.gpus {
        text.push(' ');
        text.push_str(&gpu.model.to_lowercase());
    }
    text
}

pub fn select<'a>(hosts: &'a [FleetHost], selection: &Selection) -> Vec<&'a FleetHost> {
    let mut shown: Vec<&FleetHost> = hosts
        .iter()
        .filter(|host| matches(host, &selection.q))
        .collect();
    let key = selection.sort;
    let descending = selection.order() == SortOrder::Desc;
    shown.sort_by(|a, b| {
        let by_key = match key {
            SortKey::Host => a.name.cmp(&b.name),
            SortKey::State => state_rank(a.state).cmp(&state_rank(b.state)),
            _ => {
                // Hosts without the value go last whichever the order.
                return match (value(a, key), value(b, key)) {
                    (Some(x), Some(y)) => {
                        let ordered = x.total_cmp(&y);
                        if descending {
                            ordered.reverse()
                        } else {
                            ordered
                        }
                    }
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
                .then_with(|| a.name.cmp(&b.name));
            }
        };
        let by_key = if descending { by_key.reverse() } else { by_key };
        by_key.then_with(|| a.name.cmp(&b.name))
    });
    shown
}

fn state_rank(state: HostState) -> u8 {
    match state {
        HostState::Down => 0,
        HostState::Partial => 1,
        HostState::Up => 2,
    }
}

fn value(host: &FleetHost, key: SortKey) -> Option<f64> {
    let sum = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (None, None) => None,
        _ => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    };
    let gpus = |pick: fn(&crate::wire::FleetGpu) -> Option<f64>| {
        host.gpus.iter().filter_map(pick).reduce(f64::max)
    };
    match key {
        SortKey::Cpu => host.cpu_percent,
        SortKey::Memory => host.memory_percent,
        SortKey::Load => host.load1,
        SortKey::Disk => sum(
            host.disk_read_bytes_per_second,
            host.disk_write_bytes_per_second,
        ),
        SortKey::Network => sum(
            host.network_receive_bytes_per_second,
            host.network_transmit_bytes_per_second,
        ),
        // The mean over the host's GPUs, so a host of 8 busy GPUs ranks above one of 1.
        SortKey::Gpu => host.mean_gpu_utilization(),
        SortKey::GpuMemory => gpus(|g| Some(g.memory_used_mib? / g.memory_total_mib? * 100.0)),
        SortKey::Temperature => gpus(|g| g.temperature_celsius),
        SortKey::Power => host
            .gpus
            .iter()
            .filter_map(|g| g.power_watts)
            .reduce(|a, b| a + b),
        SortKey::Alerts => Some(host.alerts.len() as f64),
        SortKey::Host | SortKey::State => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{FleetGpu, FleetTarget};

    fn host(name: &str, state: HostState, cpu: Option<f64>, gpu_utils: &[f64]) -> FleetHost {
        FleetHost {
            name: name.into(),
            state,
            targets: vec![FleetTarget {
                job: "node".into(),
                instance: format!("{name}:9100"),
                up: state != HostState::Down,
            }],
            labels: [("env".to_owned(), format!("{name}-env"))].into(),
            cpu_percent: cpu,
            gpus: gpu_utils
                .iter()
                .map(|&u| FleetGpu {
                    model: "NVIDIA A100".into(),
                    utilization_percent: Some(u),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn names(hosts: &[FleetHost], selection: Selection) -> Vec<&str> {
        select(hosts, &selection)
            .into_iter()
            .map(|h| h.name.as_str())
            .collect()
    }

    #[test]
    fn down_hosts_come_first_and_missing_values_last_in_either_order() {
        let hosts = [
            host("b", HostState::Up, Some(10.0), &[90.0, 10.0]),
            host("a", HostState::Up, None, &[]),
            host("c", HostState::Down, Some(80.0), &[20.0]),
            host("d", HostState::Partial, Some(30.0), &[]),
        ];
        assert_eq!(names(&hosts, Selection::default()), ["c", "d", "a", "b"]);
        let cpu = |order| Selection {
            sort: SortKey::Cpu,
            order,
            ..Default::default()
        };
        assert_eq!(
            names(&hosts, cpu(None)),
            ["c", "d", "b", "a"],
            "busiest first"
        );
        assert_eq!(
            names(&hosts, cpu(Some(SortOrder::Asc))),
            ["b", "d", "c", "a"]
        );
        let gpu = Selection {
            sort: SortKey::Gpu,
            ..Default::default()
        };
        assert_eq!(
            names(&hosts, gpu),
            ["b", "c", "a", "d"],
            "mean over a host's GPUs"
        );
        let by_name = Selection {
            sort: SortKey::Host,
            order: Some(SortOrder::Desc),
            ..Default::default()
        };
        assert_eq!(names(&hosts, by_name), ["d", "c", "b", "a"]);
    }

    #[test]
    fn every_word_of_the_filter_must_match_a_name_label_job_or_model() {
        let hosts = [
            host("gpu-a", HostState::Up, None, &[1.0]),
            host("cpu-b", HostState::Up, None, &[]),
        ];
        let filter = |q: &str| {
            names(
                &hosts,
                Selection {
                    q: q.into(),
                    ..Default::default()
                },
            )
        };
        assert_eq!(filter("GPU"), ["gpu-a"]);
        assert_eq!(filter("env=cpu-b-env"), ["cpu-b"]);
        assert_eq!(filter("job=node a100"), ["gpu-a"]);
        assert_eq!(filter("job=node"), ["cpu-b", "gpu-a"]);
        assert!(filter("nothing").is_empty());
        let long = Selection {
            q: "x".repeat(201),
            ..Default::default()
        };
        assert!(long.check().is_err());
    }
}
