//! The server under test as a child process, and what /proc says about it and the machine.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub const EMIT_TOKEN: &str = "vitals-load-benchmark-token";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start the server.
pub struct Launch {
    pub server: PathBuf,
    pub port: u16,
    pub interval: f64,
    pub max_clients: usize,
    /// More options, e.g. `--max-connections`.
    pub extra: Vec<String>,
}

/// The server under test. Dropping it stops the process: SIGTERM, then SIGKILL after 5 s.
pub struct Server {
    child: Child,
    pub pid: i32,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    pub fn start(args: &Launch) -> Result<Server, String> {
        let mut command = Command::new(&args.server);
        command
            .args(["--bind", &format!("127.0.0.1:{}", args.port)])
            .args(["--interval", &args.interval.to_string()])
            .args(["--max-clients", &args.max_clients.to_string()])
            .args(&args.extra)
            .args(["--nvml-library", "/nonexistent", "--emit-token", EMIT_TOKEN])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to stop the server if this
        // process dies without running the guard (e.g. SIGKILL).
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", args.server.display()))?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (listening, started) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            drain(stdout, log.clone(), Some(listening));
        }
        if let Some(stderr) = child.stderr.take() {
            drain(stderr, log.clone(), None);
        }
        let mut server = Server {
            pid: child.id() as i32,
            child,
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while started.recv_timeout(Duration::from_millis(50)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "the server exited ({status}) before listening:\n{}",
                    server.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server did not listen within {START_TIMEOUT:?}:\n{}",
                    server.log_tail()
                ));
            }
        }
        Ok(server)
    }

    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("vitals-load: the server did not stop within 5 s of SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a pipe of the server line by line, keeping the last 40 lines; signals `listening` once
/// the server says it is serving.
fn drain(
    pipe: impl Read + Send + 'static,
    log: Arc<Mutex<VecDeque<String>>>,
    listening: Option<mpsc::Sender<()>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if line.contains("Vitals is serving on")
                && let Some(tx) = &listening
            {
                let _ = tx.send(());
            }
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            if log.len() >= 40 {
                log.pop_front();
            }
            log.push_back(line);
        }
    });
}

/// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
pub fn cpu_ticks(pid: &str) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    // The command name (field 2) may hold spaces; the fields after its ')' start at field 3.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    match (field(14), field(15)) {
        (Some(utime), Some(stime)) => Ok(utime + stime),
        _ => Err(format!("unexpected /proc/{pid}/stat: {stat}")),
    }
}

/// CPU ticks per thread name of a process (threads of the same name summed), from /proc/PID/task.
pub fn thread_ticks(pid: &str) -> Vec<(String, u64)> {
    let mut by_name: Vec<(String, u64)> = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().into_owned();
        let Ok(ticks) = cpu_ticks(&format!("{pid}/task/{tid}")) else {
            continue;
        };
        let name = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
            .map(|n| n.trim().to_owned())
            .unwrap_or_default();
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += ticks,
            None => by_name.push((name, ticks)),
        }
    }
    by_name
}

/// (busy, total) ticks of the whole machine, all cores, from the first line of /proc/stat.
pub fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// A `kB` line of /proc/PID/status (VmRSS, VmHWM), in MiB.
pub fn status_mib(pid: &str, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line[key.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

pub fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions. Same value as `getconf CLK_TCK`.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Raises the soft open-files limit (inherited by the server) so N sockets on each side fit.
pub fn raise_nofile(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain get/setrlimit on a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 || limit.rlim_cur >= needed {
            return;
        }
        let wanted = needed.min(limit.rlim_max);
        limit.rlim_cur = wanted;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 || wanted < needed {
            eprintln!(
                "vitals-load: open-files limit is {wanted}, {needed} wanted; raise it with ulimit -n"
            );
        }
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}
