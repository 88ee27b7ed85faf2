//! The command line as a person meets it: `--version` names the commit, `--help` is grouped, and
//! the shell completions and the man page come from the same definitions.

use std::process::Command;

fn vitals(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(args)
        .output()
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let (ok, version, _) = vitals(&["--version"]);
    assert!(ok);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8(out.stdout).unwrap().trim().to_owned());
    let commit = head.as_deref().unwrap_or("unknown");
    let expected = format!("vitals {} (commit {commit}", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version} vs {expected}");
}

#[test]
fn help_is_grouped_and_names_every_option() {
    let (ok, help, _) = vitals(&["--help"]);
    assert!(ok);
    let headings = [
        "Serving:",
        "Sampling:",
        "History on disk:",
        "Emitted events:",
        "Access:",
        "Fleet:",
        "Configuration file:",
    ];
    let mut at = 0;
    for heading in headings {
        let found = help[at..]
            .find(heading)
            .unwrap_or_else(|| panic!("{heading} after the one before it in\n{help}"));
        at += found;
    }
    for option in [
        "--bind",
        "--interval",
        "--data-dir",
        "--emit-token-file",
        "--token-file",
        "--fleet-prometheus",
        "--fleet-bearer-token-file",
        "--config",
    ] {
        assert!(help.contains(option), "{option} in\n{help}");
    }
    for command in ["token", "emit", "completions", "man"] {
        assert!(
            help.contains(&format!("  {command} ")),
            "{command} in\n{help}"
        );
    }
}

#[test]
fn completions_and_the_man_page_are_made_from_the_same_definitions() {
    for (shell, marker) in [
        ("bash", "_vitals()"),
        ("zsh", "#compdef vitals"),
        ("fish", "complete -c vitals"),
    ] {
        let (ok, script, _) = vitals(&["completions", shell]);
        assert!(ok, "{shell}");
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("keep-raw-hours"),
            "{shell} completes the options"
        );
    }
    let (ok, _, error) = vitals(&["completions", "tcsh"]);
    assert!(!ok);
    assert!(
        error.contains("possible values: bash, elvish, fish, powershell, zsh"),
        "{error}"
    );

    let (ok, page, _) = vitals(&["man"]);
    assert!(ok);
    assert!(page.contains(".TH vitals 1"), "{page}");
    assert!(page.contains("keep\\-raw\\-hours"), "the options are in it");
    assert!(page.contains(".SH SUBCOMMANDS") && page.contains("vitals\\-emit(1)"));
}
