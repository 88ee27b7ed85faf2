//! Fuzzing every input that crosses the trust boundary, against the real server: WebSocket
//! messages, emit bodies, query strings, the sign-in form and config files. Each target mutates a
//! corpus of valid inputs for a bounded time (VITALS_FUZZ_SECONDS, default 3) from a seed that is
//! printed, and is taken from VITALS_FUZZ_SEED when set, so a failure can be replayed exactly.

use crate::common;

use common::server::{EMIT_TOKEN, TestServer};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::time::timeout;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use vitals::server::config::{Cli, Config};

const TOKEN: &str = "fuzzing-access-token-0123456789";

/// xorshift64*: small, fast, and the same sequence for the same seed everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that often break parsers.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    ",",
    ":",
    "null",
    "true",
    "-1",
    "1e999",
    "18446744073709551616",
    "%",
    "%zz",
    "%00",
    "%2F",
    "&",
    "=",
    "+",
    "/",
    "//",
    "*",
    "/*",
    "..",
    "\u{feff}",
    "\u{202e}",
    "é",
    "\r\n",
    "\0",
    "system/",
    "jobs/",
    "token=",
    "since=",
    "channel=",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, rng.next() as u8),
            2 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            4 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + rng.below(64)).min(out.len());
                let copy = out[start..end].to_vec();
                out.splice(at..at, copy);
            }
            _ => out
                .splice(at..at, std::iter::repeat_n(b'a', rng.below(4096)))
                .for_each(drop),
        }
    }
    out
}

/// Hands out mutated inputs for the bounded time; a failure names the seed and the input.
struct Fuzzer {
    target: &'static str,
    corpus: Vec<Vec<u8>>,
    rng: Rng,
    seed: u64,
    deadline: Instant,
    cases: usize,
}

impl Fuzzer {
    fn new(target: &'static str, corpus: &[&str]) -> Fuzzer {
        let seed = std::env::var("VITALS_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        let seconds: f64 = std::env::var("VITALS_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0);
        Fuzzer {
            target,
            corpus: corpus.iter().map(|c| c.as_bytes().to_vec()).collect(),
            rng: Rng(seed),
            seed,
            deadline: Instant::now() + Duration::from_secs_f64(seconds),
            cases: 0,
        }
    }

    /// The next input (the corpus as it is first), or None when the time is up.
    fn next_input(&mut self) -> Option<Vec<u8>> {
        if Instant::now() >= self.deadline {
            println!(
                "fuzz target {}: {} cases, seed {}",
                self.target, self.cases, self.seed
            );
            return None;
        }
        let base = &self.corpus[self.rng.below(self.corpus.len())];
        let input = match self.corpus.get(self.cases) {
            Some(valid) => valid.clone(),
            None => mutate(&mut self.rng, base),
        };
        self.cases += 1;
        Some(input)
    }

    fn check(&self, input: &[u8], outcome: Result<(), String>) {
        if let Err(problem) = outcome {
            panic!(
                "fuzz target {} failed at case {}: {problem}\n  input: {:?}\n  replay with VITALS_FUZZ_SEED={}",
                self.target,
                self.cases,
                String::from_utf8_lossy(input),
                self.seed
            );
        }
    }
}

#[tokio::test]
async fn websocket_messages() {
    let server = TestServer::start(|_| {}).await;
    let (mut socket, _) = connect_async(server.ws_url()).await.unwrap();
    let _hello = socket.next().await;
    let corpus = [
        r#"{"type":"subscribe","channels":["system/cpu","system/gpu/*"]}"#,
        r#"{"type":"subscribe","channels":["system/cpu"],"since":{"system/cpu":3},"epoch":1}"#,
        r#"{"type":"unsubscribe","channels":["system/cpu"]}"#,
        r#"{"type":"ping"}"#,
    ];
    let mut fuzzer = Fuzzer::new("websocket messages", &corpus);
    while let Some(input) = fuzzer.next_input() {
        let text = String::from_utf8_lossy(&input).into_owned();
        let outcome = async {
            socket
                .send(Message::Text(text.into()))
                .await
                .map_err(|e| format!("send failed: {e}"))?;
            // Every message gets its answer (an error, or what it asked for) and the socket stays.
            loop {
                let reply = timeout(Duration::from_secs(5), socket.next())
                    .await
                    .map_err(|_| "no answer within 5 s".to_owned())?;
                let Some(Ok(Message::Text(reply))) = reply else {
                    return Err(format!("the socket ended: {reply:?}"));
                };
                let kind: serde_json::Value =
                    serde_json::from_str(&reply).map_err(|e| format!("unreadable reply: {e}"))?;
                match kind["type"].as_str() {
                    Some("error" | "subscribed" | "unsubscribed" | "pong") => return Ok(()),
                    // Replays and live samples may come between.
                    Some("message" | "reset") => continue,
                    other => return Err(format!("unexpected reply type {other:?}")),
                }
            }
        }
        .await;
        fuzzer.check(&input, outcome);
    }
}

#[tokio::test]
async fn emit_bodies() {
    let server = TestServer::start(|_| {}).await;
    let http = reqwest::Client::new();
    let corpus = [
        r#"{"channel":"jobs/train-1","event":"step","data":{"loss":0.42,"step":100}}"#,
        r#"{"channel":"jobs/a","event":"note","data":"text"}"#,
        r#"{"channel":"jobs/a/b","event":"end","data":{"status":"ok"}}"#,
    ];
    let url = server.url("/api/internal/ws/emit");
    let mut fuzzer = Fuzzer::new("emit bodies", &corpus);
    while let Some(body) = fuzzer.next_input() {
        let request = http
            .post(&url)
            .bearer_auth(EMIT_TOKEN)
            .header("content-type", "application/json")
            .body(body.clone());
        let outcome = async {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| e.to_string())?;
            match status {
                202 => Ok(()),
                400 | 413 | 422 | 429 if text.contains("\"error\"") => Ok(()),
                _ => Err(format!("status {status}: {text}")),
            }
        }
        .await;
        fuzzer.check(&body, outcome);
    }
}

#[tokio::test]
async fn query_strings() {
    let server = TestServer::start(|cli| cli.token = Some(TOKEN.into())).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let history = format!("channel=system/cpu&since=2026-01-02T03:04:05Z&token={TOKEN}");
    let sign_in = format!("token={TOKEN}&a=1");
    let corpus = [
        history.as_str(),
        "channel=system/cpu&since=12",
        sign_in.as_str(),
        "token=wrong",
    ];
    let authority = server.authority();
    let mut fuzzer = Fuzzer::new("query strings", &corpus);
    while let Some(input) = fuzzer.next_input() {
        let query = String::from_utf8_lossy(&input).replace(['#', ' '], "");
        let path = if query.contains("channel") {
            "/api/system/history"
        } else {
            "/"
        };
        let request = http
            .get(format!("http://{authority}{path}?{query}"))
            .bearer_auth(TOKEN);
        let signing_in = http.get(format!("http://{authority}//x{path}?{query}"));
        let outcome = async {
            // Invalid URLs are the client's to refuse; what reaches the server must be answered.
            let Ok(response) = request.send().await else {
                return Ok(());
            };
            let status = response.status().as_u16();
            if !matches!(status, 200 | 400 | 404) {
                return Err(format!("history answered {status}"));
            }
            let Ok(response) = signing_in.send().await else {
                return Ok(());
            };
            let status = response.status().as_u16();
            if let Some(location) = response.headers().get("location") {
                let location = location.to_str().unwrap_or("?");
                // A browser reads `\` as `/` in the path (not in the query): `/\host` is `//host`.
                let path = location.split('?').next().unwrap_or_default();
                if !path.starts_with('/') || path.starts_with("//") || path.starts_with("/\\") {
                    return Err(format!("redirect to {location} leaves the server"));
                }
            }
            match status {
                303 | 401 | 429 | 404 => Ok(()),
                other => Err(format!("sign-in link answered {other}")),
            }
        }
        .await;
        fuzzer.check(&input, outcome);
    }
}

#[tokio::test]
async fn sign_in_form() {
    let server = TestServer::start(|cli| cli.token = Some(TOKEN.into())).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let right = format!("token={TOKEN}");
    let corpus = [right.as_str(), "token=wrong&x=1", "token=%41%42+c"];
    let url = server.url("/sign-in");
    let mut fuzzer = Fuzzer::new("sign-in form", &corpus);
    while let Some(body) = fuzzer.next_input() {
        let request = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone());
        let outcome = async {
            let status = request
                .send()
                .await
                .map_err(|e| e.to_string())?
                .status()
                .as_u16();
            match status {
                303 | 401 | 413 | 429 => Ok(()),
                other => Err(format!("status {other}")),
            }
        }
        .await;
        fuzzer.check(&body, outcome);
    }
}

#[tokio::test]
async fn config_files() {
    let dir = std::env::temp_dir().join(format!("vitals-fuzz-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vitals.toml");
    let corpus = [
        "bind = \"127.0.0.1:3000\"\nsystem_monitor_interval_seconds = 1.5\nhistory_seconds = 600\n",
        "max_clients = 10\nallowed_hosts = [\"box.lan\"]\ntrusted_proxies = [\"127.0.0.1\"]\n",
        "emit_history_mib = 16\nmax_connections = 100\nshow_command_lines = true\n",
    ];
    let mut fuzzer = Fuzzer::new("config files", &corpus);
    while let Some(text) = fuzzer.next_input() {
        std::fs::write(&path, &text).unwrap();
        let outcome = {
            let cli = Cli {
                config: Some(path.clone()),
                ..Default::default()
            };
            // Never a panic: a valid file resolves, anything else is an error that names the file
            // or the setting.
            match std::panic::catch_unwind(|| {
                Config::resolve(cli, "127.0.0.1:3000".parse().unwrap())
            }) {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) if !error.to_string().is_empty() => Ok(()),
                Ok(Err(_)) => Err("an error without a message".into()),
                Err(_) => Err("resolving the config panicked".into()),
            }
        };
        fuzzer.check(&text, outcome);
    }
    let _ = std::fs::remove_dir_all(dir);
}
