//! Whole-box health against the real server: a desktop's sysfs (a fixture tree, warmed up, with a
//! fan at 0 RPM), disks answered by recorded `smartctl --json` outputs of real drives (one
//! failing SATA disk, one healthy NVMe) through the replay script given as `--smartctl`, and an
//! XID from the fake NVML library: the health list names the three with what to do, its page
//! and card draw them, and their alerts fire. This machine's own /sys and smartctl say what is
//! not available, and nothing fails.

use crate::common;

use common::fake_nvml::FakeNvml;
use common::http::Get;
use common::process::scratch_dir;
use common::server::TestServer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn fixtures(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// A copy of the desktop's sysfs whose CPU runs at 71 °C: warm enough that a fan at 0 RPM has
/// stopped, not idled.
fn warm_desktop(dir: &Path) -> PathBuf {
    let root = dir.join("sysfs");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(fixtures("sysfs/desktop"))
        .arg(&root)
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::write(root.join("class/hwmon/hwmon0/temp1_input"), "71000\n").unwrap();
    root
}

/// A smartctl for this test alone: the replay script over its own folder of recordings (the
/// folder is baked into a wrapper, so no environment variable is shared with other tests).
fn replayed_smartctl(dir: &Path, disks: &[(&str, &str)]) -> PathBuf {
    let recordings = dir.join("smart");
    std::fs::create_dir_all(&recordings).unwrap();
    for (device, fixture) in disks {
        std::fs::copy(
            fixtures(&format!("smart/{fixture}")),
            recordings.join(format!("{device}.json")),
        )
        .unwrap();
    }
    let wrapper = dir.join("smartctl");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nSMART_REPLAY_DIR='{}' exec '{}' \"$@\"\n",
            recordings.display(),
            fixtures("smart/replay-smartctl").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

async fn until(server: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let answer: Value = server.get_json(path).await;
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never got there: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn item<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["check"] == check)
        .unwrap_or_else(|| panic!("no {check} in {report}"))
}

fn firing(alerts: &Value, rule: &str) -> bool {
    alerts["active"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| a["rule"] == rule && a["state"] == "firing")
}

#[tokio::test]
async fn a_failing_disk_a_stopped_fan_and_an_xid_are_listed_with_what_to_do_and_alert() {
    let dir = scratch_dir("health-box");
    let sysfs = warm_desktop(&dir);
    let smartctl = replayed_smartctl(
        &dir,
        &[("sda", "sata-failing.json"), ("nvme0", "nvme-healthy.json")],
    );
    let fake = FakeNvml::start(
        "gpu name=\"Fake H100\" uuid=GPU-health util=50 mem_used=1 mem_total=8\nxid 0 79\n",
    );
    let library = fake.library().to_path_buf();
    let server = TestServer::start(|cli| {
        cli.interval = Some(0.5);
        cli.nvml_library = Some(library);
        cli.sysfs_root = Some(sysfs.clone());
        cli.smartctl = Some(smartctl);
    })
    .await;

    let report = until(&server, "/api/system/health", |r| {
        ["disk_smart", "fan_stopped", "gpu_xid"]
            .iter()
            .all(|check| {
                r["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| i["check"] == *check))
            })
    })
    .await;
    let disk = item(&report, "disk_smart");
    assert_eq!(disk["severity"], "critical");
    assert_eq!(disk["subject"], "sda (Hitachi HDS721050DLE630)");
    assert!(
        disk["value"]
            .as_str()
            .unwrap()
            .starts_with("SMART says FAILED"),
        "{disk}"
    );
    assert!(
        disk["action"]
            .as_str()
            .unwrap()
            .starts_with("Copy what matters off sda now")
    );
    let fan = item(&report, "fan_stopped");
    assert_eq!(fan["severity"], "warning");
    assert_eq!(fan["value"], "0 RPM while the machine is at 71 °C");
    let xid = item(&report, "gpu_xid");
    assert!(
        xid["value"]
            .as_str()
            .unwrap()
            .starts_with("XID 79: GPU has fallen off the bus")
    );
    assert!(
        xid["action"]
            .as_str()
            .unwrap()
            .starts_with("The GPU fell off the bus. Stop its jobs and reboot")
    );
    assert_eq!(xid["link"], "/#chart-gpu-0");
    assert_eq!(report["items"][0]["severity"], "critical", "worst first");
    // 2 disks, 8 sensors, 1 GPU, and the machine's filesystems.
    assert!(report["checks"].as_u64().unwrap() >= 11, "{report}");
    let healthy = report["host"]["disks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == "nvme0")
        .unwrap();
    assert_eq!(healthy["passed"], true);

    // The page and the card draw the same list.
    let card = server.get_text("/health/card").await;
    assert!(card.contains("data-check=\"disk_smart\""), "{card}");
    assert!(card.contains("data-check=\"fan_stopped\""));
    assert!(card.contains("data-check=\"gpu_xid\""));
    let page = reqwest::get(server.url("/health")).await.unwrap();
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let page = page.text().await.unwrap();
    assert!(page.contains("Hitachi HDS721050DLE630") && page.contains("FAILED"));
    assert!(page.contains("nct6798"));

    // The alerts fire: the disk and the XID at once, the fan after its minute.
    let alerts = until(&server, "/api/system/alerts", |a| {
        firing(a, "disk_smart_failing") && firing(a, "gpu_xid") && firing(a, "fan_stopped")
    })
    .await;
    assert!(firing(&alerts, "disk_smart_failing"), "{alerts}");

    // The fan turns again: its finding goes.
    std::fs::write(sysfs.join("class/hwmon/hwmon2/fan1_input"), "900\n").unwrap();
    until(&server, "/api/system/health", |r| {
        !r["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["check"] == "fan_stopped")
    })
    .await;
    drop(fake);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn this_machine_says_what_it_cannot_check_and_nothing_fails() {
    let server = TestServer::start(|cli| {
        cli.smartctl = Some(PathBuf::from("/nonexistent/smartctl"));
    })
    .await;
    let report = until(&server, "/api/system/health", |r| {
        r["unavailable"].as_array().is_some_and(|u| !u.is_empty())
    })
    .await;
    assert_eq!(
        report["unavailable"][0],
        "SMART: smartctl not found: install smartmontools or give --smartctl PATH"
    );
    // This machine (a VM) has no hwmon, EDAC or AER: each is said, none fails.
    let said: Vec<&str> = report["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for (dir, prefix, what) in [
        (
            "/sys/class/hwmon",
            "hwmon",
            "Sensors: no hwmon sensors here",
        ),
        (
            "/sys/devices/system/edac/mc",
            "mc",
            "Memory errors: EDAC is not available here",
        ),
    ] {
        let present = std::fs::read_dir(dir).is_ok_and(|mut entries| {
            entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(prefix)))
        });
        if !present {
            assert!(said.contains(&what), "{dir}: {said:?}");
        }
    }
    let card = server.get_text("/health/card").await;
    assert!(card.contains("health-card"), "{card}");
    let page = server.get_text("/health").await;
    assert!(page.contains("Disks (SMART)"));
    // A bad query parameter or method is not ours to answer differently: the page just draws.
    let status = reqwest::Client::new()
        .post(server.url("/api/system/health"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 405);
}
