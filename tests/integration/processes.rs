//! The process table against the real binary: a process that burns CPU rises to the top within
//! two scans, one that holds memory shows it, a process on a fake GPU carries its GPU memory and
//! share, and the scans stop when the last watcher leaves.

use crate::common;

use common::http::Get;

use common::binary::ServerProcess;
use common::fake_nvml::FakeNvml;
use common::ws::{Socket, next, subscribe};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tokio_tungstenite::connect_async;
use vitals::wire::{ProcessList, ProcessRow, ServerMessage};

/// A helper process killed when the test ends, however it ends.
struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn helper(script: &str) -> Helper {
    Helper(
        Command::new("perl")
            .args(["-e", script])
            .spawn()
            .expect("perl runs (Debian's perl-base)"),
    )
}

async fn next_list(socket: &mut Socket) -> ProcessList {
    loop {
        if let ServerMessage::Message(envelope) = next(socket).await
            && envelope.channel == "system/processes"
        {
            return serde_json::from_value(envelope.data).expect("a process list");
        }
    }
}

fn find(list: &ProcessList, pid: u32) -> Option<&ProcessRow> {
    list.processes.iter().find(|p| p.pid == pid)
}

/// `vitals_process_scans_total` from /metrics.
async fn scans(server: &ServerProcess) -> f64 {
    let text = server.get_text("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix("vitals_process_scans_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("/metrics counts process scans")
}

#[tokio::test]
async fn the_busiest_processes_are_listed_while_someone_watches() {
    let burner = helper("while (1) {}");
    let holder = helper(r#"$x = "a" x (192 * 1024 * 1024); sleep 120"#);
    let (burner_pid, holder_pid) = (burner.0.id(), holder.0.id());
    let fake = FakeNvml::start(&format!(
        "gpu name=\"Fake H100\" uuid=GPU-p util=50 memutil=5 mem_used=1 mem_total=8 \
         procs={holder_pid}:1073741824:compute putil={holder_pid}:42:7:0:0\n"
    ));
    let library = fake.library().to_str().unwrap();
    let server = ServerProcess::start(
        &["--nvml-library", library, "--process-interval", "0.5"],
        None,
    );
    // Nobody watches: no scans at all.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(scans(&server).await, 0.0, "no scan while nobody watches");

    let url = server.url("/ws").replacen("http", "ws", 1);
    let (mut socket, _) = connect_async(url).await.expect("socket opens");
    subscribe(&mut socket, &["system/processes"]).await;

    // Within two periods (and the priming scan), the burner is near the top with a plausible
    // share of one core; the test machine's other work (a compiler, say) may outrank it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let rank = |list: &ProcessList| list.processes.iter().position(|p| p.pid == burner_pid);
    let list = loop {
        let list = next_list(&mut socket).await;
        let near_top = rank(&list).is_some_and(|rank| rank < 3);
        if near_top || Instant::now() > deadline {
            break list;
        }
    };
    let burning = find(&list, burner_pid).expect("the burner is listed");
    let rank = rank(&list).unwrap();
    assert!(rank < 3, "{:?}", &list.processes[..=rank]);
    let busiest_first = list.processes[..=rank]
        .windows(2)
        .all(|w| w[0].cpu_percent >= w[1].cpu_percent);
    assert!(busiest_first, "{:?}", &list.processes[..=rank]);
    let cpu = burning.cpu_percent.expect("rated after its first scan");
    assert!((30.0..=110.0).contains(&cpu), "{cpu} % of a core");
    assert_eq!(burning.state, "R");
    assert_eq!(burning.name, "perl");
    assert!(list.total as usize >= list.processes.len() && list.cores >= 1);

    let holding = find(&list, holder_pid).expect("the memory holder is listed");
    assert!(
        holding.memory_bytes >= 192 << 20,
        "{} bytes resident",
        holding.memory_bytes
    );
    assert!(holding.memory_percent > 0.0);
    assert_eq!(holding.gpus, [0]);
    assert_eq!(holding.gpu_memory_bytes, Some(1 << 30));
    assert_eq!(holding.gpu_sm_percent, Some(42));
    assert!(holding.started <= list.timestamp);
    assert_eq!(holding.command_line, None, "command lines are opt-in");

    // The last watcher leaves: the scans stop.
    drop(socket);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopped_at = scans(&server).await;
    assert!(stopped_at >= 2.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        scans(&server).await,
        stopped_at,
        "no scan after the last watcher left"
    );

    // A REST call scans on its own (priming first), then the scans stop again.
    let answer: ProcessList = server.get_json("/api/system/processes").await;
    let burning = find(&answer, burner_pid).expect("listed over REST");
    assert!(
        burning.cpu_percent.is_some(),
        "rated: the call waited past the priming scan"
    );
    drop(fake);
}

#[tokio::test]
async fn a_rule_on_a_process_name_scans_without_watchers_and_fires() {
    let holder = helper(r#"$x = "a" x (192 * 1024 * 1024); sleep 120"#);
    let config = std::env::temp_dir().join(format!("vitals-process-rule-{}.toml", holder.0.id()));
    std::fs::write(
        &config,
        "[alerts]\ndisable = [\"cpu\", \"memory\", \"swap_growing\", \"filesystem\"]\n\
         [[alerts.rules]]\nname = \"perl_memory\"\nsummary = \"perl's memory\"\n\
         series = \"process/perl/memory_percent\"\nwarning = 0.1\n",
    )
    .unwrap();
    let server = ServerProcess::start(
        &[
            "--config",
            config.to_str().unwrap(),
            "--process-interval",
            "0.5",
        ],
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let firing = loop {
        let list: serde_json::Value = server.get_json("/api/system/alerts").await;
        let firing = list["active"].as_array().and_then(|active| {
            active
                .iter()
                .find(|a| a["rule"] == "perl_memory" && a["state"] == "firing")
                .cloned()
        });
        if firing.is_some() || Instant::now() > deadline {
            break firing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let firing = firing.expect("the process rule fires");
    assert!(firing["value"].as_f64().unwrap() > 0.1, "{firing}");
    assert!(
        scans(&server).await > 0.0,
        "a process rule keeps the scans going"
    );
    let _ = std::fs::remove_file(config);
}
