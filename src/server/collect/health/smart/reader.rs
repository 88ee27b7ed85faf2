//! The thread that asks smartctl: its own, never the sampler's, since one disk can take seconds
//! to answer and a failing one far longer. Each call is bounded (killed past its timeout, its
//! output capped); the results wait in a shared list the sampler copies.

use super::parse::{self, ScannedDevice};
use crate::server::runtime::lock::{read, write};
use crate::wire::health::DiskHealth;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// How often the disks are asked: SMART counters move slowly, and asking wakes nothing (`-n
/// standby`) but still costs each disk a few commands.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);
/// How long one smartctl call may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// The most of one call's output read: `-a` of a disk is a few tens of KiB.
pub const DEFAULT_OUTPUT_CAP: usize = 1 << 20;
/// The status when there is no smartctl to run.
pub const NOT_FOUND: &str = "smartctl not found: install smartmontools or give --smartctl PATH";

/// How the disks are read.
#[derive(Clone, Debug, PartialEq)]
pub struct SmartOptions {
    /// The smartctl to run: a bare name is looked up on PATH, then in the sbin folders.
    pub smartctl: PathBuf,
    pub interval: Duration,
    /// Where a privileged helper leaves smartctl's JSON, one `<device>.json` per disk (`sda.json`
    /// holds `smartctl --json -a -n standby /dev/sda`): what Vitals' root timer unit writes, so
    /// that Vitals itself needs no root to read SMART. When the folder holds any such file they
    /// are read instead of running smartctl; when it holds none smartctl is run as usual.
    pub runtime_dir: Option<PathBuf>,
    pub timeout: Duration,
    pub output_cap: usize,
}

impl Default for SmartOptions {
    fn default() -> SmartOptions {
        SmartOptions {
            smartctl: PathBuf::from("smartctl"),
            interval: DEFAULT_INTERVAL,
            runtime_dir: None,
            timeout: DEFAULT_TIMEOUT,
            output_cap: DEFAULT_OUTPUT_CAP,
        }
    }
}

#[derive(Default)]
struct Readings {
    disks: Vec<DiskHealth>,
    read_at: Option<SystemTime>,
    status: Option<String>,
}

/// The disks' SMART, read on a thread of its own every interval. Dropping it ends the thread
/// (after the call under way, if any).
pub struct Smart {
    readings: Arc<RwLock<Readings>>,
    /// Dropped with `Smart`: the thread's wait ends, and it with it.
    _stop: Sender<()>,
}

impl Smart {
    /// Starts the thread; the first read begins at once.
    pub fn start(options: SmartOptions) -> Smart {
        let readings = Arc::new(RwLock::new(Readings::default()));
        let (stop, stopped) = channel();
        let shared = readings.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("vitals-smart".into())
            .spawn(move || run(options, &shared, stopped))
        {
            write(&readings).status = Some(format!("SMART is off: no thread for it ({e})"));
        }
        Smart {
            readings,
            _stop: stop,
        }
    }

    /// Each disk as last read, by device name; empty before the first read ends.
    pub fn disks(&self) -> Vec<DiskHealth> {
        read(&self.readings).disks.clone()
    }

    /// When the last read ended.
    pub fn read_at(&self) -> Option<SystemTime> {
        read(&self.readings).read_at
    }

    /// Why there are no disks, where that is not just "none yet": smartctl missing, or finding
    /// none.
    pub fn status(&self) -> Option<String> {
        read(&self.readings).status.clone()
    }
}

fn run(options: SmartOptions, readings: &RwLock<Readings>, stopped: Receiver<()>) {
    loop {
        let (disks, status) = read_all(&options);
        {
            let mut readings = write(readings);
            readings.disks = disks;
            readings.status = status;
            readings.read_at = Some(SystemTime::now());
        }
        match stopped.recv_timeout(options.interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Where smartctl is: a path as given; a bare name on PATH, or in the sbin folders (Debian
/// installs it as /usr/sbin/smartctl, which only root's PATH has). None: nowhere.
pub fn find_smartctl(smartctl: &Path) -> Option<PathBuf> {
    if smartctl.components().count() != 1 {
        return smartctl.is_file().then(|| smartctl.to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(smartctl))
        .find(|candidate| candidate.is_file())
}

/// One round: the helper's files if there are any, else a scan and each disk it lists.
pub fn read_all(options: &SmartOptions) -> (Vec<DiskHealth>, Option<String>) {
    if let Some(dir) = &options.runtime_dir
        && let Some(disks) = read_runtime_dir(dir, options.output_cap)
    {
        return (disks, None);
    }
    let Some(smartctl) = find_smartctl(&options.smartctl) else {
        return (Vec::new(), Some(NOT_FOUND.to_owned()));
    };
    let options = &SmartOptions {
        smartctl,
        ..options.clone()
    };
    let scanned = match call(options, &["--scan-open", "--json"]) {
        Err(CallError::NotFound) => return (Vec::new(), Some(NOT_FOUND.to_owned())),
        Err(error) => return (Vec::new(), Some(format!("smartctl --scan-open: {error}"))),
        Ok(output) => match parse::scan(&output.text) {
            Ok(devices) => devices,
            Err(error) => return (Vec::new(), Some(error.to_string())),
        },
    };
    if scanned.is_empty() {
        return (
            Vec::new(),
            Some("smartctl --scan-open found no disks".to_owned()),
        );
    }
    let mut disks: Vec<DiskHealth> = scanned
        .iter()
        .map(|device| read_device(options, device))
        .collect();
    disks.sort_by(|a, b| a.device.cmp(&b.device));
    (disks, None)
}

/// The `<device>.json` files of `dir`, or None where it holds none.
fn read_runtime_dir(dir: &Path, cap: usize) -> Option<Vec<DiskHealth>> {
    let mut disks = Vec::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let Some(device) = path
            .extension()
            .filter(|e| *e == "json")
            .and(path.file_stem())
            .and_then(|s| s.to_str())
        else {
            continue;
        };
        let mut text = String::new();
        let read = std::fs::File::open(&path)
            .and_then(|file| file.take(cap as u64 + 1).read_to_string(&mut text));
        disks.push(match read {
            Err(e) => noted(device, format!("{}: {e}", path.display())),
            Ok(n) if n > cap => noted(device, format!("{}: over {cap} bytes", path.display())),
            Ok(_) => parse::report(device, &text).unwrap_or_else(|e| noted(device, e.to_string())),
        });
    }
    if disks.is_empty() {
        return None;
    }
    disks.sort_by(|a, b| a.device.cmp(&b.device));
    Some(disks)
}

fn noted(device: &str, note: String) -> DiskHealth {
    DiskHealth {
        device: device.to_owned(),
        note: Some(note),
        ..DiskHealth::default()
    }
}

/// One disk, as `smartctl --json=c -a -n standby [-d TYPE] DEVICE` tells it.
pub fn read_device(options: &SmartOptions, device: &ScannedDevice) -> DiskHealth {
    let label = device.label();
    let mut args = vec!["--json=c", "-a", "-n", "standby"];
    if let Some(kind) = device.kind.as_deref().filter(|k| *k != "auto") {
        args.extend(["-d", kind]);
    }
    args.push(&device.name);
    match call(options, &args) {
        Ok(output) if output.text.trim().is_empty() => noted(
            &label,
            format!(
                "smartctl said nothing about {} (exit status {})",
                device.name, output.exit
            ),
        ),
        Ok(output) => {
            parse::report(&label, &output.text).unwrap_or_else(|e| noted(&label, e.to_string()))
        }
        Err(CallError::NotFound) => noted(&label, NOT_FOUND.to_owned()),
        Err(error) => noted(&label, format!("smartctl on {}: {error}", device.name)),
    }
}

struct Output {
    text: String,
    exit: i32,
}

#[derive(Debug)]
enum CallError {
    NotFound,
    Spawn(std::io::Error),
    TimedOut(Duration),
    TooLong(usize),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotFound => f.write_str(NOT_FOUND),
            CallError::Spawn(e) => write!(f, "could not run smartctl: {e}"),
            CallError::TimedOut(after) => {
                write!(
                    f,
                    "no answer in {} s: smartctl was stopped",
                    after.as_secs_f64()
                )
            }
            CallError::TooLong(cap) => write!(f, "output over {cap} bytes: smartctl was stopped"),
        }
    }
}

/// smartctl with `args`, in a process group of its own so that a timeout kills whatever it
/// started too; its stdout, up to the cap.
fn call(options: &SmartOptions, args: &[&str]) -> Result<Output, CallError> {
    let mut child = Command::new(&options.smartctl)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CallError::NotFound,
            _ => CallError::Spawn(e),
        })?;
    let deadline = Instant::now() + options.timeout;
    let cap = options.output_cap;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (sent, output) = channel();
    // Read on a thread: a child that writes and never exits must not stall the wait below.
    let reader = std::thread::Builder::new()
        .name("vitals-smartctl-out".into())
        .spawn(move || {
            let mut bytes = Vec::new();
            let read = (&mut stdout).take(cap as u64 + 1).read_to_end(&mut bytes);
            let _ = sent.send(read.map(|_| bytes));
        });
    let kill = |child: &mut std::process::Child| {
        // SAFETY: kill(2) on the group this child leads; no memory is touched.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = child.kill();
        let _ = child.wait();
    };
    if reader.is_err() {
        kill(&mut child);
        return Err(CallError::Spawn(std::io::Error::other(
            "no thread to read smartctl's output",
        )));
    }
    let bytes = match output.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(bytes)) if bytes.len() > cap => {
            kill(&mut child);
            return Err(CallError::TooLong(cap));
        }
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            kill(&mut child);
            return Err(CallError::Spawn(e));
        }
        Err(_) => {
            kill(&mut child);
            return Err(CallError::TimedOut(options.timeout));
        }
    };
    // Its output has ended; its exit should follow at once.
    let exit = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(-1),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                kill(&mut child);
                return Err(CallError::TimedOut(options.timeout));
            }
            Err(e) => return Err(CallError::Spawn(e)),
        }
    };
    Ok(Output {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        exit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smart")
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vitals-smart-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Fills `dir` with `<device>.json` files: `device` answered by `fixture`.
    fn fill(dir: &Path, disks: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (device, fixture) in disks {
            std::fs::copy(fixtures().join(fixture), dir.join(format!("{device}.json"))).unwrap();
        }
    }

    /// A smartctl script that runs the replay with `env` set.
    fn replayer(dir: &Path, env: &str) -> PathBuf {
        let script = dir.join("smartctl");
        let replay = fixtures().join("replay-smartctl");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nSMART_REPLAY_DIR='{}/disks' {env} exec '{}' \"$@\"\n",
                dir.display(),
                replay.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    fn first_read(smart: &Smart, within: Duration) {
        let until = Instant::now() + within;
        while smart.read_at().is_none() {
            assert!(Instant::now() < until, "no read within {within:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn the_thread_scans_then_reads_each_disk() {
        let dir = scratch("replay");
        fill(
            &dir.join("disks"),
            &[
                ("nvme0", "nvme-healthy.json"),
                ("nvme1", "nvme-media-errors.json"),
                ("sda", "sata-healthy.json"),
                ("sdb", "asleep.json"),
                ("sdc", "sata-failing.json"),
            ],
        );
        let options = SmartOptions {
            smartctl: replayer(&dir, ""),
            interval: Duration::from_secs(3600),
            ..SmartOptions::default()
        };
        let started = Instant::now();
        let smart = Smart::start(options.clone());
        first_read(&smart, Duration::from_secs(20));
        eprintln!("five replayed disks read in {:?}", started.elapsed());
        assert_eq!(smart.status(), None);
        let disks = smart.disks();
        let seen: Vec<(&str, Option<bool>, Option<&str>)> = disks
            .iter()
            .map(|d| (d.device.as_str(), d.passed, d.note.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("nvme0", Some(true), None),
                ("nvme1", Some(true), None),
                ("sda", Some(true), None),
                ("sdb", None, Some(parse::ASLEEP)),
                ("sdc", Some(false), None),
            ]
        );
        assert_eq!(disks[1].media_errors, Some(7));
        assert_eq!(
            (disks[4].reallocated_sectors, disks[4].pending_sectors),
            (Some(1975), Some(8))
        );

        // One replayed read, timed.
        let device = ScannedDevice {
            name: "/dev/sdc".into(),
            kind: Some("sat".into()),
        };
        let started = Instant::now();
        let disk = read_device(&options, &device);
        eprintln!("one replayed smartctl read: {:?}", started.elapsed());
        assert_eq!(disk.pending_sectors, Some(8));
        // A device the scan did not list: smartctl's open failure.
        let missing = read_device(
            &options,
            &ScannedDevice {
                name: "/dev/sdq".into(),
                kind: None,
            },
        );
        assert_eq!(
            missing.note.as_deref(),
            Some("could not open sdq: Smartctl open device: /dev/sdq failed: No such device")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_smartctl_the_status_says_what_to_do() {
        let smart = Smart::start(SmartOptions {
            smartctl: PathBuf::from("/nonexistent/vitals/smartctl"),
            ..SmartOptions::default()
        });
        first_read(&smart, Duration::from_secs(10));
        assert_eq!(smart.status().as_deref(), Some(NOT_FOUND));
        assert!(smart.disks().is_empty());
    }

    #[test]
    fn a_slow_smartctl_is_stopped() {
        let dir = scratch("slow");
        fill(&dir.join("disks"), &[("sda", "sata-healthy.json")]);
        // Scanning answers at once; the disk's read sleeps past the timeout, in a child of the
        // shell (which the process group kill must reach too).
        let script = dir.join("smartctl");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncase \"$*\" in *--scan*) ;; *) sleep 30 ;; esac\nSMART_REPLAY_DIR='{}/disks' exec '{}' \"$@\"\n",
                dir.display(),
                fixtures().join("replay-smartctl").display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let options = SmartOptions {
            smartctl: script,
            timeout: Duration::from_millis(300),
            ..SmartOptions::default()
        };
        let started = Instant::now();
        let (disks, status) = read_all(&options);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(status, None);
        assert_eq!(disks.len(), 1);
        assert_eq!(
            disks[0].note.as_deref(),
            Some("smartctl on /dev/sda: no answer in 0.3 s: smartctl was stopped")
        );
        assert_eq!(disks[0].passed, None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn output_past_the_cap_is_stopped() {
        let dir = scratch("cap");
        let script = dir.join("smartctl");
        std::fs::write(&script, "#!/bin/sh\nexec yes '{\"devices\":[]}'\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let options = SmartOptions {
            smartctl: script,
            output_cap: 4096,
            ..SmartOptions::default()
        };
        let (disks, status) = read_all(&options);
        assert!(disks.is_empty());
        assert_eq!(
            status.as_deref(),
            Some("smartctl --scan-open: output over 4096 bytes: smartctl was stopped")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_helpers_files_are_read_instead_of_smartctl() {
        let dir = scratch("runtime");
        fill(
            &dir,
            &[
                ("nvme0", "nvme-media-errors.json"),
                ("sda", "sata-failing.json"),
            ],
        );
        std::fs::write(dir.join("sdb.json"), "{ torn").unwrap();
        std::fs::write(dir.join("README"), "not a disk").unwrap();
        let (disks, status) = read_all(&SmartOptions {
            smartctl: PathBuf::from("/nonexistent/vitals/smartctl"),
            runtime_dir: Some(dir.clone()),
            ..SmartOptions::default()
        });
        assert_eq!(status, None);
        let seen: Vec<(&str, Option<bool>)> = disks
            .iter()
            .map(|d| (d.device.as_str(), d.passed))
            .collect();
        assert_eq!(
            seen,
            [("nvme0", Some(true)), ("sda", Some(false)), ("sdb", None)]
        );
        assert!(
            disks[2]
                .note
                .as_deref()
                .unwrap()
                .starts_with("smartctl's report on sdb: not JSON")
        );
        // An empty folder: smartctl is run (and here missing).
        let empty = scratch("runtime-empty");
        let (_, status) = read_all(&SmartOptions {
            smartctl: PathBuf::from("/nonexistent/vitals/smartctl"),
            runtime_dir: Some(empty.clone()),
            ..SmartOptions::default()
        });
        assert_eq!(status.as_deref(), Some(NOT_FOUND));
        let _ = (
            std::fs::remove_dir_all(&dir),
            std::fs::remove_dir_all(&empty),
        );
    }

    /// The real smartctl on this machine, if it has one: a VM's virtual disks have no SMART, so
    /// each disk must read as no verdict, with a note saying why.
    #[test]
    fn the_real_smartctl_here() {
        let Some(smartctl) = find_smartctl(Path::new("smartctl")) else {
            eprintln!("skipped: no smartctl here (Debian: apt-get install smartmontools)");
            return;
        };
        let options = SmartOptions {
            smartctl,
            ..SmartOptions::default()
        };
        let (scanned, status) = read_all(&options);
        eprintln!(
            "smartctl --scan-open: {} disk(s), status {status:?}",
            scanned.len()
        );
        // The scan misses disks smartctl has no driver for (virtio): ask the kernel's too.
        let mut disks = scanned;
        for entry in std::fs::read_dir("/sys/block")
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if ["sd", "vd", "xvd", "hd", "nvme"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                let device = ScannedDevice {
                    name: format!("/dev/{name}"),
                    kind: None,
                };
                let started = Instant::now();
                let disk = read_device(&options, &device);
                eprintln!(
                    "one real smartctl read of {name}: {:?}: {disk:?}",
                    started.elapsed()
                );
                disks.push(disk);
            }
        }
        // Only where a hypervisor is certain and no disk of its own can answer: a machine with
        // real disks (or one lent a real NVMe) may well give verdicts.
        let virtual_machine = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|cpu| {
            cpu.lines()
                .any(|l| l.starts_with("flags") && l.contains(" hypervisor"))
        }) && disks.iter().all(|d| !d.device.starts_with("nvme"));
        if !virtual_machine {
            eprintln!("skipped the no-SMART check: this machine may have real disks");
            return;
        }
        for disk in &disks {
            assert_eq!(disk.passed, None, "{disk:?}");
            assert!(disk.note.is_some(), "{disk:?}");
        }
    }
}
