//! Reading one process from `/proc`: the fields of `/proc/{pid}/stat` a process table needs, and
//! the storage bytes of `/proc/{pid}/io`.

use std::borrow::Cow;
use std::fs::File;
use std::os::fd::FromRawFd;
use std::os::unix::fs::FileExt;

/// What `/proc/{pid}/stat` says of a process at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Stat {
    pub name: String,
    /// One letter: R running, S sleeping, D disk wait, Z zombie, T stopped, I idle, …
    pub state: char,
    pub parent_pid: u32,
    /// User and system time, in clock ticks.
    pub cpu_ticks: u64,
    pub threads: u32,
    /// When it started, in clock ticks after boot: with the pid, what tells a reused pid apart.
    pub start_ticks: u64,
    pub resident_pages: u64,
}

/// Bytes a process has made storage read and write (`read_bytes`/`write_bytes` of `/proc/{pid}/io`).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct IoBytes {
    pub read: u64,
    pub write: u64,
}

/// Reads and parses `/proc/{pid}/stat` once: for the few processes looked up one at a time (GPU
/// processes, a job's parents); the process table's scan keeps its files open instead.
pub fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses a stat line. The name sits in parentheses and may hold spaces and parentheses itself,
/// so the fields after it are found from its last `)`.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let name = line.get(open + 1..close)?.to_owned();
    // Fields from the state on (field 3 of proc(5)), read in one pass: this runs for every
    // process on every scan.
    let mut fields = line.get(close + 1..)?.split_ascii_whitespace();
    let mut number = |skip: usize| -> Option<u64> { fields.nth(skip)?.parse().ok() };
    let state = line.get(close + 1..)?.trim_start().chars().next()?;
    let parent_pid = number(1)? as u32; // 4
    let user_ticks = number(9)?; // 14
    let system_ticks = number(0)?; // 15
    let threads = number(4)? as u32; // 20
    let start_ticks = number(1)?; // 22
    let resident_pages = number(1)?; // 24
    Some(Stat {
        name,
        state,
        parent_pid,
        cpu_ticks: user_ticks + system_ticks,
        threads,
        start_ticks,
        resident_pages,
    })
}

/// Parses `/proc/{pid}/io`.
pub fn parse_io(text: &str) -> Option<IoBytes> {
    let mut io = IoBytes::default();
    let (mut read, mut write) = (false, false);
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("read_bytes:") {
            io.read = value.trim().parse().ok()?;
            read = true;
        } else if let Some(value) = line.strip_prefix("write_bytes:") {
            io.write = value.trim().parse().ok()?;
            write = true;
        }
    }
    (read && write).then_some(io)
}

/// `/proc`, held open during one scan so each file is opened relative to it, and read in one
/// call into a reused buffer: at hundreds of processes a scan, std's path building, size probing
/// and allocation cost as much as the kernel's work.
pub struct ProcDir {
    fd: libc::c_int,
    path: Vec<u8>,
    buffer: Vec<u8>,
}

/// Large enough for any stat or io file: a stat line is about 350 bytes with a 64-byte name.
const FILE_BYTES: usize = 4096;

impl ProcDir {
    pub fn open() -> Option<ProcDir> {
        // SAFETY: a constant NUL-terminated path; the descriptor is closed on drop.
        let fd = unsafe {
            libc::open(
                c"/proc".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        (fd >= 0).then(|| ProcDir {
            fd,
            path: Vec::with_capacity(32),
            buffer: vec![0; FILE_BYTES],
        })
    }

    /// Opens `/proc/{pid}/{file}`; None if the process is gone or the file is closed to us.
    pub fn open_file(&mut self, pid: u32, file: &str) -> Option<File> {
        use std::io::Write;
        self.path.clear();
        write!(self.path, "{pid}/{file}\0").ok()?;
        // SAFETY: `path` is NUL-terminated; a descriptor it returns is owned by the File.
        let fd = unsafe {
            libc::openat(
                self.fd,
                self.path.as_ptr().cast(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        // SAFETY: `fd` was just opened and nothing else owns it.
        (fd >= 0).then(|| unsafe { File::from_raw_fd(fd) })
    }

    /// The whole text of an open `/proc` file, read again from its start. A file kept open
    /// belongs to one process: once that process exits, reading fails, so a reused pid is never
    /// read through an old file.
    pub fn read_file(&mut self, file: &File) -> Option<Cow<'_, str>> {
        let length = file.read_at(&mut self.buffer, 0).ok()?;
        let bytes = &self.buffer[..length];
        // Names are almost always valid UTF-8: the checked conversion is the fast path.
        Some(match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(bytes),
        })
    }

    /// The text of `/proc/{pid}/{file}`, opened and closed for this one read.
    pub fn read(&mut self, pid: u32, file: &str) -> Option<Cow<'_, str>> {
        let opened = self.open_file(pid, file)?;
        self.read_file(&opened)
    }
}

impl Drop for ProcDir {
    fn drop(&mut self) {
        // SAFETY: `fd` was opened by `open` and is closed only here.
        unsafe { libc::close(self.fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_a_tricky_name_parses() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 \
                    7 0 123456 1000000 2560 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0";
        let stat = parse_stat(line).expect("parses");
        assert_eq!(stat.name, "my (odd) name");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.parent_pid, 1);
        assert_eq!(stat.cpu_ticks, 300);
        assert_eq!(stat.threads, 7);
        assert_eq!(stat.start_ticks, 123456);
        assert_eq!(stat.resident_pages, 2560);
    }

    #[test]
    fn a_cut_stat_line_is_refused() {
        assert_eq!(parse_stat("4242 (x) S 1 2 3"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_own_stat_file_parses() {
        let mut proc = ProcDir::open().expect("/proc opens");
        let text = proc
            .read(
                std::process::id(),
                &format!("task/{}/stat", unsafe { libc::gettid() }),
            )
            .expect("readable");
        let stat = parse_stat(&text).expect("parses");
        assert!(stat.threads >= 1 && stat.resident_pages > 0 && stat.start_ticks > 0);
        assert_eq!(stat.state, 'R', "a thread reading its own stat is running");
    }

    #[test]
    fn a_missing_process_has_no_files() {
        let mut proc = ProcDir::open().expect("/proc opens");
        assert_eq!(proc.read(u32::MAX, "stat"), None);
        assert!(
            proc.read(std::process::id(), "io")
                .is_some_and(|io| parse_io(&io).is_some())
        );
    }

    #[test]
    fn io_counts_storage_bytes() {
        let text = "rchar: 9\nwchar: 8\nsyscr: 1\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 8192\n\
                    cancelled_write_bytes: 0\n";
        assert_eq!(
            parse_io(text),
            Some(IoBytes {
                read: 4096,
                write: 8192
            })
        );
        assert_eq!(parse_io("rchar: 9\n"), None);
    }
}
