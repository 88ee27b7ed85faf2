//! History on disk, against the real binary: it survives a restart, a `kill -9` never corrupts it
//! nor loses more than the last batch, and a second Vitals on the same directory says why not.

use crate::common;

use common::http::Get;

use common::binary::ServerProcess;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vitals::server::history::writer::BATCH_EVERY;
use vitals::server::history::{HistoryDb, Retention};

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitals-durable-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn start(dir: &Path) -> ServerProcess {
    ServerProcess::start(&["--data-dir", dir.to_str().unwrap()], None)
}

async fn get(server: &ServerProcess, path: &str) -> Value {
    server.get_json(path).await
}

#[tokio::test]
async fn samples_survive_a_restart() {
    let dir = data_dir("restart");
    let began = now_ms();
    let first = start(&dir);
    tokio::time::sleep(Duration::from_secs(2)).await;
    first.terminate();
    let restarted_at = now_ms();

    let second = start(&dir);
    let range = get(
        &second,
        &format!("/api/system/history?from={began}&points=1000&series=cpu.usage"),
    )
    .await;
    assert_eq!(range["tier"], "raw", "{range}");
    let before: Vec<&Value> = range["series"]["cpu.usage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|bucket| bucket[0].as_f64().unwrap() < restarted_at as f64)
        .collect();
    assert!(
        before.len() >= 4,
        "samples from before the restart: {range}"
    );
    let seed = get(&second, "/api/system/seed").await;
    let oldest = seed["history"]["series"]["cpu.usage"][0][0]
        .as_i64()
        .unwrap();
    assert!(
        oldest < restarted_at,
        "the page starts with what happened before the restart"
    );
    // The channel's ring too: what the history endpoint and a WebSocket replay serve.
    let ring = get(&second, "/api/system/history?channel=system/cpu").await;
    let first_message = &ring["messages"][0];
    let first_at =
        chrono::DateTime::parse_from_rfc3339(first_message["timestamp"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
    assert!(first_at < restarted_at, "{first_message}");
    assert_eq!(first_message["seq"], 1, "numbered in the new epoch");
    assert!(first_message["data"]["usage_percent"].is_number());
    let hello_persistence = &seed["hello"]["persistence"];
    assert_eq!(hello_persistence["saving"], true, "{hello_persistence}");
    assert!(
        hello_persistence["path"]
            .as_str()
            .unwrap()
            .starts_with(dir.to_str().unwrap())
    );
    second.terminate();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn emitted_events_survive_a_restart() {
    let dir = data_dir("events");
    let first = start(&dir);
    let http = reqwest::Client::new();
    for step in 0..3 {
        let sent = http
            .post(first.url("/api/internal/ws/emit"))
            .bearer_auth(common::server::EMIT_TOKEN)
            .json(&serde_json::json!({"channel": "jobs/train", "event": "step", "data": {"step": step, "loss": 0.5}}))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 202);
    }
    first.terminate();

    let second = start(&dir);
    let ring = get(&second, "/api/system/history?channel=jobs/train").await;
    let steps: Vec<&Value> = ring["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["data"]["step"])
        .collect();
    assert_eq!(steps, [0, 1, 2], "{ring}");
    assert_eq!(ring["messages"][2]["event"], "step");
    second.terminate();
    let _ = std::fs::remove_dir_all(dir);
}

/// The buckets of `series` in a range answer, as (start, min, avg, max).
fn buckets(answer: &Value, series: &str) -> Vec<(i64, f64, f64, f64)> {
    answer["series"][series]
        .as_array()
        .unwrap_or_else(|| panic!("no {series} in {answer}"))
        .iter()
        .map(|b| {
            let n = |i: usize| b[i].as_f64().unwrap();
            (n(0) as i64, n(1), n(2), n(3))
        })
        .collect()
}

#[tokio::test]
async fn minute_rollups_hold_the_min_avg_and_max_of_their_raw_samples_and_old_raw_rows_are_pruned()
{
    let dir = data_dir("rollups");
    let dir_arg = dir.to_str().unwrap();
    // Three hours of synthetic samples at 0.5 s, raw samples kept for one hour only.
    let server = ServerProcess::start(
        &[
            "--data-dir",
            dir_arg,
            "--prefill-database-hours",
            "3",
            "--keep-raw-hours",
            "1",
        ],
        None,
    );
    let now = now_ms();
    // Ten closed minutes from within the raw hour, read at both tiers.
    let from = (now - 40 * 60_000).div_euclid(60_000) * 60_000;
    let to = from + 10 * 60_000 - 1;
    let query = |points: usize| {
        format!("/api/system/history?from={from}&to={to}&points={points}&series=cpu.usage")
    };
    // The prefill reaches the database with the writer's first batch.
    let deadline = Instant::now() + Duration::from_secs(30);
    let minutes = loop {
        let answer = get(&server, &query(10)).await;
        let written = answer["series"]["cpu.usage"]
            .as_array()
            .is_some_and(|b| b.len() == 10);
        if written || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(minutes["tier"], "minute", "{minutes}");
    let raw = get(&server, &query(5_000)).await;
    assert_eq!(raw["tier"], "raw");
    let minutes = buckets(&minutes, "cpu.usage");
    let raw = buckets(&raw, "cpu.usage");
    assert_eq!(minutes.len(), 10);
    for (start, min, avg, max) in minutes {
        let values: Vec<f64> = raw
            .iter()
            .filter(|b| b.0 >= start && b.0 < start + 60_000)
            .map(|b| b.2)
            .collect();
        assert_eq!(values.len(), 120, "a minute at 0.5 s");
        let close = |a: f64, b: f64| (a - b).abs() < 1e-3 * b.abs().max(1.0);
        let expected_min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let expected_max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let expected_avg = values.iter().sum::<f64>() / values.len() as f64;
        assert!(close(min, expected_min), "min {min} vs {expected_min}");
        assert!(close(max, expected_max), "max {max} vs {expected_max}");
        assert!(close(avg, expected_avg), "avg {avg} vs {expected_avg}");
    }
    server.terminate();

    let check = rusqlite::Connection::open(dir.join("history.sqlite")).unwrap();
    let (oldest_raw, oldest_minute): (i64, i64) = check
        .query_row(
            "SELECT (SELECT min(t) FROM raw), (SELECT min(t) FROM minute)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        oldest_raw >= now - 3_600_000 - 60_000,
        "raw rows past the hour are pruned: the oldest is {} s old",
        (now - oldest_raw) / 1000
    );
    assert!(oldest_minute < now - 2 * 3_600_000, "the minutes are kept");
    drop(check);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_database_from_a_newer_vitals_is_named_and_live_data_still_served() {
    let dir = data_dir("newer");
    drop(HistoryDb::open(&dir, Retention::default()).unwrap());
    let db = rusqlite::Connection::open(dir.join("history.sqlite")).unwrap();
    db.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(db);
    let server = start(&dir);
    let seed = get(&server, "/api/system/seed").await;
    let problem = seed["hello"]["persistence"]["problem"].as_str().unwrap();
    assert!(
        problem.contains("newer Vitals") && problem.contains(dir.to_str().unwrap()),
        "{problem}"
    );
    let metrics = reqwest::get(server.url("/api/system/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    server.terminate();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn kill_9_at_random_moments_never_corrupts_nor_loses_more_than_a_batch() {
    let dir = data_dir("kill");
    // A fixed sequence of moments, so a failure can be replayed: 0.3 s to 7 s after start.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let lived = Duration::from_millis(300 + state % 6_700);
        let server = start(&dir);
        let started = Instant::now();
        tokio::time::sleep(lived).await;
        let killed_at = now_ms();
        let ran_for = started.elapsed();
        server.kill_9();

        let db = HistoryDb::open(&dir, Retention::default())
            .unwrap_or_else(|e| panic!("round {round}: the database does not open: {e}"));
        let check = rusqlite::Connection::open(db.path()).unwrap();
        let integrity: String = check
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "round {round}");
        let newest: Option<i64> = check
            .query_row("SELECT max(t) FROM raw", [], |row| row.get(0))
            .unwrap();
        if ran_for > BATCH_EVERY + Duration::from_secs(1) {
            // At most the batch that was being gathered is lost.
            let lost = killed_at - newest.unwrap_or(0);
            assert!(
                lost <= (BATCH_EVERY + Duration::from_millis(1500)).as_millis() as i64,
                "round {round}: {lost} ms of samples lost after {ran_for:?}"
            );
        }
        drop(check);
        drop(db);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_second_vitals_on_the_same_directory_serves_live_and_says_why_it_saves_nothing() {
    let dir = data_dir("second");
    let first = start(&dir);
    let second = start(&dir);
    let metrics = reqwest::get(second.url("/api/system/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200, "live data is still served");
    let seed = get(&second, "/api/system/seed").await;
    let persistence = &seed["hello"]["persistence"];
    assert_eq!(persistence["saving"], false);
    let problem = persistence["problem"].as_str().unwrap();
    assert!(
        problem.contains("another Vitals") && problem.contains(dir.to_str().unwrap()),
        "{problem}"
    );
    let range = reqwest::get(second.url("/api/system/history?from=0"))
        .await
        .unwrap();
    assert_eq!(range.status(), 503);
    drop(second);
    first.terminate();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_signed_in_browser_stays_signed_in_across_a_restart() {
    const TOKEN: &str = "durable-session-token-0123456789";
    let dir = data_dir("sessions");
    let args = ["--data-dir", dir.to_str().unwrap(), "--token", TOKEN];
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let first = ServerProcess::start(&args, None);
    let signed = http
        .get(first.url(&format!("/?token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    first.terminate();

    let second = ServerProcess::start(&args, None);
    let metrics = http
        .get(second.url("/api/system/metrics"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        metrics.status(),
        200,
        "the cookie from before the restart still works"
    );
    second.terminate();
    let _ = std::fs::remove_dir_all(dir);
}

/// Signs in with `?token=` and returns the `vitals_session=…` pair of the cookie set, and the
/// whole Set-Cookie line.
async fn sign_in(http: &reqwest::Client, server: &ServerProcess, token: &str) -> (String, String) {
    let signed = http
        .get(server.url(&format!("/?token={token}")))
        .header("x-forwarded-proto", "https, http")
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let line = signed.headers()["set-cookie"].to_str().unwrap().to_owned();
    (line.split(';').next().unwrap().to_owned(), line)
}

async fn status_with_cookie(http: &reqwest::Client, server: &ServerProcess, cookie: &str) -> u16 {
    http.get(server.url("/api/system/metrics"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn sessions_are_stored_as_hashes_in_owner_only_files_and_end_with_their_token_or_a_sign_out()
{
    use std::os::unix::fs::PermissionsExt;
    const TOKEN: &str = "first-token-0123456789abcdef";
    let dir = data_dir("session-files");
    // A directory others may enter, as a hand-made one often is.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let args = ["--data-dir", dir.to_str().unwrap(), "--token", TOKEN];
    let http = no_redirects();
    let first = ServerProcess::start(&args, None);
    let (cookie, line) = sign_in(&http, &first, TOKEN).await;
    assert!(
        line.ends_with("; Secure"),
        "behind a chain of proxies on TLS: {line}"
    );
    let id = cookie.strip_prefix("vitals_session=").unwrap().to_owned();
    // The right cookie after a bogus one of the same name still signs in.
    let doubled = format!("vitals_session=bogus; {cookie}");
    assert_eq!(status_with_cookie(&http, &first, &doubled).await, 200);

    // What another local user could read, had they read access: no id, and no read access.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
        stored.extend(std::fs::read(&path).unwrap());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(
        !stored.contains(&id),
        "the session id is in the data directory"
    );
    // Replaying what the database holds instead is refused too.
    let connection = rusqlite::Connection::open_with_flags(
        dir.join("history.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let key: String = connection
        .query_row("SELECT key FROM signed_in", [], |row| row.get(0))
        .unwrap();
    drop(connection);
    let replayed = format!("vitals_session={key}");
    assert_eq!(status_with_cookie(&http, &first, &replayed).await, 401);
    first.terminate();

    // Under another token, the old session is refused.
    let changed = [
        "--data-dir",
        dir.to_str().unwrap(),
        "--token",
        "second-token-0123456789abcdef",
    ];
    let second = ServerProcess::start(&changed, None);
    assert_eq!(status_with_cookie(&http, &second, &cookie).await, 401);
    second.terminate();

    // Under the first token again it works, until it signs out.
    let third = ServerProcess::start(&args, None);
    assert_eq!(status_with_cookie(&http, &third, &cookie).await, 200);
    let page = http
        .get(third.url("/sign-out"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("action=\"/sign-out\""));
    let out = http
        .post(third.url("/sign-out"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"),
        "the cookie is cleared"
    );
    assert_eq!(status_with_cookie(&http, &third, &cookie).await, 401);
    third.terminate();
    let again = ServerProcess::start(&args, None);
    assert_eq!(
        status_with_cookie(&http, &again, &cookie).await,
        401,
        "signed out for good"
    );
    again.terminate();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn another_applications_database_is_refused_and_left_byte_for_byte_as_it_was() {
    let cases: [(&str, &str); 3] = [
        (
            "tables",
            "PRAGMA user_version = 40; CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);
             INSERT INTO moz_places (url) VALUES ('https://example.org/');",
        ),
        (
            "app-id",
            "PRAGMA application_id = 4660; PRAGMA user_version = 99; CREATE TABLE raw (t INTEGER);",
        ),
        ("not-sqlite", ""),
    ];
    for (name, sql) in cases {
        let dir = data_dir(&format!("foreign-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.sqlite");
        if sql.is_empty() {
            std::fs::write(&path, "name,value\nthis is a CSV file, not a database\n").unwrap();
        } else {
            let connection = rusqlite::Connection::open(&path).unwrap();
            connection.execute_batch(sql).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let server = ServerProcess::start(&["--data-dir", dir.to_str().unwrap()], None);
        let answer = reqwest::get(server.url("/api/system/history?from=0"))
            .await
            .unwrap();
        assert_eq!(answer.status(), 503, "{name}");
        let said: Value = answer.json().await.unwrap();
        let error = said["error"].as_str().unwrap();
        assert!(
            error.contains("is not a Vitals history") && error.contains(path.to_str().unwrap()),
            "{name}: {error}"
        );
        assert!(!error.contains("newer Vitals"), "{name}: {error}");
        server.terminate();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{name}: the file changed"
        );
        for suffix in ["-wal", "-shm", "-journal"] {
            let beside = dir.join(format!("history.sqlite{suffix}"));
            assert!(!beside.exists(), "{name}: {} was made", beside.display());
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heavy_range_reads_do_not_hold_up_everyone_else() {
    let dir = data_dir("heavy-reads");
    let server = std::sync::Arc::new(ServerProcess::start(
        &[
            "--data-dir",
            dir.to_str().unwrap(),
            "--prefill-database-hours",
            "12",
        ],
        None,
    ));
    // Twelve hours of raw samples, read at 5000 points a series: a few MB of JSON each time.
    let from = now_ms() - 12 * 3600 * 1000;
    let heavy = server.url(&format!("/api/system/history?from={from}&points=5000"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer: Value = reqwest::get(&heavy).await.unwrap().json().await.unwrap();
        let buckets = answer["series"]["cpu.usage"].as_array().map_or(0, Vec::len);
        if answer["tier"] == "raw" && buckets > 4000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the prefill never landed: {buckets} buckets"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let (heavy, stop) = (heavy.clone(), stop.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut read = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = http.get(&heavy).send().await.unwrap();
                    assert_eq!(answer.status(), 200);
                    read += answer.bytes().await.unwrap().len();
                }
                read
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let http = reqwest::Client::new();
    let mut took = Vec::new();
    let measuring = Instant::now() + Duration::from_secs(8);
    while Instant::now() < measuring {
        let started = Instant::now();
        let answer = http
            .get(server.url("/api/system/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.bytes().await.unwrap();
        took.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut read = 0;
    for reader in readers {
        read += reader.await.unwrap();
    }
    took.sort();
    let p99 = took[took.len() * 99 / 100];
    assert!(read > 10_000_000, "the readers read {read} bytes");
    assert!(
        p99 < Duration::from_millis(100),
        "GET /api/system/metrics p99 {p99:?} over {} requests while 16 clients read ranges",
        took.len()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
