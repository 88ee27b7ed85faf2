//! `/proc/pressure/{cpu,io,memory,irq}`: the kernel's pressure stall totals as node_exporter's
//! `node_pressure_*_seconds_total` counters, its "some" line as waiting and "full" as stalled.
//! node_exporter leaves out CPU's "full" line (newer kernels write one, always 0 at system level)
//! and IRQ's has only "full"; so do these.

use super::super::{counter, family};
use prometheus_client::encoding::DescriptorEncoder;

/// The files under /proc/pressure, in node_exporter's order; irq only exists from Linux 6.1 with
/// CONFIG_IRQ_TIME_ACCOUNTING.
pub(super) const RESOURCES: [&str; 4] = ["cpu", "io", "memory", "irq"];

/// One resource's stall totals, in seconds.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Totals {
    /// Some task stalled ("some" line).
    some: Option<f64>,
    /// Every non-idle task stalled at once ("full" line).
    full: Option<f64>,
}

/// Which line a family reads.
#[derive(Clone, Copy)]
enum Line {
    Some,
    Full,
}

/// node_exporter's families: the resource, the line, the name (less the `_total` the encoder adds)
/// and its help.
const FAMILIES: [(&str, Line, &str, &str); 6] = [
    (
        "cpu",
        Line::Some,
        "node_pressure_cpu_waiting_seconds",
        "Total time in seconds that processes have waited for CPU time",
    ),
    (
        "io",
        Line::Some,
        "node_pressure_io_waiting_seconds",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        Line::Full,
        "node_pressure_io_stalled_seconds",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    (
        "memory",
        Line::Some,
        "node_pressure_memory_waiting_seconds",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        Line::Full,
        "node_pressure_memory_stalled_seconds",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
    (
        "irq",
        Line::Full,
        "node_pressure_irq_stalled_seconds",
        "Total time in seconds no process could make progress due to IRQ congestion",
    ),
];

/// A pressure file's `total=` of each line (µs), in seconds; a line without one is absent.
pub(super) fn parse(text: &str) -> Totals {
    let mut totals = Totals::default();
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let kind = words.next();
        let Some(total) = words
            .find_map(|word| word.strip_prefix("total="))
            .and_then(|micros| micros.parse::<u64>().ok())
        else {
            continue;
        };
        // node_exporter's arithmetic, so the two give the same value to the last digit.
        let seconds = total as f64 / 1000.0 / 1000.0;
        match kind {
            Some("some") => totals.some = Some(seconds),
            Some("full") => totals.full = Some(seconds),
            _ => {}
        }
    }
    totals
}

/// The families of one resource (`cpu`, `io`, `memory` or `irq`).
pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    resource: &str,
    totals: &Totals,
) -> std::fmt::Result {
    for (of, line, name, help) in FAMILIES {
        if of != resource {
            continue;
        }
        let seconds = match line {
            Line::Some => totals.some,
            Line::Full => totals.full,
        };
        family(encoder, name, help, seconds.map(|s| (vec![], counter(s))))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    /// This machine's files (kernel 6.18); it has no irq file, so that one is a typical sample.
    const CPU: &str = "some avg10=9.85 avg60=8.10 avg300=4.46 total=20256765\n\
                       full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    const IO: &str = "some avg10=0.20 avg60=0.86 avg300=0.58 total=3198394\n\
                      full avg10=0.14 avg60=0.63 avg300=0.44 total=2419766\n";
    const MEMORY: &str = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\
                          full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    const IRQ: &str = "full avg10=0.00 avg60=0.00 avg300=0.00 total=12345\n";

    fn all(files: &'static [(&'static str, &'static str)]) -> String {
        render::text(move |e| {
            files
                .iter()
                .try_for_each(|(resource, text)| encode(e, resource, &parse(text)))
        })
    }

    #[test]
    fn some_is_waiting_and_full_is_stalled_in_seconds() {
        let text = all(&[("cpu", CPU), ("io", IO), ("memory", MEMORY), ("irq", IRQ)]);
        let value = |series: &str| render::value(&text, series);
        assert_eq!(
            value("node_pressure_cpu_waiting_seconds_total"),
            Some(20256765.0 / 1e3 / 1e3)
        );
        assert_eq!(
            value("node_pressure_io_waiting_seconds_total"),
            Some(3198394.0 / 1e3 / 1e3)
        );
        assert_eq!(
            value("node_pressure_io_stalled_seconds_total"),
            Some(2419766.0 / 1e3 / 1e3)
        );
        assert_eq!(
            value("node_pressure_memory_waiting_seconds_total"),
            Some(0.0)
        );
        assert_eq!(
            value("node_pressure_memory_stalled_seconds_total"),
            Some(0.0)
        );
        assert_eq!(
            value("node_pressure_irq_stalled_seconds_total"),
            Some(12345.0 / 1e3 / 1e3)
        );
        assert!(text.contains("# TYPE node_pressure_cpu_waiting_seconds_total counter\n"));
        assert!(
            !text.contains("cpu_stalled"),
            "node_exporter has no CPU full"
        );
        assert_eq!(text.matches("# TYPE ").count(), 6);
    }

    #[test]
    fn without_the_irq_file_there_is_no_irq_family() {
        let text = all(&[("cpu", CPU), ("io", IO), ("memory", MEMORY)]);
        assert!(!text.contains("node_pressure_irq"), "{text}");
        assert_eq!(text.matches("# TYPE ").count(), 5);
    }

    #[test]
    fn odd_lines_are_skipped() {
        assert_eq!(parse(""), Totals::default());
        assert_eq!(
            parse("some avg10=1 total=x\nfull total=5\nother total=9\n"),
            Totals {
                some: None,
                full: Some(5.0 / 1e3 / 1e3)
            }
        );
    }
}
