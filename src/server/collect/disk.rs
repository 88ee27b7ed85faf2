//! Disk collector: per-device throughput from /proc/diskstats and usage of real mounted filesystems.

use crate::server::collect::rates::RateTracker;
use crate::wire::{DiskDevice, DiskMetrics, Filesystem};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use sysinfo::{DiskRefreshKind, Disks};

/// How often the lists of block devices and mounts are read again, so hot-plugged ones appear.
const RESCAN_EVERY: Duration = Duration::from_secs(30);
/// /proc/diskstats counts in 512-byte sectors whatever the device's real sector size.
const SECTOR_BYTES: u64 = 512;

pub struct DiskCollector {
    rates: RateTracker,
    physical: BTreeSet<String>,
    mounts: Disks,
    last_scan: Option<Instant>,
}

impl DiskCollector {
    pub fn new() -> Self {
        DiskCollector {
            rates: RateTracker::new(),
            physical: BTreeSet::new(),
            mounts: Disks::new(),
            last_scan: None,
        }
    }

    pub fn sample(&mut self) -> DiskMetrics {
        let now = Instant::now();
        if self
            .last_scan
            .is_none_or(|at| now.duration_since(at) >= RESCAN_EVERY)
        {
            self.physical = physical_block_devices();
            self.mounts
                .refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
            self.last_scan = Some(now);
        } else {
            for mount in self.mounts.list_mut() {
                mount.refresh_specifics(DiskRefreshKind::nothing().with_storage());
            }
        }
        self.rates.tick(now);
        let stats = std::fs::read_to_string("/proc/diskstats").unwrap_or_default();
        let devices: Vec<DiskDevice> = parse_diskstats(&stats)
            .into_iter()
            .filter(|(name, _, _)| self.physical.contains(name))
            .map(|(name, read, written)| DiskDevice {
                read_bytes_per_sec: self.rates.rate(&format!("{name}/r"), read),
                write_bytes_per_sec: self.rates.rate(&format!("{name}/w"), written),
                read_bytes_total: read,
                written_bytes_total: written,
                name,
            })
            .collect();
        DiskMetrics {
            read_bytes_per_sec: devices.iter().map(|d| d.read_bytes_per_sec).sum(),
            write_bytes_per_sec: devices.iter().map(|d| d.write_bytes_per_sec).sum(),
            devices,
            filesystems: self.filesystems(),
        }
    }

    fn filesystems(&self) -> Vec<Filesystem> {
        let mut seen = BTreeSet::new();
        self.mounts
            .list()
            .iter()
            .filter_map(|disk| {
                let device = disk.name().to_string_lossy().into_owned();
                let fs_type = disk.file_system().to_string_lossy().into_owned();
                // A device mounted twice (bind mounts) is one filesystem.
                if !is_real_filesystem(&device, &fs_type) || !seen.insert(device.clone()) {
                    return None;
                }
                let total = disk.total_space();
                let available = disk.available_space();
                Some(Filesystem {
                    mount_point: disk.mount_point().to_string_lossy().into_owned(),
                    device,
                    fs_type,
                    total_bytes: total,
                    used_bytes: total.saturating_sub(available),
                    available_bytes: available,
                })
            })
            .collect()
    }
}

impl Default for DiskCollector {
    fn default() -> Self {
        Self::new()
    }
}

/// Whole physical disks: what /sys/block lists, less virtual and stacked devices whose traffic is
/// already counted on the disks beneath them.
fn physical_block_devices() -> BTreeSet<String> {
    std::fs::read_dir("/sys/block")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| is_physical_disk(name))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a /sys/block name is a physical disk (partitions never appear in /sys/block).
pub fn is_physical_disk(name: &str) -> bool {
    const VIRTUAL: [&str; 9] = [
        "loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd", "drbd",
    ];
    !VIRTUAL.iter().any(|prefix| name.starts_with(prefix))
}

/// Whether a mount is a real, disk-backed filesystem worth showing.
pub fn is_real_filesystem(device: &str, fs_type: &str) -> bool {
    const PSEUDO: [&str; 6] = [
        "squashfs", "tmpfs", "devtmpfs", "overlay", "iso9660", "ramfs",
    ];
    device.starts_with("/dev/") && !device.starts_with("/dev/loop") && !PSEUDO.contains(&fs_type)
}

/// (device, bytes read, bytes written) for each line of /proc/diskstats.
pub fn parse_diskstats(text: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // major minor name reads merged sectors_read ms writes merged sectors_written …
            let name = fields.get(2)?;
            let read: u64 = fields.get(5)?.parse().ok()?;
            let written: u64 = fields.get(9)?.parse().ok()?;
            Some((
                (*name).to_owned(),
                read * SECTOR_BYTES,
                written * SECTOR_BYTES,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISKSTATS: &str = "\
 259       0 nvme0n1 100 0 2000 10 50 0 4000 20 0 30 30 0 0 0 0
 259       1 nvme0n1p1 90 0 1800 10 40 0 3000 20 0 30 30 0 0 0 0
   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0 0 0 0 0
 253       0 dm-0 80 0 1700 0 40 0 3000 0 0 0 0 0 0 0 0
";

    #[test]
    fn diskstats_are_sectors_of_512_bytes() {
        let stats = parse_diskstats(DISKSTATS);
        assert_eq!(stats[0], ("nvme0n1".to_owned(), 2000 * 512, 4000 * 512));
        assert_eq!(stats.len(), 4);
        assert!(parse_diskstats("garbage line\n").is_empty());
    }

    #[test]
    fn only_whole_physical_disks_count() {
        for name in ["nvme0n1", "sda", "vda", "mmcblk0", "xvda"] {
            assert!(is_physical_disk(name), "{name}");
        }
        for name in ["loop0", "dm-0", "md127", "zram0", "ram1", "sr0", "nbd3"] {
            assert!(!is_physical_disk(name), "{name}");
        }
    }

    #[test]
    fn pseudo_filesystems_are_skipped() {
        assert!(is_real_filesystem("/dev/nvme0n1p2", "ext4"));
        assert!(!is_real_filesystem("tmpfs", "tmpfs"));
        assert!(!is_real_filesystem("overlay", "overlay"));
        assert!(!is_real_filesystem("/dev/loop3", "squashfs"));
    }

    #[test]
    fn collector_reports_real_devices_and_primes_first() {
        let mut collector = DiskCollector::new();
        let first = collector.sample();
        assert!(
            first
                .devices
                .iter()
                .all(|d| d.read_bytes_per_sec == 0.0 && d.write_bytes_per_sec == 0.0)
        );
        let second = collector.sample();
        assert!(second.devices.iter().all(|d| is_physical_disk(&d.name)));
        assert!(second.read_bytes_per_sec.is_finite() && second.read_bytes_per_sec >= 0.0);
    }
}
