//! The jobs the server lists (`/api/system/jobs`), read again every few seconds while the page is
//! shown, and the chosen job's numeric fields over the span the charts show
//! (`/api/system/jobs/fields`). What the page writes and marks of them are pure functions here,
//! tested on the host.

use super::charts::TimeWindow;
use crate::shared::format;
use crate::shared::store::Millis;
use crate::wire::{Job, JobFields, JobStatus};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// How often the list is read while the page is shown: a training loop's news within seconds,
/// at a request's cost.
pub const REFRESH_MS: u32 = 5000;
/// Jobs the card lists: the running ones first, then the latest ended.
pub const SHOWN_JOBS: usize = 12;
/// Fields the chosen job's chart draws (its legend hides and shows them).
pub const DRAWN_FIELDS: usize = 8;
/// Field values a row shows.
const SHOWN_VALUES: usize = 6;
/// The fields are read again when the span moves by this much, or by a drawn point.
const FIELDS_STEP_MS: Millis = 5000;

/// What the page holds of the jobs: the list, the job a person chose, and that job's fields over
/// the span shown. One signal for all three (each signal type costs the page its own code).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobsView {
    pub list: Vec<Job>,
    pub chosen: Option<String>,
    pub fields: Option<JobFields>,
}

impl JobsView {
    /// Chooses a job, or puts it away when it was the chosen one.
    pub fn toggle(&mut self, channel: String) {
        self.fields = None;
        self.chosen = (self.chosen.as_ref() != Some(&channel)).then_some(channel);
    }

    pub fn chosen_job(&self) -> Option<&Job> {
        let chosen = self.chosen.as_deref()?;
        self.list.iter().find(|job| job.channel == chosen)
    }
}

#[derive(Clone, Copy)]
pub struct Jobs {
    pub view: RwSignal<JobsView>,
    /// Changes when a mark on a GPU chart would (a job starts, ends, is named or moves GPUs),
    /// not with every message a job sends: the GPU charts redraw on it.
    pub marks: Memo<u64>,
}

impl Jobs {
    /// The jobs state; in the browser it also keeps the list and the chosen job's fields fresh.
    pub fn new(live: super::live::Live, timeline: super::timeline::Timeline) -> Jobs {
        let view = RwSignal::new(JobsView::default());
        let marks = Memo::new(move |_| view.with(|v| marks_fingerprint(&v.list)));
        let jobs = Jobs { view, marks };
        #[cfg(feature = "hydrate")]
        reading::start(jobs, live, timeline);
        #[cfg(not(feature = "hydrate"))]
        let _ = (live, timeline);
        jobs
    }
}

/// The name a person gave the job, else its channel without `jobs/`.
pub fn name_of(job: &Job) -> &str {
    job.name.as_deref().unwrap_or_else(|| {
        let channel = job.channel.as_str();
        channel.strip_prefix("jobs/").unwrap_or(channel)
    })
}

pub fn status_label(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Running => "running",
        JobStatus::Stalled => "stalled",
        JobStatus::Ok => "ok",
        JobStatus::Failed => "failed",
    }
}

/// How long it ran, or has run by `now_ms`: `42 s`, `7m`, `5h 12m`.
pub fn duration(job: &Job, now_ms: Millis) -> String {
    let Some(started) = job.started else {
        return String::new();
    };
    let end = job.ended.map_or(now_ms, |t| t.timestamp_millis());
    let seconds = ((end - started.timestamp_millis()).max(0) / 1000) as u64;
    if seconds < 60 {
        format!("{seconds} s")
    } else {
        format::uptime(seconds)
    }
}

/// The last value of its first fields: `loss 0.42 · step 100`.
pub fn values(job: &Job) -> String {
    let mut shown: Vec<String> = job
        .fields
        .iter()
        .take(SHOWN_VALUES)
        .map(|(name, value)| format!("{name} {}", format::reading(*value)))
        .collect();
    if job.fields.len() > SHOWN_VALUES {
        shown.push("…".into());
    }
    shown.join(" · ")
}

/// The start and end of each job that used the GPU `uuid`, within the window, as chart marks.
pub fn gpu_marks(jobs: &[Job], uuid: &str, window: TimeWindow) -> Vec<(Millis, String)> {
    let used = jobs.iter().filter(|job| job.gpus.iter().any(|g| g == uuid));
    let marks = used.flat_map(|job| {
        let name = name_of(job);
        let started = job
            .started
            .map(|t| (t.timestamp_millis(), format!("▶ {name}")));
        let ended = job
            .ended
            .map(|t| (t.timestamp_millis(), format!("■ {name}")));
        started.into_iter().chain(ended)
    });
    marks
        .filter(|(at, _)| (window.start_ms..=window.end_ms).contains(at))
        .collect()
}

/// A hash (FNV-1a) of what the GPU charts mark of the jobs.
pub fn marks_fingerprint(jobs: &[Job]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut add = |bytes: &[u8]| {
        for &byte in bytes.iter().chain(&[0xff]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for job in jobs {
        add(job.channel.as_bytes());
        add(job.name.as_deref().unwrap_or("").as_bytes());
        for gpu in &job.gpus {
            add(gpu.as_bytes());
        }
        for time in [job.started, job.ended] {
            add(&time.map_or(-1, |t| t.timestamp_millis()).to_le_bytes());
        }
    }
    hash
}

/// The span of fields to read for a window: a little wider than it, moving on in steps, so a
/// live chart reads them again every few seconds rather than every sample.
pub fn fields_span(window: TimeWindow) -> (Millis, Millis) {
    let step = window.bucket_ms.max(FIELDS_STEP_MS);
    let from = window.start_ms.div_euclid(step) * step;
    let to = (window.end_ms.div_euclid(step) + 1) * step;
    (from, to)
}

/// The fields to draw, each with its points within the window.
pub fn drawn_fields(fields: &JobFields, window: TimeWindow) -> Vec<(String, Vec<(Millis, f64)>)> {
    let shown = window.start_ms as f64..=window.end_ms as f64;
    fields
        .fields
        .iter()
        .take(DRAWN_FIELDS)
        .map(|(name, points)| {
            let points = points
                .iter()
                .filter(|[t, _]| shown.contains(t))
                .map(|&[t, v]| (t as Millis, v))
                .collect();
            (name.clone(), points)
        })
        .collect()
}

/// The jobs of a `/api/system/jobs` answer, read by hand: serde's derived readers of these
/// types cost the page more than all the rest of the jobs card.
pub fn jobs_of(answer: &Value) -> Option<Vec<Job>> {
    answer.get("jobs")?.as_array()?.iter().map(job_of).collect()
}

fn job_of(job: &Value) -> Option<Job> {
    let text = |key: &str| job.get(key).and_then(Value::as_str).map(str::to_owned);
    let time = |key: &str| text(key)?.parse::<DateTime<Utc>>().ok();
    let items = |key: &str| job.get(key).and_then(Value::as_array).into_iter().flatten();
    let status = match job.get("status")?.as_str()? {
        "running" => JobStatus::Running,
        "stalled" => JobStatus::Stalled,
        "ok" => JobStatus::Ok,
        _ => JobStatus::Failed,
    };
    // Inserted one by one: collecting into a map would bring a sort the page has no other use for.
    let mut fields = BTreeMap::new();
    for (name, value) in job
        .get("fields")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(value) = value.as_f64() {
            fields.insert(name.clone(), value);
        }
    }
    Some(Job {
        channel: text("channel")?,
        name: text("name"),
        command: text("command"),
        status,
        started: time("started"),
        ended: time("ended"),
        last_seen: time("last_seen")?,
        heartbeat_seconds: job.get("heartbeat_seconds").and_then(Value::as_u64),
        fields,
        pids: items("pids")
            .filter_map(|pid| u32::try_from(pid.as_u64()?).ok())
            .collect(),
        // Not drawn: the job's GPUs already leave them out (the API lists them).
        unverified_pids: Vec::new(),
        gpus: items("gpus")
            .filter_map(|gpu| Some(gpu.as_str()?.to_owned()))
            .collect(),
        message: text("message"),
    })
}

/// A `/api/system/jobs/fields` answer, read by hand as the list is.
pub fn fields_of(answer: &Value) -> Option<JobFields> {
    let number = |key: &str| answer.get(key)?.as_i64();
    let point = |point: &Value| Some([point.get(0)?.as_f64()?, point.get(1)?.as_f64()?]);
    let mut fields = BTreeMap::new();
    for (name, points) in answer.get("fields")?.as_object()? {
        let points = points.as_array().into_iter().flatten();
        fields.insert(name.clone(), points.filter_map(point).collect());
    }
    Some(JobFields {
        channel: answer.get("channel")?.as_str()?.to_owned(),
        from: number("from")?,
        to: number("to")?,
        bucket_ms: number("bucket_ms")?,
        fields,
    })
}

/// Reading the list and the chosen job's fields from the server.
#[cfg(feature = "hydrate")]
mod reading {
    use super::{Jobs, REFRESH_MS, fields_of, fields_span, jobs_of};
    use crate::app::live::Live;
    use crate::app::timeline::{DRAWN_POINTS, Timeline};
    use leptos::prelude::*;
    use serde_json::Value;

    pub fn start(Jobs { view: jobs, .. }: Jobs, live: Live, timeline: Timeline) {
        leptos::task::spawn_local(async move {
            loop {
                if live.page_visible.get_untracked()
                    && let Some(list) = read("/api/system/jobs").await.as_ref().and_then(jobs_of)
                    && jobs.with_untracked(|kept| kept.list != list)
                {
                    jobs.update(|kept| kept.list = list);
                }
                gloo_timers::future::TimeoutFuture::new(REFRESH_MS).await;
            }
        });
        // The chosen job's fields, read again when the span moves on or the job sends more.
        let wanted = Memo::new(move |_| {
            let (channel, last_seen) = jobs.with(|view| {
                let job = view.chosen_job()?;
                Some((job.channel.clone(), job.last_seen.timestamp_millis()))
            })?;
            let span = timeline.frame().span;
            let (from, to) = fields_span(timeline.draw(span, |d| d.window));
            Some(format!(
                "/api/system/jobs/fields?channel={}&from={from}&to={}&points={DRAWN_POINTS}",
                js_sys::encode_uri_component(&channel),
                // Nothing is later than its newest message; a new one reads the fields again.
                to.min(last_seen + 1).max(from + 1),
            ))
        });
        Effect::new(move |_| {
            let Some(url) = wanted.get() else {
                return;
            };
            leptos::task::spawn_local(async move {
                let fields = read(&url).await.as_ref().and_then(fields_of);
                // An answer for a span or a job no longer wanted is dropped.
                if wanted.get_untracked().as_ref() == Some(&url) {
                    jobs.update(|view| view.fields = fields);
                }
            });
        });
    }

    async fn read(url: &str) -> Option<Value> {
        let response = gloo_net::http::Request::get(url).send().await.ok()?;
        if !response.ok() {
            return None;
        }
        serde_json::from_str(&response.text().await.ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn job(started_s: i64, ended_s: Option<i64>) -> Job {
        let at = |s| DateTime::from_timestamp(s, 0);
        Job {
            channel: "jobs/train-1".into(),
            name: None,
            command: None,
            status: JobStatus::Running,
            started: at(started_s),
            ended: ended_s.and_then(at),
            last_seen: at(started_s).unwrap(),
            heartbeat_seconds: None,
            fields: BTreeMap::new(),
            pids: vec![],
            unverified_pids: vec![],
            gpus: vec!["GPU-a".into()],
            message: None,
        }
    }

    fn window(start_s: i64, end_s: i64) -> TimeWindow {
        TimeWindow {
            start_ms: start_s * 1000,
            end_ms: end_s * 1000,
            bucket_ms: 1000,
        }
    }

    #[test]
    fn the_answers_read_by_hand_are_the_servers_types() {
        let mut full = job(100, Some(400));
        full.name = Some("resnet".into());
        full.command = Some("python train.py".into());
        full.status = JobStatus::Failed;
        full.heartbeat_seconds = Some(30);
        full.fields = BTreeMap::from([("loss".into(), 0.25), ("step".into(), 7.0)]);
        full.pids = vec![4242];
        full.message = Some("OOM".into());
        let list = crate::wire::JobList {
            jobs: vec![full, job(5, None)],
        };
        let answer = serde_json::to_value(&list).unwrap();
        assert_eq!(jobs_of(&answer), Some(list.jobs));

        let fields = JobFields {
            channel: "jobs/a".into(),
            from: 1,
            to: 9,
            bucket_ms: 2,
            fields: BTreeMap::from([("loss".into(), vec![[3.0, 0.5], [5.0, 0.25]])]),
        };
        assert_eq!(
            fields_of(&serde_json::to_value(&fields).unwrap()),
            Some(fields)
        );
        assert_eq!(
            jobs_of(&serde_json::json!({"jobs": [{"channel": 1}]})),
            None
        );
    }

    #[test]
    fn a_row_reads_its_name_duration_and_values() {
        let mut running = job(100, None);
        assert_eq!(name_of(&running), "train-1", "the channel, without jobs/");
        assert_eq!(duration(&running, 142_000), "42 s");
        assert_eq!(duration(&running, 100_000 + 3_720_000), "1h 2m");
        running.fields = (0..8).map(|i| (format!("f{i}"), i as f64 / 4.0)).collect();
        assert_eq!(
            values(&running),
            "f0 0 · f1 0.25 · f2 0.50 · f3 0.75 · f4 1 · f5 1.25 · …"
        );
        let ended = job(100, Some(400));
        assert_eq!(
            duration(&ended, 999_000),
            "5m",
            "an ended job stops counting"
        );
    }

    #[test]
    fn a_gpu_marks_the_start_and_end_of_the_jobs_that_used_it() {
        let mut named = job(100, Some(200));
        named.name = Some("resnet".into());
        let elsewhere = Job {
            gpus: vec!["GPU-b".into()],
            ..job(120, None)
        };
        let jobs = [named, elsewhere, job(50, None)];
        assert_eq!(
            gpu_marks(&jobs, "GPU-a", window(60, 300)),
            [(100_000, "▶ resnet".into()), (200_000, "■ resnet".into())],
            "a start before the window is not marked"
        );
    }

    #[test]
    fn the_marks_change_with_a_start_or_an_end_not_with_a_message() {
        let mut running = job(100, None);
        let before = marks_fingerprint(std::slice::from_ref(&running));
        running.fields.insert("loss".into(), 0.5);
        running.last_seen = DateTime::from_timestamp(150, 0).unwrap();
        assert_eq!(marks_fingerprint(std::slice::from_ref(&running)), before);
        running.ended = DateTime::from_timestamp(160, 0);
        assert_ne!(marks_fingerprint(std::slice::from_ref(&running)), before);
    }

    #[test]
    fn fields_are_read_in_steps_and_drawn_within_the_window() {
        assert_eq!(fields_span(window(61, 119)), (60_000, 120_000));
        assert_eq!(
            fields_span(window(61, 121)),
            (60_000, 125_000),
            "moves on by steps"
        );
        let fields = JobFields {
            channel: "jobs/a".into(),
            from: 0,
            to: 0,
            bucket_ms: 1,
            fields: (0..10)
                .map(|i| (format!("f{i}"), vec![[50_000.0, 1.0], [70_000.0, 2.0]]))
                .collect(),
        };
        let drawn = drawn_fields(&fields, window(60, 120));
        assert_eq!(drawn.len(), DRAWN_FIELDS);
        assert_eq!(drawn[0], ("f0".into(), vec![(70_000, 2.0)]));
    }
}
