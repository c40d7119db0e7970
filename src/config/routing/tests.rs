//! Loading dialplans and trunk files with the profiles: the checks that span them, as the
//! operator sees their messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::config::{ProfileKind, load};

const HEAD: &str = r#"
[profile]
name = "t"
domain = "example.com"
listen = ["udp:127.0.0.1:5060"]
"#;

/// A config directory with the given files (path relative to it, text).
fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const CARRIERS: &str = r#"
[profile]
name = "carriers"
domain = "127.0.0.1"
kind = "trunks"
context = "from-carriers"
listen = ["udp:127.0.0.1:5080"]
"#;

const ROUTING_DIALPLAN: &str = r#"
[[context]]
name = "default"

[[context.rule]]
name = "out"
destination_prefix = "+"
route_group = "pstn"

[[context.rule]]
name = "users"
destination_regex = "^(.+)$"
ring = ["$1"]

[[context]]
name = "from-carriers"

[[context.rule]]
name = "did"
destination = "+15551230001"
ring = ["1000"]
"#;

const ROUTING_TRUNKS: &str = r#"
[[trunk]]
name = "carrier-a"
profile = "carriers"
gateways = ["sip:127.0.0.1:5071"]
inbound = ["127.0.0.1/32"]

[[route_group]]
name = "pstn"
strategy = "priority"
trunks = ["carrier-a"]
"#;

#[test]
fn dialplans_and_trunks_load_with_the_profiles() {
    let dir = config_dir(&[
        ("sip-profiles/t.toml", HEAD),
        ("sip-profiles/carriers.toml", CARRIERS),
        ("sip-profiles/trunks/carriers.toml", ROUTING_TRUNKS),
        ("dialplans/main.toml", ROUTING_DIALPLAN),
    ]);
    let config = match load(dir.path()) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    assert!(config.dialplan().has_context("from-carriers"));
    assert_eq!(config.trunks().trunks().len(), 1);
    assert_eq!(
        config.profile("carriers").unwrap().kind(),
        ProfileKind::Trunks
    );
    assert_eq!(config.profile("t").unwrap().context(), "default");
}

#[test]
fn a_missing_profile_an_unknown_trunk_and_an_unknown_context_are_all_reported_at_once() {
    let trunks = ROUTING_TRUNKS
        .replace("profile = \"carriers\"", "profile = \"nope\"")
        .replace(
            "trunks = [\"carrier-a\"]",
            "trunks = [\"carrier-a\", \"carrier-z\"]",
        );
    let dialplan =
        format!("{ROUTING_DIALPLAN}\n[[context.rule]]\nname = \"x\"\ngoto = \"nowhere\"\n");
    let dir = config_dir(&[
        ("sip-profiles/t.toml", HEAD),
        ("sip-profiles/carriers.toml", CARRIERS),
        ("sip-profiles/trunks/carriers.toml", &trunks),
        ("dialplans/main.toml", &dialplan),
    ]);
    let err = load(dir.path()).unwrap_err();
    let text = err.to_string();
    let d = dir.path().display();
    for want in [
        format!(
            "{d}/sip-profiles/trunks/carriers.toml: trunk[0].profile: unknown profile \"nope\""
        ),
        format!("{d}/sip-profiles/trunks/carriers.toml: route_group[0].trunks[1]"),
        format!("{d}/dialplans/main.toml: context[1].rule[1].goto: unknown context \"nowhere\""),
    ] {
        assert!(text.contains(&want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn a_profile_context_and_a_rule_route_group_must_exist() {
    let head = HEAD.replace("listen", "context = \"ghost\"\nlisten");
    let dialplan = ROUTING_DIALPLAN.replace("route_group = \"pstn\"", "route_group = \"nope\"");
    let dir = config_dir(&[
        ("sip-profiles/t.toml", &head),
        ("sip-profiles/carriers.toml", CARRIERS),
        ("sip-profiles/trunks/carriers.toml", ROUTING_TRUNKS),
        ("dialplans/main.toml", &dialplan),
    ]);
    let text = load(dir.path()).unwrap_err().to_string();
    assert!(
        text.contains("sip-profiles/t.toml: profile.context: unknown context \"ghost\""),
        "{text}"
    );
    assert!(
        text.contains(
            "dialplans/main.toml: context[0].rule[0].route_group: unknown route group \"nope\""
        ),
        "{text}"
    );
}

#[test]
fn a_tcp_gateway_needs_a_tcp_listener_on_its_trunks_profile() {
    let trunks = ROUTING_TRUNKS.replace(
        "gateways = [\"sip:127.0.0.1:5071\"]",
        "gateways = [\"sip:127.0.0.1:5071\", \"sip:127.0.0.1:5072;transport=tcp\"]",
    );
    let files = |carriers: &str| {
        config_dir(&[
            ("sip-profiles/t.toml", HEAD),
            ("sip-profiles/carriers.toml", carriers),
            ("sip-profiles/trunks/carriers.toml", &trunks),
            ("dialplans/main.toml", ROUTING_DIALPLAN),
        ])
    };
    let dir = files(CARRIERS);
    let text = load(dir.path()).unwrap_err().to_string();
    let want = format!(
        "{}/sip-profiles/trunks/carriers.toml: trunk[0].gateways[1]: transport=tcp needs a tcp \
         listen address on profile \"carriers\"",
        dir.path().display()
    );
    assert!(text.contains(&want), "missing {want:?} in:\n{text}");
    assert_eq!(text.lines().count(), 1, "{text}");

    let with_tcp = CARRIERS.replace(
        "listen = [\"udp:127.0.0.1:5080\"]",
        "listen = [\"udp:127.0.0.1:5080\", \"tcp:127.0.0.1:5080\"]",
    );
    if let Err(e) = load(files(&with_tcp).path()) {
        panic!("{e}");
    }
}
