//! Filesystems: the sampler's list of real mounts (`snapshot.disk.filesystems`, bind mounts and
//! pseudo filesystems already left out) with statvfs(3) of each at scrape time, as node_exporter's
//! `node_filesystem_*{device,fstype,mountpoint}` gauges. A mount statvfs cannot read has only
//! `node_filesystem_device_error` 1.
//!
//! statvfs of a hung network mount blocks, here as in the sampler's own refresh of the same
//! mounts each tick; node_exporter's stuck-mount watcher is not reproduced.

use super::super::{Labels, family, flag, gauge};
use crate::wire::Filesystem;
use prometheus_client::encoding::DescriptorEncoder;
use std::ffi::CString;

/// What statvfs says of one filesystem, in node_exporter's units.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Usage {
    size_bytes: f64,
    free_bytes: f64,
    /// Free to unprivileged users (less the reserved blocks).
    avail_bytes: f64,
    files: f64,
    files_free: f64,
    readonly: bool,
}

/// A statvfs family: its name, help, and how to read it from a mount's usage.
type UsageField = (&'static str, &'static str, fn(&Usage) -> f64);

/// One mount and its statvfs, None when statvfs failed.
pub(super) struct Mount<'a> {
    filesystem: &'a Filesystem,
    usage: Option<Usage>,
}

/// Each listed filesystem's statvfs, taken now.
pub(super) fn stat_all(filesystems: &[Filesystem]) -> Vec<Mount<'_>> {
    filesystems
        .iter()
        .map(|filesystem| Mount {
            filesystem,
            usage: statvfs(&filesystem.mount_point),
        })
        .collect()
}

fn statvfs(mount_point: &str) -> Option<Usage> {
    let path = CString::new(mount_point).ok()?;
    // SAFETY: statvfs is plain integers, valid zeroed; the call only writes into it and reads the
    // NUL-terminated path.
    let mut raw: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut raw) } != 0 {
        return None;
    }
    Some(usage(&raw))
}

/// statvfs' counts in bytes: blocks are of `f_frsize` (the fragment size), as POSIX says.
pub(super) fn usage(raw: &libc::statvfs) -> Usage {
    let unit = raw.f_frsize as f64;
    Usage {
        size_bytes: raw.f_blocks as f64 * unit,
        free_bytes: raw.f_bfree as f64 * unit,
        avail_bytes: raw.f_bavail as f64 * unit,
        files: raw.f_files as f64,
        files_free: raw.f_ffree as f64,
        readonly: raw.f_flag & libc::ST_RDONLY != 0,
    }
}

pub(super) fn encode(encoder: &mut DescriptorEncoder, mounts: &[Mount]) -> std::fmt::Result {
    let labels = |f: &Filesystem| -> Labels {
        vec![
            ("device", f.device.clone()),
            ("fstype", f.fs_type.clone()),
            ("mountpoint", f.mount_point.clone()),
        ]
    };
    family(
        encoder,
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
        mounts
            .iter()
            .map(|m| (labels(m.filesystem), gauge(flag(m.usage.is_none())))),
    )?;
    let fields: [UsageField; 6] = [
        (
            "node_filesystem_size_bytes",
            "Filesystem size in bytes.",
            |u| u.size_bytes,
        ),
        (
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
            |u| u.free_bytes,
        ),
        (
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            |u| u.avail_bytes,
        ),
        (
            "node_filesystem_files",
            "Filesystem total file nodes.",
            |u| u.files,
        ),
        (
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
            |u| u.files_free,
        ),
        (
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            |u| flag(u.readonly),
        ),
    ];
    for (name, help, read) in fields {
        family(
            encoder,
            name,
            help,
            mounts
                .iter()
                .filter_map(|m| Some((labels(m.filesystem), gauge(read(m.usage.as_ref()?))))),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    fn filesystem(mount_point: &str) -> Filesystem {
        Filesystem {
            mount_point: mount_point.into(),
            device: "/dev/vda".into(),
            fs_type: "ext4".into(),
            ..Default::default()
        }
    }

    #[test]
    fn statvfs_counts_in_node_exporters_units() {
        // SAFETY: statvfs is plain integers, valid zeroed.
        let mut raw: libc::statvfs = unsafe { std::mem::zeroed() };
        raw.f_bsize = 4096;
        raw.f_frsize = 4096;
        raw.f_blocks = 1000;
        raw.f_bfree = 300;
        raw.f_bavail = 250;
        raw.f_files = 64;
        raw.f_ffree = 40;
        raw.f_flag = libc::ST_RDONLY | libc::ST_NOSUID;
        assert_eq!(
            usage(&raw),
            Usage {
                size_bytes: 4_096_000.0,
                free_bytes: 1_228_800.0,
                avail_bytes: 1_024_000.0,
                files: 64.0,
                files_free: 40.0,
                readonly: true,
            }
        );
        raw.f_flag = libc::ST_NOSUID;
        assert!(!usage(&raw).readonly);
    }

    #[test]
    fn a_mount_statvfs_cannot_read_has_only_its_error() {
        let filesystems = vec![
            filesystem("/"),
            filesystem("/nonexistent/mount"),
            filesystem("a\0b"),
        ];
        let text = render::text(move |e| encode(e, &stat_all(&filesystems)));
        let series = |name: &str, mount: &str| {
            format!(r#"{name}{{device="/dev/vda",fstype="ext4",mountpoint="{mount}"}}"#)
        };
        let value = |name: &str, mount: &str| render::value(&text, &series(name, mount));
        assert_eq!(value("node_filesystem_device_error", "/"), Some(0.0));
        assert_eq!(
            value("node_filesystem_device_error", "/nonexistent/mount"),
            Some(1.0)
        );
        for name in [
            "node_filesystem_size_bytes",
            "node_filesystem_free_bytes",
            "node_filesystem_avail_bytes",
            "node_filesystem_files",
            "node_filesystem_files_free",
            "node_filesystem_readonly",
        ] {
            assert!(value(name, "/").is_some(), "{name}: {text}");
            assert_eq!(value(name, "/nonexistent/mount"), None, "{name}");
            assert!(text.contains(&format!("# TYPE {name} gauge\n")));
        }
        assert!(value("node_filesystem_size_bytes", "/").unwrap() > 0.0);
        assert!(
            text.matches("node_filesystem_device_error{").count() == 3,
            "a path with a NUL is an error too: {text}"
        );
    }

    #[test]
    fn no_filesystems_no_families() {
        assert_eq!(render::text(|e| encode(e, &stat_all(&[]))), "");
    }
}
