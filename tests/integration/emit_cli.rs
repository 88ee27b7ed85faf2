//! `vitals emit` against the real binary: an event sent from the command line, with the token read
//! from its file, arrives on the channel; a missing token file, a refused event or a server that
//! never answers says why; a second server sharing the token file leaves the first one reachable.

use crate::common;

use common::http::Get;

use common::binary::ServerProcess;
use common::server::EMIT_TOKEN;
use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn emit(server: &ServerProcess, token_file: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["--emit-token-file", token_file, "emit", "--server"])
        .arg(server.addr.to_string())
        .args(args)
        .env_remove("VITALS_EMIT_TOKEN")
        .output()
        .expect("vitals emit runs")
}

#[tokio::test]
async fn an_event_from_the_command_line_arrives_and_failures_say_why() {
    let server = ServerProcess::start(&[], None);
    let dir = std::env::temp_dir().join(format!("vitals-emit-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("emit-token");
    std::fs::write(&token_file, format!("{EMIT_TOKEN}\n")).unwrap();
    let token_path = token_file.to_str().unwrap();

    let sent = emit(
        &server,
        token_path,
        &["jobs/cli-1", "metrics", "step=100", "loss=0.42"],
    );
    assert!(sent.status.success(), "{sent:?}");
    assert!(String::from_utf8_lossy(&sent.stdout).starts_with("jobs/cli-1 metrics: seq 1"));
    let history: Value = server
        .get_json("/api/system/history?channel=jobs/cli-1")
        .await;
    assert_eq!(history["messages"][0]["event"], "metrics");
    assert_eq!(
        history["messages"][0]["data"],
        serde_json::json!({"step": 100.0, "loss": 0.42})
    );

    let missing = dir.join("no-such-token");
    let unread = emit(&server, missing.to_str().unwrap(), &["jobs/cli-1", "note"]);
    assert!(!unread.status.success());
    let said = String::from_utf8_lossy(&unread.stderr);
    assert!(
        said.contains("cannot read the emit token from") && said.contains("no-such-token"),
        "{said}"
    );

    let broken = emit(&server, token_path, &["jobs/cli-1", "metrics", "loss=low"]);
    assert!(!broken.status.success());
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(
        said.contains("422") && said.contains("metrics.loss must be a number"),
        "{said}"
    );

    std::fs::write(&token_file, "wrong-token-wrong-token\n").unwrap();
    let refused = emit(&server, token_path, &["jobs/cli-1", "note"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{refused:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn emit_gives_up_on_a_server_that_accepts_and_never_answers() {
    // Accepts every connection and holds it open without a byte in answer.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(held);
    });
    let emit_waiting = |timeout: &str| {
        Command::new(env!("CARGO_BIN_EXE_vitals"))
            .args(["--emit-token", EMIT_TOKEN, "emit", "--timeout", timeout])
            .args(["--server", &addr.to_string(), "jobs/stuck", "note"])
            .output()
            .expect("vitals emit runs")
    };
    let started = Instant::now();
    let stuck = emit_waiting("1");
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&stuck.stderr);
    assert_eq!(stuck.status.code(), Some(1), "{said}");
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");
    assert!(
        said.contains("no answer from")
            && said.contains("within 1 s")
            && said.contains("--timeout"),
        "{said}"
    );

    let bad = emit_waiting("0");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--timeout 0"));
}

#[tokio::test]
async fn a_second_vitals_on_the_same_token_file_leaves_the_first_ones_emit_working() {
    let dir = std::env::temp_dir().join(format!("vitals-emit-shared-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let token_file = dir.join("emit-token");
    let token_path = token_file.to_str().unwrap();
    let first = ServerProcess::start(&["--emit-token-file", token_path], None);
    let written = std::fs::read_to_string(&token_file).unwrap();
    let second = ServerProcess::start(&["--emit-token-file", token_path], None);
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap(),
        written,
        "the second server keeps the token it found"
    );
    for server in [&first, &second] {
        let sent = emit(server, token_path, &["jobs/shared", "note"]);
        assert!(sent.status.success(), "{sent:?}");
    }

    // A token file that another server's token replaced: the refusal names the file.
    std::fs::write(&token_file, format!("{}\n", "0".repeat(64))).unwrap();
    let refused = emit(&first, token_path, &["jobs/shared", "note"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("401") && said.contains(token_path),
        "{said}"
    );
    drop((first, second));
    let _ = std::fs::remove_dir_all(&dir);
}
