//! `/proc/stat`'s kernel counters as node_exporter's stat collector exports them: interrupts,
//! context switches, forks, the boot time and the running and blocked process counts. The per-CPU
//! lines are host.rs' (from the sampler's snapshot).

use super::super::{counter, family, gauge};
use super::integer;
use prometheus_client::encoding::DescriptorEncoder;

/// The fields of /proc/stat node_exporter exports; each absent when its line is.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Stat {
    /// Interrupts serviced since boot: the first number of the `intr` line (its total).
    interrupts: Option<f64>,
    context_switches: Option<f64>,
    /// `processes`: forks since boot.
    forks: Option<f64>,
    /// `btime`, in seconds since the epoch.
    boot_time: Option<f64>,
    running: Option<f64>,
    blocked: Option<f64>,
}

pub(super) fn parse(text: &str) -> Stat {
    let mut stat = Stat::default();
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let slot = match words.next() {
            Some("intr") => &mut stat.interrupts,
            Some("ctxt") => &mut stat.context_switches,
            Some("processes") => &mut stat.forks,
            Some("btime") => &mut stat.boot_time,
            Some("procs_running") => &mut stat.running,
            Some("procs_blocked") => &mut stat.blocked,
            _ => continue,
        };
        // Only the first number: the intr line goes on with one count per interrupt line.
        *slot = words.next().and_then(integer);
    }
    stat
}

pub(super) fn encode(encoder: &mut DescriptorEncoder, stat: &Stat) -> std::fmt::Result {
    // Counters are named without `_total`: the encoder appends it.
    for (name, help, value) in [
        (
            "node_intr",
            "Total number of interrupts serviced.",
            stat.interrupts,
        ),
        (
            "node_context_switches",
            "Total number of context switches.",
            stat.context_switches,
        ),
        ("node_forks", "Total number of forks.", stat.forks),
    ] {
        family(encoder, name, help, value.map(|v| (vec![], counter(v))))?;
    }
    for (name, help, value) in [
        (
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            stat.boot_time,
        ),
        (
            "node_procs_running",
            "Number of processes in runnable state.",
            stat.running,
        ),
        (
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            stat.blocked,
        ),
    ] {
        family(encoder, name, help, value.map(|v| (vec![], gauge(v))))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    /// This machine's /proc/stat (2 CPUs), its intr line shortened.
    const STAT: &str = "\
cpu  30224 0 7516 16511 428 0 78 46 0 0
cpu0 15099 0 3362 8759 140 0 5 22 0 0
cpu1 15125 0 4154 7751 287 0 73 23 0 0
intr 280482 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 13 0 0 0 0 55 201 0 17 1 47907
ctxt 412375
btime 1796293174
processes 16338
procs_running 3
procs_blocked 0
softirq 184829 0 22943 6 18769 47907 0 963 26464 1 67776
";

    #[test]
    fn counters_and_gauges_under_node_exporters_names() {
        let text = render::text(|e| encode(e, &parse(STAT)));
        let value = |series: &str| render::value(&text, series);
        assert_eq!(value("node_intr_total"), Some(280482.0));
        assert_eq!(value("node_context_switches_total"), Some(412375.0));
        assert_eq!(value("node_forks_total"), Some(16338.0));
        assert_eq!(value("node_boot_time_seconds"), Some(1796293174.0));
        assert_eq!(value("node_procs_running"), Some(3.0));
        assert_eq!(value("node_procs_blocked"), Some(0.0));
        assert!(text.contains("# TYPE node_intr_total counter\n"));
        assert!(text.contains("# TYPE node_context_switches_total counter\n"));
        assert!(text.contains("# TYPE node_forks_total counter\n"));
        assert!(text.contains("# TYPE node_boot_time_seconds gauge\n"));
        assert!(text.contains("# TYPE node_procs_running gauge\n"));
    }

    #[test]
    fn a_missing_or_odd_line_leaves_only_its_family_out() {
        let stat = parse("ctxt x\nbtime\nprocs_running 2\nintr\n");
        assert_eq!(
            stat,
            Stat {
                running: Some(2.0),
                ..Default::default()
            }
        );
        let text = render::text(|e| encode(e, &parse("procs_running 2\n")));
        assert_eq!(text.matches("# TYPE ").count(), 1, "{text}");
    }
}
