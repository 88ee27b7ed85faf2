//! Real cgroups for a test: a tree of its own under the cgroup v2 mount, shaped like what systemd,
//! Docker, the kubelet or Slurm make, with real processes moved into it. Needs root; removed
//! (processes killed first) when dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where cgroup v2 is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid systems).
pub fn v2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let point = before.split_whitespace().nth(4)?;
        (after.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(point))
    })
}

/// Whether this test can make cgroups: root, with cgroup v2 mounted. A test that needs them says
/// so and does nothing more when it cannot (as a user without root); as root it must be able to.
pub fn available() -> bool {
    // SAFETY: geteuid only reads the calling process's credentials.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: making cgroups needs root");
        return false;
    }
    assert!(
        v2_mount().is_some(),
        "running as root, but no cgroup v2 mount to test in"
    );
    true
}

/// A test's cgroup tree and the processes it put there.
pub struct Tree {
    root: PathBuf,
    made: Vec<PathBuf>,
    children: Vec<Child>,
}

impl Tree {
    pub fn new(name: &str) -> Tree {
        let mount = v2_mount().expect("cgroup v2 is mounted");
        let root = mount.join(format!("vitals-test-{name}-{}", std::process::id()));
        Tree {
            root,
            made: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Starts `command` (which must keep running) and moves it into the cgroup at `path` (relative
    /// to the tree), made if need be; returns its pid.
    pub fn run_in(&mut self, path: &str, command: &mut Command) -> u32 {
        let dir = self.root.join(path);
        let mut missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|a| !a.exists())
            .map(Path::to_path_buf)
            .collect();
        missing.reverse();
        for step in missing {
            std::fs::create_dir(&step).unwrap_or_else(|e| panic!("mkdir {}: {e}", step.display()));
            self.made.push(step);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("a test process starts");
        let pid = child.id();
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            .unwrap_or_else(|e| panic!("moving {pid} into {}: {e}", dir.display()));
        self.children.push(child);
        pid
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Deepest first; a cgroup goes once its last process has.
        for dir in self.made.iter().rev() {
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// `sleep 600`, as it is.
pub fn sleeper() -> Command {
    let mut command = Command::new("sleep");
    command.arg("600");
    command
}

/// `sleep 600` run as `uid` (its group the same number).
pub fn sleeper_as(uid: u32) -> Command {
    let mut command = sleeper();
    command.uid(uid).gid(uid);
    command
}

/// `sleep 600` with `login` as its login uid (as pam_loginuid sets at login), run as `uid`.
pub fn logged_in_sleeper(login: u32, uid: u32) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!(
        "echo {login} > /proc/self/loginuid && exec setpriv --reuid {uid} --regid {uid} --clear-groups sleep 600"
    ));
    command
}
