//! `vitals emit` against the real binary: an event sent from the command line, with the token read
//! from its file, arrives on the channel; a missing token file or a refused event says why.

use crate::common;

use common::http::Get;

use common::binary::ServerProcess;
use common::server::EMIT_TOKEN;
use serde_json::Value;
use std::process::{Command, Output};

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
