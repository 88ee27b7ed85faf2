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
