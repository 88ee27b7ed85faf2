//! Who holds the GPUs: each GPU's idle-held state with its holders, and each person's GPU time
//! since start as counters (`vitals_gpu_user_*_total{user}`), so a fleet's Prometheus can sum
//! people over machines. People are capped (`usage::counters::MAX_PEOPLE`, the rest `other`).

use super::{counter, family, flag, gauge};
use crate::server::history::usage::UsageAmounts;
use crate::server::pipeline::latest::Latest;
use crate::server::usage::Usage;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use std::sync::Arc;

pub(super) struct UsageCollector {
    pub(super) usage: Arc<Usage>,
    pub(super) latest: Latest,
    pub(super) hostname: Arc<str>,
}

impl std::fmt::Debug for UsageCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UsageCollector")
    }
}

/// A person counter: its name (less `_total`), help, and which amount it counts.
type PersonField = (&'static str, &'static str, fn(&UsageAmounts) -> f64);

const PERSON_FIELDS: [PersonField; 4] = [
    (
        "vitals_gpu_user_held_seconds",
        "GPU-seconds a person's processes held GPU memory (a shared GPU split by memory held).",
        |a| a.held_s,
    ),
    (
        "vitals_gpu_user_used_seconds",
        "GPU-seconds of a person's work (per-process SM samples, or utilization split by memory).",
        |a| a.used_s,
    ),
    (
        "vitals_gpu_user_energy_joules",
        "GPU energy apportioned to a person, in joules.",
        |a| a.energy_j,
    ),
    (
        "vitals_gpu_user_idle_held_seconds",
        "GPU-seconds a person held GPUs that sat idle-held.",
        |a| a.idle_held_s,
    ),
];

impl Collector for UsageCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        if let Some(snapshot) = self.latest.get() {
            family(
                &mut encoder,
                "vitals_gpu_idle_held",
                "1 while a GPU's processes hold its memory and it has stayed idle past the idle-held time; held_by names them.",
                snapshot.gpus.iter().filter(|g| g.available).map(|gpu| {
                    let labels = vec![
                        ("gpu", gpu.index.to_string()),
                        ("UUID", gpu.uuid.clone()),
                        ("Hostname", self.hostname.to_string()),
                        (
                            "held_by",
                            gpu.idle_held
                                .as_ref()
                                .map(|h| h.held_by.clone())
                                .unwrap_or_default(),
                        ),
                    ];
                    (labels, gauge(flag(gpu.idle_held.is_some())))
                }),
            )?;
        }
        let people = self.usage.person_totals();
        for (name, help, amount) in PERSON_FIELDS {
            family(
                &mut encoder,
                name,
                help,
                people.iter().map(|(person, amounts)| {
                    (
                        vec![
                            ("user", person.clone()),
                            ("Hostname", self.hostname.to_string()),
                        ],
                        counter(amount(amounts)),
                    )
                }),
            )?;
        }
        Ok(())
    }
}
