//! The real `vitals` binary as a child process, for what needs a process of its own: a limit on
//! its open files, or its memory measured from outside.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `vitals` on an ephemeral loopback port (unless `args` bind it) with `args` added, under an open-files limit
    /// (soft and hard) when one is given, and waits until it serves. Without GPUs and history on
    /// disk unless `args` name an NVML library or a data folder, and with the tests' emit token
    /// unless they name a token file.
    pub fn start(args: &[&str], open_files: Option<u64>) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vitals"));
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(if args.contains(&"--bind") {
                &[][..]
            } else {
                &["--bind", "127.0.0.1:0"][..]
            })
            .args(["--interval", "0.5"])
            .args(if args.contains(&"--emit-token-file") {
                &[][..]
            } else {
                &["--emit-token", super::server::EMIT_TOKEN][..]
            })
            .args(if args.contains(&"--nvml-library") {
                &[][..]
            } else {
                &["--nvml-library", "/nonexistent/libnvidia-ml.so.1"][..]
            })
            .args(if args.contains(&"--data-dir") {
                &[][..]
            } else {
                &["--no-persist"][..]
            })
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(limit) = open_files {
            // SAFETY: setrlimit is async-signal-safe and touches only the child.
            unsafe {
                command.pre_exec(move || {
                    let rlimit = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().expect("the vitals binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = lines
            .by_ref()
            .find_map(|line| {
                line.ok()?
                    .strip_prefix("Vitals is serving on http://")?
                    .parse()
                    .ok()
            })
            .expect("the server says where it serves");
        // Keep reading, so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ServerProcess { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's resident memory now, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.status_bytes("VmRSS:")
    }

    /// The most memory the server has held at once since it started (VmHWM).
    pub fn peak_rss_bytes(&self) -> u64 {
        self.status_bytes("VmHWM:")
    }

    fn status_bytes(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }

    /// Stops the server as a service manager would (SIGTERM) and waits for it to exit.
    pub fn terminate(mut self) {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }

    /// Kills the server at once (SIGKILL), as a crash or an out-of-memory kill would.
    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises this process's own open-files soft limit to its hard limit (tests that open many sockets).
pub fn raise_own_open_files_limit() {
    // SAFETY: reads and writes only the struct passed.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

impl super::http::Get for ServerProcess {
    fn url(&self, path: &str) -> String {
        ServerProcess::url(self, path)
    }
}
