//! One pass over `/proc`: every process with its CPU and storage rates since the previous pass.
//!
//! Rates come from deltas like every other rate: a process seen for the first time primes (its
//! rates are unknown, not zero), one that exited is forgotten, and a pid that comes back with
//! another start time is a new process, not the old one.
//!
//! Most processes sleep through a scan, and one that used no CPU time issued no I/O, so its
//! `/proc/{pid}/io` is read again only when its CPU time moved, it waits on the disk, or
//! [`IO_RECHECK_SCANS`] scans went by: its storage rate then spans the time since the last read.

use crate::server::collect::procfs::stat::{IoBytes, ProcDir, Stat, parse_io, parse_stat};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

/// One process in one pass, with its rates when it was also seen in the previous one.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub pid: u32,
    pub stat: Stat,
    pub uid: u32,
    /// Percent of one core since the previous pass.
    pub cpu_percent: Option<f64>,
    pub read_bytes_per_second: Option<f64>,
    pub write_bytes_per_second: Option<f64>,
}

/// Scans after which a process's storage counters are read even if it seemed idle.
pub const IO_RECHECK_SCANS: u8 = 5;

/// What a process was at the previous pass.
struct Known {
    start_ticks: u64,
    cpu_ticks: u64,
    /// Its storage counters when last read, and when; None when `/proc/{pid}/io` is closed to us
    /// (another user's process): then it is not tried again.
    io: Option<(IoBytes, Instant)>,
    /// Scans since `io` was read.
    io_age: u8,
    uid: u32,
    /// Its `stat` file, kept open while there is room: reading it again costs a third less
    /// than opening it again.
    stat_file: Option<File>,
}

/// Stat files a scanner keeps open, for an open-files limit: none under a small limit (the
/// connections need them), else a sixteenth of it, at most 1024. The connection cap leaves them
/// room.
pub fn files_to_keep(open_files_limit: u64) -> usize {
    if open_files_limit < 4096 {
        0
    } else {
        (open_files_limit / 16).min(1024) as usize
    }
}

/// The kernel's clock tick, the unit of `/proc/{pid}/stat`'s times.
pub fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// The size of a memory page, the unit of `/proc/{pid}/stat`'s resident set.
pub fn page_bytes() -> u64 {
    // SAFETY: sysconf only reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 { page as u64 } else { 4096 }
}

/// Keeps the previous pass so the next one has rates.
pub struct Scanner {
    known: HashMap<u32, Known>,
    last: Option<Instant>,
    clock_ticks: f64,
    /// How many stat files it may keep open between scans, and how many this scan kept.
    keep_files: usize,
    kept_files: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::keeping(0)
    }
}

/// Per-second rate of a counter, or None when it went backwards (or no time passed).
fn per_second(before: u64, now: u64, seconds: f64) -> Option<f64> {
    let grown = now.checked_sub(before)?;
    (seconds > 0.0).then(|| grown as f64 / seconds)
}

impl Scanner {
    /// A scanner that keeps up to `keep_files` stat files open between scans.
    pub fn keeping(keep_files: usize) -> Scanner {
        Scanner {
            known: HashMap::new(),
            last: None,
            clock_ticks: clock_ticks_per_second(),
            keep_files,
            kept_files: 0,
        }
    }

    /// Whether the next pass will have rates.
    pub fn is_primed(&self) -> bool {
        self.last.is_some()
    }

    /// Drops what the previous pass saw (while nobody watches), so the next pass primes again.
    pub fn forget(&mut self) {
        self.known = HashMap::new();
        self.last = None;
    }

    /// Reads every process in `/proc`. Processes that exit while being read are skipped.
    pub fn scan(&mut self) -> Vec<Measured> {
        let now = Instant::now();
        let seconds = self.last.map(|last| (now - last).as_secs_f64());
        self.last = Some(now);
        let mut previous = std::mem::take(&mut self.known);
        let mut measured = Vec::with_capacity(previous.len() + 16);
        self.kept_files = 0;
        let (Ok(entries), Some(mut proc)) = (std::fs::read_dir("/proc"), ProcDir::open()) else {
            return measured;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let mut before = previous.remove(&pid);
            // Through the file kept from the previous scan, which fails once its process is gone.
            let kept = before.as_mut().and_then(|known| known.stat_file.take());
            let read_kept = kept
                .as_ref()
                .and_then(|file| parse_stat(&proc.read_file(file)?));
            let (stat, file) = match (read_kept, kept) {
                (Some(stat), Some(file)) => (stat, file),
                _ => {
                    let Some(file) = proc.open_file(pid, "stat") else {
                        continue;
                    };
                    let Some(stat) = proc.read_file(&file).and_then(|text| parse_stat(&text))
                    else {
                        continue;
                    };
                    (stat, file)
                }
            };
            let before = before.filter(|known| known.start_ticks == stat.start_ticks);
            if let Some(process) = self.measure(&mut proc, pid, stat, before, (seconds, now), file)
            {
                measured.push(process);
            }
        }
        measured
    }

    fn measure(
        &mut self,
        proc: &mut ProcDir,
        pid: u32,
        stat: Stat,
        before: Option<Known>,
        (seconds, now): (Option<f64>, Instant),
        stat_file: File,
    ) -> Option<Measured> {
        // A process's /proc files belong to its user: the open stat file tells, with no path
        // looked up again.
        let uid = match &before {
            Some(known) => known.uid,
            None => stat_file.metadata().ok()?.uid(),
        };
        let stat_file = (self.kept_files < self.keep_files).then_some(stat_file);
        self.kept_files += usize::from(stat_file.is_some());
        let io_due = match &before {
            None => true,
            Some(known) => {
                known.io.is_some()
                    && (known.cpu_ticks != stat.cpu_ticks
                        || stat.state == 'D'
                        || known.io_age + 1 >= IO_RECHECK_SCANS)
            }
        };
        let (io, io_age) = if io_due {
            let read = proc.read(pid, "io").and_then(|text| parse_io(&text));
            (read.map(|bytes| (bytes, now)), 0)
        } else {
            let known = before.as_ref()?;
            (known.io, known.io_age + 1)
        };
        let cpu_percent = before.as_ref().zip(seconds).and_then(|(known, seconds)| {
            let ticks = per_second(known.cpu_ticks, stat.cpu_ticks, seconds)?;
            Some(ticks * 100.0 / self.clock_ticks)
        });
        // Over the time since the counters were last read: zero for a process that stayed idle.
        let io_rate = |pick: fn(&IoBytes) -> u64| {
            let (then, at) = before.as_ref()?.io?;
            if !io_due {
                return Some(0.0);
            }
            let (bytes, read_at) = io?;
            per_second(pick(&then), pick(&bytes), (read_at - at).as_secs_f64())
        };
        let process = Measured {
            pid,
            uid,
            cpu_percent,
            read_bytes_per_second: io_rate(|io| io.read),
            write_bytes_per_second: io_rate(|io| io.write),
            stat,
        };
        self.known.insert(
            pid,
            Known {
                start_ticks: process.stat.start_ticks,
                cpu_ticks: process.stat.cpu_ticks,
                io,
                io_age,
                uid,
                stat_file,
            },
        );
        Some(process)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(pass: &[Measured], pid: u32) -> &Measured {
        pass.iter().find(|p| p.pid == pid).expect("listed")
    }

    #[test]
    fn rates_are_per_second_and_a_counter_going_back_has_none() {
        assert_eq!(per_second(100, 300, 2.0), Some(100.0));
        assert_eq!(per_second(300, 100, 2.0), None);
        assert_eq!(per_second(1, 2, 0.0), None);
    }

    #[test]
    fn the_first_pass_primes_and_the_second_has_rates() {
        let own = std::process::id();
        let mut scanner = Scanner::default();
        let first = scanner.scan();
        assert_eq!(find(&first, own).cpu_percent, None, "first sight primes");
        assert!(scanner.is_primed());
        let started = Instant::now();
        while started.elapsed().as_millis() < 60 {
            std::hint::black_box((0..1000u64).sum::<u64>());
        }
        let second = scanner.scan();
        let me = find(&second, own);
        let cpu = me.cpu_percent.expect("seen twice");
        assert!((0.0..=100.0 * 64.0).contains(&cpu), "{cpu}");
        assert_eq!(me.uid, unsafe { libc::getuid() });
        assert!(me.read_bytes_per_second.is_some(), "own io is readable");
    }

    #[test]
    fn a_reused_pid_primes_again_and_forgetting_drops_everything() {
        let own = std::process::id();
        let mut scanner = Scanner::default();
        scanner.scan();
        // As if our pid had been another process's: another start time.
        scanner.known.get_mut(&own).expect("seen").start_ticks += 1;
        let pass = scanner.scan();
        assert_eq!(find(&pass, own).cpu_percent, None);
        scanner.forget();
        assert!(!scanner.is_primed() && scanner.known.is_empty());
    }

    fn sleeping_child() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep starts")
    }

    #[test]
    fn an_idle_process_reads_zero_io_and_is_rechecked_now_and_then() {
        let mut sleeper = sleeping_child();
        let pid = sleeper.id();
        // Past its start-up, so its CPU time no longer moves.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut scanner = Scanner::default();
        scanner.scan();
        std::thread::sleep(std::time::Duration::from_millis(50));
        for scan in 1..=IO_RECHECK_SCANS {
            let pass = scanner.scan();
            let child = find(&pass, pid);
            assert_eq!(child.read_bytes_per_second, Some(0.0), "scan {scan}");
            assert_eq!(child.cpu_percent, Some(0.0));
            let age = scanner.known[&pid].io_age;
            assert_eq!(age, scan % IO_RECHECK_SCANS, "read again every few scans");
        }
        let _ = sleeper.kill();
        let _ = sleeper.wait();
    }

    #[test]
    fn kept_files_read_the_same_process_and_fail_once_it_exits() {
        let mut child = sleeping_child();
        let pid = child.id();
        let mut scanner = Scanner::keeping(4096);
        scanner.scan();
        assert!(
            scanner.known[&pid].stat_file.is_some(),
            "kept while there is room"
        );
        let second = scanner.scan();
        assert_eq!(find(&second, pid).cpu_percent, Some(0.0));
        let mut proc = ProcDir::open().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        let file = scanner.known[&pid].stat_file.as_ref().unwrap();
        assert!(
            proc.read_file(file).is_none(),
            "an exited process's file reads nothing"
        );
        let third = scanner.scan();
        assert!(third.iter().all(|p| p.pid != pid));
        assert!(!scanner.known.contains_key(&pid));
    }

    #[test]
    fn only_so_many_files_are_kept() {
        let mut scanner = Scanner::keeping(3);
        scanner.scan();
        let kept = scanner
            .known
            .values()
            .filter(|k| k.stat_file.is_some())
            .count();
        assert_eq!(kept, 3);
        assert_eq!(files_to_keep(1024), 0);
        assert_eq!(files_to_keep(20_000), 1024);
        assert_eq!(files_to_keep(8192), 512);
    }

    #[test]
    fn exited_processes_are_forgotten() {
        let mut scanner = Scanner::default();
        scanner.known.insert(
            u32::MAX,
            Known {
                start_ticks: 1,
                cpu_ticks: 1,
                io: None,
                io_age: 0,
                uid: 0,
                stat_file: None,
            },
        );
        let pass = scanner.scan();
        assert!(pass.iter().all(|p| p.pid != u32::MAX));
        assert!(!scanner.known.contains_key(&u32::MAX));
    }
}
