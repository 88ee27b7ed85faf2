//! `/proc/net/sockstat` and `sockstat6`: sockets in use per protocol and the memory they hold, as
//! node_exporter's `node_sockstat_<PROTOCOL>_<state>` gauges (`TCP_inuse`, `UDP_mem`, `TCP6_inuse`),
//! with `_mem_bytes` beside each `_mem` (pages × the page size) and `node_sockstat_sockets_used`.

use super::super::{family, gauge};
use super::{integer, is_name_part};
use prometheus_client::encoding::DescriptorEncoder;

/// The counts node_exporter knows; a line's other words are skipped.
const STATES: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

/// One file's counts.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Sockstat<'a> {
    /// `sockets: used N` (IPv4's file only).
    used: Option<f64>,
    /// Protocol, state and count, in the file's order.
    counts: Vec<(&'a str, &'a str, f64)>,
}

/// Lines of `PROTO: state count state count…`.
pub(super) fn parse(text: &str) -> Sockstat<'_> {
    let mut stat = Sockstat::default();
    for line in text.lines() {
        let Some((protocol, rest)) = line.split_once(':') else {
            continue;
        };
        let mut words = rest.split_ascii_whitespace();
        while let (Some(state), Some(count)) = (words.next(), words.next()) {
            let Some(count) = integer(count) else {
                break;
            };
            if protocol == "sockets" {
                if state == "used" {
                    stat.used = Some(count);
                }
            } else if is_name_part(protocol) && STATES.contains(&state) {
                stat.counts.push((protocol, state, count));
            }
        }
    }
    stat
}

/// The system's page size, the unit of the `mem` counts.
pub(super) fn page_size() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as f64 } else { 4096.0 }
}

/// One file's families; `ipv6` for sockstat6, whose `sockets` line node_exporter does not export.
pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    stat: &Sockstat,
    page_size: f64,
    ipv6: bool,
) -> std::fmt::Result {
    if !ipv6 {
        family(
            encoder,
            "node_sockstat_sockets_used",
            "Number of IPv4 sockets in use.",
            stat.used.map(|used| (vec![], gauge(used))),
        )?;
    }
    let mut name = String::with_capacity(48);
    let mut help = String::with_capacity(64);
    let mut write = |protocol: &str, state: &str, value: f64| {
        name.clear();
        name.push_str("node_sockstat_");
        name.push_str(protocol);
        name.push('_');
        name.push_str(state);
        help.clear();
        help.push_str("Number of ");
        help.push_str(protocol);
        help.push_str(" sockets in state ");
        help.push_str(state);
        help.push('.');
        family(encoder, &name, &help, [(vec![], gauge(value))])
    };
    for &(protocol, state, count) in &stat.counts {
        write(protocol, state, count)?;
        if state == "mem" {
            write(protocol, "mem_bytes", count * page_size)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    /// This machine's files (kernel 6.18).
    const SOCKSTAT: &str = "\
sockets: used 24
TCP: inuse 5 orphan 0 tw 2 alloc 6 mem 129
UDP: inuse 1 mem 3
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
";
    const SOCKSTAT6: &str = "\
TCP6: inuse 2
UDP6: inuse 1
UDPLITE6: inuse 0
RAW6: inuse 0
FRAG6: inuse 0 memory 0
";

    #[test]
    fn counts_and_memory_under_node_exporters_names() {
        let text = render::text(|e| {
            encode(e, &parse(SOCKSTAT), 4096.0, false)?;
            encode(e, &parse(SOCKSTAT6), 4096.0, true)
        });
        let value = |name: &str| render::value(&text, name);
        for (name, expected) in [
            ("node_sockstat_sockets_used", 24.0),
            ("node_sockstat_TCP_inuse", 5.0),
            ("node_sockstat_TCP_orphan", 0.0),
            ("node_sockstat_TCP_tw", 2.0),
            ("node_sockstat_TCP_alloc", 6.0),
            ("node_sockstat_TCP_mem", 129.0),
            ("node_sockstat_TCP_mem_bytes", 129.0 * 4096.0),
            ("node_sockstat_UDP_inuse", 1.0),
            ("node_sockstat_UDP_mem", 3.0),
            ("node_sockstat_UDP_mem_bytes", 3.0 * 4096.0),
            ("node_sockstat_UDPLITE_inuse", 0.0),
            ("node_sockstat_RAW_inuse", 0.0),
            ("node_sockstat_FRAG_memory", 0.0),
            ("node_sockstat_TCP6_inuse", 2.0),
            ("node_sockstat_UDP6_inuse", 1.0),
        ] {
            assert_eq!(value(name), Some(expected), "{name}");
        }
        assert!(text.contains("# TYPE node_sockstat_TCP_inuse gauge\n"));
        assert!(text.contains("# HELP node_sockstat_TCP_tw Number of TCP sockets in state tw.\n"));
        assert!(!text.contains("FRAG_mem_bytes"), "memory is bytes already");
        let used = text
            .lines()
            .filter(|l| l.starts_with("node_sockstat_sockets_used "));
        assert_eq!(used.count(), 1, "IPv4's only: {text}");
    }

    #[test]
    fn odd_words_are_skipped() {
        let stat =
            parse("sockets: used x\nTCP: inuse 1 bogus 2 tw\nbad line\nUDP: inuse 2 mem nope\n");
        assert_eq!(
            stat,
            Sockstat {
                used: None,
                counts: vec![("TCP", "inuse", 1.0), ("UDP", "inuse", 2.0)],
            }
        );
        assert!(page_size() >= 4096.0);
    }
}
