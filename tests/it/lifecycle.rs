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

/// A trunks profile, a trunk naming a profile that does not exist, a route group naming a
/// trunk that does not exist, and a rule jumping to a context that does not exist.
const ROUTING_MISTAKES: [(&str, &str); 3] = [
    (
        "sip-profiles/carriers.toml",
        "[profile]\nname = \"carriers\"\ndomain = \"switchyard.test\"\nkind = \"trunks\"\n\
         listen = [\"udp:127.0.0.1:5080\"]\n",
    ),
    (
        "sip-profiles/trunks/carriers.toml",
        "[[trunk]]\nname = \"carrier-a\"\nprofile = \"carrierz\"\n\
         gateways = [\"sip:127.0.0.1:5071\"]\n\n\
         [[route_group]]\nname = \"pstn\"\nstrategy = \"priority\"\n\
         trunks = [\"carrier-b\"]\n",
    ),
    (
        "dialplans/main.toml",
        "[[context]]\nname = \"default\"\n\n[[context.rule]]\nname = \"out\"\n\
         destination_prefix = \"+\"\nroute_group = \"pstn\"\n\n\
         [[context.rule]]\nname = \"elsewhere\"\ngoto = \"nowhere\"\n",
    ),
];

#[test]
fn check_config_lists_a_missing_profile_an_unknown_trunk_and_an_unknown_context_at_once() {
    let dir = config_dir(&ROUTING_MISTAKES);
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
    for (file, key, what) in [
        (
            "trunks/carriers.toml",
            "trunk[0].profile",
            "unknown profile \"carrierz\"",
        ),
        (
            "trunks/carriers.toml",
            "route_group[0].trunks[0]",
            "carrier-b",
        ),
        (
            "dialplans/main.toml",
            "context[0].rule[1].goto",
            "unknown context \"nowhere\"",
        ),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(file) && l.contains(key) && l.contains(what)),
            "no error names {file} {key} ({what}); output:\n{text}"
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

#[test]
fn the_api_answers_health_and_its_openapi_document_without_a_token() {
    let switch = crate::harness::Switch::start();
    let health = crate::http::get(switch.api_addr(), "/api/v1/health", None);
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.json()["status"], "ok");
    let doc = crate::http::get(switch.api_addr(), "/api/v1/openapi.json", None);
    assert_eq!(doc.status, 200);
    assert!(doc.json()["openapi"].as_str().unwrap().starts_with("3."));
}
