//! The process table's logic, apart from its view: filtering, grouping by name, sorting, and each
//! process's recent CPU and memory for its expanded row.

use crate::wire::{ProcessList, ProcessRow};
use std::collections::VecDeque;

/// How far back an expanded row draws a process's CPU and memory.
pub const TRAIL_MS: i64 = 10 * 60 * 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Pid,
    Name,
    User,
    Cpu,
    Memory,
    Read,
    Write,
    Threads,
    Started,
    GpuMemory,
    Gpu,
}

/// The columns in the order the table shows them, with their headings and whether a narrow
/// screen keeps them.
pub const COLUMNS: [(Column, &str, bool); 11] = [
    (Column::Pid, "PID", false),
    (Column::Name, "Name", true),
    (Column::User, "Owner", false),
    (Column::Cpu, "CPU %", true),
    (Column::Memory, "Memory", true),
    (Column::Read, "Read/s", false),
    (Column::Write, "Write/s", false),
    (Column::Threads, "Threads", false),
    (Column::Started, "Started", false),
    (Column::GpuMemory, "GPU mem", true),
    (Column::Gpu, "GPU %", false),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            column: Column::Cpu,
            descending: true,
        }
    }
}

impl Sort {
    /// A click on a heading: the same column flips, another one starts with its natural order
    /// (largest first for numbers, A–Z for names).
    pub fn clicked(self, column: Column) -> Sort {
        if column == self.column {
            Sort {
                descending: !self.descending,
                ..self
            }
        } else {
            let text = matches!(column, Column::Name | Column::User);
            Sort {
                column,
                descending: !text,
            }
        }
    }
}

/// One line of the table: a process, or (grouped) every process of one name.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// The process, or the first of the group.
    pub row: ProcessRow,
    /// Processes this line stands for (1 for a process).
    pub count: usize,
    /// The pids of a group's processes, busiest first.
    pub members: Vec<u32>,
}

impl Line {
    pub fn key(&self) -> String {
        if self.count > 1 {
            format!("name:{}", self.row.name)
        } else {
            format!("pid:{}", self.row.pid)
        }
    }
}

fn matches(row: &ProcessRow, filter: &str) -> bool {
    filter.is_empty()
        || [
            Some(&row.name),
            Some(&row.user),
            row.owner.as_ref().map(|o| &o.line),
            row.command_line.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|text| text.to_ascii_lowercase().contains(filter))
        || row.pid.to_string() == filter
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        _ => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

/// Merges processes of one name into one line: CPU, memory, I/O, threads and GPU memory add up;
/// the earliest start and the highest GPU share stand for the group.
fn group(rows: Vec<ProcessRow>) -> Vec<Line> {
    // Tens of lines: a search is cheaper in the page's code than a map.
    let mut lines: Vec<Line> = Vec::new();
    for row in rows {
        let Some(line) = lines.iter_mut().find(|line| line.row.name == row.name) else {
            lines.push(Line {
                members: vec![row.pid],
                row,
                count: 1,
            });
            continue;
        };
        let sum = &mut line.row;
        sum.cpu_percent = add(sum.cpu_percent, row.cpu_percent);
        sum.machine_cpu_percent = add(sum.machine_cpu_percent, row.machine_cpu_percent);
        sum.memory_bytes += row.memory_bytes;
        sum.memory_percent += row.memory_percent;
        sum.read_bytes_per_second = add(sum.read_bytes_per_second, row.read_bytes_per_second);
        sum.write_bytes_per_second = add(sum.write_bytes_per_second, row.write_bytes_per_second);
        sum.threads += row.threads;
        sum.started = sum.started.min(row.started);
        sum.gpu_memory_bytes = add(
            sum.gpu_memory_bytes.map(|b| b as f64),
            row.gpu_memory_bytes.map(|b| b as f64),
        )
        .map(|b| b as u64);
        sum.gpu_sm_percent = sum.gpu_sm_percent.max(row.gpu_sm_percent);
        if sum.user != row.user && !sum.user.ends_with('…') {
            sum.user = format!("{}…", sum.user);
        }
        if let Some(owner) = sum.owner.as_mut()
            && row.owner.as_ref().is_none_or(|o| o.line != owner.line)
            && !owner.line.ends_with('…')
        {
            owner.line.push('…');
        }
        line.members.push(row.pid);
        line.count += 1;
    }
    lines
}

fn compare(a: &ProcessRow, b: &ProcessRow, column: Column) -> std::cmp::Ordering {
    let number = |value: fn(&ProcessRow) -> Option<f64>| {
        let key = |row| value(row).unwrap_or(-1.0);
        key(a).total_cmp(&key(b))
    };
    match column {
        Column::Pid => a.pid.cmp(&b.pid),
        Column::Name => a
            .name
            .to_ascii_lowercase()
            .cmp(&b.name.to_ascii_lowercase()),
        Column::User => owner_line(a).cmp(owner_line(b)),
        Column::Cpu => number(|r| r.cpu_percent),
        Column::Memory => a.memory_bytes.cmp(&b.memory_bytes),
        Column::Read => number(|r| r.read_bytes_per_second),
        Column::Write => number(|r| r.write_bytes_per_second),
        Column::Threads => a.threads.cmp(&b.threads),
        Column::Started => a.started.cmp(&b.started),
        Column::GpuMemory => number(|r| r.gpu_memory_bytes.map(|b| b as f64)),
        Column::Gpu => number(|r| r.gpu_sm_percent.map(f64::from)),
    }
}

/// The table's lines: filtered by name, user, command line or pid (case-insensitive), grouped
/// by name if asked, and sorted; ties keep pid order so rows do not jump between updates.
pub fn lines(list: &ProcessList, filter: &str, grouped: bool, sort: Sort) -> Vec<Line> {
    let filter = filter.trim().to_ascii_lowercase();
    let mut rows: Vec<ProcessRow> = list
        .processes
        .iter()
        .filter(|row| matches(row, &filter))
        .cloned()
        .collect();
    // Grouping keeps the first row of each name: in pid order, whatever the sort.
    rows.sort_unstable_by_key(|row| row.pid);
    let mut lines = if grouped {
        group(rows)
    } else {
        rows.into_iter()
            .map(|row| Line {
                members: vec![row.pid],
                row,
                count: 1,
            })
            .collect()
    };
    lines.sort_unstable_by(|a, b| {
        let order = compare(&a.row, &b.row, sort.column);
        let order = if sort.descending {
            order.reverse()
        } else {
            order
        };
        order.then(a.row.pid.cmp(&b.row.pid))
    });
    lines
}

/// One process's recent CPU (% of one core) and memory (% of RAM), oldest first.
pub type Trail = VecDeque<(i64, f32, f32)>;

/// Every listed process's trail, by pid and start time (a reused pid starts a new trail).
#[derive(Default)]
pub struct Trails {
    // Tens of processes: a list is cheaper in the page's code than a map.
    by_process: Vec<((u32, i64), Trail)>,
}

impl Trails {
    /// Adds a scan: a point per process, and drops what is older than [`TRAIL_MS`] (a process
    /// gone from the list for that long is forgotten).
    pub fn add(&mut self, list: &ProcessList) {
        let now = list.timestamp.timestamp_millis();
        for row in &list.processes {
            let key = (row.pid, row.started.timestamp_millis());
            let cpu = row.cpu_percent.unwrap_or(0.0) as f32;
            let point = (now, cpu, row.memory_percent as f32);
            match self.by_process.iter_mut().find(|(k, _)| *k == key) {
                Some((_, trail)) => trail.push_back(point),
                None => self.by_process.push((key, VecDeque::from([point]))),
            }
        }
        self.by_process.retain_mut(|(_, trail)| {
            while trail.front().is_some_and(|(at, ..)| now - at > TRAIL_MS) {
                trail.pop_front();
            }
            !trail.is_empty()
        });
    }

    pub fn of(&self, row: &ProcessRow) -> Option<&Trail> {
        let key = (row.pid, row.started.timestamp_millis());
        self.by_process
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, trail)| trail)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_process.len()
    }
}

/// One thing the reader did to the table.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Sort(Column),
    /// Opens a line (by its key), or closes it if it was open.
    Expand(String),
    Filter(String),
    Grouped(bool),
}

impl TableChoices {
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Sort(column) => self.sort = self.sort.clicked(column),
            Change::Expand(key) => {
                self.expanded = (self.expanded.as_deref() != Some(key.as_str())).then_some(key)
            }
            Change::Filter(filter) => self.filter = filter,
            Change::Grouped(grouped) => self.grouped = grouped,
        }
    }
}

/// The process table's data in the page: the latest scan, and each process's trail.
#[derive(Default)]
pub struct ProcessView {
    pub list: Option<ProcessList>,
    pub trails: Trails,
}

impl ProcessView {
    pub fn add(&mut self, list: ProcessList) {
        self.trails.add(&list);
        self.list = Some(list);
    }
}

/// What the reader chose: the order, the filter, grouping, and the open line (a process, or a
/// name when grouped), all kept across updates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableChoices {
    pub sort: Sort,
    pub filter: String,
    pub grouped: bool,
    pub expanded: Option<String>,
}

/// An SVG polyline's points for values over time, in a `width` × `height` box, with `top` the
/// value drawn at the top edge.
pub fn sparkline(points: &[(i64, f32)], width: f64, height: f64, top: f64) -> String {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return String::new();
    };
    let span = (last.0 - first.0).max(1) as f64;
    let top = top.max(f64::MIN_POSITIVE);
    points
        .iter()
        .map(|(at, value)| {
            let x = (at - first.0) as f64 / span * width;
            let y = height - (f64::from(*value) / top).clamp(0.0, 1.0) * height;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Resident memory as the table shows it: MiB below a GiB, GiB above.
pub fn memory(bytes: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    let mib = bytes as f64 / MIB;
    if mib >= 1024.0 {
        crate::shared::format::gib(bytes)
    } else {
        format!("{mib:.0} MiB")
    }
}

/// Who a row's process belongs to: its owner's line ("alice · train.service"), else its user.
fn owner_line(row: &ProcessRow) -> &str {
    row.owner.as_ref().map_or(&row.user, |owner| &owner.line)
}

/// A cell's text; `now_ms` for how long ago a process started.
pub fn cell(row: &ProcessRow, column: Column, count: usize, now_ms: i64) -> String {
    use crate::shared::format;
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "–".into());
    match column {
        Column::Pid if count > 1 => format!("×{count}"),
        Column::Pid => row.pid.to_string(),
        Column::Name => row.name.clone(),
        Column::User => owner_line(row).to_owned(),
        // A process's first scan has no rate yet.
        Column::Cpu => row.cpu_percent.map_or("…".into(), |p| format!("{p:.1}")),
        Column::Memory => memory(row.memory_bytes),
        Column::Read => or_dash(row.read_bytes_per_second.map(format::rate)),
        Column::Write => or_dash(row.write_bytes_per_second.map(format::rate)),
        Column::Threads => row.threads.to_string(),
        Column::Started => {
            let seconds = (now_ms - row.started.timestamp_millis()).max(0) / 1000;
            format::uptime(seconds as u64)
        }
        Column::GpuMemory => row.gpu_memory_bytes.map(memory).unwrap_or_default(),
        Column::Gpu => row
            .gpu_sm_percent
            .map(|p| p.to_string())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn row(pid: u32, name: &str, user: &str, cpu: f64, memory: u64) -> ProcessRow {
        ProcessRow {
            pid,
            name: name.into(),
            user: user.into(),
            cpu_percent: Some(cpu),
            memory_bytes: memory,
            memory_percent: memory as f64 / 100.0,
            threads: 1,
            started: at(pid as i64),
            ..Default::default()
        }
    }

    fn list(rows: Vec<ProcessRow>, seconds: i64) -> ProcessList {
        ProcessList {
            timestamp: at(seconds),
            processes: rows,
            ..Default::default()
        }
    }

    fn pids(lines: &[Line]) -> Vec<u32> {
        lines.iter().map(|l| l.row.pid).collect()
    }

    fn sample() -> ProcessList {
        list(
            vec![
                row(10, "python", "alice", 90.0, 300),
                row(11, "python", "bob", 50.0, 500),
                row(20, "postgres", "postgres", 5.0, 900),
                row(30, "Xorg", "root", 1.0, 100),
            ],
            0,
        )
    }

    #[test]
    fn sorting_by_each_column_both_ways() {
        let list = sample();
        let cpu = lines(&list, "", false, Sort::default());
        assert_eq!(pids(&cpu), [10, 11, 20, 30]);
        let memory = Sort::default().clicked(Column::Memory);
        assert_eq!(pids(&lines(&list, "", false, memory)), [20, 11, 10, 30]);
        let ascending = memory.clicked(Column::Memory);
        assert!(!ascending.descending);
        assert_eq!(pids(&lines(&list, "", false, ascending)), [30, 10, 11, 20]);
        let names = Sort::default().clicked(Column::Name);
        assert!(!names.descending, "names start A to Z");
        assert_eq!(pids(&lines(&list, "", false, names)), [20, 10, 11, 30]);
    }

    #[test]
    fn the_readers_choices_change_one_at_a_time() {
        let mut choices = TableChoices::default();
        choices.apply(Change::Sort(Column::Memory));
        choices.apply(Change::Sort(Column::Memory));
        assert_eq!(
            choices.sort,
            Sort {
                column: Column::Memory,
                descending: false
            }
        );
        choices.apply(Change::Expand("pid:7".into()));
        assert_eq!(choices.expanded.as_deref(), Some("pid:7"));
        choices.apply(Change::Expand("pid:8".into()));
        assert_eq!(
            choices.expanded.as_deref(),
            Some("pid:8"),
            "another line opens"
        );
        choices.apply(Change::Expand("pid:8".into()));
        assert_eq!(choices.expanded, None, "the open line closes");
        choices.apply(Change::Filter("py".into()));
        choices.apply(Change::Grouped(true));
        assert_eq!((choices.filter.as_str(), choices.grouped), ("py", true));
    }

    #[test]
    fn ties_keep_pid_order() {
        let list = list(
            vec![
                row(3, "a", "u", 0.0, 1),
                row(1, "b", "u", 0.0, 1),
                row(2, "c", "u", 0.0, 1),
            ],
            0,
        );
        assert_eq!(pids(&lines(&list, "", false, Sort::default())), [1, 2, 3]);
    }

    #[test]
    fn the_filter_matches_name_user_command_or_pid() {
        let mut list = sample();
        list.processes[3].command_line = Some("/usr/lib/xorg/Xorg :0".into());
        assert_eq!(
            pids(&lines(&list, "PYTH", false, Sort::default())),
            [10, 11]
        );
        assert_eq!(pids(&lines(&list, "bob", false, Sort::default())), [11]);
        assert_eq!(pids(&lines(&list, "xorg/", false, Sort::default())), [30]);
        assert_eq!(pids(&lines(&list, " 20 ", false, Sort::default())), [20]);
        assert!(lines(&list, "nothing", false, Sort::default()).is_empty());
    }

    #[test]
    fn grouping_adds_up_a_name_and_keeps_its_members() {
        let mut list = sample();
        list.processes[0].gpu_memory_bytes = Some(1 << 30);
        list.processes[1].read_bytes_per_second = Some(10.0);
        let grouped = lines(&list, "", true, Sort::default());
        assert_eq!(grouped.len(), 3);
        let python = &grouped[0];
        assert_eq!((python.count, python.members.clone()), (2, vec![10, 11]));
        assert_eq!(python.row.cpu_percent, Some(140.0));
        assert_eq!(python.row.memory_bytes, 800);
        assert_eq!(python.row.threads, 2);
        assert_eq!(python.row.read_bytes_per_second, Some(10.0));
        assert_eq!(python.row.gpu_memory_bytes, Some(1 << 30));
        assert_eq!(python.row.started, at(10), "the earliest start");
        assert_eq!(python.row.user, "alice…", "more than one user");
        assert_eq!(python.key(), "name:python");
        assert_eq!(grouped[1].key(), "pid:20");
    }

    #[test]
    fn trails_follow_a_process_and_forget_the_old() {
        let mut trails = Trails::default();
        trails.add(&list(vec![row(10, "python", "a", 50.0, 200)], 0));
        trails.add(&list(vec![row(10, "python", "a", 70.0, 200)], 2));
        let python = row(10, "python", "a", 0.0, 0);
        let trail = trails.of(&python).expect("kept");
        assert_eq!(trail.iter().map(|p| p.1).collect::<Vec<_>>(), [50.0, 70.0]);
        // The same pid, started later: another process with a trail of its own.
        let mut reused = row(10, "sh", "a", 1.0, 1);
        reused.started = at(500);
        trails.add(&list(vec![reused.clone()], 4));
        assert_eq!(trails.of(&reused).map(|t| t.len()), Some(1));
        assert_eq!(trails.len(), 2);
        trails.add(&list(vec![reused], TRAIL_MS / 1000 + 3));
        assert_eq!(
            trails.len(),
            1,
            "the first one has been gone for longer than a trail"
        );
        assert!(trails.of(&python).is_none());
    }

    #[test]
    fn sparklines_fill_their_box() {
        let points = [(0, 0.0), (500, 50.0), (1000, 200.0)];
        let line = sparkline(&points, 100.0, 20.0, 100.0);
        assert_eq!(line, "0.0,20.0 50.0,10.0 100.0,0.0");
        assert_eq!(sparkline(&[], 100.0, 20.0, 100.0), "");
    }

    #[test]
    fn cells_read_as_a_person_expects() {
        let row = ProcessRow {
            pid: 42,
            name: "python".into(),
            cpu_percent: Some(153.26),
            memory_bytes: 3 << 29,
            threads: 9,
            started: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            gpu_memory_bytes: Some(300 << 20),
            gpu_sm_percent: Some(87),
            ..Default::default()
        };
        let now = 1_700_000_000_000 + 3_723_000;
        assert_eq!(cell(&row, Column::Pid, 1, now), "42");
        assert_eq!(cell(&row, Column::Pid, 3, now), "×3");
        assert_eq!(cell(&row, Column::Cpu, 1, now), "153.3");
        assert_eq!(cell(&row, Column::Memory, 1, now), "1.5 GiB");
        assert_eq!(cell(&row, Column::GpuMemory, 1, now), "300 MiB");
        assert_eq!(cell(&row, Column::Gpu, 1, now), "87");
        assert_eq!(cell(&row, Column::Read, 1, now), "–");
        assert_eq!(cell(&row, Column::Started, 1, now), "1h 2m");
        let first_scan = ProcessRow {
            cpu_percent: None,
            ..row
        };
        assert_eq!(cell(&first_scan, Column::Cpu, 1, now), "…");
    }
}
