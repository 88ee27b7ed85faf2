//! vitals-load: a load benchmark for the Vitals WebSocket fan-out.
//!
//! Starts `vitals` as a child process, opens N WebSocket clients (in batches) that subscribe to every
//! system channel, lets them settle, then measures for S seconds: the latency of every metrics message
//! (receive wall clock minus the envelope's `timestamp`), how many arrived, the server's CPU time and
//! memory (from /proc), and how many sockets the server closed. Prints a short report and one JSON
//! line. The server is stopped at the end, also on error (its guard stops it on drop).

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use vitals_load::process::{
    Launch, Server, clock_ticks_per_second, cpu_ticks, machine_ticks, percentile, raise_nofile,
    round, status_mib, thread_ticks,
};

const SUBSCRIBE: &str = r#"{"type":"subscribe","channels":["system/cpu","system/memory","system/disk","system/network","system/gpu/*"]}"#;
/// Clients connected at once; the next batch starts when all of one have subscribed.
const CONNECT_BATCH: usize = 50;
const BATCH_PAUSE: Duration = Duration::from_millis(100);
/// Time after the last connect that is not measured.
const SETTLE: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const DONE: u8 = 2;

const USAGE: &str = "\
vitals-load: load benchmark for the Vitals WebSocket fan-out

usage: vitals-load --clients N [--seconds S] [--interval I] [--server PATH] [--port P] [--workers W]

  --clients N    WebSocket clients to open (required)
  --seconds S    length of the measured window, after all clients are connected (default 60)
  --interval I   the server's sample interval in seconds (default 1)
  --server PATH  the vitals binary (default target/release/vitals); it runs in the current
                 directory, which must be the repository root (for Leptos.toml)
  --port P       port the server listens on, on 127.0.0.1 (default 3900)
  --workers W    tokio worker threads for all clients (default 2)";

struct Args {
    clients: usize,
    seconds: u64,
    interval: f64,
    server: PathBuf,
    port: u16,
    workers: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clients: 0,
        seconds: 60,
        interval: 1.0,
        server: PathBuf::from("target/release/vitals"),
        port: 3900,
        workers: 2,
    };
    let mut clients = None;
    for (name, value) in vitals_load::options::options(USAGE)? {
        let bad = |what: &str| format!("{name} {value}: expected {what}");
        match name.as_str() {
            "--clients" => clients = Some(value.parse().map_err(|_| bad("a number of clients"))?),
            "--seconds" => args.seconds = value.parse().map_err(|_| bad("whole seconds"))?,
            "--interval" => args.interval = value.parse().map_err(|_| bad("seconds"))?,
            "--server" => args.server = PathBuf::from(&value),
            "--port" => args.port = value.parse().map_err(|_| bad("a port"))?,
            "--workers" => args.workers = value.parse().map_err(|_| bad("a thread count"))?,
            _ => return Err(format!("unknown option {name}\n\n{USAGE}")),
        }
    }
    args.clients = clients.ok_or_else(|| format!("--clients is required\n\n{USAGE}"))?;
    if args.clients == 0 || args.seconds == 0 || args.workers == 0 {
        return Err("--clients, --seconds and --workers must be at least 1".into());
    }
    if !(args.interval.is_finite() && args.interval > 0.0) {
        return Err("--interval must be a positive number of seconds".into());
    }
    Ok(args)
}

/// The fields of a server message this benchmark reads; `data` is skipped.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    channel: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    channels: Option<Vec<String>>,
}

#[derive(Default)]
struct ClientResult {
    latencies_ms: Vec<f64>,
    messages: u64,
    bytes: u64,
    /// Messages whose seq skipped numbers on their channel (all phases).
    seq_gaps: u64,
    resets: u64,
    errors: u64,
    closed_in_window: bool,
    closed_before_window: bool,
    close_reason: Option<String>,
}

/// One WebSocket client: hello, subscribe, then read until told to stop or the server closes.
/// `ready` gets the number of channels the hello announced once the subscription is confirmed.
async fn client(
    url: String,
    phase: Arc<AtomicU8>,
    mut stop: watch::Receiver<bool>,
    ready: oneshot::Sender<Result<usize, String>>,
) -> ClientResult {
    let mut result = ClientResult::default();
    let (mut ws, _) = match tokio_tungstenite::connect_async(&url).await {
        Ok(connected) => connected,
        Err(e) => {
            let _ = ready.send(Err(format!("connect: {e}")));
            return result;
        }
    };
    let mut channels = 0;
    let mut subscribed = false;
    while !subscribed {
        let text = match ws.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let _ = ready.send(Err(format!("closed during subscribe: {frame:?}")));
                return result;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                let _ = ready.send(Err(format!("read during subscribe: {e}")));
                return result;
            }
            None => {
                let _ = ready.send(Err("closed during subscribe".into()));
                return result;
            }
        };
        let Ok(message) = serde_json::from_str::<Incoming>(&text) else {
            continue;
        };
        match message.kind.as_ref() {
            "hello" => {
                channels = message.channels.map_or(0, |c| c.len());
                if let Err(e) = ws.send(Message::text(SUBSCRIBE)).await {
                    let _ = ready.send(Err(format!("send subscribe: {e}")));
                    return result;
                }
            }
            "subscribed" => subscribed = true,
            "error" => {
                let _ = ready.send(Err(format!("server error: {text}")));
                return result;
            }
            _ => {}
        }
    }
    let _ = ready.send(Ok(channels));

    let mut last_seq: Vec<(String, u64)> = Vec::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            incoming = ws.next() => {
                // Take the time first: parsing is the client's cost, not the server's.
                let received = Utc::now();
                let in_window = phase.load(Ordering::Relaxed) == MEASURE;
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        result.close_reason = Some(match frame {
                            Some(f) => format!("close {}: {}", u16::from(f.code), f.reason),
                            None => "close without a reason".into(),
                        });
                        mark_closed(&mut result, &phase);
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        result.close_reason = Some(format!("error: {e}"));
                        mark_closed(&mut result, &phase);
                        break;
                    }
                    None => {
                        result.close_reason = Some("stream ended".into());
                        mark_closed(&mut result, &phase);
                        break;
                    }
                };
                let Ok(message) = serde_json::from_str::<Incoming>(&text) else {
                    result.errors += 1;
                    continue;
                };
                match message.kind.as_ref() {
                    "message" => {}
                    "reset" => {
                        result.resets += 1;
                        continue;
                    }
                    "error" => {
                        result.errors += 1;
                        continue;
                    }
                    _ => continue,
                }
                if let (Some(channel), Some(seq)) = (&message.channel, message.seq) {
                    match last_seq.iter_mut().find(|(c, _)| c == channel.as_ref()) {
                        Some((_, last)) => {
                            if seq > *last + 1 {
                                result.seq_gaps += 1;
                            }
                            *last = seq;
                        }
                        None => last_seq.push((channel.to_string(), seq)),
                    }
                }
                if !in_window || message.event.as_deref() != Some("metrics") {
                    continue;
                }
                result.messages += 1;
                result.bytes += text.len() as u64;
                if let Some(sent) = message
                    .timestamp
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                {
                    let delta = received.signed_duration_since(sent);
                    let ns = delta.num_nanoseconds().unwrap_or(i64::MAX);
                    result.latencies_ms.push(ns as f64 / 1e6);
                } else {
                    result.errors += 1;
                }
            }
        }
    }
    result
}

fn mark_closed(result: &mut ClientResult, phase: &AtomicU8) {
    match phase.load(Ordering::Relaxed) {
        WARMUP => result.closed_before_window = true,
        MEASURE => result.closed_in_window = true,
        _ => {}
    }
}

/// The JSON line, in this field order. Memory figures are MiB (kB from /proc divided by 1024).
#[derive(Serialize)]
struct Summary {
    clients: usize,
    seconds: u64,
    interval: f64,
    messages: u64,
    expected_messages: u64,
    latency_ms: Latency,
    server_cpu_seconds: f64,
    server_cpu_percent_of_core: f64,
    server_peak_rss_mb: f64,
    server_rss_mb_max_in_window: f64,
    dropped_clients: usize,
}

#[derive(Serialize)]
struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
}

struct Window {
    seconds: f64,
    server_cpu_seconds: f64,
    load_cpu_seconds: f64,
    rss_max_mib: f64,
    rss_final_mib: f64,
    hwm_mib: f64,
    connect_seconds: f64,
    channels: usize,
    /// Server CPU seconds in the window per thread name, largest first.
    server_threads: Vec<(String, f64)>,
    /// CPU seconds all processes used in the window, and the cores they had.
    machine_busy_seconds: f64,
    machine_cores: usize,
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("vitals-load: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("vitals-load: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    raise_nofile(args.clients as u64 * 2 + 256);
    // Started from the main thread, before the runtime: PR_SET_PDEATHSIG follows this thread.
    let server = Server::start(&Launch {
        server: args.server.clone(),
        port: args.port,
        interval: args.interval,
        max_clients: args.clients + 10,
        extra: vec!["--no-persist".into()],
    })?;
    eprintln!(
        "vitals-load: server {} (pid {}) listening on 127.0.0.1:{}",
        args.server.display(),
        server.pid,
        args.port
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    let measured = runtime.block_on(measure(args, server.pid));
    // Close every client socket before the server is stopped.
    runtime.shutdown_timeout(Duration::from_secs(2));
    let (window, results) = match measured {
        Ok(measured) => measured,
        Err(e) => return Err(format!("{e}\nserver log:\n{}", server.log_tail())),
    };
    drop(server);
    eprintln!("vitals-load: server stopped");
    report(args, &window, results);
    Ok(())
}

async fn measure(args: &Args, pid: i32) -> Result<(Window, Vec<ClientResult>), String> {
    let pid = pid.to_string();
    let url = format!("ws://127.0.0.1:{}/ws", args.port);
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut handles = Vec::with_capacity(args.clients);
    let mut channels = 0;
    let connect_start = Instant::now();
    let mut next = 0;
    while next < args.clients {
        let batch_end = (next + CONNECT_BATCH).min(args.clients);
        let mut readies = Vec::with_capacity(batch_end - next);
        for _ in next..batch_end {
            let (ready_tx, ready_rx) = oneshot::channel();
            handles.push(tokio::spawn(client(
                url.clone(),
                phase.clone(),
                stop_rx.clone(),
                ready_tx,
            )));
            readies.push(ready_rx);
        }
        for (i, ready) in readies.into_iter().enumerate() {
            match tokio::time::timeout(CONNECT_TIMEOUT, ready).await {
                Ok(Ok(Ok(count))) => channels = count,
                Ok(Ok(Err(e))) => return Err(format!("client {} failed: {e}", next + i)),
                Ok(Err(_)) => return Err(format!("client {} ended before subscribing", next + i)),
                Err(_) => return Err(format!("client {} did not subscribe in time", next + i)),
            }
        }
        next = batch_end;
        if next < args.clients {
            tokio::time::sleep(BATCH_PAUSE).await;
        }
    }
    let connect_seconds = connect_start.elapsed().as_secs_f64();
    eprintln!(
        "vitals-load: {} clients subscribed in {connect_seconds:.1} s; settling {} s, then measuring {} s",
        args.clients,
        SETTLE.as_secs(),
        args.seconds
    );
    tokio::time::sleep(SETTLE).await;

    let ticks = clock_ticks_per_second();
    let server_cpu_start = cpu_ticks(&pid)?;
    let load_cpu_start = cpu_ticks("self")?;
    let threads_start = thread_ticks(&pid);
    let machine_start = machine_ticks();
    let start = tokio::time::Instant::now();
    phase.store(MEASURE, Ordering::Relaxed);
    let mut rss_max_mib = status_mib(&pid, "VmRSS").unwrap_or(0.0);
    for second in 1..=args.seconds {
        tokio::time::sleep_until(start + Duration::from_secs(second)).await;
        if let Some(rss) = status_mib(&pid, "VmRSS") {
            rss_max_mib = rss_max_mib.max(rss);
        }
    }
    phase.store(DONE, Ordering::Relaxed);
    let seconds = start.elapsed().as_secs_f64();
    let server_cpu_end = cpu_ticks(&pid)?;
    let load_cpu_end = cpu_ticks("self")?;
    let machine_end = machine_ticks();
    let mut server_threads: Vec<(String, f64)> = thread_ticks(&pid)
        .into_iter()
        .map(|(name, end)| {
            let start = threads_start
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, t)| *t);
            (name, end.saturating_sub(start) as f64 / ticks)
        })
        .filter(|(_, seconds)| *seconds > 0.0)
        .collect();
    server_threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    let rss_final_mib = status_mib(&pid, "VmRSS").unwrap_or(f64::NAN);
    let hwm_mib = status_mib(&pid, "VmHWM").unwrap_or(f64::NAN);

    let _ = stop_tx.send(true);
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(
            handle
                .await
                .map_err(|e| format!("a client task failed: {e}"))?,
        );
    }
    let window = Window {
        seconds,
        server_cpu_seconds: (server_cpu_end - server_cpu_start) as f64 / ticks,
        load_cpu_seconds: (load_cpu_end - load_cpu_start) as f64 / ticks,
        rss_max_mib,
        rss_final_mib,
        hwm_mib,
        connect_seconds,
        channels,
        server_threads,
        machine_busy_seconds: machine_end.0.saturating_sub(machine_start.0) as f64 / ticks,
        machine_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    Ok((window, results))
}

fn report(args: &Args, window: &Window, results: Vec<ClientResult>) {
    let messages: u64 = results.iter().map(|r| r.messages).sum();
    let bytes: u64 = results.iter().map(|r| r.bytes).sum();
    let seq_gaps: u64 = results.iter().map(|r| r.seq_gaps).sum();
    let resets: u64 = results.iter().map(|r| r.resets).sum();
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    let dropped = results.iter().filter(|r| r.closed_in_window).count();
    let dropped_early = results.iter().filter(|r| r.closed_before_window).count();
    let mut reasons: Vec<String> = results
        .iter()
        .filter_map(|r| r.close_reason.clone())
        .collect();
    reasons.sort();
    reasons.dedup();
    let mut latencies: Vec<f64> = results.into_iter().flat_map(|r| r.latencies_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let ticks = (args.seconds as f64 / args.interval).round() as u64;
    let expected = args.clients as u64 * window.channels as u64 * ticks;
    let cpu_percent = window.server_cpu_seconds / window.seconds * 100.0;
    let load_percent = window.load_cpu_seconds / window.seconds * 100.0;
    let p = |q| percentile(&latencies, q);

    println!(
        "vitals-load: {} clients x {} channels, interval {} s, window {:.1} s (connect took {:.1} s)",
        args.clients, window.channels, args.interval, window.seconds, window.connect_seconds
    );
    println!(
        "  messages     {messages} of {expected} expected ({:.2}%), {:.1} MiB; seq gaps {seq_gaps}, resets {resets}, unreadable/errors {errors}",
        messages as f64 / expected.max(1) as f64 * 100.0,
        bytes as f64 / 1048576.0
    );
    println!(
        "  latency ms   min {:.2}  p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        latencies.first().copied().unwrap_or(f64::NAN),
        p(50.0),
        p(90.0),
        p(99.0),
        p(99.9),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  server       cpu {:.3} s = {:.3}% of a core; RSS max in window {:.1} MiB, final {:.1} MiB; VmHWM {:.1} MiB (includes start-up)",
        window.server_cpu_seconds,
        cpu_percent,
        window.rss_max_mib,
        window.rss_final_mib,
        window.hwm_mib
    );
    let threads: Vec<String> = window
        .server_threads
        .iter()
        .map(|(name, seconds)| format!("{name} {seconds:.2} s"))
        .collect();
    println!(
        "  server by thread: {}",
        if threads.is_empty() {
            "(all below one clock tick)".to_owned()
        } else {
            threads.join(", ")
        }
    );
    let others = window.machine_busy_seconds - window.server_cpu_seconds - window.load_cpu_seconds;
    println!(
        "  machine      {:.1}% busy of {} cores; other processes used {:.1}% of a core{}",
        window.machine_busy_seconds / window.seconds / window.machine_cores as f64 * 100.0,
        window.machine_cores,
        others.max(0.0) / window.seconds * 100.0,
        if others / window.seconds > 0.2 {
            " (other work was running: figures are not from a quiet machine)"
        } else {
            ""
        }
    );
    println!(
        "  load client  cpu {:.3} s = {:.2}% of a core ({} workers)",
        window.load_cpu_seconds, load_percent, args.workers
    );
    println!(
        "  closed       {dropped} during the window, {dropped_early} before it{}",
        if reasons.is_empty() {
            String::new()
        } else {
            format!("; reasons: {}", reasons.join(" | "))
        }
    );
    let summary = Summary {
        clients: args.clients,
        seconds: args.seconds,
        interval: args.interval,
        messages,
        expected_messages: expected,
        latency_ms: Latency {
            p50: round(p(50.0), 3),
            p99: round(p(99.0), 3),
            max: round(latencies.last().copied().unwrap_or(f64::NAN), 3),
        },
        server_cpu_seconds: round(window.server_cpu_seconds, 3),
        server_cpu_percent_of_core: round(cpu_percent, 3),
        server_peak_rss_mb: round(window.hwm_mib, 2),
        server_rss_mb_max_in_window: round(window.rss_max_mib, 2),
        dropped_clients: dropped,
    };
    let json = serde_json::to_string(&summary).unwrap_or_default();
    println!("{json}");
}
