//! vitals-soak: many WebSocket clients for a long time, with churn and emits, to show that the
//! server's memory and open files stay flat.
//!
//! Starts `vitals` with its history already full (`--prefill-history`), connects N clients (each subscribes to every system channel; a share of them
//! also to the emitted channel), then for M minutes: every minute a tenth of the clients (by
//! default) drop their socket and reconnect, and one emitter posts to `jobs/soak` at R per second
//! over one keep-alive connection. Every 10 s it samples the server's resident memory, open files
//! and CPU time. Delivery latency (receive time minus the envelope's timestamp, taken by the server
//! when it publishes) goes into a histogram per minute. Prints a table, the first and last minute,
//! and one JSON line.

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use vitals_load::process::{
    EMIT_TOKEN, Launch, Server, clock_ticks_per_second, cpu_ticks, raise_nofile, round, status_mib,
};

const USAGE: &str = "\
vitals-soak: many clients for a long time, with churn and emits

usage: vitals-soak [--clients 1000] [--minutes 10] [--churn 0.1] [--emit-rate 100]
                   [--emit-subscribers 100] [--interval 1] [--server PATH] [--port 3950]";

const SYSTEM: &str =
    r#""system/cpu","system/memory","system/disk","system/network","system/gpu/*""#;
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Latency buckets grow by 2 % from 1 µs: 1,200 of them reach past 10 minutes.
const BUCKETS: usize = 1_200;

struct Args {
    clients: usize,
    minutes: u64,
    churn: f64,
    emit_rate: f64,
    emit_subscribers: usize,
    interval: f64,
    server: String,
    port: u16,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clients: 1000,
        minutes: 10,
        churn: 0.1,
        emit_rate: 100.0,
        emit_subscribers: 100,
        interval: 1.0,
        server: "target/release/vitals".into(),
        port: 3950,
    };
    for (name, value) in vitals_load::options::options(USAGE)? {
        let bad = || format!("{name} {value}: not a valid value");
        match name.as_str() {
            "--clients" => args.clients = value.parse().map_err(|_| bad())?,
            "--minutes" => args.minutes = value.parse().map_err(|_| bad())?,
            "--churn" => args.churn = value.parse().map_err(|_| bad())?,
            "--emit-rate" => args.emit_rate = value.parse().map_err(|_| bad())?,
            "--emit-subscribers" => args.emit_subscribers = value.parse().map_err(|_| bad())?,
            "--interval" => args.interval = value.parse().map_err(|_| bad())?,
            "--server" => args.server = value,
            "--port" => args.port = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {name}\n\n{USAGE}")),
        }
    }
    if args.clients == 0 || args.minutes == 0 || !(0.0..=1.0).contains(&args.churn) {
        return Err("--clients and --minutes must be at least 1, --churn within 0–1".into());
    }
    Ok(args)
}

/// Latency counts per bucket, one histogram per minute of the run.
struct Histograms {
    minutes: Vec<Vec<AtomicU64>>,
    started: Instant,
}

impl Histograms {
    fn new(minutes: u64) -> Histograms {
        Histograms {
            minutes: (0..=minutes)
                .map(|_| (0..BUCKETS).map(|_| AtomicU64::new(0)).collect())
                .collect(),
            started: Instant::now(),
        }
    }

    fn record(&self, latency_ms: f64) {
        let minute = (self.started.elapsed().as_secs() / 60) as usize;
        let micros = (latency_ms * 1000.0).max(1.0);
        let bucket = (micros.ln() / 1.02f64.ln()) as usize;
        if let Some(histogram) = self.minutes.get(minute) {
            histogram[bucket.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// (count, p50 ms, p99 ms, max ms) over the given minutes.
    fn summary(&self, minutes: std::ops::Range<usize>) -> (u64, f64, f64, f64) {
        let mut counts = vec![0u64; BUCKETS];
        for minute in minutes.filter_map(|m| self.minutes.get(m)) {
            for (total, bucket) in counts.iter_mut().zip(minute) {
                *total += bucket.load(Ordering::Relaxed);
            }
        }
        let total: u64 = counts.iter().sum();
        let upper_ms = |bucket: usize| 1.02f64.powi(bucket as i32 + 1) / 1000.0;
        let at = |share: f64| {
            let wanted = (share * total as f64).ceil() as u64;
            let mut seen = 0;
            for (bucket, count) in counts.iter().enumerate() {
                seen += count;
                if seen >= wanted.max(1) {
                    return round(upper_ms(bucket), 2);
                }
            }
            f64::NAN
        };
        let max = counts
            .iter()
            .rposition(|c| *c > 0)
            .map_or(f64::NAN, |b| round(upper_ms(b), 2));
        (total, at(0.5), at(0.99), max)
    }
}

#[derive(Default)]
struct Counters {
    connects: AtomicU64,
    connect_failures: AtomicU64,
    closed_by_server: AtomicU64,
    emits_accepted: AtomicU64,
    emits_failed: AtomicU64,
}

/// One client: connect, subscribe, read and record until told to reconnect; again until the end.
async fn client(
    url: String,
    subscribe: String,
    reconnect: Arc<Notify>,
    done: Arc<AtomicBool>,
    latencies: Arc<Histograms>,
    counters: Arc<Counters>,
) {
    while !done.load(Ordering::Relaxed) {
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
            counters.connect_failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        counters.connects.fetch_add(1, Ordering::Relaxed);
        if ws.send(Message::text(subscribe.clone())).await.is_err() {
            continue;
        }
        loop {
            tokio::select! {
                () = reconnect.notified() => break,
                incoming = ws.next() => {
                    let received = Utc::now();
                    match incoming {
                        Some(Ok(Message::Text(text))) => {
                            if let Some(sent) = envelope_time(&text) {
                                let ms = (received - sent).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                                latencies.record(ms);
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => {
                            if !done.load(Ordering::Relaxed) {
                                counters.closed_by_server.fetch_add(1, Ordering::Relaxed);
                            }
                            break;
                        }
                    }
                }
            }
            if done.load(Ordering::Relaxed) {
                return;
            }
        }
        let _ = ws.close(None).await;
    }
}

/// The timestamp of a `message` envelope, found without parsing the whole frame.
fn envelope_time(text: &str) -> Option<DateTime<Utc>> {
    if !text.starts_with(r#"{"type":"message""#) {
        return None;
    }
    let start = text.rfind(r#""timestamp":""#)? + 13;
    let end = start + text[start..].find('"')?;
    text[start..end].parse().ok()
}

/// Posts emits at a steady rate over one keep-alive HTTP/1.1 connection (reopened if it drops).
fn emitter(port: u16, rate: f64, done: Arc<AtomicBool>, counters: Arc<Counters>) {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut next = Instant::now();
    let mut stream: Option<std::net::TcpStream> = None;
    let mut step = 0u64;
    while !done.load(Ordering::Relaxed) {
        let body = format!(r#"{{"channel":"jobs/soak","event":"step","data":{{"step":{step}}}}}"#);
        let request = format!(
            "POST /api/internal/ws/emit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {EMIT_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let accepted = (|| {
            let connection = match stream.as_mut() {
                Some(connection) => connection,
                None => stream.insert(std::net::TcpStream::connect(("127.0.0.1", port)).ok()?),
            };
            connection.write_all(request.as_bytes()).ok()?;
            let mut response = [0u8; 1024];
            let read = connection.read(&mut response).ok()?;
            (read > 0).then_some(response.starts_with(b"HTTP/1.1 202"))
        })();
        match accepted {
            Some(true) => counters.emits_accepted.fetch_add(1, Ordering::Relaxed),
            _ => {
                stream = None;
                counters.emits_failed.fetch_add(1, Ordering::Relaxed)
            }
        };
        step += 1;
        next += period;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

#[derive(Serialize, Clone)]
struct Sample {
    second: u64,
    rss_mib: f64,
    open_files: usize,
    cpu_percent_of_core: f64,
}

fn open_files(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

#[derive(Serialize)]
struct Minute {
    rss_mib_min: f64,
    rss_mib_max: f64,
    open_files_min: usize,
    open_files_max: usize,
    latency_ms_p99: f64,
}

fn minute_of(samples: &[Sample], histograms: &Histograms, minute: usize) -> Minute {
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.second / 60 == minute as u64)
        .collect();
    let rss = inside.iter().map(|s| s.rss_mib);
    let files = inside.iter().map(|s| s.open_files);
    Minute {
        rss_mib_min: rss.clone().fold(f64::INFINITY, f64::min),
        rss_mib_max: rss.fold(0.0, f64::max),
        open_files_min: files.clone().min().unwrap_or(0),
        open_files_max: files.max().unwrap_or(0),
        latency_ms_p99: histograms.summary(minute..minute + 1).2,
    }
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("vitals-soak: {e}");
            std::process::exit(2);
        }
    };
    raise_nofile(args.clients as u64 * 2 + 512);
    let server = match Server::start(&Launch {
        server: args.server.clone().into(),
        port: args.port,
        interval: args.interval,
        max_clients: args.clients * 2,
        // The history starts full, so memory is at its steady size from the first minute: any
        // growth after that is a leak, not the ring filling up.
        extra: vec!["--prefill-history".into(), "--no-persist".into()],
    }) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("vitals-soak: {e}");
            std::process::exit(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let done = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Histograms::new(args.minutes));
    let counters = Arc::new(Counters::default());
    let url = format!("ws://127.0.0.1:{}/ws", args.port);
    let reconnects: Vec<Arc<Notify>> = (0..args.clients).map(|_| Arc::new(Notify::new())).collect();
    for (i, reconnect) in reconnects.iter().enumerate() {
        let channels = if i < args.emit_subscribers {
            format!(r#"{SYSTEM},"jobs/soak""#)
        } else {
            SYSTEM.to_owned()
        };
        let subscribe = format!(r#"{{"type":"subscribe","channels":[{channels}]}}"#);
        runtime.spawn(client(
            url.clone(),
            subscribe,
            reconnect.clone(),
            done.clone(),
            latencies.clone(),
            counters.clone(),
        ));
    }
    let emitter = {
        let (done, counters, rate, port) =
            (done.clone(), counters.clone(), args.emit_rate, args.port);
        std::thread::spawn(move || emitter(port, rate, done, counters))
    };

    let pid = server.pid;
    let ticks = clock_ticks_per_second();
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut last_cpu = cpu_ticks(&pid.to_string()).unwrap_or(0);
    let mut churned_minute = 0;
    let per_minute = (args.clients as f64 * args.churn).round() as usize;
    println!(
        "vitals-soak: {} clients for {} min, {} reconnecting a minute, emits at {}/s ({} subscribers)",
        args.clients, args.minutes, per_minute, args.emit_rate, args.emit_subscribers
    );
    println!("second  rss_mib  open_files  cpu_%core  connects  closed_by_server  emits");
    let end = Duration::from_secs(args.minutes * 60);
    while started.elapsed() < end {
        std::thread::sleep(SAMPLE_EVERY.min(end.saturating_sub(started.elapsed())));
        let second = started.elapsed().as_secs();
        let cpu = cpu_ticks(&pid.to_string()).unwrap_or(last_cpu);
        let sample = Sample {
            second,
            rss_mib: round(status_mib(&pid.to_string(), "VmRSS").unwrap_or(0.0), 1),
            open_files: open_files(pid),
            cpu_percent_of_core: round(
                (cpu - last_cpu) as f64 / ticks / SAMPLE_EVERY.as_secs_f64() * 100.0,
                2,
            ),
        };
        last_cpu = cpu;
        println!(
            "{:>6}  {:>7}  {:>10}  {:>9}  {:>8}  {:>16}  {:>5}",
            sample.second,
            sample.rss_mib,
            sample.open_files,
            sample.cpu_percent_of_core,
            counters.connects.load(Ordering::Relaxed),
            counters.closed_by_server.load(Ordering::Relaxed),
            counters.emits_accepted.load(Ordering::Relaxed),
        );
        samples.push(sample);
        let minute = (second / 60) as usize;
        if minute > churned_minute {
            churned_minute = minute;
            // A different tenth each minute.
            let first = (minute * per_minute) % args.clients;
            for i in 0..per_minute {
                reconnects[(first + i) % args.clients].notify_one();
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    for reconnect in &reconnects {
        reconnect.notify_one();
    }
    let _ = emitter.join();

    let last = args.minutes as usize - 1;
    let first_minute = minute_of(&samples, &latencies, 0);
    let last_minute = minute_of(&samples, &latencies, last);
    let (count, p50, p99, max) = latencies.summary(0..args.minutes as usize + 1);
    println!(
        "first minute: RSS {}–{} MiB, open files {}–{}, p99 {} ms",
        first_minute.rss_mib_min,
        first_minute.rss_mib_max,
        first_minute.open_files_min,
        first_minute.open_files_max,
        first_minute.latency_ms_p99
    );
    println!(
        "last minute:  RSS {}–{} MiB, open files {}–{}, p99 {} ms",
        last_minute.rss_mib_min,
        last_minute.rss_mib_max,
        last_minute.open_files_min,
        last_minute.open_files_max,
        last_minute.latency_ms_p99
    );
    println!("delivery latency over {count} messages: p50 {p50} ms, p99 {p99} ms, max {max} ms");
    let report = serde_json::json!({
        "clients": args.clients,
        "minutes": args.minutes,
        "reconnects_per_minute": per_minute,
        "emit_rate": args.emit_rate,
        "connects": counters.connects.load(Ordering::Relaxed),
        "connect_failures": counters.connect_failures.load(Ordering::Relaxed),
        "closed_by_server": counters.closed_by_server.load(Ordering::Relaxed),
        "emits_accepted": counters.emits_accepted.load(Ordering::Relaxed),
        "emits_failed": counters.emits_failed.load(Ordering::Relaxed),
        "latency_ms": {"messages": count, "p50": p50, "p99": p99, "max": max},
        "first_minute": first_minute,
        "last_minute": last_minute,
        "samples": samples,
    });
    println!("{report}");
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(server);
}
