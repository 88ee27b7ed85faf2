//! The systemd unit in the repository: systemd's own checker accepts it (pointed at this build's
//! binary, as scripts/install points it at the installed one), it rates its exposure as low, and
//! it keeps the hardening and the lifecycle the README promises.

use std::process::Command;

const UNIT: &str = include_str!("../../scripts/systemd/vitals.service");

/// The unit as scripts/install writes it, in a directory of its own.
fn installed_unit() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vitals-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vitals.service");
    let unit = UNIT.replace("/usr/local/bin/vitals", env!("CARGO_BIN_EXE_vitals"));
    std::fs::write(&path, unit).unwrap();
    path
}

fn systemd_analyze(args: &[&str]) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze runs (scripts/test installs Debian's systemd package for it)");
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text.into_owned())
}

#[test]
fn systemd_accepts_the_unit_and_rates_it_well_hardened() {
    let unit = installed_unit();
    let unit = unit.to_str().unwrap();
    // The man page is checked by scripts/install, which puts it in place.
    let (ok, said) = systemd_analyze(&["verify", "--man=no", unit]);
    assert!(ok, "{said}");
    assert!(!said.contains("vitals.service:"), "no warnings: {said}");

    let (ok, said) = systemd_analyze(&["security", "--offline=true", unit]);
    assert!(ok, "{said}");
    let exposure: f64 = said
        .split("Overall exposure level for vitals.service: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|level| level.parse().ok())
        .unwrap_or_else(|| panic!("an exposure level in {said}"));
    assert!(exposure <= 2.5, "exposure {exposure} (0 safe to 10 unsafe)");
}

#[test]
fn the_unit_keeps_the_hardening_and_the_lifecycle_it_promises() {
    let lines: Vec<&str> = UNIT.lines().map(str::trim).collect();
    for wanted in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "DynamicUser=yes",
        "StateDirectory=vitals",
        "Environment=VITALS_DATA_DIR=%S/vitals",
        "DeviceAllow=/dev/nvidiactl rw",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
        "WantedBy=multi-user.target",
        "CapabilityBoundingSet=",
    ] {
        assert!(lines.contains(&wanted), "{wanted}");
    }
    assert!(
        !lines.iter().any(|l| l.starts_with("PrivateDevices=yes")),
        "the NVIDIA device nodes must stay reachable"
    );
}

const SMART_SERVICE: &str = include_str!("../../scripts/systemd/vitals-smart.service");
const SMART_TIMER: &str = include_str!("../../scripts/systemd/vitals-smart.timer");
const SMART_COLLECT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scripts/systemd/vitals-smart-collect"
);

/// The SMART service and timer as scripts/install writes them, the service pointed at the
/// repository's script.
fn installed_smart_units() -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("vitals-smart-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let service = dir.join("vitals-smart.service");
    let timer = dir.join("vitals-smart.timer");
    let unit = SMART_SERVICE.replace("/usr/local/lib/vitals/vitals-smart-collect", SMART_COLLECT);
    std::fs::write(&service, unit).unwrap();
    std::fs::write(&timer, SMART_TIMER).unwrap();
    (service, timer)
}

#[test]
fn systemd_accepts_the_smart_service_and_timer_and_rates_the_root_service_well_hardened() {
    let (service, timer) = installed_smart_units();
    let (service, timer) = (service.to_str().unwrap(), timer.to_str().unwrap());
    let (ok, said) = systemd_analyze(&["verify", "--man=no", service, timer]);
    assert!(ok, "{said}");
    assert!(!said.contains("vitals-smart."), "no warnings: {said}");

    let (ok, said) = systemd_analyze(&["security", "--offline=true", service]);
    assert!(ok, "{said}");
    let exposure: f64 = said
        .split("Overall exposure level for vitals-smart.service: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|level| level.parse().ok())
        .unwrap_or_else(|| panic!("an exposure level in {said}"));
    // 1.3 when written: root with CAP_SYS_RAWIO and CAP_SYS_ADMIN on the disks' nodes only.
    assert!(exposure <= 2.0, "exposure {exposure} (0 safe to 10 unsafe)");

    let lines: Vec<&str> = SMART_SERVICE.lines().map(str::trim).collect();
    for wanted in [
        "Type=oneshot",
        "RuntimeDirectory=vitals-smart",
        "RuntimeDirectoryMode=0755",
        "RuntimeDirectoryPreserve=yes",
        "CapabilityBoundingSet=CAP_SYS_RAWIO CAP_SYS_ADMIN",
        "PrivateNetwork=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "DevicePolicy=closed",
        "RestrictAddressFamilies=AF_UNIX",
    ] {
        assert!(lines.contains(&wanted), "{wanted}");
    }
    let timer: Vec<&str> = SMART_TIMER.lines().map(str::trim).collect();
    for wanted in [
        "OnBootSec=1min",
        "OnUnitActiveSec=10min",
        "WantedBy=timers.target",
    ] {
        assert!(timer.contains(&wanted), "{wanted}");
    }
    let readme = include_str!("../../README.md");
    for named in ["vitals-smart.service", "vitals-smart.timer"] {
        assert!(readme.contains(named), "the README names {named}");
    }
}

#[test]
fn the_smart_script_leaves_one_readable_report_per_disk() {
    let base = std::env::temp_dir().join(format!("vitals-smart-collect-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (replay, out) = (base.join("replay"), base.join("out"));
    std::fs::create_dir_all(&replay).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smart");
    for (disk, fixture) in [("nvme0", "nvme-healthy.json"), ("sda", "sata-failing.json")] {
        std::fs::copy(
            format!("{fixtures}/{fixture}"),
            replay.join(format!("{disk}.json")),
        )
        .unwrap();
    }
    // A disk gone since the last run: its report goes too.
    std::fs::write(out.join("sdz.json"), "{}").unwrap();
    let status = Command::new("sh")
        .arg(SMART_COLLECT)
        .env("SMART_REPLAY_DIR", &replay)
        .env("SMARTCTL", format!("{fixtures}/replay-smartctl"))
        .env("VITALS_SMART_OUT", &out)
        .status()
        .unwrap();
    assert!(status.success());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["nvme0.json", "sda.json"]);
    use std::os::unix::fs::PermissionsExt;
    for name in &names {
        let mode = std::fs::metadata(out.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{name}");
    }
    assert_eq!(
        std::fs::read(out.join("sda.json")).unwrap(),
        std::fs::read(replay.join("sda.json")).unwrap(),
        "the failing disk's report, though smartctl exits nonzero for it"
    );
    let _ = std::fs::remove_dir_all(&base);
}
