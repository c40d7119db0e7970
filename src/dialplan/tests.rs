//! Tests of the static routing decision.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::*;
use crate::config::dialplan::{DialplanConfig, parse_dialplan_file};

pub(super) fn plan(text: &str) -> DialplanConfig {
    let path = Path::new("dialplans/test.toml");
    let (contexts, errors) = parse_dialplan_file(path, text);
    assert!(errors.is_empty(), "{errors:?}");
    let (plan, errors) = DialplanConfig::build(vec![(PathBuf::from(path), contexts)]);
    assert!(errors.is_empty(), "{errors:?}");
    plan
}

/// A dialplan of one context "c" with these rules (each a `[[context.rule]]` body).
fn rules(rules: &[&str]) -> DialplanConfig {
    let mut text = String::from("[[context]]\nname = \"c\"\n");
    for r in rules {
        text.push_str("[[context.rule]]\n");
        text.push_str(r);
        text.push('\n');
    }
    plan(&text)
}

pub(super) fn call(destination: &str) -> RouteRequest {
    RouteRequest {
        context: "c".into(),
        destination: destination.into(),
        caller: Some("1000".into()),
        caller_name: Some("Desk 1000".into()),
        headers: Vec::new(),
        from_trunk: None,
        profile: "default".into(),
    }
}

pub(super) fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn noon() -> DateTime<Utc> {
    at("2026-06-03T12:00:00Z")
}

fn ring(extensions: &[&str]) -> Route {
    Route::Ring {
        steps: vec![RingStep {
            extensions: extensions.iter().map(|e| e.to_string()).collect(),
            timeout_secs: None,
        }],
        caller: CallerChange::default(),
        record: false,
    }
}

/// The extension a one-rule-per-extension plan rings, or the hangup status as text.
fn outcome(plan: &DialplanConfig, request: &RouteRequest, now: DateTime<Utc>) -> String {
    match decide(plan, request, now) {
        Route::Ring { steps, .. } => steps[0].extensions.join(","),
        Route::RouteGroup { group, number, .. } => format!("{group}:{number}"),
        Route::Hangup { status, .. } => status.to_string(),
        Route::Ivr { menu, .. } => format!("ivr:{menu}"),
    }
}

#[test]
fn the_shipped_default_context_rings_the_dialled_user() {
    let plan = plan(include_str!("../../dialplans/default.toml"));
    let mut request = call("1001");
    request.context = "default".into();
    assert_eq!(decide(&plan, &request, noon()), ring(&["1001"]));
}

#[test]
fn exact_prefix_regex_and_country_destinations_match() {
    let plan = rules(&[
        r#"destination = "1001"
ring = ["exact"]"#,
        r#"destination_prefix = "9"
ring = ["prefix"]"#,
        r#"destination_regex = '^\*\d\d$'
ring = ["regex"]"#,
        r#"destination_country = "GB"
ring = ["gb"]"#,
    ]);
    let decide_for = |d: &str| outcome(&plan, &call(d), noon());
    assert_eq!(decide_for("1001"), "exact");
    assert_eq!(decide_for("10011"), "404");
    assert_eq!(decide_for("912"), "prefix");
    assert_eq!(decide_for("*72"), "regex");
    assert_eq!(decide_for("*723"), "404");
    assert_eq!(decide_for("+442071234567"), "gb");
    assert_eq!(decide_for("+12125551234"), "404");
    // Country matchers need E.164: a national number has no region.
    assert_eq!(decide_for("02071234567"), "404");
}

#[test]
fn caller_matchers_never_match_a_call_without_a_caller() {
    let plan = rules(&[
        r#"caller = "1000"
ring = ["exact"]"#,
        r#"caller_prefix = "+44"
caller_country = "GB"
ring = ["uk"]"#,
        r#"caller_regex = '^anon'
ring = ["anon"]"#,
        r#"ring = ["anyone"]"#,
    ]);
    let from = |caller: Option<&str>| {
        let mut r = call("5");
        r.caller = caller.map(str::to_owned);
        outcome(&plan, &r, noon())
    };
    assert_eq!(from(Some("1000")), "exact");
    assert_eq!(from(Some("+442071234567")), "uk");
    assert_eq!(from(Some("+12125551234")), "anyone");
    assert_eq!(from(Some("anonymous")), "anon");
    assert_eq!(from(None), "anyone");
}

#[test]
fn a_header_matches_by_case_insensitive_name_and_value_regex() {
    let plan = rules(&[
        r#"header = { name = "X-Campaign", regex = "^vip" }
ring = ["vip"]"#,
        r#"ring = ["normal"]"#,
    ]);
    let with = |headers: &[(&str, &str)]| {
        let mut r = call("5");
        r.headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        outcome(&plan, &r, noon())
    };
    assert_eq!(with(&[("x-campaign", "vip-gold")]), "vip");
    assert_eq!(with(&[("X-CAMPAIGN", "vip")]), "vip");
    assert_eq!(
        with(&[("x-campaign", "basic"), ("x-campaign", "vip")]),
        "vip"
    );
    assert_eq!(with(&[("x-campaign", "basic")]), "normal");
    assert_eq!(with(&[("x-other", "vip")]), "normal");
    assert_eq!(with(&[]), "normal");
}

#[test]
fn the_first_matching_rule_wins_and_no_match_is_404() {
    let plan = rules(&[
        r#"destination_prefix = "1"
ring = ["first"]"#,
        r#"destination = "1001"
ring = ["second"]"#,
    ]);
    assert_eq!(outcome(&plan, &call("1001"), noon()), "first");
    assert_eq!(
        decide(&plan, &call("2001"), noon()),
        Route::hangup(404, None)
    );
}

#[test]
fn captures_fill_ring_number_and_caller_templates() {
    let plan = rules(&[
        r#"destination_regex = '^\*(?P<ext>\d{4})$'
ring = ["${ext}", "sip-$1"]
set_caller_name = "Via $0"
set_caller_number = "+1555$1"
privacy = true"#,
        r#"destination_regex = '^9(\d+)$'
number = "+1$1"
route_group = "pstn"
allow_trunk_origin = true"#,
    ]);
    assert_eq!(
        decide(&plan, &call("*1002"), noon()),
        Route::Ring {
            steps: vec![RingStep {
                extensions: vec!["1002".into(), "sip-1002".into()],
                timeout_secs: None
            }],
            caller: CallerChange {
                number: Some("+15551002".into()),
                name: Some("Via *1002".into()),
                privacy: true,
            },
            record: false,
        }
    );
    assert_eq!(
        decide(&plan, &call("92125551234"), noon()),
        Route::RouteGroup {
            group: "pstn".into(),
            number: "+12125551234".into(),
            caller: CallerChange::default(),
            allow_trunk_origin: true,
            record: false,
        }
    );
}

#[test]
fn ring_sequential_gives_steps_with_their_timeouts_and_hangup_its_reason() {
    let plan = rules(&[
        r#"destination = "600"
ring_sequential = [{ extensions = ["1001", "1002"], timeout_secs = 15 }, { extensions = ["1003"] }]"#,
        r#"hangup = 486
reason = "Busy Here""#,
    ]);
    let Route::Ring { steps, .. } = decide(&plan, &call("600"), noon()) else {
        panic!("not a ring route");
    };
    assert_eq!(
        steps,
        [
            RingStep {
                extensions: vec!["1001".into(), "1002".into()],
                timeout_secs: Some(15)
            },
            RingStep {
                extensions: vec!["1003".into()],
                timeout_secs: None
            },
        ]
    );
    assert_eq!(
        decide(&plan, &call("601"), noon()),
        Route::hangup(486, Some("Busy Here"))
    );
}

#[test]
fn normalize_rewrites_national_numbers_to_e164_and_leaves_others_unchanged() {
    let plan = rules(&[r#"normalize = "US"
route_group = "pstn""#]);
    assert_eq!(
        outcome(&plan, &call("2125551234"), noon()),
        "pstn:+12125551234"
    );
    assert_eq!(
        outcome(&plan, &call("(212) 555-1234"), noon()),
        "pstn:+12125551234"
    );
    assert_eq!(
        outcome(&plan, &call("+442071234567"), noon()),
        "pstn:+442071234567"
    );
    assert_eq!(outcome(&plan, &call("ext-x"), noon()), "pstn:ext-x");
    assert_eq!(outcome(&plan, &call("1001"), noon()), "pstn:1001");
    assert_eq!(outcome(&plan, &call("911"), noon()), "pstn:911");
    // Fictional 555 numbers have a valid length and are normalized too.
    assert_eq!(
        outcome(&plan, &call("5551230001"), noon()),
        "pstn:+15551230001"
    );
    assert_eq!(
        outcome(&plan, &call("011442071234567"), noon()),
        "pstn:+442071234567"
    );
}

#[test]
fn goto_continues_in_the_other_context_with_the_rewritten_number() {
    let plan = plan(
        r#"
[[context]]
name = "c"
[[context.rule]]
destination_regex = '^0(\d+)$'
number = "$1"
normalize = "US"
set_caller_number = "+15551230000"
goto = "out"

[[context]]
name = "out"
[[context.rule]]
caller = "+15551230000"
destination_country = "US"
privacy = true
route_group = "pstn"
"#,
    );
    assert_eq!(
        decide(&plan, &call("02125551234"), noon()),
        Route::RouteGroup {
            group: "pstn".into(),
            number: "+12125551234".into(),
            caller: CallerChange {
                number: Some("+15551230000".into()),
                name: None,
                privacy: true,
            },
            allow_trunk_origin: false,
            record: false,
        }
    );
}

#[test]
fn a_goto_loop_ends_in_500_after_the_depth_limit() {
    let looping = plan(
        "[[context]]\nname = \"c\"\n[[context.rule]]\ngoto = \"d\"\n\
         [[context]]\nname = \"d\"\n[[context.rule]]\ngoto = \"c\"\n",
    );
    assert_eq!(
        decide(&looping, &call("1"), noon()),
        Route::hangup(500, Some("dialplan loop"))
    );
    // A chain of exactly MAX_GOTO_DEPTH jumps still decides.
    let mut text = String::new();
    for i in 0..MAX_GOTO_DEPTH {
        text.push_str(&format!(
            "[[context]]\nname = \"c{i}\"\n[[context.rule]]\ngoto = \"c{}\"\n",
            i + 1
        ));
    }
    text.push_str(&format!(
        "[[context]]\nname = \"c{MAX_GOTO_DEPTH}\"\n[[context.rule]]\nring = [\"end\"]\n"
    ));
    let chain = plan(&text);
    let mut request = call("1");
    request.context = "c0".into();
    assert_eq!(decide(&chain, &request, noon()), ring(&["end"]));
}

#[test]
fn an_unknown_context_at_run_time_is_500() {
    let plan = rules(&[r#"ring = ["x"]"#]);
    let mut request = call("1");
    request.context = "gone".into();
    assert_eq!(
        decide(&plan, &request, noon()),
        Route::hangup(500, Some("unknown context"))
    );
    assert_eq!(
        decide(&DialplanConfig::default(), &request, noon()).clone(),
        Route::hangup(500, Some("unknown context"))
    );
}

#[test]
fn a_window_across_midnight_belongs_to_the_day_it_starts() {
    let plan = rules(&[
        r#"time = { days = ["fri"], from = "22:00", to = "06:00" }
ring = ["night"]"#,
        r#"ring = ["day"]"#,
    ]);
    let when = |t: &str| outcome(&plan, &call("1"), at(t));
    // 2026-06-05 is a Friday.
    assert_eq!(when("2026-06-05T21:59:59Z"), "day");
    assert_eq!(when("2026-06-05T22:00:00Z"), "night");
    assert_eq!(when("2026-06-06T02:00:00Z"), "night");
    assert_eq!(when("2026-06-06T05:59:00Z"), "night");
    assert_eq!(when("2026-06-06T06:00:00Z"), "day");
    assert_eq!(when("2026-06-06T23:00:00Z"), "day");
    // Friday early morning is Thursday night's window, and Thursday is not listed.
    assert_eq!(when("2026-06-05T02:00:00Z"), "day");
}

#[test]
fn office_hours_follow_the_named_zone_across_a_dst_change() {
    let plan = rules(&[
        r#"zone = "America/New_York"
time = { days = ["mon", "tue", "wed", "thu", "fri"], from = "09:00", to = "17:30" }
ring = ["office"]"#,
        r#"ring = ["closed"]"#,
    ]);
    let when = |t: &str| outcome(&plan, &call("1"), at(t));
    // Friday 2026-03-06, EST (UTC-5): 13:30Z is 08:30 local, 14:00Z is 09:00.
    assert_eq!(when("2026-03-06T13:30:00Z"), "closed");
    assert_eq!(when("2026-03-06T14:00:00Z"), "office");
    assert_eq!(when("2026-03-06T22:29:00Z"), "office");
    assert_eq!(when("2026-03-06T22:30:00Z"), "closed");
    // Monday 2026-03-09, after the switch to EDT (UTC-4): 13:30Z is 09:30 local.
    assert_eq!(when("2026-03-09T13:30:00Z"), "office");
    assert_eq!(when("2026-03-09T21:30:00Z"), "closed");
    // Saturday 02:00Z is still Friday 21:00 in New York: after hours, but a weekday.
    assert_eq!(when("2026-03-07T02:00:00Z"), "closed");
    // Monday 03:00Z is Sunday 23:00 in New York.
    assert_eq!(when("2026-03-09T03:00:00Z"), "closed");
}

#[test]
fn holidays_are_dates_in_the_rules_zone() {
    let plan = rules(&[
        r#"zone = "America/New_York"
on_holidays = ["2026-12-25"]
ring = ["holiday"]"#,
        r#"except_holidays = ["2026-12-31"]
ring = ["open"]"#,
        r#"ring = ["closed"]"#,
    ]);
    let when = |t: &str| outcome(&plan, &call("1"), at(t));
    assert_eq!(when("2026-12-25T15:00:00Z"), "holiday");
    // 03:00Z on the 25th is still the 24th in New York.
    assert_eq!(when("2026-12-25T03:00:00Z"), "open");
    assert_eq!(when("2026-12-26T04:59:00Z"), "holiday");
    assert_eq!(when("2026-12-31T12:00:00Z"), "closed");
    assert_eq!(when("2027-01-01T12:00:00Z"), "open");
}

#[test]
fn an_ivr_rule_gives_an_ivr_route_and_record_carries_over_goto() {
    let plan = plan(
        "[[context]]\nname = \"c\"\n\
         [[context.rule]]\ndestination = \"5000\"\nivr = \"demo\"\n\
         [[context.rule]]\ndestination = \"6000\"\nrecord = true\ngoto = \"d\"\n\
         [[context.rule]]\nring = [\"$0\"]\n\
         [[context]]\nname = \"d\"\n[[context.rule]]\nring = [\"1001\"]\n",
    );
    let ivr = decide(&plan, &call("5000"), noon());
    assert_eq!(
        ivr,
        Route::Ivr {
            menu: "demo".into(),
            record: false
        }
    );
    let recorded = decide(&plan, &call("6000"), noon());
    assert!(recorded.record(), "{recorded:?}");
    assert!(!decide(&plan, &call("1001"), noon()).record());
}

#[test]
fn an_ivr_route_has_a_json_form_for_webhook_routers() {
    let route: Route = serde_json::from_str(r#"{"action":"ivr","menu":"demo"}"#).unwrap();
    assert_eq!(
        route,
        Route::Ivr {
            menu: "demo".into(),
            record: false
        }
    );
    assert!(route.validate().is_ok());
    let bad: Route = serde_json::from_str(r#"{"action":"ivr","menu":""}"#).unwrap();
    assert!(bad.validate().is_err());
    assert!(serde_json::from_str::<Route>(r#"{"action":"ivr"}"#).is_err());
}
