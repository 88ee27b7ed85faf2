//! Linux `/proc` look-ups for one process at a time: its name, its user and its command line.

use crate::server::runtime::lock::lock;
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::sync::{Mutex, OnceLock};

/// Longest command line returned; the rest is cut so one process cannot bloat every message.
pub const COMMAND_LINE_LIMIT: usize = 4096;

/// The short process name (`/proc/{pid}/comm`), or `None` if the process is gone.
pub fn process_name(pid: u32) -> Option<String> {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end_matches('\n').to_owned())
}

/// The name of the user the process runs as (its real uid), or the uid itself if it has no name.
pub fn process_user(pid: u32) -> Option<String> {
    Some(user_name(process_uid(pid)?))
}

/// The real uid the process runs as, or `None` if it is gone.
pub fn process_uid(pid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    real_uid(&status)
}

/// The process's arguments joined by spaces, cut at [`COMMAND_LINE_LIMIT`] bytes; `None` if the
/// process is gone or has none (kernel threads).
pub fn command_line(pid: u32) -> Option<String> {
    let mut raw = Vec::new();
    fs::File::open(format!("/proc/{pid}/cmdline"))
        .ok()?
        .take(COMMAND_LINE_LIMIT as u64)
        .read_to_end(&mut raw)
        .ok()?;
    let joined = String::from_utf8_lossy(&raw).replace('\0', " ");
    let line = joined.trim_end();
    (!line.is_empty()).then(|| line.to_owned())
}

/// The real uid from the `Uid:` line of `/proc/{pid}/status` (real, effective, saved, fs).
fn real_uid(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// Resolves a uid through `/etc/passwd`, once per uid: GPU process lists repeat every tick.
pub fn user_name(uid: u32) -> String {
    static NAMES: OnceLock<Mutex<HashMap<u32, String>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    // A panic elsewhere while holding the lock leaves the map intact, so poisoning is ignored.
    let mut names = lock(names);
    names
        .entry(uid)
        .or_insert_with(|| {
            let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
            passwd_name(&passwd, uid).unwrap_or_else(|| uid.to_string())
        })
        .clone()
}

/// The name of `uid` in passwd-format text (`name:password:uid:gid:…`).
fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let entry_uid: u32 = fields.nth(1)?.parse().ok()?;
        (entry_uid == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_current_process() {
        let name = process_name(std::process::id()).expect("own comm is readable");
        assert!(!name.is_empty() && !name.ends_with('\n'), "{name:?}");
    }

    #[test]
    fn the_current_process_has_a_user_and_a_command_line() {
        let pid = std::process::id();
        assert!(process_user(pid).is_some_and(|u| !u.is_empty()));
        let line = command_line(pid).expect("own cmdline is readable");
        assert!(!line.contains('\0') && line.len() <= COMMAND_LINE_LIMIT);
        let exe = std::env::args().next().expect("argv[0]");
        assert!(line.starts_with(&exe), "{line:?} should start with {exe:?}");
    }

    #[test]
    fn a_missing_process_has_nothing() {
        // Above the kernel's pid_max limit (4194304), so it can never exist.
        let pid = u32::MAX;
        assert_eq!(process_name(pid), None);
        assert_eq!(process_user(pid), None);
        assert_eq!(command_line(pid), None);
    }

    #[test]
    fn uids_come_from_the_real_uid_field() {
        assert_eq!(
            real_uid("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t5\n"),
            Some(1000)
        );
        assert_eq!(real_uid("Name:\tx\n"), None);
    }

    #[test]
    fn passwd_lines_resolve_names() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(passwd_name(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(passwd_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(passwd, 7), None);
    }

    #[test]
    fn unknown_uids_fall_back_to_the_number() {
        assert_eq!(user_name(4_000_000_123), "4000000123");
    }
}
