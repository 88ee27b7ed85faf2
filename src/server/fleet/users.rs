//! "Who uses the fleet": each person's GPU-hours over the last week, from the per-person counters
//! every Vitals exports, summed over the hosts by Prometheus.

use crate::server::fleet::prom::Sample;
use crate::wire::FleetUser;
use std::collections::BTreeMap;

/// People listed at most: the counters are capped per host, the table is capped too.
pub const MAX_USERS: usize = 256;

/// The table from the answers to `queries::user_totals` (held, used, idle-held, energy, in
/// `USER_COUNTERS`' order) and `queries::user_hosts`.
pub fn assemble(totals: [&[Sample]; 4], hosts: &[Sample]) -> Vec<FleetUser> {
    let mut people: BTreeMap<String, FleetUser> = BTreeMap::new();
    let name = |sample: &Sample| sample.labels.get("user").cloned().unwrap_or_default();
    for sample in totals[0] {
        people.insert(
            name(sample),
            FleetUser {
                user: name(sample),
                gpu_hours_held: sample.value / 3600.0,
                ..Default::default()
            },
        );
    }
    let mut fill = |samples: &[Sample], set: fn(&mut FleetUser, f64)| {
        for sample in samples {
            if let Some(person) = people.get_mut(&name(sample)) {
                set(person, sample.value);
            }
        }
    };
    fill(totals[1], |p, v| p.gpu_hours_used = Some(v / 3600.0));
    fill(totals[2], |p, v| p.idle_held_hours = Some(v / 3600.0));
    fill(totals[3], |p, v| p.energy_kwh = Some(v / 3.6e6));
    fill(hosts, |p, v| p.hosts = v as u32);
    let mut users: Vec<FleetUser> = people
        .into_values()
        .filter(|p| p.gpu_hours_held.is_finite() && p.gpu_hours_held > 0.0)
        .collect();
    users.sort_by(|a, b| {
        b.gpu_hours_held
            .total_cmp(&a.gpu_hours_held)
            .then(a.user.cmp(&b.user))
    });
    users.truncate(MAX_USERS);
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(user: &str, value: f64) -> Sample {
        Sample {
            labels: [("user".to_owned(), user.to_owned())].into(),
            value,
        }
    }

    #[test]
    fn people_are_listed_by_hours_held_with_what_else_is_known() {
        let held = [
            sample("alice", 7200.0),
            sample("bob", 36_000.0),
            sample("idle", 0.0),
        ];
        let used = [sample("bob", 3600.0)];
        let energy = [sample("alice", 3.6e6)];
        let hosts = [sample("alice", 2.0), sample("bob", 1.0)];
        let users = assemble([&held, &used, &[], &energy], &hosts);
        let names: Vec<&str> = users.iter().map(|u| u.user.as_str()).collect();
        assert_eq!(names, ["bob", "alice"], "nobody who held nothing");
        assert_eq!(users[0].gpu_hours_held, 10.0);
        assert_eq!(users[0].gpu_hours_used, Some(1.0));
        assert_eq!(users[1].energy_kwh, Some(1.0));
        assert_eq!((users[1].hosts, users[1].idle_held_hours), (2, None));
    }
}
