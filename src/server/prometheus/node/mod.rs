//! node_exporter's host families read from `/proc` and `/sys` on each scrape, under its names,
//! labels, units and types, so the "Node Exporter Full" dashboard finds them: memory, pressure,
//! kernel counters, file descriptors, uname and time, the network stack, disks, interfaces and
//! filesystems. One file per source, each a pure parse and its encoding.
//!
//! A scrape reads these files itself (some fifty small reads: about 0.55 ms in all on a 2-core VM
//! with four interfaces, most of it the kernel's) rather than waiting for the sampler, which never
//! reads most of them. A file that is missing or does not
//! parse only leaves its families out: it never fails the scrape.

mod diskstats;
mod filefd;
mod filesystem;
mod meminfo;
mod netdev;
mod netstat;
mod pressure;
mod sockstat;
mod stat;
mod uname;
mod vmstat;

use crate::server::collect::Snapshot;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the node families are read from: the machine's `/proc` and `/sys`, or a fixture tree.
#[derive(Clone, Debug)]
pub(super) struct NodeFiles {
    pub(super) proc_root: PathBuf,
    pub(super) sys_root: PathBuf,
}

impl Default for NodeFiles {
    fn default() -> Self {
        NodeFiles {
            proc_root: PathBuf::from("/proc"),
            sys_root: PathBuf::from("/sys"),
        }
    }
}

impl NodeFiles {
    /// A file under the proc root, read whole; None when it is missing or unreadable.
    fn proc(&self, path: &str) -> Option<String> {
        read_text(&self.proc_root.join(path), PROC_FILE_CAPACITY)
    }
}

/// Room for most /proc files at once (vmstat is 5 KiB, netstat 4); a longer one grows.
const PROC_FILE_CAPACITY: usize = 16 * 1024;

/// A kernel file's text, read whole into `capacity` to start with; None when it is missing,
/// unreadable (a /sys attribute the driver does not support) or not UTF-8.
///
/// Not `fs::read_to_string`, which first asks the file's size: /proc and /sys files do not know it
/// (they say 0 or 4096), and skipping that statx cut a scrape's reads by a sixth (590 to 490 µs on
/// a 2-core VM). Through `take`, as File's own `read_to_end` asks the size too.
fn read_text(path: &Path, capacity: usize) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::with_capacity(capacity);
    file.take(u64::MAX).read_to_end(&mut bytes).ok()?;
    String::from_utf8(bytes).ok()
}

/// Writes every node family this machine's files have, after host.rs' CPU seconds and load.
pub(super) fn encode_node(
    encoder: &mut DescriptorEncoder,
    files: &NodeFiles,
    snapshot: &Snapshot,
) -> std::fmt::Result {
    if let Some(text) = files.proc("meminfo") {
        meminfo::encode(encoder, &meminfo::parse(&text))?;
    }
    for resource in pressure::RESOURCES {
        if let Some(text) = files.proc(&format!("pressure/{resource}")) {
            pressure::encode(encoder, resource, &pressure::parse(&text))?;
        }
    }
    if let Some(text) = files.proc("stat") {
        stat::encode(encoder, &stat::parse(&text))?;
    }
    if let Some(text) = files.proc("vmstat") {
        vmstat::encode(encoder, &vmstat::parse(&text))?;
    }
    if let Some(text) = files.proc("sys/fs/file-nr") {
        filefd::encode(encoder, filefd::parse(&text))?;
    }
    uname::encode(encoder, uname::read().as_ref(), uname::now_seconds())?;
    let snmp = files.proc("net/snmp").unwrap_or_default();
    let netstat = files.proc("net/netstat").unwrap_or_default();
    let snmp6 = files.proc("net/snmp6").unwrap_or_default();
    let mut counters = netstat::parse(&netstat);
    counters.extend(netstat::parse(&snmp));
    counters.extend(netstat::parse_snmp6(&snmp6));
    netstat::encode(encoder, &counters)?;
    let page_size = sockstat::page_size();
    if let Some(text) = files.proc("net/sockstat") {
        sockstat::encode(encoder, &sockstat::parse(&text), page_size, false)?;
    }
    if let Some(text) = files.proc("net/sockstat6") {
        sockstat::encode(encoder, &sockstat::parse(&text), page_size, true)?;
    }
    if let Some(text) = files.proc("diskstats") {
        diskstats::encode(encoder, &diskstats::parse(&text))?;
    }
    if let Some(text) = files.proc("net/dev") {
        netdev::encode(encoder, &netdev::parse(&text))?;
    }
    netdev::encode_class(encoder, &netdev::read_class(&files.sys_root))?;
    filesystem::encode(encoder, &filesystem::stat_all(&snapshot.disk.filesystems))
}

/// A sample of no declared type, as node_exporter exports vmstat and netstat fields: their names
/// keep no `_total` and scrapers treat them as gauges.
#[derive(Clone, Copy, Debug)]
struct Untyped(f64);

impl EncodeMetric for Untyped {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        encoder.encode_gauge(&self.0)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Unknown
    }
}

/// Whether a name part, as the kernel spells it, makes a valid metric name: a file with anything
/// else in it is not what these parsers know, and that field is skipped.
fn is_name_part(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A counter or gauge value as the kernel writes it: a decimal integer, signed where it may be
/// (Tcp MaxConn is -1); never NaN or infinite.
fn integer(word: &str) -> Option<f64> {
    word.parse::<u64>()
        .map(|v| v as f64)
        .or_else(|_| word.parse::<i64>().map(|v| v as f64))
        .ok()
}

#[cfg(test)]
pub(super) mod render {
    //! Encodes what a test's closure writes, as a scrape would (Prometheus' text format).

    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::DescriptorEncoder;
    use prometheus_client::registry::Registry;

    type Write = Box<dyn Fn(&mut DescriptorEncoder) -> std::fmt::Result + Send + Sync>;

    struct Once(Write);

    impl std::fmt::Debug for Once {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Once")
        }
    }

    impl Collector for Once {
        fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
            (self.0)(&mut encoder)
        }
    }

    /// The text a scrape returns for what `write` encodes.
    pub fn text(
        write: impl Fn(&mut DescriptorEncoder) -> std::fmt::Result + Send + Sync + 'static,
    ) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Once(Box::new(write))));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
        out
    }

    /// The value of the sample line that starts with `series` (its name and labels) exactly.
    pub fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Filesystem;

    /// A fixture tree with a few of each kind of file, as this machine has them.
    fn fixture(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("vitals-node-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "proc/meminfo",
            "MemTotal:       24683664 kB\nHugePages_Total:       0\n",
        );
        write(
            "proc/pressure/cpu",
            "some avg10=9.85 avg60=8.10 avg300=4.46 total=20256765\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        );
        write("proc/stat", "cpu  1 2 3 4\nctxt 412375\nbtime 1796293174\n");
        write("proc/sys/fs/file-nr", "489\t0\t2466093\n");
        write(
            "proc/net/dev",
            "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n  \
             eth0: 457531143   20669    0    0    0     0          0         0   997851   10552    0    0    0     0       0          0\n",
        );
        write("sys/class/net/eth0/operstate", "up\n");
        write("sys/class/net/eth0/mtu", "1400\n");
        // A file, not an interface, where the bonding driver is loaded.
        write("sys/class/net/bonding_masters", "bond0\n");
        root
    }

    #[test]
    fn a_fixture_tree_gives_its_families_and_nothing_it_lacks() {
        let root = fixture("tree");
        let files = NodeFiles {
            proc_root: root.join("proc"),
            sys_root: root.join("sys"),
        };
        let mut snapshot = Snapshot::default();
        snapshot.disk.filesystems = vec![Filesystem {
            mount_point: "/".into(),
            device: "/dev/vda".into(),
            fs_type: "ext4".into(),
            ..Default::default()
        }];
        let text = render::text(move |e| encode_node(e, &files, &snapshot));
        let value = |series: &str| render::value(&text, series);
        assert_eq!(
            value("node_memory_MemTotal_bytes"),
            Some(24683664.0 * 1024.0)
        );
        assert_eq!(value("node_memory_HugePages_Total"), Some(0.0));
        assert_eq!(
            value("node_pressure_cpu_waiting_seconds_total"),
            Some(20256765.0 / 1e3 / 1e3)
        );
        assert_eq!(value("node_context_switches_total"), Some(412375.0));
        assert_eq!(value("node_filefd_maximum"), Some(2466093.0));
        assert_eq!(
            value(r#"node_network_receive_bytes_total{device="eth0"}"#),
            Some(457531143.0)
        );
        assert_eq!(value(r#"node_network_up{device="eth0"}"#), Some(1.0));
        assert_eq!(
            value(r#"node_network_mtu_bytes{device="eth0"}"#),
            Some(1400.0)
        );
        assert!(!text.contains("bonding_masters"), "{text}");
        assert!(text.contains("# TYPE node_uname_info gauge"), "{text}");
        assert!(
            text.contains(
                r#"node_filesystem_device_error{device="/dev/vda",fstype="ext4",mountpoint="/"} 0"#
            ),
            "{text}"
        );
        for absent in [
            "node_pressure_io_",
            "node_vmstat_",
            "node_netstat_",
            "node_sockstat_",
            "node_disk_",
            "node_intr_total",
        ] {
            assert!(!text.contains(absent), "{absent} without its file: {text}");
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn this_machines_files_give_the_families_every_linux_has() {
        let text = render::text(|e| encode_node(e, &NodeFiles::default(), &Snapshot::default()));
        for family in [
            "# TYPE node_memory_MemAvailable_bytes gauge",
            "# TYPE node_context_switches_total counter",
            "# TYPE node_boot_time_seconds gauge",
            "# TYPE node_vmstat_pgfault untyped",
            "# TYPE node_filefd_allocated gauge",
            "# TYPE node_uname_info gauge",
            "# TYPE node_netstat_Tcp_CurrEstab untyped",
            "# TYPE node_sockstat_sockets_used gauge",
            "# TYPE node_network_receive_bytes_total counter",
            "# TYPE node_network_up gauge",
        ] {
            assert!(text.contains(family), "{family}: {text}");
        }
        assert!(text.contains(r#"node_network_up{device="lo"} "#), "{text}");
    }

    #[test]
    fn an_empty_tree_still_scrapes() {
        let files = NodeFiles {
            proc_root: Path::new("/nonexistent/proc").into(),
            sys_root: Path::new("/nonexistent/sys").into(),
        };
        let text = render::text(move |e| encode_node(e, &files, &Snapshot::default()));
        assert!(!text.contains("node_memory_"), "{text}");
        assert!(text.contains("node_time_seconds "), "{text}");
    }

    #[test]
    fn untyped_keeps_its_name_and_declares_no_type() {
        let text = render::text(|e| {
            super::super::family(e, "node_vmstat_pgfault", "help", [(vec![], Untyped(5.0))])
        });
        assert!(
            text.contains("# TYPE node_vmstat_pgfault untyped\n"),
            "{text}"
        );
        assert_eq!(
            render::value(&text, "node_vmstat_pgfault"),
            Some(5.0),
            "{text}"
        );
    }

    #[test]
    fn integers_are_decimal_and_may_be_negative() {
        assert_eq!(integer("18446744073709551615"), Some(u64::MAX as f64));
        assert_eq!(integer("-1"), Some(-1.0));
        assert_eq!(integer("NaN"), None);
        assert_eq!(integer("1.5"), None);
        assert!(is_name_part("Active_anon") && !is_name_part("a-b") && !is_name_part(""));
    }
}
