//! Whole-file tests of config loading: each check, as the operator sees its message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use sip_core::auth::{Algorithm, Secret};
use sip_core::transaction::TimerConfig;

use super::*;

const FILE: &str = "sip-profiles/t.toml";
const HEAD: &str = r#"
[profile]
name = "t"
domain = "example.com"
listen = ["udp:127.0.0.1:5060"]
"#;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    parse_sources([(FILE, text)])
}

fn valid(text: &str) -> Config {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// The displayed errors, one string each.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

fn with_head(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

fn assert_one_error(text: &str, want: &str) {
    assert_eq!(errors(text), vec![want.to_owned()], "config:\n{text}");
}

#[test]
fn shipped_config_directory_validates_with_users_1000_to_1019() {
    let config = load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let [profile] = config.profiles() else {
        panic!("expected one profile");
    };
    assert_eq!(profile.name(), "default");
    assert_eq!(profile.domain(), "127.0.0.1");
    assert_eq!(profile.users().len(), 20);
    for n in 1000..1020 {
        let user = profile.user(&n.to_string()).unwrap();
        assert_eq!(user.secret(), &Secret::Password(format!("switchyard-{n}")));
    }
    assert_eq!(profile.auth().realm(), "127.0.0.1");
    let moh = profile
        .media()
        .music_on_hold()
        .expect("the shipped music on hold");
    assert_eq!(moh.name(), "moh/default.wav");
    assert_eq!(
        profile.recording().policy(),
        crate::config::RecordPolicy::None
    );
    assert!(profile.recording().directory().ends_with("var/recordings"));
    assert_eq!(
        config.summary().to_string(),
        "1 profile, 20 users, listening on udp:127.0.0.1:5060, tcp:127.0.0.1:5060"
    );
    let warnings: Vec<_> = config.warnings().iter().map(|w| w.kind().clone()).collect();
    assert_eq!(warnings, vec![ConfigWarningKind::RandomNonceKey]);
}

#[test]
fn three_mistakes_are_all_listed_with_file_and_key() {
    let text = r#"
[profile]
name = "default"
domain = "127.0.0.1"
listen = ["udp:127.0.0.1:5060", "tcp:127.0.0.1"]

[ban]
max_failure = 5

[registrar]
min_expires = 7200
"#;
    assert_eq!(
        errors(text),
        vec![
            "sip-profiles/t.toml: profile.listen[1]: invalid listen address \"tcp:127.0.0.1\": \
             expected ip:port after the transport, with IPv6 in brackets ([::1]:5060)",
            "sip-profiles/t.toml: ban.max_failure: unknown key `max_failure`, expected one of \
             `max_failures`, `window_secs`, `ban_secs`",
            "sip-profiles/t.toml: registrar.min_expires: must be <= default_expires (3600)",
        ]
    );
}

#[test]
fn config_errors_display_one_error_per_line() {
    let err = parse("[profile]\n").unwrap_err();
    assert_eq!(err.len(), 3);
    assert_eq!(
        err.to_string(),
        "sip-profiles/t.toml: profile.name: missing (required)\n\
         sip-profiles/t.toml: profile.domain: missing (required)\n\
         sip-profiles/t.toml: profile.listen: missing (required)"
    );
}

#[test]
fn a_minimal_profile_gets_every_default() {
    let config = valid(HEAD);
    let p = &config.profiles()[0];
    assert_eq!(p.source(), Path::new(FILE));
    assert_eq!(
        p.listen(),
        &[ListenAddr {
            transport: Transport::Udp,
            addr: "127.0.0.1:5060".parse().unwrap()
        }]
    );
    assert_eq!(p.auth().realm(), "example.com");
    assert_eq!(p.auth().algorithms(), &[Algorithm::Md5, Algorithm::Sha256]);
    assert_eq!(p.auth().nonce_lifetime(), Duration::from_secs(300));
    assert!(p.auth().nonce_key().is_none());
    assert_eq!(p.ban(), &BanPolicy::default());
    assert_eq!(p.ban().duration(), Some(Duration::from_secs(300)));
    assert_eq!(p.registrar(), &RegistrarPolicy::default());
    assert_eq!(p.registrar().min_expires(), Duration::from_secs(60));
    assert_eq!(p.sip(), &SipSettings::default());
    assert_eq!(p.sip().t1(), Duration::from_millis(500));
    assert_eq!(p.sip().timers(), TimerConfig::default());
    assert!(p.users().is_empty());
}

#[test]
fn every_key_can_be_set() {
    let config = valid(&with_head(
        r#"
[auth]
realm = "calls"
algorithms = ["md5"]
nonce_lifetime_secs = 60
nonce_key = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F"
[ban]
max_failures = 3
window_secs = 10
ban_secs = 0
[registrar]
default_expires = 600
min_expires = 600
max_expires = 600
max_contacts = 1
[sip]
t1_ms = 100
t2_ms = 100
t4_ms = 1000
max_message_size = 4096
udp_queue = 8
retry_after_secs = 30
[[users]]
name = "alice"
ha1_md5 = "0123456789ABCDEF0123456789abcdef"
display_name = "Alice"
"#,
    ));
    let p = &config.profiles()[0];
    assert_eq!(p.auth().realm(), "calls");
    assert_eq!(p.auth().algorithms(), &[Algorithm::Md5]);
    assert_eq!(p.auth().nonce_lifetime(), Duration::from_secs(60));
    let key = p.auth().nonce_key().unwrap();
    assert_eq!(key.as_bytes(), (0u8..32).collect::<Vec<_>>());
    assert_eq!(format!("{key:?}"), "NonceKey(..)");
    assert_eq!(p.ban().max_failures(), 3);
    assert_eq!(p.ban().window(), Duration::from_secs(10));
    assert_eq!(p.ban().duration(), None, "ban_secs = 0 disables banning");
    assert_eq!(p.registrar().default_expires(), Duration::from_secs(600));
    assert_eq!(p.registrar().max_expires(), Duration::from_secs(600));
    assert_eq!(p.registrar().max_contacts(), 1);
    assert_eq!(p.sip().t2(), Duration::from_millis(100));
    assert_eq!(p.sip().t4(), Duration::from_secs(1));
    assert_eq!(p.sip().max_message_size(), 4096);
    assert_eq!(p.sip().udp_queue(), 8);
    assert_eq!(p.sip().retry_after(), Duration::from_secs(30));
    let alice = p.user("alice").unwrap();
    assert_eq!(alice.name(), "alice");
    assert_eq!(alice.display_name(), Some("Alice"));
    assert_eq!(
        alice.secret(),
        &Secret::Ha1 {
            md5: Some("0123456789abcdef0123456789abcdef".into()),
            sha256: None
        },
        "HA1 is stored lower-case"
    );
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
}

#[test]
fn unknown_keys_are_reported_in_every_section() {
    let text = with_head(
        r#"
colour = "blue"
[auth]
realms = "x"
[sip]
t3_ms = 1
[[users]]
name = "1000"
password = "p"
pasword = "p"
[extra]
a = 1
"#,
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    assert!(errs.iter().any(|e| e.starts_with(
        "sip-profiles/t.toml: profile.colour: unknown key `colour`, expected one of `name`, `domain`, `listen`"
    )));
    assert!(errs.iter().any(|e| e.starts_with(
        "sip-profiles/t.toml: extra: unknown section (expected one of: profile, auth, ban, registrar, sip, calls, media, recording, users)"
    )));
    assert!(
        errs.iter()
            .any(|e| e.contains(": auth.realms: unknown key `realms`"))
    );
    assert!(
        errs.iter()
            .any(|e| e.contains(": sip.t3_ms: unknown key `t3_ms`"))
    );
    assert!(
        errs.iter()
            .any(|e| e.contains(": users[0].pasword: unknown key `pasword`"))
    );
}

#[test]
fn wrong_types_are_reported_per_key_and_other_keys_still_checked() {
    let errs = errors(&with_head(
        r#"
[registrar]
min_expires = "60"
max_expires = 10
[ban]
max_failures = -1
"#,
    ));
    assert_eq!(
        errs,
        vec![
            "sip-profiles/t.toml: ban.max_failures: invalid value: integer `-1`, expected u32",
            "sip-profiles/t.toml: registrar.min_expires: invalid type: string \"60\", expected u32",
            "sip-profiles/t.toml: registrar.default_expires: must be <= max_expires (10)",
        ]
    );
}

#[test]
fn a_mistyped_key_is_not_also_reported_by_the_checks_that_use_it() {
    assert_one_error(
        &with_head("[sip]\nt1_ms = 9999999999\n"),
        "sip-profiles/t.toml: sip.t1_ms: invalid value: integer `9999999999`, expected u32",
    );
}

#[test]
fn toml_syntax_errors_name_file_line_and_column() {
    assert_one_error(
        "[profile]\nname = \"t\"\ndomain = \n",
        "sip-profiles/t.toml:3:10: TOML syntax: invalid string; expected `\"`, `'`",
    );
    let errs = errors("[profile]\nname = \"a\"\nname = \"b\"\n");
    assert!(
        errs[0].starts_with("sip-profiles/t.toml:3:1: TOML syntax: duplicate key"),
        "{errs:?}"
    );
}

#[test]
fn sections_of_the_wrong_shape_are_reported() {
    let errs = errors(&format!("auth = 1\nusers = 2\n{HEAD}"));
    assert_eq!(
        errs,
        vec![
            "sip-profiles/t.toml: auth: must be a table",
            "sip-profiles/t.toml: users: must be an array of tables ([[users]])",
        ]
    );
    assert_one_error(
        &with_head("[users]\nname = \"1000\"\n"),
        "sip-profiles/t.toml: users: must be an array of tables ([[users]])",
    );
    assert_one_error(
        "users = [1]\n[profile]\nname = \"t\"\ndomain = \"a\"\nlisten = [\"udp:127.0.0.1:1\"]\n",
        "sip-profiles/t.toml: users[0]: must be a table ([[users]] entry)",
    );
}

#[test]
fn a_missing_profile_section_is_reported() {
    assert_one_error(
        "[ban]\nmax_failures = 2\n",
        "sip-profiles/t.toml: profile: missing (required)",
    );
}

#[test]
fn profile_name_domain_and_listen_are_checked() {
    let errs = errors(
        r#"
[profile]
name = "my profile"
domain = "exa mple.com"
listen = []
"#,
    );
    assert_eq!(
        errs,
        vec![
            "sip-profiles/t.toml: profile.name: invalid profile name \"my profile\": use letters, \
             digits, '.', '_' and '-' (at most 64)",
            "sip-profiles/t.toml: profile.domain: invalid domain \"exa mple.com\": use a host name, \
             an IPv4 address or an IPv6 address",
            "sip-profiles/t.toml: profile.listen: must not be empty",
        ]
    );
    assert_one_error(
        "[profile]\nname = \"\"\ndomain = \"a.b\"\nlisten = [\"udp:127.0.0.1:1\"]\n",
        "sip-profiles/t.toml: profile.name: must not be empty",
    );
}

#[test]
fn domains_are_host_names_or_addresses() {
    for (given, resolved) in [
        ("Example.COM", "example.com"),
        ("sip.example.com.", "sip.example.com"),
        ("192.0.2.1", "192.0.2.1"),
        ("::1", "[::1]"),
        ("[2001:DB8::1]", "[2001:db8::1]"),
        ("localhost", "localhost"),
    ] {
        let text = format!(
            "[profile]\nname = \"t\"\ndomain = \"{given}\"\nlisten = [\"udp:127.0.0.1:1\"]\n"
        );
        assert_eq!(valid(&text).profiles()[0].domain(), resolved, "{given}");
    }
    for bad in [
        "1.2.3.999",
        "-a.com",
        "a..com",
        "user@host",
        "a_b.com",
        "[::1",
    ] {
        let text = format!(
            "[profile]\nname = \"t\"\ndomain = \"{bad}\"\nlisten = [\"udp:127.0.0.1:1\"]\n"
        );
        let errs = errors(&text);
        assert!(
            errs[0].contains("profile.domain: invalid domain"),
            "{bad}: {errs:?}"
        );
    }
}

#[test]
fn bad_listen_addresses_are_each_reported_with_their_index() {
    let errs = errors(
        r#"
[profile]
name = "t"
domain = "a.b"
listen = ["127.0.0.1:5060", "tls:127.0.0.1:5061", "udp:[::1]:5060", "tcp:::1:5060"]
"#,
    );
    assert_eq!(
        errs,
        vec![
            "sip-profiles/t.toml: profile.listen[0]: invalid listen address \"127.0.0.1:5060\": \
             expected transport:ip:port, e.g. udp:127.0.0.1:5060 or tcp:[::1]:5060",
            "sip-profiles/t.toml: profile.listen[1]: invalid listen address \"tls:127.0.0.1:5061\": \
             unsupported transport \"tls\" (supported: udp, tcp)",
            "sip-profiles/t.toml: profile.listen[3]: invalid listen address \"tcp:::1:5060\": \
             expected ip:port after the transport, with IPv6 in brackets ([::1]:5060)",
        ]
    );
}

fn profile_file(name: &str, listen: &str) -> String {
    format!("[profile]\nname = \"{name}\"\ndomain = \"a.b\"\nlisten = [{listen}]\n")
}

#[test]
fn duplicate_listen_addresses_are_reported_within_and_across_profiles() {
    let a = profile_file("a", r#""udp:127.0.0.1:5060", "udp:127.0.0.1:5060""#);
    let b = profile_file("b", r#""tcp:127.0.0.1:5060", "udp:127.0.0.1:5060""#);
    let err = parse_sources([("sip-profiles/a.toml", a), ("sip-profiles/b.toml", b)]).unwrap_err();
    let errs: Vec<String> = err.errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        errs,
        vec![
            "sip-profiles/a.toml: profile.listen[1]: udp:127.0.0.1:5060 is already listed in \
             sip-profiles/a.toml profile.listen[0]",
            "sip-profiles/b.toml: profile.listen[1]: udp:127.0.0.1:5060 is already listed in \
             sip-profiles/a.toml profile.listen[0]",
        ]
    );
}

#[test]
fn a_wildcard_overlapping_a_specific_address_is_reported() {
    let a = profile_file("a", r#""udp:127.0.0.1:5060""#);
    let b = profile_file(
        "b",
        r#""udp:0.0.0.0:5060", "udp:[::]:5060", "udp:0.0.0.0:0""#,
    ) + "[media]\naddress = \"192.0.2.1\"\n";
    let err = parse_sources([("sip-profiles/a.toml", a), ("sip-profiles/b.toml", b)]).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert_eq!(
        err.to_string(),
        "sip-profiles/b.toml: profile.listen[0]: udp:0.0.0.0:5060 overlaps udp:127.0.0.1:5060 in \
         sip-profiles/a.toml profile.listen[0]: a wildcard and a specific address cannot share a port"
    );
}

#[test]
fn two_profiles_on_different_addresses_both_load_in_order() {
    let a = profile_file("a", r#""udp:127.0.0.1:5060""#);
    let b = profile_file("b", r#""udp:127.0.0.1:5070", "tcp:[::1]:5070""#);
    let config = parse_sources([("a.toml", a), ("b.toml", b)]).unwrap();
    let names: Vec<_> = config.profiles().iter().map(Profile::name).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(config.profile("b").is_some());
    assert_eq!(
        config.summary().to_string(),
        "2 profiles, 0 users, listening on udp:127.0.0.1:5060, udp:127.0.0.1:5070, tcp:[::1]:5070"
    );
}

#[test]
fn duplicate_profile_names_are_reported() {
    let a = profile_file("same", r#""udp:127.0.0.1:5060""#);
    let b = profile_file("same", r#""udp:127.0.0.1:5070""#);
    let err = parse_sources([("sip-profiles/a.toml", a), ("sip-profiles/b.toml", b)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sip-profiles/b.toml: profile.name: duplicate profile name \"same\" (also in sip-profiles/a.toml)"
    );
}

#[test]
fn no_sources_is_an_error() {
    let err = parse_sources(Vec::<(&str, &str)>::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sip-profiles: no profile files: add at least one *.toml file"
    );
}

#[test]
fn registrar_expiries_must_be_ordered_and_positive() {
    assert_one_error(
        &with_head("[registrar]\ndefault_expires = 30\n"),
        "sip-profiles/t.toml: registrar.min_expires: must be <= default_expires (30)",
    );
    assert_one_error(
        &with_head("[registrar]\nmax_expires = 3599\n"),
        "sip-profiles/t.toml: registrar.default_expires: must be <= max_expires (3599)",
    );
    assert_one_error(
        &with_head("[registrar]\nmin_expires = 0\n"),
        "sip-profiles/t.toml: registrar.min_expires: must be between 1 and 4294967295, got 0",
    );
    assert_one_error(
        &with_head("[registrar]\nmax_contacts = 0\n"),
        "sip-profiles/t.toml: registrar.max_contacts: must be between 1 and 1000, got 0",
    );
}

#[test]
fn algorithms_must_be_known_unique_and_not_empty() {
    assert_one_error(
        &with_head("[auth]\nalgorithms = []\n"),
        "sip-profiles/t.toml: auth.algorithms: must not be empty",
    );
    assert_eq!(
        errors(&with_head(
            "[auth]\nalgorithms = [\"SHA-256\", \"SHA-512-256\", \"sha-256\", \"MD5-sess\"]\n"
        )),
        vec![
            "sip-profiles/t.toml: auth.algorithms[1]: unknown algorithm \"SHA-512-256\" \
             (supported: SHA-256, MD5)",
            "sip-profiles/t.toml: auth.algorithms[2]: algorithm \"sha-256\" listed twice",
            "sip-profiles/t.toml: auth.algorithms[3]: unknown algorithm \"MD5-sess\" \
             (supported: SHA-256, MD5)",
        ]
    );
}

#[test]
fn nonce_key_must_be_long_enough_hex() {
    let want = "sip-profiles/t.toml: auth.nonce_key: must be an even number of hex digits, \
                at least 64 (32 bytes)";
    for bad in ["abc", &"ab".repeat(31), &"zz".repeat(32), &"a".repeat(65)] {
        assert_one_error(
            &with_head(&format!("[auth]\nnonce_key = \"{bad}\"\n")),
            want,
        );
    }
}

#[test]
fn realm_is_checked_and_defaults_to_the_domain() {
    assert_one_error(
        &with_head("[auth]\nrealm = \"\"\n"),
        "sip-profiles/t.toml: auth.realm: must not be empty",
    );
    assert_one_error(
        &with_head("[auth]\nrealm = \"a\\\"b\"\n"),
        "sip-profiles/t.toml: auth.realm: invalid realm \"a\\\"b\": no quotes, backslashes or \
         control characters",
    );
}

#[test]
fn auth_and_ban_numbers_are_range_checked() {
    let errs = errors(&with_head(
        "[auth]\nnonce_lifetime_secs = 0\n[ban]\nmax_failures = 0\nwindow_secs = 0\nban_secs = 700000\n",
    ));
    assert_eq!(
        errs,
        vec![
            "sip-profiles/t.toml: auth.nonce_lifetime_secs: must be between 1 and 86400, got 0",
            "sip-profiles/t.toml: ban.max_failures: must be between 1 and 1000, got 0",
            "sip-profiles/t.toml: ban.window_secs: must be between 1 and 86400, got 0",
            "sip-profiles/t.toml: ban.ban_secs: must be between 0 and 604800, got 700000",
        ]
    );
}

#[test]
fn sip_timers_must_keep_t1_at_most_t2_and_limits_in_range() {
    assert_one_error(
        &with_head("[sip]\nt1_ms = 5000\n"),
        "sip-profiles/t.toml: sip.t1_ms: must be <= t2_ms (4000)",
    );
    let errs = errors(&with_head(
        "[sip]\nt4_ms = 0\nmax_message_size = 100\nudp_queue = 0\nretry_after_secs = 0\n",
    ));
    assert_eq!(
        errs,
        vec![
            "sip-profiles/t.toml: sip.t4_ms: must be between 1 and 600000, got 0",
            "sip-profiles/t.toml: sip.max_message_size: must be between 1024 and 1048576, got 100",
            "sip-profiles/t.toml: sip.udp_queue: must be between 1 and 1048576, got 0",
            "sip-profiles/t.toml: sip.retry_after_secs: must be between 1 and 86400, got 0",
        ]
    );
}

#[test]
fn duplicate_user_names_are_reported() {
    assert_one_error(
        &with_head(
            "[[users]]\nname = \"1000\"\npassword = \"a\"\n\
             [[users]]\nname = \"1001\"\npassword = \"b\"\n\
             [[users]]\nname = \"1000\"\npassword = \"c\"\n",
        ),
        "sip-profiles/t.toml: users[2].name: duplicate user name \"1000\" (first at users[0])",
    );
}

#[test]
fn a_user_needs_exactly_one_kind_of_secret() {
    let errs = errors(&with_head(
        "[[users]]\nname = \"1000\"\n\
         [[users]]\nname = \"1001\"\npassword = \"p\"\nha1_md5 = \"0123456789abcdef0123456789abcdef\"\n\
         [[users]]\nname = \"1002\"\npassword = \"\"\n",
    ));
    assert_eq!(
        errs,
        vec![
            "sip-profiles/t.toml: users[0]: no secret: set password, or ha1_md5 and/or ha1_sha256",
            "sip-profiles/t.toml: users[1]: two secrets: set either password or \
             ha1_md5/ha1_sha256, not both",
            "sip-profiles/t.toml: users[2].password: must not be empty",
        ]
    );
}

#[test]
fn ha1_values_must_have_the_hash_length_in_hex() {
    let errs = errors(&with_head(
        "[[users]]\nname = \"1000\"\nha1_md5 = \"abc\"\nha1_sha256 = \"0123456789abcdef0123456789abcdef\"\n",
    ));
    assert_eq!(
        errs,
        vec![
            "sip-profiles/t.toml: users[0].ha1_md5: must be exactly 32 hex digits (MD5 of \
             user:realm:password)",
            "sip-profiles/t.toml: users[0].ha1_sha256: must be exactly 64 hex digits (SHA-256 of \
             user:realm:password)",
        ]
    );
    let g32 = "g".repeat(32);
    assert_one_error(
        &with_head(&format!(
            "[[users]]\nname = \"1000\"\nha1_md5 = \"{g32}\"\n"
        )),
        "sip-profiles/t.toml: users[0].ha1_md5: must be exactly 32 hex digits (MD5 of \
         user:realm:password)",
    );
}

#[test]
fn a_user_whose_ha1_covers_no_offered_algorithm_is_an_error_and_a_partial_one_a_warning() {
    let sha = "a".repeat(64);
    assert_one_error(
        &with_head(&format!(
            "[auth]\nalgorithms = [\"MD5\"]\n[[users]]\nname = \"1000\"\nha1_sha256 = \"{sha}\"\n"
        )),
        "sip-profiles/t.toml: users[0]: has no HA1 for any offered algorithm (MD5)",
    );
    let config = valid(&with_head(&format!(
        "[[users]]\nname = \"1000\"\nha1_sha256 = \"{sha}\"\n"
    )));
    let warnings: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    assert!(
        warnings.contains(
            &"sip-profiles/t.toml: users[0]: user \"1000\" has no HA1 for offered algorithm MD5"
                .to_owned()
        )
    );
}

#[test]
fn user_names_and_display_names_are_checked() {
    let errs = errors(&with_head(
        "[[users]]\npassword = \"p\"\n\
         [[users]]\nname = \"al ice\"\npassword = \"p\"\n\
         [[users]]\nname = \"bob\"\npassword = \"p\"\ndisplay_name = \"Bob\\r\\nVia: x\"\n",
    ));
    assert_eq!(
        errs,
        vec![
            "sip-profiles/t.toml: users[0].name: missing (required)",
            "sip-profiles/t.toml: users[1].name: invalid user name \"al ice\": use letters, \
             digits and -_.!~*'()&=+$,;?/ (at most 64)",
            "sip-profiles/t.toml: users[2].display_name: invalid display name \"Bob\\r\\nVia: x\": \
             no quotes, backslashes or control characters",
        ]
    );
}

#[test]
fn errors_from_several_files_are_all_reported() {
    let a = "[profile]\nname = \"a\"\n";
    let b = with_head("[sip]\nt1_ms = 0\n");
    let err = parse_sources([
        ("sip-profiles/a.toml", a.to_owned()),
        ("sip-profiles/b.toml", b),
    ])
    .unwrap_err();
    let files: Vec<_> = err
        .errors()
        .iter()
        .map(|e| e.file().display().to_string())
        .collect();
    assert_eq!(
        files,
        [
            "sip-profiles/a.toml",
            "sip-profiles/a.toml",
            "sip-profiles/b.toml"
        ]
    );
    assert_eq!(err.errors()[2].key(), Some("sip.t1_ms"));
    assert!(matches!(
        err.errors()[2].kind(),
        ConfigErrorKind::OutOfRange { value: 0, .. }
    ));
}

#[test]
fn profile_kind_must_be_phones_or_trunks() {
    let errs = errors(&HEAD.replace("listen", "kind = \"carrier\"\nlisten"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("sip-profiles/t.toml: profile.kind:"),
        "{errs:?}"
    );
}
