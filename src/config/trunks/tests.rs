#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::config::{ConfigErrorKind, ConfigWarningKind, Location};

const FULL: &str = r#"
[[trunk]]
name = "carrier-a"
profile = "carriers"
gateways = ["sip:127.0.0.1:5071", "sip:sip.carrier.example;transport=udp"]
inbound = ["127.0.0.1/32", "198.51.100.0/24", "::1"]
context = "from-carriers"
dids = { "+15551230001" = "sales", "+15551230002" = "support" }
max_calls = 10
max_cps = 2
codecs = ["PCMU"]
failover_codes = [408, 480, 503]
provisional_timeout_ms = 3000
pass_headers = ["X-Campaign"]
rates = "rates/carrier-a.csv"
[trunk.caller_id]
from_domain = "Carrier.Example"
number = "+15551230000"
asserted = true
[trunk.auth]
username = "acct"
password = "secret"
[trunk.register]
expires_secs = 600
[trunk.probe]
interval_secs = 10
down_after = 2
up_after = 1

[[trunk]]
name = "carrier-b"
profile = "carriers"
gateways = ["sip:[::1]:5072"]

[[route_group]]
name = "pstn"
strategy = "weighted"
trunks = [{ name = "carrier-a", weight = 70 }, "carrier-b"]
"#;

fn parse(
    text: &str,
) -> (
    Vec<TrunkConfig>,
    Vec<RouteGroupConfig>,
    Vec<crate::config::ConfigError>,
) {
    parse_trunk_file(Path::new("sip-profiles/trunks/a.toml"), text)
}

fn keys(errors: &[crate::config::ConfigError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| e.key().unwrap_or("<none>").to_owned())
        .collect()
}

#[test]
fn full_trunk_file_validates_with_every_key_resolved() {
    let (trunks, groups, errors) = parse(FULL);
    assert!(errors.is_empty(), "{errors:?}");
    let a = &trunks[0];
    assert_eq!(a.name(), "carrier-a");
    assert_eq!(a.key(), "trunk[0]");
    assert_eq!(a.gateways().len(), 2);
    assert_eq!(a.inbound().len(), 3);
    assert_eq!(a.context_for("+15551230001"), Some("sales"));
    assert_eq!(a.context_for("+19999999999"), Some("from-carriers"));
    assert_eq!(a.max_calls(), Some(10));
    assert_eq!(a.max_cps(), Some(2));
    assert_eq!(a.failover_codes(), &[408, 480, 503]);
    assert_eq!(a.provisional_timeout(), Some(Duration::from_millis(3000)));
    assert_eq!(a.pass_headers(), &["x-campaign".to_owned()]);
    assert_eq!(
        a.rates_path(),
        Some(Path::new("sip-profiles/trunks/rates/carrier-a.csv"))
    );
    assert_eq!(a.caller_id().from_domain(), Some("carrier.example"));
    assert!(a.caller_id().asserted());
    let auth = a.auth().unwrap();
    assert_eq!(auth.realm(), "127.0.0.1");
    assert!(!format!("{auth:?}").contains("secret"));
    assert_eq!(a.register().unwrap().retry(), Duration::from_secs(30));
    assert_eq!(a.probe().down_after(), 2);
    let b = &trunks[1];
    assert_eq!(b.context_for("+1"), None);
    assert_eq!(b.max_calls(), None);
    assert_eq!(b.failover_codes(), &DEFAULT_FAILOVER_CODES);
    assert_eq!(b.provisional_timeout(), Some(Duration::from_secs(5)));
    assert!(b.probe().enabled());
    assert_eq!(groups[0].strategy(), Strategy::Weighted);
    assert_eq!(groups[0].members()[0].weight(), 70);
    assert_eq!(groups[0].members()[1].weight(), 1);
}

#[test]
fn empty_trunk_file_is_valid_and_defines_nothing() {
    let (trunks, groups, errors) = parse("");
    assert!(trunks.is_empty() && groups.is_empty() && errors.is_empty());
}

#[test]
fn every_bad_key_is_reported_with_its_path() {
    let text = r#"
[[trunk]]
name = "bad name"
gateways = ["sip:ok.example", "http://x", "sips:y.example"]
inbound = ["10.0.0.0/33"]
failover_codes = [503, 200]
provisional_timeout_ms = 5
pass_headers = ["Via"]
dids = { "" = "x", "+1" = "" }
colour = "red"
[trunk.auth]
username = "u"
[trunk.probe]
down_after = 0

[[trunk]]
name = "r"
profile = "p"
gateways = ["sip:1.2.3.4"]
[trunk.register]

[[route_group]]
name = "g"
strategy = "cheapest"
trunks = ["a", { name = "b", weight = 0 }, "a", 3]

[[route_group]]
trunks = []

[other]
"#;
    let (trunks, groups, errors) = parse(text);
    assert!(trunks.is_empty() && groups.is_empty());
    let keys = keys(&errors);
    for expected in [
        "trunk[0].name",
        "trunk[0].profile",
        "trunk[0].gateways[1]",
        "trunk[0].gateways[2]",
        "trunk[0].inbound[0]",
        "trunk[0].failover_codes[1]",
        "trunk[0].provisional_timeout_ms",
        "trunk[0].pass_headers[0]",
        "trunk[0].dids.\"\"",
        "trunk[0].dids.\"+1\"",
        "trunk[0].colour",
        "trunk[0].auth.password",
        "trunk[0].probe.down_after",
        "trunk[1].register",
        "route_group[0].strategy",
        "route_group[0].trunks[1].weight",
        "route_group[0].trunks[2].name",
        "route_group[0].trunks[3]",
        "route_group[1].name",
        "route_group[1].trunks",
        "other",
    ] {
        assert!(
            keys.contains(&expected.to_owned()),
            "{expected} not in {keys:?}"
        );
    }
    let gw = errors
        .iter()
        .find(|e| e.key() == Some("trunk[0].gateways[2]"))
        .unwrap();
    assert!(matches!(gw.kind(), ConfigErrorKind::BadGatewayUri { .. }));
    assert!(
        gw.to_string()
            .starts_with("sip-profiles/trunks/a.toml: trunk[0].gateways[2]:")
    );
    let reg = errors
        .iter()
        .find(|e| e.key() == Some("trunk[1].register"))
        .unwrap();
    assert!(matches!(reg.kind(), ConfigErrorKind::RegisterWithoutAuth));
}

#[test]
fn toml_syntax_error_names_the_line() {
    let (_, _, errors) = parse("[[trunk]]\nname = \n");
    assert_eq!(errors.len(), 1);
    assert!(matches!(
        errors[0].location(),
        Location::Line { line: 2, .. }
    ));
}

fn file(text: &str, name: &str) -> (PathBuf, Vec<TrunkConfig>, Vec<RouteGroupConfig>) {
    let path = PathBuf::from(format!("sip-profiles/trunks/{name}"));
    let (t, g, e) = parse_trunk_file(&path, text);
    assert!(e.is_empty(), "{e:?}");
    (path, t, g)
}

#[test]
fn cross_file_errors_name_file_and_key_all_at_once() {
    let a = file(
        r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1"]
[[trunk]]
name = "b"
profile = "nowhere"
gateways = ["sip:127.0.0.1"]
[[route_group]]
name = "g"
trunks = ["a"]
"#,
        "a.toml",
    );
    let b = file(
        r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.2"]
[[route_group]]
name = "g"
trunks = ["a"]
[[route_group]]
name = "h"
trunks = ["a", { name = "ghost", weight = 3 }]
"#,
        "b.toml",
    );
    let (config, errors) = TrunksConfig::build(vec![a, b], &["carriers"]);
    let found: Vec<(String, String)> = errors
        .iter()
        .map(|e| (e.file().display().to_string(), e.key().unwrap().to_owned()))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "sip-profiles/trunks/a.toml".into(),
                "trunk[1].profile".into()
            ),
            ("sip-profiles/trunks/b.toml".into(), "trunk[0].name".into()),
            (
                "sip-profiles/trunks/b.toml".into(),
                "route_group[0].name".into()
            ),
            (
                "sip-profiles/trunks/b.toml".into(),
                "route_group[1].trunks[1]".into()
            ),
        ]
    );
    assert!(matches!(
        errors[0].kind(),
        ConfigErrorKind::UnknownReference {
            what: "profile",
            ..
        }
    ));
    assert!(matches!(
        errors[1].kind(),
        ConfigErrorKind::DuplicateName { what: "trunk", .. }
    ));
    assert!(matches!(
        errors[3].kind(),
        ConfigErrorKind::UnknownReference { what: "trunk", .. }
    ));
    assert!(
        errors[1]
            .to_string()
            .contains("also in sip-profiles/trunks/a.toml trunk[0]")
    );
    assert_eq!(config.warnings().len(), 1);
    assert!(matches!(
        config.warnings()[0].kind(),
        ConfigWarningKind::WeightIgnored { .. }
    ));
    assert!(config.group("h").is_some());
    assert_eq!(
        config.trunk("a").unwrap().gateways()[0].as_str(),
        "sip:127.0.0.1"
    );
}

#[test]
fn context_refs_list_trunk_and_did_contexts_with_keys() {
    let (_, trunks, groups) = file(FULL, "a.toml");
    let (config, errors) = TrunksConfig::build(
        vec![(PathBuf::from("sip-profiles/trunks/a.toml"), trunks, groups)],
        &["carriers"],
    );
    assert!(errors.is_empty());
    let refs = config.context_refs();
    assert!(refs.contains(&(
        PathBuf::from("sip-profiles/trunks/a.toml"),
        "trunk[0].context".into(),
        "from-carriers".into()
    )));
    assert!(refs.contains(&(
        PathBuf::from("sip-profiles/trunks/a.toml"),
        "trunk[0].dids.\"+15551230002\"".into(),
        "support".into()
    )));
    assert_eq!(refs.len(), 3);
}

#[test]
fn rate_tables_are_read_relative_to_the_trunk_file_and_attached() {
    let dir = tempfile::tempdir().unwrap();
    let trunks_dir = dir.path().join("trunks");
    std::fs::create_dir_all(trunks_dir.join("rates")).unwrap();
    std::fs::write(trunks_dir.join("rates/a.csv"), "1,0.01\n44,0.02\n").unwrap();
    std::fs::write(trunks_dir.join("rates/b.csv"), "1,0.01\nx,1\n").unwrap();
    let path = trunks_dir.join("t.toml");
    let text = r#"
[[trunk]]
name = "a"
profile = "p"
gateways = ["sip:127.0.0.1"]
rates = "rates/a.csv"
[[trunk]]
name = "b"
profile = "p"
gateways = ["sip:127.0.0.1"]
rates = "rates/b.csv"
"#;
    let (t, g, e) = parse_trunk_file(&path, text);
    assert!(e.is_empty());
    let (mut config, errors) = TrunksConfig::build(vec![(path, t, g)], &["p"]);
    assert!(errors.is_empty());
    let errors = config.load_rates();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].file(), trunks_dir.join("rates/b.csv"));
    assert_eq!(errors[0].location(), &Location::Line { line: 2, column: 1 });
    assert_eq!(config.trunk("a").unwrap().rates().unwrap().len(), 2);
    assert!(config.trunk("b").unwrap().rates().is_none());
}
