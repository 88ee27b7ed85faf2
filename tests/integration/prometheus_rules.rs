//! The alert rules shipped for fleets (deploy/prometheus): Prometheus' own tool checks them and
//! runs their tests, and every rule has a test.

use std::path::Path;
use std::process::Command;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus");

fn promtool(args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(DIR)
        .output()
        .expect("`promtool` (Debian package prometheus; scripts/test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_shipped_rules_check_and_pass_their_tests() {
    promtool(&["check", "rules", "vitals-alerts.yml"]);
    let tested = promtool(&["test", "rules", "vitals-alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn every_shipped_rule_has_a_test() {
    let read = |name: &str| std::fs::read_to_string(Path::new(DIR).join(name)).unwrap();
    let rules = read("vitals-alerts.yml");
    let tests = read("vitals-alerts.test.yml");
    let names: Vec<&str> = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(names.len(), 21, "{names:?}");
    for name in names {
        assert!(
            tests.contains(&format!("alertname: {name}\n")),
            "{name} has no test"
        );
    }
}
