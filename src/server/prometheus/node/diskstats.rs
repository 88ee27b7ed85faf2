//! `/proc/diskstats`: per block device I/O counts, bytes and times as node_exporter's
//! `node_disk_*{device}` families, the discard and flush ones where the kernel writes those
//! columns (4.18 and 5.5 on). Partitions, RAM disks, loop devices and floppies are left out by
//! node_exporter's default `--collector.diskstats.device-exclude`, matched by hand here.

use super::super::{counter, family, gauge};
use super::integer;
use prometheus_client::encoding::DescriptorEncoder;

/// The columns after the device name: 11 before Linux 4.18, 15 with discards, 17 with flushes.
const COLUMNS: usize = 17;
/// /proc/diskstats counts in 512-byte sectors whatever the device's sector size.
const SECTOR_BYTES: f64 = 512.0;
/// Times are in milliseconds; node_exporter multiplies by this, so values agree to the last digit.
const SECONDS_PER_MS: f64 = 1.0 / 1000.0;

/// One device's line.
#[derive(Debug, PartialEq)]
pub(super) struct Disk<'a> {
    name: &'a str,
    columns: [f64; COLUMNS],
    /// How many columns the line had (11 to 17).
    count: usize,
}

/// How a column is exported.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// Each column's name (less the `_total` the encoder adds to counters), help, type and scale.
const FAMILIES: [(&str, &str, Kind, f64); COLUMNS] = [
    (
        "node_disk_reads_completed",
        "The total number of reads completed successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_reads_merged",
        "The total number of reads merged.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_read_bytes",
        "The total number of bytes read successfully.",
        Kind::Counter,
        SECTOR_BYTES,
    ),
    (
        "node_disk_read_time_seconds",
        "The total number of seconds spent by all reads.",
        Kind::Counter,
        SECONDS_PER_MS,
    ),
    (
        "node_disk_writes_completed",
        "The total number of writes completed successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_writes_merged",
        "The number of writes merged.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_written_bytes",
        "The total number of bytes written successfully.",
        Kind::Counter,
        SECTOR_BYTES,
    ),
    (
        "node_disk_write_time_seconds",
        "This is the total number of seconds spent by all writes.",
        Kind::Counter,
        SECONDS_PER_MS,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        Kind::Gauge,
        1.0,
    ),
    (
        "node_disk_io_time_seconds",
        "Total seconds spent doing I/Os.",
        Kind::Counter,
        SECONDS_PER_MS,
    ),
    (
        "node_disk_io_time_weighted_seconds",
        "The weighted # of seconds spent doing I/Os.",
        Kind::Counter,
        SECONDS_PER_MS,
    ),
    (
        "node_disk_discards_completed",
        "The total number of discards completed successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_discards_merged",
        "The total number of discards merged.",
        Kind::Counter,
        1.0,
    ),
    // In sectors, as node_exporter exports it.
    (
        "node_disk_discarded_sectors",
        "The total number of sectors discarded successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_discard_time_seconds",
        "This is the total number of seconds spent by all discards.",
        Kind::Counter,
        SECONDS_PER_MS,
    ),
    (
        "node_disk_flush_requests",
        "The total number of flush requests completed successfully",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds",
        "This is the total number of seconds spent by all flush requests.",
        Kind::Counter,
        SECONDS_PER_MS,
    ),
];

/// The devices node_exporter exports, each line `major minor name columns…`; a line with fewer
/// than 11 columns (old kernels' short partition lines) or a non-number is skipped.
pub(super) fn parse(text: &str) -> Vec<Disk<'_>> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_ascii_whitespace();
            integer(words.next()?)?;
            integer(words.next()?)?;
            let name = words.next()?;
            let mut disk = Disk {
                name,
                columns: [0.0; COLUMNS],
                count: 0,
            };
            for word in words.take(COLUMNS) {
                disk.columns[disk.count] = integer(word)?;
                disk.count += 1;
            }
            (disk.count >= 11 && !is_excluded(name)).then_some(disk)
        })
        .collect()
}

/// node_exporter's default exclusion, `^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`:
/// `ram0`, `zram0`, `loop3`, `fd0`, partitions such as `sda1`, `vda2`, `xvdb1` and `nvme0n1p1`.
/// Whole disks (`sda`, `nvme0n1`), `dm-0`, `md0` and `sdaa1` stay, as with node_exporter.
fn is_excluded(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    for prefix in ["zram", "ram", "loop", "fd"] {
        if name.strip_prefix(prefix).is_some_and(digits) {
            return true;
        }
    }
    for prefix in ["hd", "sd", "vd", "xvd"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            let mut chars = rest.chars();
            if chars.next().is_some_and(|c| c.is_ascii_lowercase()) && digits(chars.as_str()) {
                return true;
            }
        }
    }
    // nvme<digits>n<digits>p<digits>
    let Some(rest) = name.strip_prefix("nvme") else {
        return false;
    };
    let Some((controller, rest)) = rest.split_once('n') else {
        return false;
    };
    let Some((namespace, partition)) = rest.split_once('p') else {
        return false;
    };
    digits(controller) && digits(namespace) && digits(partition)
}

pub(super) fn encode(encoder: &mut DescriptorEncoder, disks: &[Disk]) -> std::fmt::Result {
    for (column, (name, help, kind, scale)) in FAMILIES.into_iter().enumerate() {
        let samples = disks.iter().filter(|disk| disk.count > column).map(|disk| {
            (
                vec![("device", disk.name.to_owned())],
                disk.columns[column] * scale,
            )
        });
        match kind {
            Kind::Counter => family(encoder, name, help, samples.map(|(l, v)| (l, counter(v))))?,
            Kind::Gauge => family(encoder, name, help, samples.map(|(l, v)| (l, gauge(v))))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    /// This machine's /proc/diskstats (kernel 6.18: 17 columns), with a partition, a 15-column
    /// line (4.18 to 5.4) and an 11-column one (older) added.
    const DISKSTATS: &str = "\
   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 46891 20343 2649074 15136 8829 82729 4810664 27310 0 8268 43232 6165 29 441992 782 58 2
 254       1 vda1 46000 20000 2600000 15000 8800 82000 4800000 27000 0 8200 43000 6000 29 440000 780 0 0
 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 259       0 nvme0n1 10 1 80 5 20 2 160 7 1 9 12 3 1 24 2
   8       0 sda 100 2 800 50 200 4 1600 70 0 90 120
 252       0 dm-0 5 0 40 1 6 0 48 2 0 3 3 0 0 0 0 0 0
";

    #[test]
    fn whole_disks_only_with_node_exporters_names_and_units() {
        let names: Vec<_> = parse(DISKSTATS).iter().map(|d| d.name).collect();
        assert_eq!(names, ["vda", "nvme0n1", "sda", "dm-0"]);
        let text = render::text(|e| encode(e, &parse(DISKSTATS)));
        let value = |name: &str| render::value(&text, &format!(r#"{name}{{device="vda"}}"#));
        for (name, expected) in [
            ("node_disk_reads_completed_total", 46891.0),
            ("node_disk_reads_merged_total", 20343.0),
            ("node_disk_read_bytes_total", 2649074.0 * 512.0),
            (
                "node_disk_read_time_seconds_total",
                15136.0 * SECONDS_PER_MS,
            ),
            ("node_disk_writes_completed_total", 8829.0),
            ("node_disk_writes_merged_total", 82729.0),
            ("node_disk_written_bytes_total", 4810664.0 * 512.0),
            (
                "node_disk_write_time_seconds_total",
                27310.0 * SECONDS_PER_MS,
            ),
            ("node_disk_io_now", 0.0),
            ("node_disk_io_time_seconds_total", 8268.0 * SECONDS_PER_MS),
            (
                "node_disk_io_time_weighted_seconds_total",
                43232.0 * SECONDS_PER_MS,
            ),
            ("node_disk_discards_completed_total", 6165.0),
            ("node_disk_discards_merged_total", 29.0),
            ("node_disk_discarded_sectors_total", 441992.0),
            (
                "node_disk_discard_time_seconds_total",
                782.0 * SECONDS_PER_MS,
            ),
            ("node_disk_flush_requests_total", 58.0),
            (
                "node_disk_flush_requests_time_seconds_total",
                2.0 * SECONDS_PER_MS,
            ),
        ] {
            assert_eq!(value(name), Some(expected), "{name}");
        }
        assert!(text.contains("# TYPE node_disk_io_now gauge\n"));
        assert!(text.contains("# TYPE node_disk_read_bytes_total counter\n"));
        let has = |series: &str| text.lines().any(|l| l.starts_with(series));
        assert!(has(
            r#"node_disk_discards_completed_total{device="nvme0n1"}"#
        ));
        assert!(!has(r#"node_disk_flush_requests_total{device="nvme0n1"}"#));
        assert!(has(
            r#"node_disk_io_time_weighted_seconds_total{device="sda"}"#
        ));
        assert!(!has(r#"node_disk_discards_completed_total{device="sda"}"#));
    }

    #[test]
    fn node_exporters_default_exclusion() {
        for excluded in [
            "ram0",
            "zram12",
            "loop7",
            "fd0",
            "sda1",
            "hdb3",
            "vda15",
            "xvdf2",
            "nvme0n1p1",
            "nvme10n2p13",
        ] {
            assert!(is_excluded(excluded), "{excluded}");
        }
        for kept in [
            "sda",
            "vdb",
            "xvda",
            "nvme0n1",
            "dm-0",
            "md0",
            "sr0",
            "sdaa1",
            "nbd0",
            "loop",
            "nvme0n1p",
            "mmcblk0p1",
            "zram",
        ] {
            assert!(!is_excluded(kept), "{kept}");
        }
    }

    #[test]
    fn odd_lines_are_skipped() {
        let disks = parse(
            "8 0 sda 1 2 3\n8 0 sdb 1 2 3 4 5 6 7 8 9 10 x\nx 0 sdc 1 2 3 4 5 6 7 8 9 10 11\n\n",
        );
        assert!(disks.is_empty());
        let long = parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n");
        assert_eq!(
            long[0].count, COLUMNS,
            "columns a later kernel adds are not read"
        );
    }
}
