//! The network stack's counters of `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`,
//! the fields node_exporter exports by default, as untyped `node_netstat_<Protocol>_<Field>`:
//! TCP opens, segments, retransmits and resets, listen overflows and drops, UDP datagrams and
//! errors, IP forwarding, octets in and out, ICMP messages.

use super::super::family;
use super::{Untyped, integer, is_name_part};
use prometheus_client::encoding::DescriptorEncoder;

/// One counter: `Tcp`, `ActiveOpens` and its value.
#[derive(Debug, PartialEq)]
pub(super) struct Counter<'a> {
    protocol: &'a str,
    field: &'a str,
    value: f64,
}

/// /proc/net/netstat or /proc/net/snmp: pairs of lines, `Proto: names…` then `Proto: values…`.
/// A pair whose protocols or lengths do not match is skipped whole.
pub(super) fn parse(text: &str) -> Vec<Counter<'_>> {
    let mut counters = Vec::new();
    let mut lines = text.lines();
    while let (Some(header), Some(values)) = (lines.next(), lines.next()) {
        let (Some((protocol, names)), Some((again, values))) =
            (header.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        if protocol != again || !is_name_part(protocol) {
            continue;
        }
        let start = counters.len();
        let mut names = names.split_ascii_whitespace();
        let mut values = values.split_ascii_whitespace();
        let whole = loop {
            match (names.next(), values.next()) {
                (Some(field), Some(value)) => {
                    let Some(value) = integer(value) else {
                        break false;
                    };
                    if is_default_field(protocol, field) && is_name_part(field) {
                        counters.push(Counter {
                            protocol,
                            field,
                            value,
                        });
                    }
                }
                (None, None) => break true,
                _ => break false,
            }
        };
        if !whole {
            counters.truncate(start);
        }
    }
    counters
}

/// /proc/net/snmp6: one `Ip6InOctets   123` per line, the protocol up to its "6".
pub(super) fn parse_snmp6(text: &str) -> Vec<Counter<'_>> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_ascii_whitespace();
            let key = words.next()?;
            let value = integer(words.next()?)?;
            let six = key.find('6')?;
            let (protocol, field) = key.split_at(six + 1);
            (words.next().is_none()
                && is_name_part(protocol)
                && is_name_part(field)
                && is_default_field(protocol, field))
            .then_some(Counter {
                protocol,
                field,
                value,
            })
        })
        .collect()
}

/// node_exporter's default `--collector.netstat.fields`, matched by hand:
/// `^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|
/// TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|
/// Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|
/// Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$`.
fn is_default_field(protocol: &str, field: &str) -> bool {
    if matches!(field, "InErrors" | "InErrs") {
        return true;
    }
    match protocol {
        "Ip" => field == "Forwarding",
        "Ip6" | "IpExt" => matches!(field, "InOctets" | "OutOctets"),
        "Icmp" | "Icmp6" => matches!(field, "InMsgs" | "OutMsgs"),
        "TcpExt" => {
            field.starts_with("Listen")
                || field.starts_with("Syncookies")
                || matches!(
                    field,
                    "TCPSynRetrans" | "TCPTimeouts" | "TCPOFOQueue" | "TCPRcvQDrop"
                )
        }
        "Tcp" => matches!(
            field,
            "ActiveOpens"
                | "InSegs"
                | "OutSegs"
                | "OutRsts"
                | "PassiveOpens"
                | "RetransSegs"
                | "CurrEstab"
        ),
        "Udp" | "Udp6" => matches!(
            field,
            "InDatagrams" | "OutDatagrams" | "NoPorts" | "RcvbufErrors" | "SndbufErrors"
        ),
        _ => false,
    }
}

pub(super) fn encode(encoder: &mut DescriptorEncoder, counters: &[Counter]) -> std::fmt::Result {
    let mut name = String::with_capacity(64);
    let mut help = String::with_capacity(64);
    for counter in counters {
        name.clear();
        name.push_str("node_netstat_");
        name.push_str(counter.protocol);
        name.push('_');
        name.push_str(counter.field);
        help.clear();
        help.push_str("Statistic ");
        help.push_str(counter.protocol);
        help.push_str(counter.field);
        help.push('.');
        family(encoder, &name, &help, [(vec![], Untyped(counter.value))])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    /// This machine's /proc/net/snmp (kernel 6.18).
    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits
Ip: 2 64 20696 0 0 0 0 0 20696 10571 0 0 0 0 0 0 0 0 0 10571
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps
Icmp: 1 0 0 1 0 0 0 0 0 0 0 0 0 0 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0
IcmpMsg: InType3
IcmpMsg: 1
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 22 2 0 7 4 20662 10550 5 0 11 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 33 1 0 34 0 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
";

    /// /proc/net/netstat's TcpExt line shortened to the fields around the exported ones, and IpExt.
    const NETSTAT: &str = "\
TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts ListenOverflows ListenDrops TCPTimeouts TCPSynRetrans TCPOFOQueue TCPRcvQDrop TCPAutoCorking
TcpExt: 0 0 0 0 3 4 9 290 2 0 14980
IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts ReasmOverlaps
IpExt: 0 0 0 0 0 0 457244838 852512 0 0 0 0 0 20696 0 0 0 0
";

    const SNMP6: &str = "\
Ip6InReceives                   \t1
Ip6InOctets                     \t1024
Ip6OutOctets                    \t2048
Icmp6InMsgs                     \t5
Icmp6InErrors                   \t0
Icmp6OutMsgs                    \t6
Udp6InDatagrams                 \t7
UdpLite6InErrors                \t0
";

    #[test]
    fn the_default_fields_untyped_under_node_exporters_names() {
        let text = render::text(|e| {
            let mut counters = parse(NETSTAT);
            counters.extend(parse(SNMP));
            counters.extend(parse_snmp6(SNMP6));
            encode(e, &counters)
        });
        let value = |name: &str| render::value(&text, name);
        for (name, expected) in [
            ("node_netstat_Tcp_ActiveOpens", 22.0),
            ("node_netstat_Tcp_PassiveOpens", 2.0),
            ("node_netstat_Tcp_CurrEstab", 4.0),
            ("node_netstat_Tcp_RetransSegs", 5.0),
            ("node_netstat_Tcp_InSegs", 20662.0),
            ("node_netstat_Tcp_OutSegs", 10550.0),
            ("node_netstat_Tcp_InErrs", 0.0),
            ("node_netstat_Tcp_OutRsts", 11.0),
            ("node_netstat_TcpExt_ListenOverflows", 3.0),
            ("node_netstat_TcpExt_ListenDrops", 4.0),
            ("node_netstat_TcpExt_TCPSynRetrans", 290.0),
            ("node_netstat_TcpExt_TCPTimeouts", 9.0),
            ("node_netstat_TcpExt_SyncookiesSent", 0.0),
            ("node_netstat_Udp_InDatagrams", 33.0),
            ("node_netstat_Udp_OutDatagrams", 34.0),
            ("node_netstat_Udp_InErrors", 0.0),
            ("node_netstat_Udp_NoPorts", 1.0),
            ("node_netstat_UdpLite_InErrors", 0.0),
            ("node_netstat_Ip_Forwarding", 2.0),
            ("node_netstat_IpExt_InOctets", 457244838.0),
            ("node_netstat_IpExt_OutOctets", 852512.0),
            ("node_netstat_Icmp_InMsgs", 1.0),
            ("node_netstat_Icmp_OutMsgs", 3.0),
            ("node_netstat_Icmp_InErrors", 0.0),
            ("node_netstat_Ip6_InOctets", 1024.0),
            ("node_netstat_Icmp6_OutMsgs", 6.0),
            ("node_netstat_Udp6_InDatagrams", 7.0),
            ("node_netstat_UdpLite6_InErrors", 0.0),
        ] {
            assert_eq!(value(name), Some(expected), "{name}");
        }
        assert!(text.contains("# TYPE node_netstat_Tcp_ActiveOpens untyped\n"));
        assert!(text.contains("# HELP node_netstat_Tcp_ActiveOpens Statistic TcpActiveOpens.\n"));
        for left_out in [
            "Tcp_MaxConn",
            "Ip_DefaultTTL",
            "IcmpMsg",
            "TCPAutoCorking",
            "Ip6_InReceives",
        ] {
            assert!(!text.contains(left_out), "{left_out}");
        }
    }

    #[test]
    fn a_pair_that_does_not_match_is_skipped_whole() {
        let counters = parse(
            "Tcp: ActiveOpens PassiveOpens\nTcp: 1\n\
             Udp: InDatagrams NoPorts\nUdp: 1 x\n\
             Ip: Forwarding\nIpExt: 1\n\
             Icmp: InMsgs\nIcmp: 7\n\
             Odd line\n",
        );
        assert_eq!(
            counters,
            [Counter {
                protocol: "Icmp",
                field: "InMsgs",
                value: 7.0
            }]
        );
        assert!(parse("").is_empty() && parse_snmp6("Ip6InOctets\nfoo 1\n").is_empty());
    }
}
