//! Who holds each GPU, end to end: real processes in real cgroups shaped like a systemd service,
//! a login session, Docker (systemd and cgroupfs drivers), a Kubernetes pod and a Slurm job, one
//! run as another uid and one logged in as someone else, each given GPU memory through the fake
//! NVML library; their owners read on `/api/system/gpus`, the GPU's channel and the process table.
//! No container engine runs here: names come from a socket that answers as Docker's does.

use crate::common;

use common::cgroups::{self, Tree, logged_in_sleeper, sleeper, sleeper_as};
use common::engine::{Behaviour, FakeEngine};
use common::fake_nvml::FakeNvml;
use common::http::Get;
use common::server::TestServer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The container the fake engine knows (its inspect is the fixture's).
const KNOWN: &str = "5e0c7a1f3b2d4c6e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";
const UNKNOWN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const POD_UID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

/// Polls the GPU list until every pid in `want` has an owner line that `done` accepts.
async fn owner_lines(
    server: &TestServer,
    pids: &[u32],
    done: impl Fn(&BTreeMap<u32, Value>) -> bool,
) -> BTreeMap<u32, Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list: Value = server.get_json("/api/system/gpus").await;
        let owners: BTreeMap<u32, Value> = list["gpus"][0]["jobs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["pid"].as_u64()? as u32, p["owner"].clone())))
            .filter(|(pid, _)| pids.contains(pid))
            .collect();
        if (owners.len() == pids.len() && done(&owners)) || Instant::now() > deadline {
            return owners;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn script(pids: &[u32]) -> String {
    let procs: Vec<String> = pids
        .iter()
        .map(|pid| format!("{pid}:2147483648:compute"))
        .collect();
    format!(
        "gpu name=\"Fake H100\" uuid=GPU-own util=30 memutil=5 mem_used=34359738368 mem_total=85899345920 power_mw=250000 procs={}\n",
        procs.join(",")
    )
}

/// Waits until the shell of a logged-in sleeper has set its login uid (and become `sleep`).
fn wait_for_login(pid: u32, login: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let set = std::fs::read_to_string(format!("/proc/{pid}/loginuid"))
            .is_ok_and(|text| text.trim() == login.to_string());
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if set && comm.trim() == "sleep" {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("process {pid} never logged in as {login}");
}

#[tokio::test]
async fn owners_come_from_real_cgroups_uids_login_users_and_the_engine() {
    if !cgroups::available() {
        return;
    }
    assert_eq!(KNOWN.len(), 64);
    let engine = FakeEngine::start("owners", Behaviour::Knows(KNOWN));
    let mut tree = Tree::new("owners");
    let systemd_uid = POD_UID.replace('-', "_");
    let service = tree.run_in("system.slice/train.service", &mut sleeper());
    let session = tree.run_in(
        "user.slice/user-1000.slice/session-7.scope",
        &mut sleeper_as(65_534),
    );
    let docker = tree.run_in(
        &format!("system.slice/docker-{KNOWN}.scope"),
        &mut sleeper(),
    );
    let cgroupfs = tree.run_in(&format!("docker/{UNKNOWN}"), &mut sleeper());
    let pod = tree.run_in(
        &format!(
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{systemd_uid}.slice/cri-containerd-{UNKNOWN}.scope"
        ),
        &mut sleeper(),
    );
    let slurm = tree.run_in(
        "system.slice/slurmstepd.scope/job_4242/step_0/user/task_0",
        &mut sleeper_as(65_534),
    );
    // Logged in as uid 4242 (a user with no name), running as nobody: a service account.
    let jupyter = tree.run_in(
        "system.slice/jupyter.service",
        &mut logged_in_sleeper(4242, 65_534),
    );
    wait_for_login(jupyter, 4242);
    let pids = [service, session, docker, cgroupfs, pod, slurm, jupyter];

    let fake = FakeNvml::start(&script(&pids));
    let library = fake.library().to_path_buf();
    let socket = engine.socket.clone();
    let server = TestServer::start(move |cli| {
        cli.nvml_library = Some(library);
        cli.container_sockets = vec![socket];
    })
    .await;

    // The engine's answer arrives on a later tick: until then the container reads by its ID.
    let owners = owner_lines(&server, &pids, |owners| {
        owners[&docker]["container_name"] == "web-llm"
    })
    .await;
    let line = |pid: u32| owners[&pid]["line"].as_str().unwrap_or_default().to_owned();
    assert_eq!(line(service), "root · train.service", "{owners:?}");
    assert_eq!(owners[&service]["kind"], "service");
    assert_eq!(line(session), "nobody · session 7");
    assert_eq!(line(docker), "root · container web-llm (vllm/vllm-openai)");
    assert_eq!(owners[&docker]["engine"], "docker");
    assert_eq!(owners[&docker]["container_id"], KNOWN);
    // The engine does not know it (404): its short ID stands in.
    assert_eq!(line(cgroupfs), "root · container 0123456789ab");
    assert_eq!(owners[&pod]["kind"], "pod");
    assert_eq!(owners[&pod]["pod_uid"], POD_UID);
    assert_eq!(owners[&pod]["engine"], "containerd");
    assert_eq!(line(pod), "root · pod 0f1e2d3c-4b5 container 0123456789ab");
    assert_eq!(line(slurm), "nobody · Slurm job 4242");
    assert_eq!(owners[&slurm]["slurm_job"], 4242);
    assert_eq!(line(jupyter), "uid 4242 (as nobody) · jupyter.service");
    assert_eq!(owners[&jupyter]["user"], "uid 4242");
    assert_eq!(owners[&jupyter]["runs_as"], "nobody");
    // Asked once per container, however many ticks went by.
    assert!(engine.asked.load(std::sync::atomic::Ordering::SeqCst) <= 3);

    // The GPU's channel carries the same owners.
    let channel: Value = server
        .get_json("/api/system/history?channel=system/gpu/0")
        .await;
    let last = channel["messages"].as_array().unwrap().last().unwrap();
    let on_channel = last["data"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == docker)
        .unwrap();
    assert_eq!(
        on_channel["owner"]["line"],
        "root · container web-llm (vllm/vllm-openai)"
    );

    // And so does the process table, for every row.
    let table: Value = server.get_json("/api/system/processes").await;
    let row = table["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pid"] == slurm)
        .expect("a GPU process is always in the table");
    assert_eq!(row["owner"]["line"], "nobody · Slurm job 4242");
    drop(fake);
}

#[tokio::test]
async fn a_hanging_or_garbled_engine_leaves_names_out_and_the_ticks_on_time() {
    if !cgroups::available() {
        return;
    }
    let hangs = FakeEngine::start("hangs", Behaviour::Hangs);
    let garbage = FakeEngine::start("garbage", Behaviour::Garbage);
    let mut tree = Tree::new("engines");
    let docker = tree.run_in(
        &format!("system.slice/docker-{KNOWN}.scope"),
        &mut sleeper(),
    );
    let fake = FakeNvml::start(&script(&[docker]));
    let library = fake.library().to_path_buf();
    let sockets = vec![hangs.socket.clone(), garbage.socket.clone()];
    let server = TestServer::start(move |cli| {
        cli.nvml_library = Some(library);
        cli.container_sockets = sockets;
    })
    .await;
    let owners = owner_lines(&server, &[docker], |_| true).await;
    assert_eq!(
        owners[&docker]["line"], "root · container 5e0c7a1f3b2d",
        "{owners:?}"
    );
    // Ticks keep coming every 0.25 s while the engine hangs.
    let seq = |history: &Value| history["messages"].as_array().map_or(0, Vec::len);
    let before = seq(&server
        .get_json("/api/system/history?channel=system/gpu/0")
        .await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = seq(&server
        .get_json("/api/system/history?channel=system/gpu/0")
        .await);
    assert!(after >= before + 4, "{before} → {after} ticks in 1.5 s");
    let owners = owner_lines(&server, &[docker], |_| true).await;
    assert_eq!(owners[&docker]["container_name"], Value::Null);
    assert!(hangs.asked.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    drop(fake);
}
