//! Each person's GPU use since start, for `/metrics`' counters: so a fleet's Prometheus can sum
//! people over machines. Distinct people are capped, the rest counted as `other`, so a machine
//! with thousands of short-lived service accounts cannot blow up a Prometheus.

use crate::server::history::usage::UsageAmounts;
use std::collections::BTreeMap;

/// Distinct people counted by name; past it, `other`.
pub const MAX_PEOPLE: usize = 256;
/// The name the rest are counted under.
pub const OTHER: &str = "other";

#[derive(Debug, Default)]
pub struct PersonCounters {
    by_person: BTreeMap<String, UsageAmounts>,
}

impl PersonCounters {
    pub fn add(&mut self, person: &str, amounts: &UsageAmounts) {
        if let Some(seen) = self.by_person.get_mut(person) {
            seen.add(amounts);
            return;
        }
        let name = if self.by_person.len() < MAX_PEOPLE {
            person
        } else {
            OTHER
        };
        self.by_person
            .entry(name.to_owned())
            .or_default()
            .add(amounts);
    }

    /// Every person (and `other`) with their totals, by name.
    pub fn totals(&self) -> Vec<(String, UsageAmounts)> {
        self.by_person
            .iter()
            .map(|(name, amounts)| (name.clone(), *amounts))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_past_the_cap_are_counted_as_other() {
        let mut counters = PersonCounters::default();
        let second = UsageAmounts {
            held_s: 1.0,
            ..Default::default()
        };
        for person in 0..MAX_PEOPLE + 10 {
            counters.add(&format!("user{person}"), &second);
        }
        counters.add("user0", &second);
        let totals = counters.totals();
        // The cap counts `other` too once it is there: at most MAX_PEOPLE + 1 series.
        assert!(totals.len() <= MAX_PEOPLE + 1);
        let get = |name: &str| totals.iter().find(|(n, _)| n == name).unwrap().1.held_s;
        assert_eq!(get("user0"), 2.0);
        assert_eq!(get(OTHER), 10.0);
    }
}
