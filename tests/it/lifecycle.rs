//! The operator's view: `check-config` on good and bad config directories, `run` refusing a bad
//! config, and a clean stop on SIGTERM.

use std::process::Command;

use crate::harness::{BIN, Profile, Switch, config_dir};

#[test]
fn sigterm_stops_the_switch_cleanly_with_exit_code_0() {
    let switch = Switch::start();
    let status = switch.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status:?}"
    );
}

#[test]
fn check_config_accepts_the_shipped_profiles() {
    let out = Command::new(BIN)
        .args(["check-config", "--config-dir", env!("CARGO_MANIFEST_DIR")])
        .output()
        .expect("run check-config");
    assert!(
        out.status.success(),
        "the shipped sip-profiles/ must validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_accepts_the_test_profile() {
    let dir = config_dir(&[("sip-profiles/it.toml", &Profile::default().to_toml(5060))]);
    let out = Command::new(BIN)
        .args(["check-config", "--config-dir"])
        .arg(dir.path())
        .output()
        .expect("run check-config");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A profile with three independent mistakes: a misspelt key, a listen address without a port,
/// and a minimum expiry above the default.
const THREE_MISTAKES: &str = r#"[profile]
name = "broken"
domain = "switchyard.test"
listen = ["udp:127.0.0.1"]

[registrar]
default_expires = 600
min_expires = 900
max_expirs = 3600

[[users]]
name = "1000"
password = "secret"
"#;

#[test]
fn check_config_lists_all_three_mistakes_with_file_and_key_and_exits_1() {
    let dir = config_dir(&[("sip-profiles/broken.toml", THREE_MISTAKES)]);
    let out = Command::new(BIN)
        .args(["check-config", "--config-dir"])
        .arg(dir.path())
        .output()
        .expect("run check-config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "exit code; output:\n{text}");
    for key in [
        "profile.listen[0]",
        "registrar.min_expires",
        "registrar.max_expirs",
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no error names {key}; output:\n{text}"));
        assert!(
            line.contains("broken.toml"),
            "the error for {key} names the file: {line}"
        );
    }
}

#[test]
fn run_refuses_a_bad_config_without_starting() {
    let dir = config_dir(&[("sip-profiles/broken.toml", THREE_MISTAKES)]);
    let out = Command::new(BIN)
        .args(["run", "--config-dir"])
        .arg(dir.path())
        .output()
        .expect("run switchyard");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "exit code; output:\n{text}");
    assert!(text.contains("registrar.min_expires"), "{text}");
}
