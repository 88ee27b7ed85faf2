//! Network interfaces: the counters of `/proc/net/dev` as node_exporter's
//! `node_network_{receive,transmit}_*_total{device}`, and from `/sys/class/net/<device>/` its
//! netclass families `node_network_up`, `node_network_info`, `node_network_mtu_bytes`,
//! `node_network_speed_bytes` and `node_network_carrier`. Every interface is exported, loopback
//! included, as node_exporter does by default.

use super::super::{counter, family, flag, gauge};
use super::{integer, read_text};
use crate::server::collect::network::net_dev_lines;
use prometheus_client::encoding::DescriptorEncoder;
use std::path::Path;

/// /proc/net/dev's columns, in order, under node_exporter's names (less the `_total` the encoder
/// adds).
const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// One interface's line of /proc/net/dev.
#[derive(Debug, PartialEq)]
pub(super) struct Interface<'a> {
    name: &'a str,
    columns: [f64; 16],
}

/// The interfaces' lines, as the sampler reads them too.
pub(super) fn parse(text: &str) -> Vec<Interface<'_>> {
    net_dev_lines(text)
        .map(|(name, counters)| Interface {
            name,
            columns: counters.map(|c| c as f64),
        })
        .collect()
}

pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    interfaces: &[Interface],
) -> std::fmt::Result {
    let mut name = String::with_capacity(48);
    let mut help = String::with_capacity(64);
    for (column, stat) in COLUMNS.iter().enumerate() {
        name.clear();
        name.push_str("node_network_");
        name.push_str(stat);
        help.clear();
        help.push_str("Network device statistic ");
        help.push_str(stat);
        help.push('.');
        family(
            encoder,
            &name,
            &help,
            interfaces.iter().map(|i| {
                (
                    vec![("device", i.name.to_owned())],
                    counter(i.columns[column]),
                )
            }),
        )?;
    }
    Ok(())
}

/// What /sys/class/net/<device>/ says of one interface; a file that cannot be read (speed and
/// duplex of virtual devices, carrier of a down one) is None.
#[derive(Debug, Default, PartialEq)]
pub(super) struct NetClass {
    device: String,
    operstate: Option<String>,
    address: Option<String>,
    broadcast: Option<String>,
    duplex: Option<String>,
    ifalias: Option<String>,
    /// The IFF_* flags (`0x1003`).
    flags: Option<u64>,
    mtu: Option<f64>,
    /// Mb/s; -1 where the driver does not know.
    speed: Option<f64>,
    carrier: Option<f64>,
}

/// Room for any attribute read here (ifalias, the longest, is at most 256 bytes).
const ATTRIBUTE_CAPACITY: usize = 512;

/// Each interface under `<sys_root>/class/net`, by name; none when the folder is missing.
pub(super) fn read_class(sys_root: &Path) -> Vec<NetClass> {
    let folder = sys_root.join("class/net");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let mut interfaces: Vec<NetClass> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            // Interfaces are links to folders; bonding_masters is a file beside them. The type
            // comes with the listing: no stat.
            if entry.file_type().ok()?.is_file() {
                return None;
            }
            let device = entry.file_name().into_string().ok()?;
            let dir = folder.join(&device);
            Some(parse_class(device, |attribute| {
                read_text(&dir.join(attribute), ATTRIBUTE_CAPACITY)
            }))
        })
        .collect();
    interfaces.sort_by(|a, b| a.device.cmp(&b.device));
    interfaces
}

/// One interface's attributes, read through `read` (a file's text, None when it cannot be read).
pub(super) fn parse_class(
    device: String,
    mut read: impl FnMut(&str) -> Option<String>,
) -> NetClass {
    let mut text = |attribute: &str| {
        read(attribute).map(|mut value| {
            let end = value.trim_end().len();
            value.truncate(end);
            value
        })
    };
    let number = |value: Option<String>| value.as_deref().and_then(integer);
    NetClass {
        operstate: text("operstate"),
        address: text("address"),
        broadcast: text("broadcast"),
        duplex: text("duplex"),
        ifalias: text("ifalias"),
        flags: text("flags")
            .as_deref()
            .and_then(|f| u64::from_str_radix(f.strip_prefix("0x")?, 16).ok()),
        mtu: number(text("mtu")),
        speed: number(text("speed")),
        carrier: number(text("carrier")),
        device,
    }
}

/// node_exporter's `adminstate` label: from IFF_UP, "unknown" without the flags.
fn admin_state(flags: Option<u64>) -> &'static str {
    const IFF_UP: u64 = 0x1;
    match flags {
        None => "unknown",
        Some(flags) if flags & IFF_UP != 0 => "up",
        Some(_) => "down",
    }
}

pub(super) fn encode_class(
    encoder: &mut DescriptorEncoder,
    interfaces: &[NetClass],
) -> std::fmt::Result {
    let device = |i: &NetClass| vec![("device", i.device.clone())];
    family(
        encoder,
        "node_network_up",
        "Value is 1 if operstate is 'up', 0 otherwise.",
        interfaces.iter().map(|i| {
            let up = i.operstate.as_deref() == Some("up");
            (device(i), gauge(flag(up)))
        }),
    )?;
    let label = |value: &Option<String>| value.clone().unwrap_or_default();
    family(
        encoder,
        "node_network_info",
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        interfaces.iter().map(|i| {
            (
                vec![
                    ("device", i.device.clone()),
                    ("address", label(&i.address)),
                    ("broadcast", label(&i.broadcast)),
                    ("duplex", label(&i.duplex)),
                    ("operstate", label(&i.operstate)),
                    ("adminstate", admin_state(i.flags).to_owned()),
                    ("ifalias", label(&i.ifalias)),
                ],
                gauge(1.0),
            )
        }),
    )?;
    family(
        encoder,
        "node_network_carrier",
        "Network device property: carrier",
        interfaces
            .iter()
            .filter_map(|i| Some((device(i), gauge(i.carrier?)))),
    )?;
    family(
        encoder,
        "node_network_mtu_bytes",
        "Network device property: mtu_bytes",
        interfaces
            .iter()
            .filter_map(|i| Some((device(i), gauge(i.mtu?)))),
    )?;
    // Mb/s to bytes/s; virtual devices say -1 (unknown), which node_exporter leaves out by default.
    family(
        encoder,
        "node_network_speed_bytes",
        "Network device property: speed_bytes",
        interfaces.iter().filter_map(|i| {
            let speed = i.speed.filter(|&s| s >= 0.0)?;
            Some((device(i), gauge(speed * 125_000.0)))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;
    use std::collections::HashMap;

    /// This machine's /proc/net/dev, with a larger counter that fills its column.
    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3245      30    0    0    0     0          0         0     3245      30    0    0    0     0       0          0
  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0: 457531143   20669    1    2    3     4          5         6   997851   10552    7    8    9    10       11          12
enp3s0f1:123456789012 1 0 0 0 0 0 0 5 6 0 0 0 0 0 0
";

    #[test]
    fn every_counter_of_every_interface() {
        let names: Vec<_> = parse(NET_DEV).iter().map(|i| i.name).collect();
        assert_eq!(names, ["lo", "ifb0", "eth0", "enp3s0f1"]);
        let text = render::text(|e| encode(e, &parse(NET_DEV)));
        let eth0 = |name: &str| render::value(&text, &format!(r#"{name}{{device="eth0"}}"#));
        let expected = [
            ("receive_bytes", 457531143.0),
            ("receive_packets", 20669.0),
            ("receive_errs", 1.0),
            ("receive_drop", 2.0),
            ("receive_fifo", 3.0),
            ("receive_frame", 4.0),
            ("receive_compressed", 5.0),
            ("receive_multicast", 6.0),
            ("transmit_bytes", 997851.0),
            ("transmit_packets", 10552.0),
            ("transmit_errs", 7.0),
            ("transmit_drop", 8.0),
            ("transmit_fifo", 9.0),
            ("transmit_colls", 10.0),
            ("transmit_carrier", 11.0),
            ("transmit_compressed", 12.0),
        ];
        for (stat, value) in expected {
            let name = format!("node_network_{stat}_total");
            assert_eq!(eth0(&name), Some(value), "{name}");
            assert!(text.contains(&format!("# TYPE {name} counter\n")));
        }
        assert_eq!(
            render::value(
                &text,
                r#"node_network_receive_bytes_total{device="enp3s0f1"}"#
            ),
            Some(123456789012.0)
        );
        assert!(text.contains(
            "# HELP node_network_receive_bytes_total Network device statistic receive_bytes.\n"
        ));
    }

    #[test]
    fn odd_lines_are_skipped() {
        assert!(parse("eth0: 1 2 3\n: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nx: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n").is_empty());
    }

    fn class(device: &str, files: &[(&str, &str)]) -> NetClass {
        let files: HashMap<_, _> = files.iter().copied().collect();
        parse_class(device.into(), |a| files.get(a).map(|t| (*t).to_owned()))
    }

    #[test]
    fn netclass_as_node_exporter() {
        // This machine's eth0 (virtio: speed -1) and lo, and a 10 Gb/s NIC.
        let interfaces = vec![
            class(
                "eth0",
                &[
                    ("operstate", "up\n"),
                    ("address", "02:fc:00:00:00:01\n"),
                    ("broadcast", "ff:ff:ff:ff:ff:ff\n"),
                    ("duplex", "unknown\n"),
                    ("ifalias", "\n"),
                    ("flags", "0x1003\n"),
                    ("mtu", "1400\n"),
                    ("speed", "-1\n"),
                    ("carrier", "1\n"),
                ],
            ),
            class(
                "ifb0",
                &[
                    ("operstate", "down\n"),
                    ("flags", "0x82\n"),
                    ("mtu", "1500\n"),
                ],
            ),
            class(
                "lo",
                &[
                    ("operstate", "unknown\n"),
                    ("address", "00:00:00:00:00:00\n"),
                    ("flags", "0x9\n"),
                    ("mtu", "65536\n"),
                    ("carrier", "1\n"),
                ],
            ),
            class(
                "enp1s0",
                &[
                    ("operstate", "up\n"),
                    ("speed", "10000\n"),
                    ("duplex", "full\n"),
                ],
            ),
        ];
        let text = render::text(move |e| encode_class(e, &interfaces));
        let value = |series: &str| render::value(&text, series);
        assert_eq!(value(r#"node_network_up{device="eth0"}"#), Some(1.0));
        assert_eq!(value(r#"node_network_up{device="ifb0"}"#), Some(0.0));
        assert_eq!(
            value(r#"node_network_up{device="lo"}"#),
            Some(0.0),
            "operstate unknown"
        );
        assert_eq!(
            value(
                r#"node_network_info{device="eth0",address="02:fc:00:00:00:01",broadcast="ff:ff:ff:ff:ff:ff",duplex="unknown",operstate="up",adminstate="up",ifalias=""}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(
                r#"node_network_info{device="ifb0",address="",broadcast="",duplex="",operstate="down",adminstate="down",ifalias=""}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert!(text.contains(r#"node_network_info{device="enp1s0",address="",broadcast="",duplex="full",operstate="up",adminstate="unknown",ifalias=""}"#));
        assert_eq!(
            value(r#"node_network_mtu_bytes{device="lo"}"#),
            Some(65536.0)
        );
        assert_eq!(value(r#"node_network_carrier{device="eth0"}"#), Some(1.0));
        assert_eq!(value(r#"node_network_carrier{device="ifb0"}"#), None);
        assert_eq!(
            value(r#"node_network_speed_bytes{device="enp1s0"}"#),
            Some(1_250_000_000.0)
        );
        assert_eq!(
            value(r#"node_network_speed_bytes{device="eth0"}"#),
            None,
            "-1 is unknown"
        );
        assert!(text.contains("# TYPE node_network_up gauge\n"));
    }

    #[test]
    fn no_sys_class_net_no_families() {
        assert!(read_class(Path::new("/nonexistent")).is_empty());
        assert_eq!(render::text(|e| encode_class(e, &[])), "");
    }

    #[test]
    fn this_machines_interfaces_are_read() {
        let interfaces = read_class(Path::new("/sys"));
        if let Some(lo) = interfaces.iter().find(|i| i.device == "lo") {
            assert!(lo.mtu.is_some() && lo.operstate.is_some(), "{lo:?}");
        }
    }
}
