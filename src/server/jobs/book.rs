//! The jobs the machine runs, as their `jobs/` channels tell them (see `job_convention`): kept in
//! memory from what is emitted (and what was saved before a restart), with limits that keep a
//! runaway script harmless, and listed with their status and the GPUs they use.

use crate::server::collect::procfs::info::process_uid;
use crate::server::collect::procfs::stat::read_stat;
use crate::server::jobs::convention::JOBS_PREFIX;
use crate::server::runtime::lock::lock;
use crate::wire::{GpuMetrics, Job, JobList, JobStatus};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Jobs kept; past it the one silent longest (an ended one first) is forgotten.
pub const MAX_JOBS: usize = 256;
/// Numeric fields one job may have over all its `metrics`.
pub const MAX_JOB_FIELDS: usize = 64;
/// Messages one job's channel may send in a second.
pub const MAX_MESSAGES_PER_SECOND: u32 = 200;
/// How far up its parents a GPU process is followed to find the job that started it.
const MAX_PARENT_STEPS: usize = 16;

/// A limit a job's message would break, with what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum JobLimit {
    /// Too many messages this second.
    Rate(String),
    /// Too many numeric fields over the job.
    Fields(String),
}

#[derive(Debug, Default)]
pub struct JobBook {
    jobs: Mutex<BTreeMap<String, Kept>>,
}

#[derive(Debug)]
struct Kept {
    job: Job,
    /// The start of this second's window and the messages in it.
    window: (Instant, u32),
}

impl JobBook {
    fn jobs(&self) -> MutexGuard<'_, BTreeMap<String, Kept>> {
        lock(&self.jobs)
    }

    /// The names of the numeric fields a job has sent, if it is kept.
    pub fn field_names(&self, channel: &str) -> Option<Vec<String>> {
        let jobs = self.jobs();
        Some(jobs.get(channel)?.job.fields.keys().cloned().collect())
    }

    /// Whether this message keeps within its job's limits, or which one it breaks.
    pub fn admit(
        &self,
        channel: &str,
        event: &str,
        data: &Value,
        now: Instant,
    ) -> Result<(), JobLimit> {
        if !channel.starts_with(JOBS_PREFIX) {
            return Ok(());
        }
        let mut jobs = self.jobs();
        let Some(kept) = jobs.get_mut(channel) else {
            return Ok(());
        };
        if event == "metrics"
            && let Some(fields) = data.as_object()
        {
            let new = fields
                .keys()
                .filter(|k| !kept.job.fields.contains_key(*k))
                .count();
            if kept.job.fields.len() + new > MAX_JOB_FIELDS {
                return Err(JobLimit::Fields(format!(
                    "{channel} would have more than {MAX_JOB_FIELDS} numeric fields: send fewer kinds of metric"
                )));
            }
        }
        let (started, count) = &mut kept.window;
        if now.duration_since(*started) >= Duration::from_secs(1) {
            (*started, *count) = (now, 0);
        }
        if *count >= MAX_MESSAGES_PER_SECOND {
            return Err(JobLimit::Rate(format!(
                "{channel} sent more than {MAX_MESSAGES_PER_SECOND} messages this second: slow down"
            )));
        }
        *count += 1;
        Ok(())
    }

    /// Takes one message of a job's channel (others are ignored).
    pub fn record(
        &self,
        channel: &str,
        event: &str,
        data: &Value,
        at: DateTime<Utc>,
        heartbeat_seconds: Option<u64>,
    ) {
        if !channel.starts_with(JOBS_PREFIX) {
            return;
        }
        let mut jobs = self.jobs();
        if !jobs.contains_key(channel) && jobs.len() >= MAX_JOBS {
            forget_one(&mut jobs);
        }
        let kept = jobs.entry(channel.to_owned()).or_insert_with(|| Kept {
            job: Job {
                channel: channel.to_owned(),
                name: None,
                command: None,
                status: JobStatus::Running,
                started: None,
                ended: None,
                last_seen: at,
                heartbeat_seconds: None,
                fields: BTreeMap::new(),
                pids: Vec::new(),
                unverified_pids: Vec::new(),
                gpus: Vec::new(),
                message: None,
            },
            window: (Instant::now(), 0),
        });
        let job = &mut kept.job;
        job.last_seen = job.last_seen.max(at);
        if heartbeat_seconds.is_some() {
            job.heartbeat_seconds = heartbeat_seconds;
        }
        let text = |field: &str| data.get(field).and_then(Value::as_str).map(str::to_owned);
        match event {
            "start" => {
                job.name = text("name");
                job.command = text("command").or_else(|| text("description"));
                job.pids = numbers(data.get("pids"));
                job.unverified_pids.clear();
                job.gpus = strings(data.get("gpus"));
                (job.started, job.ended, job.message) = (Some(at), None, None);
                job.status = JobStatus::Running;
                job.fields.clear();
            }
            "metrics" => {
                let fields = data.as_object().into_iter().flatten();
                for (name, value) in fields {
                    if let Some(value) = value.as_f64().filter(|v| v.is_finite()) {
                        job.fields.insert(name.clone(), value);
                    }
                }
            }
            "end" => {
                job.ended = Some(at);
                job.message = text("message");
                job.status = match text("status").as_deref() {
                    Some("failed") => JobStatus::Failed,
                    _ => JobStatus::Ok,
                };
            }
            _ => {}
        }
    }

    /// Checks the pids a job's start named against who sent it (`sender_uid`, the user owning the
    /// emitting connection): a pid that user does not run is marked unverified, so a holder of
    /// the emit token cannot claim another user's GPU for a job. Root may name any process.
    pub fn check_claims(&self, channel: &str, sender_uid: u32) {
        if sender_uid == 0 {
            return;
        }
        if let Some(kept) = self.jobs().get_mut(channel) {
            let job = &mut kept.job;
            job.unverified_pids = job
                .pids
                .iter()
                .copied()
                .filter(|&pid| process_uid(pid) != Some(sender_uid))
                .collect();
        }
    }

    /// Whether any job named processes at its start: only then is a process's job looked for.
    pub fn names_processes(&self) -> bool {
        self.jobs().values().any(|kept| !kept.job.pids.is_empty())
    }

    /// The job (its channel) that runs a process, given the process and its parents nearest
    /// first: a job that has not ended and named one of them (and was allowed to).
    pub fn job_of_lineage(&self, line: &[u32]) -> Option<String> {
        let jobs = self.jobs();
        line.iter().find_map(|pid| {
            jobs.values()
                .find(|kept| {
                    kept.job.ended.is_none()
                        && kept.job.pids.contains(pid)
                        && !kept.job.unverified_pids.contains(pid)
                })
                .map(|kept| kept.job.channel.clone())
        })
    }

    /// The job that runs `pid`, following its parents up `/proc`.
    pub fn job_of(&self, pid: u32) -> Option<String> {
        self.job_of_lineage(&lineage(pid))
    }

    /// Every job with its status at `now` and its GPUs: declared, or running one of its
    /// processes (or a process they started). Running and stalled jobs first, then by last
    /// message, newest first.
    pub fn list(&self, now: DateTime<Utc>, gpus: &[GpuMetrics]) -> JobList {
        let mut jobs: Vec<Job> = self.jobs().values().map(|k| k.job.clone()).collect();
        // Each GPU process with its parents, read once whatever the number of jobs.
        let lines: Vec<(&str, Vec<u32>)> = if jobs.iter().any(|j| !j.pids.is_empty()) {
            gpus.iter()
                .flat_map(|gpu| {
                    gpu.processes
                        .iter()
                        .map(move |p| (gpu.uuid.as_str(), p.pid))
                })
                .map(|(uuid, pid)| (uuid, lineage(pid)))
                .collect()
        } else {
            Vec::new()
        };
        for job in &mut jobs {
            if job.status == JobStatus::Running
                && let Some(heartbeat) = job.heartbeat_seconds
                && (now - job.last_seen).num_milliseconds() > heartbeat as i64 * 1000
            {
                job.status = JobStatus::Stalled;
            }
            for (uuid, line) in &lines {
                let runs_it = line
                    .iter()
                    .any(|pid| job.pids.contains(pid) && !job.unverified_pids.contains(pid));
                if runs_it && !job.gpus.iter().any(|g| g == uuid) {
                    job.gpus.push((*uuid).to_owned());
                }
            }
        }
        let ended = |job: &Job| matches!(job.status, JobStatus::Ok | JobStatus::Failed);
        jobs.sort_by(|a, b| ended(a).cmp(&ended(b)).then(b.last_seen.cmp(&a.last_seen)));
        JobList { jobs }
    }
}

fn forget_one(jobs: &mut BTreeMap<String, Kept>) {
    let oldest = jobs
        .iter()
        .min_by_key(|(_, kept)| (kept.job.ended.is_none(), kept.job.last_seen))
        .map(|(channel, _)| channel.clone());
    if let Some(channel) = oldest {
        jobs.remove(&channel);
    }
}

fn numbers(list: Option<&Value>) -> Vec<u32> {
    let items = list.and_then(Value::as_array).into_iter().flatten();
    items
        .filter_map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
        .collect()
}

fn strings(list: Option<&Value>) -> Vec<String> {
    let items = list.and_then(Value::as_array).into_iter().flatten();
    items
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// `pid` and the processes that started it, nearest first (followed up `/proc`'s parents, short
/// of init).
fn lineage(pid: u32) -> Vec<u32> {
    let mut line = vec![pid];
    while line.len() < MAX_PARENT_STEPS {
        match line
            .last()
            .and_then(|&pid| read_stat(pid))
            .map(|s| s.parent_pid)
        {
            Some(parent) if parent > 1 => line.push(parent),
            _ => break,
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::GpuProcess;
    use serde_json::json;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + second, 0).unwrap()
    }

    #[test]
    fn a_job_is_told_by_its_start_metrics_and_end() {
        let book = JobBook::default();
        let start = json!({"name": "resnet", "command": "python train.py", "pids": [4242]});
        book.record("jobs/a", "start", &start, at(0), Some(30));
        book.record(
            "jobs/a",
            "metrics",
            &json!({"step": 1, "loss": 0.9}),
            at(1),
            None,
        );
        book.record("jobs/a", "metrics", &json!({"step": 2}), at(2), None);
        book.record("other/x", "start", &start, at(0), None);
        let list = book.list(at(3), &[]);
        assert_eq!(list.jobs.len(), 1, "only jobs/ channels are jobs");
        let job = &list.jobs[0];
        assert_eq!(
            (job.name.as_deref(), job.status, job.pids.clone()),
            (Some("resnet"), JobStatus::Running, vec![4242])
        );
        assert_eq!(
            job.fields,
            BTreeMap::from([("loss".into(), 0.9), ("step".into(), 2.0)])
        );
        assert_eq!(
            book.list(at(40), &[]).jobs[0].status,
            JobStatus::Stalled,
            "silent past 30 s"
        );

        book.record(
            "jobs/a",
            "end",
            &json!({"status": "failed", "message": "OOM"}),
            at(41),
            None,
        );
        let job = &book.list(at(100), &[]).jobs[0];
        assert_eq!(
            (job.status, job.message.as_deref()),
            (JobStatus::Failed, Some("OOM"))
        );
        assert_eq!(job.ended, Some(at(41)));
    }

    #[test]
    fn a_job_finds_its_gpu_through_its_processes_and_their_children() {
        let book = JobBook::default();
        let me = std::process::id();
        let parent = std::os::unix::process::parent_id();
        book.record(
            "jobs/mine",
            "start",
            &json!({"pids": [parent]}),
            at(0),
            None,
        );
        book.record(
            "jobs/other",
            "start",
            &json!({"pids": [4_000_000_001u64], "gpus": ["GPU-declared"]}),
            at(0),
            None,
        );
        let gpu = GpuMetrics {
            uuid: "GPU-runs-me".into(),
            processes: vec![GpuProcess {
                pid: me,
                ..Default::default()
            }],
            ..Default::default()
        };
        let list = book.list(at(1), &[gpu]);
        let gpus_of = |channel: &str| {
            list.jobs
                .iter()
                .find(|j| j.channel == channel)
                .unwrap()
                .gpus
                .clone()
        };
        assert_eq!(
            gpus_of("jobs/mine"),
            ["GPU-runs-me"],
            "this test runs under its parent"
        );
        assert_eq!(gpus_of("jobs/other"), ["GPU-declared"]);
    }

    #[test]
    fn limits_name_themselves() {
        let book = JobBook::default();
        let now = Instant::now();
        book.record("jobs/flood", "start", &json!({}), at(0), None);
        for _ in 0..MAX_MESSAGES_PER_SECOND {
            book.admit("jobs/flood", "note", &json!(1), now).unwrap();
        }
        let refused = book
            .admit("jobs/flood", "note", &json!(1), now)
            .unwrap_err();
        assert!(
            matches!(&refused, JobLimit::Rate(m) if m.contains("more than 200 messages this second")),
            "{refused:?}"
        );
        assert!(
            book.admit(
                "jobs/flood",
                "note",
                &json!(1),
                now + Duration::from_secs(2)
            )
            .is_ok()
        );

        let wide: serde_json::Map<String, Value> = (0..=MAX_JOB_FIELDS)
            .map(|i| (format!("f{i}"), json!(i)))
            .collect();
        let later = now + Duration::from_secs(5);
        let refused = book
            .admit("jobs/flood", "metrics", &Value::Object(wide), later)
            .unwrap_err();
        assert!(
            matches!(&refused, JobLimit::Fields(m) if m.contains("more than 64 numeric fields")),
            "{refused:?}"
        );

        for i in 0..=MAX_JOBS {
            book.record(
                &format!("jobs/j{i}"),
                "start",
                &json!({}),
                at(i as i64),
                None,
            );
        }
        assert_eq!(book.list(at(1000), &[]).jobs.len(), MAX_JOBS);
    }
}
