//! Alert rules: which series, which way, how far, for how long, and how far back before it clears.
//! The defaults are on unless switched off; the config file overrides them by name or adds more,
//! and a bad rule stops start-up with its name and what is wrong.

use crate::wire::AlertComparison;
use crate::wire::series::{self, gpu_metric, gpu_pattern};
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Lowercase words and underscores: how the rule is named in the config, the API and events.
    pub name: String,
    /// What it is about, in words ("GPU temperature").
    pub summary: String,
    /// A series name, or a pattern with one `*` (e.g. `gpu/*/temperature`): one alert per match.
    pub series: String,
    pub comparison: AlertComparison,
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    /// How long the value must stay past the threshold before the alert fires.
    pub for_duration: Duration,
    /// How far back past the threshold the value must go before the alert clears, so a value that
    /// hovers at the threshold does not flap.
    pub hysteresis: f64,
    /// When set, the rule watches how much the series grew over this long, not its value.
    pub growth_over: Option<Duration>,
}

impl Rule {
    /// A rule that fires when `series` is at least a threshold; set the thresholds and timings
    /// with the builder methods below.
    fn at_least(name: &str, summary: &str, series: &str) -> Rule {
        Rule {
            name: name.into(),
            summary: summary.into(),
            series: series.into(),
            comparison: AlertComparison::AtLeast,
            warning: None,
            critical: None,
            for_duration: Duration::ZERO,
            hysteresis: 0.0,
            growth_over: None,
        }
    }

    fn warning(self, at: f64) -> Rule {
        Rule {
            warning: Some(at),
            ..self
        }
    }

    fn critical(self, at: f64) -> Rule {
        Rule {
            critical: Some(at),
            ..self
        }
    }

    fn for_seconds(self, seconds: u64) -> Rule {
        Rule {
            for_duration: Duration::from_secs(seconds),
            ..self
        }
    }

    fn hysteresis(self, by: f64) -> Rule {
        Rule {
            hysteresis: by,
            ..self
        }
    }

    /// The part of `name` the `*` of the rule's series stands for ("" for a plain name), or None
    /// when the series is not the rule's.
    pub fn instance_of<'a>(&self, name: &'a str) -> Option<&'a str> {
        match self.series.split_once('*') {
            None => (name == self.series).then_some(""),
            Some((prefix, suffix)) => name
                .strip_prefix(prefix)?
                .strip_suffix(suffix)
                .filter(|middle| !middle.is_empty()),
        }
    }
}

/// The rules every Vitals starts with: a hot GPU, a GPU out of memory, held at its power limit,
/// slowed by heat or hardware, reporting XID errors or uncorrected memory errors, or gone; RAM
/// full, swap growing, a filesystem filling or forecast to fill within a day, a disk failing,
/// worn or gaining pending sectors, a fan stopped while the machine is warm, uncorrected host
/// memory errors, fatal PCIe errors, the CPU pinned, a channel silent past its heartbeat.
pub fn defaults() -> Vec<Rule> {
    vec![
        Rule::at_least(
            "gpu_temperature",
            "GPU temperature",
            &gpu_pattern(gpu_metric::TEMPERATURE),
        )
        .warning(85.0)
        .critical(90.0)
        .for_seconds(60)
        .hysteresis(3.0),
        Rule::at_least(
            "gpu_memory",
            "GPU memory in use",
            &gpu_pattern(gpu_metric::MEMORY_PERCENT),
        )
        .warning(95.0)
        .for_seconds(120)
        .hysteresis(2.0),
        Rule::at_least(
            "gpu_power_capped",
            "GPU held down at its power limit",
            &gpu_pattern(gpu_metric::POWER_CAPPED),
        )
        .warning(1.0)
        .for_seconds(300),
        Rule::at_least(
            "gpu_slowdown",
            "GPU slowed by heat or a hardware signal",
            &gpu_pattern(gpu_metric::SLOWDOWN),
        )
        .warning(1.0)
        .for_seconds(60),
        Rule::at_least(
            "gpu_xid",
            "GPU reported an XID error",
            &gpu_pattern(gpu_metric::XID_LAST_HOUR),
        )
        .warning(1.0),
        Rule::at_least(
            "gpu_ecc_uncorrected",
            "Uncorrected GPU memory errors",
            &gpu_pattern(gpu_metric::ECC_UNCORRECTED),
        )
        .critical(1.0),
        // The idle-held time (`--idle-held-after`) is already waited out by the tracker.
        Rule::at_least(
            "gpu_idle_held",
            "GPU held but idle",
            &gpu_pattern(gpu_metric::IDLE_HELD),
        )
        .warning(1.0),
        Rule {
            comparison: AlertComparison::AtMost,
            ..Rule::at_least(
                "gpu_unavailable",
                "GPU lost or unavailable",
                &gpu_pattern(gpu_metric::AVAILABLE),
            )
            .critical(0.0)
        },
        Rule::at_least("memory", "RAM in use", series::RAM_PERCENT)
            .warning(95.0)
            .for_seconds(120)
            .hysteresis(2.0),
        Rule {
            growth_over: Some(Duration::from_secs(600)),
            ..Rule::at_least(
                "swap_growing",
                "Swap in use growing",
                series::SWAP_USED_BYTES,
            )
            .warning(256.0 * 1024.0 * 1024.0)
        },
        Rule::at_least(
            "filesystem",
            "Filesystem full",
            &series::filesystem_used_series("*"),
        )
        .warning(90.0)
        .critical(97.0)
        .hysteresis(1.0),
        // The machine's health (server/health): disks, fans, memory, PCIe, filling filesystems.
        Rule::at_least(
            "disk_smart_failing",
            "Disk's SMART says it is failing",
            &series::disk_health_series("*", "smart_failing"),
        )
        .critical(1.0),
        Rule::at_least(
            "disk_worn",
            "Disk worn past 90 % of its rated writes",
            &series::disk_health_series("*", "wear_percent"),
        )
        .warning(90.0)
        .critical(100.0),
        Rule {
            growth_over: Some(Duration::from_secs(3600)),
            ..Rule::at_least(
                "disk_pending_sectors",
                "Disk's pending sectors rising",
                &series::disk_health_series("*", "pending_sectors"),
            )
            .warning(1.0)
        },
        Rule::at_least(
            "fan_stopped",
            "Fan stopped while the machine is warm",
            &series::fan_stopped_series("*"),
        )
        .warning(1.0)
        .for_seconds(60),
        Rule::at_least(
            "memory_uncorrected",
            "Uncorrected host memory errors",
            &series::memory_uncorrected_series("*"),
        )
        .critical(1.0),
        Rule::at_least(
            "pcie_fatal",
            "Fatal PCIe errors",
            &series::pcie_fatal_series("*"),
        )
        .critical(1.0),
        Rule {
            comparison: AlertComparison::AtMost,
            ..Rule::at_least(
                "filesystem_forecast",
                "Filesystem forecast to fill within a day",
                &series::filesystem_hours_to_full_series("*"),
            )
            .warning(24.0)
        },
        Rule::at_least("cpu", "CPU busy", series::CPU_USAGE)
            .warning(95.0)
            .for_seconds(600)
            .hysteresis(5.0),
        // A channel that promised a message every so often (`heartbeat_seconds` when it was
        // emitted to) and has been silent for longer.
        Rule::at_least(
            "heartbeat",
            "Channel silent past its heartbeat",
            &series::channel_lateness_series("*"),
        )
        .warning(1.0),
    ]
}

/// `[alerts]` in the config file.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Default rules switched off, by name.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Rules of one's own; one named like a default replaces it.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Where changes are delivered.
    #[serde(default)]
    pub webhooks: Vec<crate::server::alerts::webhooks::WebhookConfig>,
}

/// One `[[alerts.rules]]` table.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    pub series: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default = "at_least")]
    pub comparison: AlertComparison,
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    #[serde(default)]
    pub for_seconds: u64,
    #[serde(default)]
    pub hysteresis: f64,
    pub growth_over_seconds: Option<u64>,
}

fn at_least() -> AlertComparison {
    AlertComparison::AtLeast
}

/// What is wrong with a rule, with its name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("alert rule '{name}': {problem}")]
pub struct RuleError {
    pub name: String,
    pub problem: String,
}

/// The defaults, less those switched off, with the config's rules over them; every rule checked.
pub fn resolve(config: &AlertsConfig) -> Result<Vec<Rule>, RuleError> {
    let mut rules = defaults();
    for name in &config.disable {
        let before = rules.len();
        rules.retain(|rule| &rule.name != name);
        if rules.len() == before {
            return Err(RuleError {
                name: name.clone(),
                problem: format!(
                    "is not a default rule, so it cannot be disabled; the defaults are {}",
                    defaults()
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    for configured in &config.rules {
        let rule = check(configured)?;
        match rules.iter_mut().find(|r| r.name == rule.name) {
            // An override without a summary of its own keeps the default's words.
            Some(default) if configured.summary.is_none() => {
                *default = Rule {
                    summary: default.summary.clone(),
                    ..rule
                }
            }
            Some(default) => *default = rule,
            None => rules.push(rule),
        }
    }
    Ok(rules)
}

fn check(config: &RuleConfig) -> Result<Rule, RuleError> {
    let fail = |problem: String| RuleError {
        name: config.name.clone(),
        problem,
    };
    let name_ok = !config.name.is_empty()
        && config.name.len() <= 64
        && config
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err(fail("a name is 1–64 characters of a-z, 0-9 and '_'".into()));
    }
    let stars = config.series.matches('*').count();
    if config.series.is_empty() || stars > 1 || config.series.len() > 128 {
        return Err(fail(format!(
            "series '{}' must be a series name, or a pattern with one '*' like gpu/*/temperature",
            config.series
        )));
    }
    let (warning, critical) = (config.warning, config.critical);
    if warning.is_none() && critical.is_none() {
        return Err(fail(
            "give a warning or a critical threshold, or both".into(),
        ));
    }
    if [warning, critical, Some(config.hysteresis)]
        .into_iter()
        .flatten()
        .any(|v| !v.is_finite())
    {
        return Err(fail("thresholds and hysteresis must be numbers".into()));
    }
    if let (Some(warning), Some(critical)) = (warning, critical) {
        let ordered = match config.comparison {
            AlertComparison::AtLeast => critical >= warning,
            AlertComparison::AtMost => critical <= warning,
        };
        if !ordered {
            return Err(fail(format!(
                "critical ({critical}) must be past warning ({warning}) in the rule's direction"
            )));
        }
    }
    if config.hysteresis < 0.0 {
        return Err(fail("hysteresis cannot be negative".into()));
    }
    if config.for_seconds > 86_400 {
        return Err(fail("for_seconds is at most 86400 (a day)".into()));
    }
    if let Some(over) = config.growth_over_seconds
        && !(1..=86_400).contains(&over)
    {
        return Err(fail("growth_over_seconds is 1 to 86400".into()));
    }
    Ok(Rule {
        name: config.name.clone(),
        summary: config
            .summary
            .clone()
            .unwrap_or_else(|| config.name.replace('_', " ")),
        series: config.series.clone(),
        comparison: config.comparison,
        warning,
        critical,
        for_duration: Duration::from_secs(config.for_seconds),
        hysteresis: config.hysteresis,
        growth_over: config.growth_over_seconds.map(Duration::from_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(toml: &str) -> Result<Vec<Rule>, RuleError> {
        let config: AlertsConfig = toml::from_str(toml).unwrap();
        resolve(&config)
    }

    #[test]
    fn defaults_are_on_and_can_be_switched_off_or_overridden() {
        let names: Vec<String> = rule("").unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "gpu_temperature",
                "gpu_memory",
                "gpu_power_capped",
                "gpu_slowdown",
                "gpu_xid",
                "gpu_ecc_uncorrected",
                "gpu_idle_held",
                "gpu_unavailable",
                "memory",
                "swap_growing",
                "filesystem",
                "disk_smart_failing",
                "disk_worn",
                "disk_pending_sectors",
                "fan_stopped",
                "memory_uncorrected",
                "pcie_fatal",
                "filesystem_forecast",
                "cpu",
                "heartbeat"
            ]
        );
        let rules = rule(
            r#"
            disable = ["cpu"]
            [[rules]]
            name = "gpu_temperature"
            series = "gpu/*/temperature"
            warning = 80
            for_seconds = 30
            [[rules]]
            name = "load"
            series = "cpu.load1"
            warning = 8
            "#,
        )
        .unwrap();
        assert!(!rules.iter().any(|r| r.name == "cpu"));
        let hot = rules.iter().find(|r| r.name == "gpu_temperature").unwrap();
        assert_eq!((hot.warning, hot.critical), (Some(80.0), None));
        assert_eq!(hot.for_duration, Duration::from_secs(30));
        assert_eq!(
            hot.summary, "GPU temperature",
            "an override keeps the default's words"
        );
        assert_eq!(rules.last().unwrap().name, "load");
    }

    #[test]
    fn a_bad_rule_is_named_with_what_is_wrong() {
        let error = |toml: &str| rule(toml).unwrap_err().to_string();
        assert_eq!(
            error("[[rules]]\nname = \"x\"\nseries = \"cpu.usage\""),
            "alert rule 'x': give a warning or a critical threshold, or both"
        );
        assert!(
            error("[[rules]]\nname = \"Bad Name\"\nseries = \"a\"\nwarning = 1")
                .contains("'Bad Name'")
        );
        assert!(
            error("[[rules]]\nname = \"x\"\nseries = \"a/*/*\"\nwarning = 1").contains("one '*'")
        );
        assert!(
            error("[[rules]]\nname = \"x\"\nseries = \"a\"\nwarning = 90\ncritical = 80")
                .contains("critical (80) must be past warning (90)")
        );
        assert!(error("disable = [\"nope\"]").contains("alert rule 'nope': is not a default rule"));
        let unknown: Result<AlertsConfig, _> =
            toml::from_str("[[rules]]\nname = \"x\"\nseries = \"a\"\nwarn = 1");
        assert!(unknown.is_err(), "an unknown key is refused, not ignored");
    }

    #[test]
    fn patterns_match_one_instance_each() {
        let hot = &defaults()[0];
        assert_eq!(hot.instance_of("gpu/GPU-a/temperature"), Some("GPU-a"));
        assert_eq!(hot.instance_of("gpu/GPU-a/power"), None);
        assert_eq!(hot.instance_of("gpu//temperature"), None);
        let fs = defaults()
            .into_iter()
            .find(|r| r.name == "filesystem")
            .unwrap();
        assert_eq!(
            fs.instance_of("filesystem//home/used_percent"),
            Some("/home")
        );
        let ram = defaults().into_iter().find(|r| r.name == "memory").unwrap();
        assert_eq!(ram.instance_of("memory.ram"), Some(""));
    }
}
