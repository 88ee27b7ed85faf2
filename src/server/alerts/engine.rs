//! The rule engine: each tick's values in, the alerts that changed out. Per rule and matched
//! series an alert goes pending when the value passes a threshold, firing once it has stayed past
//! it for the rule's `for` duration, and resolved when it comes back by more than the hysteresis
//! (or the series goes away). Severity follows the value up at once and down only past the
//! hysteresis too.

use crate::server::alerts::rules::Rule;
use crate::wire::{Alert, AlertComparison, AlertSeverity, AlertState};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashSet, VecDeque};

/// Changes kept for `recent`.
const RECENT_CHANGES: usize = 200;

type Key = (usize, String);

pub struct Engine {
    rules: Vec<Rule>,
    /// Pending and firing alerts by (rule, series).
    active: BTreeMap<Key, Alert>,
    /// For growth rules: each series' recent values, oldest first, as far back as the rule looks.
    history: BTreeMap<Key, VecDeque<(DateTime<Utc>, f64)>>,
    recent: VecDeque<Alert>,
    /// This tick's words about some series (who holds an idle GPU), given to their alerts.
    details: BTreeMap<String, String>,
}

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Engine {
        Engine {
            rules,
            active: BTreeMap::new(),
            history: BTreeMap::new(),
            recent: VecDeque::new(),
            details: BTreeMap::new(),
        }
    }

    /// Takes one tick's values; returns the alerts that changed, in rule order.
    pub fn evaluate<'a>(
        &mut self,
        at: DateTime<Utc>,
        values: impl IntoIterator<Item = &'a (String, f64)> + Clone,
    ) -> Vec<Alert> {
        let mut changes = Vec::new();
        let mut seen: HashSet<Key> = HashSet::new();
        for index in 0..self.rules.len() {
            for (name, value) in values.clone() {
                let Some(instance) = self.rules[index].instance_of(name) else {
                    continue;
                };
                let key = (index, instance.to_owned());
                seen.insert(key.clone());
                let watched = match self.rules[index].growth_over {
                    Some(over) => self.growth(&key, at, *value, over),
                    None => Some(*value),
                };
                if let Some(watched) = watched {
                    changes.extend(self.step(key, name, at, watched));
                }
            }
        }
        // A series that went away (a GPU that is gone, a filesystem unmounted) resolves its alert.
        let gone: Vec<Key> = self
            .active
            .keys()
            .filter(|key| !seen.contains(*key))
            .cloned()
            .collect();
        for key in gone {
            if let Some(mut alert) = self.active.remove(&key) {
                alert.state = AlertState::Resolved;
                alert.value = None;
                alert.since = at;
                changes.push(alert);
            }
        }
        self.history.retain(|key, _| seen.contains(key));
        for change in &changes {
            if self.recent.len() == RECENT_CHANGES {
                self.recent.pop_back();
            }
            self.recent.push_front(change.clone());
        }
        changes
    }

    /// Words for the next evaluation's alerts, by series.
    pub fn set_details(&mut self, details: BTreeMap<String, String>) {
        self.details = details;
    }

    /// Pending and firing alerts, oldest first.
    pub fn active(&self) -> Vec<Alert> {
        let mut active: Vec<Alert> = self.active.values().cloned().collect();
        active.sort_by_key(|a| a.started);
        active
    }

    /// The latest changes, newest first.
    pub fn recent(&self) -> Vec<Alert> {
        self.recent.iter().cloned().collect()
    }

    /// How much a series grew over `over` (None until it has been watched that long).
    fn growth(
        &mut self,
        key: &Key,
        at: DateTime<Utc>,
        value: f64,
        over: std::time::Duration,
    ) -> Option<f64> {
        let kept = self.history.entry(key.clone()).or_default();
        kept.push_back((at, value));
        let horizon = at - chrono::TimeDelta::from_std(over).ok()?;
        while kept.len() > 1 && kept.get(1).is_some_and(|(t, _)| *t <= horizon) {
            kept.pop_front();
        }
        let (oldest_at, oldest) = *kept.front()?;
        (oldest_at <= horizon).then_some(value - oldest)
    }

    fn step(&mut self, key: Key, series: &str, at: DateTime<Utc>, value: f64) -> Option<Alert> {
        let rule = &self.rules[key.0];
        let reached = level(rule, value, 0.0);
        let Some(alert) = self.active.get_mut(&key) else {
            let severity = reached?;
            let firing = rule.for_duration.is_zero();
            let alert = Alert {
                rule: rule.name.clone(),
                summary: rule.summary.clone(),
                series: series.to_owned(),
                instance: key.1.clone(),
                severity,
                state: if firing {
                    AlertState::Firing
                } else {
                    AlertState::Pending
                },
                value: Some(value),
                threshold: threshold(rule, severity),
                started: at,
                since: at,
                detail: self.details.get(series).cloned(),
            };
            self.active.insert(key, alert.clone());
            return Some(alert);
        };
        alert.value = Some(value);
        if let Some(detail) = self.details.get(series) {
            alert.detail = Some(detail.clone());
        }
        let held = match alert.state {
            // Pending: back under the threshold itself is enough to let it go.
            AlertState::Pending => reached,
            _ => level(rule, value, rule.hysteresis),
        };
        let Some(held) = held else {
            let mut resolved = self.active.remove(&key)?;
            resolved.state = AlertState::Resolved;
            resolved.since = at;
            return Some(resolved);
        };
        // Up at once; down only once the higher severity no longer holds.
        let severity = reached.map_or(held, |reached| reached.max(held));
        let mut changed = severity != alert.severity;
        alert.severity = severity;
        alert.threshold = threshold(rule, severity);
        let waited = (at - alert.started).to_std().unwrap_or_default();
        if alert.state == AlertState::Pending && waited >= rule.for_duration {
            alert.state = AlertState::Firing;
            alert.since = at;
            changed = true;
        }
        changed.then(|| alert.clone())
    }
}

/// The highest severity whose threshold `value` is past, less `slack` (the hysteresis, for an
/// alert that is already on).
fn level(rule: &Rule, value: f64, slack: f64) -> Option<AlertSeverity> {
    let past = |threshold: f64| match rule.comparison {
        AlertComparison::AtLeast => value >= threshold - slack,
        AlertComparison::AtMost => value <= threshold + slack,
    };
    if rule.critical.is_some_and(past) {
        Some(AlertSeverity::Critical)
    } else if rule.warning.is_some_and(past) {
        Some(AlertSeverity::Warning)
    } else {
        None
    }
}

fn threshold(rule: &Rule, severity: AlertSeverity) -> f64 {
    match severity {
        AlertSeverity::Critical => rule.critical.or(rule.warning),
        AlertSeverity::Warning => rule.warning.or(rule.critical),
    }
    .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::alerts::rules::defaults;

    const START: i64 = 1_767_225_600;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(START + second, 0).unwrap()
    }

    fn rule(name: &str) -> Rule {
        defaults().into_iter().find(|r| r.name == name).unwrap()
    }

    /// Feeds one value a second to `engine` from `from`; returns the changes as (second, state,
    /// severity).
    fn feed(
        engine: &mut Engine,
        series: &str,
        from: i64,
        values: &[f64],
    ) -> Vec<(i64, AlertState, AlertSeverity)> {
        values
            .iter()
            .enumerate()
            .flat_map(|(i, &v)| {
                let second = from + i as i64;
                engine
                    .evaluate(at(second), &[(series.to_owned(), v)])
                    .into_iter()
                    .map(move |a| (second, a.state, a.severity))
            })
            .collect()
    }

    #[test]
    fn an_alert_goes_pending_fires_after_its_duration_and_resolves() {
        let mut engine = Engine::new(vec![rule("gpu_temperature")]);
        let hot = "gpu/GPU-a/temperature";
        let mut values = vec![70.0; 5];
        values.extend([86.0; 70]);
        values.extend([70.0; 3]);
        let changes = feed(&mut engine, hot, 0, &values);
        use AlertSeverity::*;
        use AlertState::*;
        assert_eq!(
            changes,
            [
                (5, Pending, Warning),
                (65, Firing, Warning),
                (75, Resolved, Warning)
            ],
            "firing one minute after it went past 85 °C"
        );
        let resolved = &engine.recent()[0];
        assert_eq!((resolved.started, resolved.since), (at(5), at(75)));
        assert_eq!(resolved.instance, "GPU-a");
        assert!(engine.active().is_empty());
    }

    #[test]
    fn a_short_spike_never_fires() {
        let mut engine = Engine::new(vec![rule("gpu_temperature")]);
        let mut values = vec![88.0; 30];
        values.extend([60.0; 5]);
        let states: Vec<AlertState> = feed(&mut engine, "gpu/GPU-a/temperature", 0, &values)
            .into_iter()
            .map(|c| c.1)
            .collect();
        assert_eq!(states, [AlertState::Pending, AlertState::Resolved]);
    }

    #[test]
    fn a_value_hovering_at_the_threshold_does_not_flap() {
        let mut engine = Engine::new(vec![rule("gpu_temperature")]);
        let series = "gpu/GPU-a/temperature";
        feed(&mut engine, series, 0, &[86.0; 61]);
        assert_eq!(engine.active()[0].state, AlertState::Firing);
        // 84–86 °C for ten minutes: inside the 3 °C hysteresis, so no change at all.
        let hovering: Vec<f64> = (0..600)
            .map(|i| if i % 2 == 0 { 84.0 } else { 86.0 })
            .collect();
        assert_eq!(feed(&mut engine, series, 61, &hovering), []);
        // Below 82 °C it clears.
        let changes = feed(&mut engine, series, 661, &[81.9]);
        assert_eq!(changes[0].1, AlertState::Resolved);
    }

    #[test]
    fn severity_rises_at_once_and_falls_past_the_hysteresis() {
        let mut engine = Engine::new(vec![rule("gpu_temperature")]);
        let series = "gpu/GPU-a/temperature";
        feed(&mut engine, series, 0, &[86.0; 61]);
        let up = feed(&mut engine, series, 61, &[91.0]);
        assert_eq!(up, [(61, AlertState::Firing, AlertSeverity::Critical)]);
        assert_eq!(engine.active()[0].threshold, 90.0);
        assert_eq!(
            feed(&mut engine, series, 62, &[88.0]),
            [],
            "88 °C holds critical"
        );
        let down = feed(&mut engine, series, 63, &[86.5]);
        assert_eq!(down, [(63, AlertState::Firing, AlertSeverity::Warning)]);
    }

    #[test]
    fn a_gpu_that_disappears_fires_at_once_and_its_other_alerts_resolve() {
        let mut engine = Engine::new(defaults());
        let present = [
            ("gpu/GPU-a/temperature".to_owned(), 95.0),
            ("gpu/GPU-a/available".to_owned(), 1.0),
        ];
        for second in 0..=60 {
            engine.evaluate(at(second), &present);
        }
        assert_eq!(engine.active()[0].severity, AlertSeverity::Critical);
        // Unavailable: no temperature reading any more, availability 0.
        let changes = engine.evaluate(at(61), &[("gpu/GPU-a/available".to_owned(), 0.0)]);
        let by_rule: Vec<(&str, AlertState)> =
            changes.iter().map(|a| (a.rule.as_str(), a.state)).collect();
        assert_eq!(
            by_rule,
            [
                ("gpu_unavailable", AlertState::Firing),
                ("gpu_temperature", AlertState::Resolved)
            ]
        );
        assert_eq!(changes[0].severity, AlertSeverity::Critical);
    }

    #[test]
    fn swap_alerts_when_it_keeps_growing() {
        let mut engine = Engine::new(vec![rule("swap_growing")]);
        let mib = 1024.0 * 1024.0;
        let series = "memory.swap_used_bytes";
        // Steady for ten minutes: nothing. Then 1 MiB a second for ten minutes.
        assert_eq!(feed(&mut engine, series, 0, &[512.0 * mib; 600]), []);
        let growing: Vec<f64> = (1..=600).map(|i| (512.0 + i as f64) * mib).collect();
        let changes = feed(&mut engine, series, 600, &growing);
        assert_eq!(changes.len(), 1, "{changes:?}");
        let (second, state, _) = changes[0];
        assert_eq!(state, AlertState::Firing);
        // 256 MiB more than ten minutes before.
        assert_eq!(second, 600 + 255);
    }

    #[test]
    fn every_default_rule_fires_on_what_it_watches() {
        let cases = [
            (
                "gpu_temperature",
                "gpu/GPU-a/temperature",
                92.0,
                AlertSeverity::Critical,
            ),
            (
                "gpu_memory",
                "gpu/GPU-a/memory_percent",
                97.0,
                AlertSeverity::Warning,
            ),
            (
                "gpu_unavailable",
                "gpu/GPU-a/available",
                0.0,
                AlertSeverity::Critical,
            ),
            (
                "gpu_power_capped",
                "gpu/GPU-a/power_capped",
                1.0,
                AlertSeverity::Warning,
            ),
            ("memory", "memory.ram", 96.0, AlertSeverity::Warning),
            (
                "filesystem",
                "filesystem//data/used_percent",
                98.0,
                AlertSeverity::Critical,
            ),
            ("cpu", "cpu.usage", 99.0, AlertSeverity::Warning),
            (
                "heartbeat",
                "channel/jobs/train/lateness",
                1.5,
                AlertSeverity::Warning,
            ),
        ];
        for (name, series, value, severity) in cases {
            let rule = rule(name);
            let seconds = rule.for_duration.as_secs() as usize + 1;
            let mut engine = Engine::new(vec![rule]);
            let changes = feed(&mut engine, series, 0, &vec![value; seconds]);
            assert_eq!(
                changes.last().map(|c| (c.1, c.2)),
                Some((AlertState::Firing, severity)),
                "{name}: {changes:?}"
            );
            let quiet = match name {
                "gpu_unavailable" => 1.0,
                "heartbeat" | "gpu_power_capped" => 0.0,
                _ => 10.0,
            };
            let calm = feed(&mut engine, series, seconds as i64, &[quiet]);
            assert_eq!(
                calm.last().map(|c| c.1),
                Some(AlertState::Resolved),
                "{name}"
            );
        }
    }
}
