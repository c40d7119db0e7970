//! Tests of dialplan file validation and of the cross-file checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, Weekday};
use phonenumber::country::Id as Region;
use proptest::prelude::*;

use super::*;
use crate::config::ConfigErrorKind;

const FILE: &str = "dialplans/test.toml";

fn parse(text: &str) -> (Vec<Context>, Vec<String>) {
    let (contexts, errors) = parse_dialplan_file(Path::new(FILE), text);
    (contexts, errors.iter().map(ToString::to_string).collect())
}

fn errors(text: &str) -> Vec<String> {
    parse(text).1
}

fn one_rule(rule: &str) -> String {
    format!("[[context]]\nname = \"c\"\n[[context.rule]]\n{rule}\n")
}

fn rule_errors(rule: &str) -> Vec<String> {
    errors(&one_rule(rule))
}

fn key(k: &str, message: &str) -> String {
    format!("{FILE}: context[0].rule[0].{k}: {message}")
}

#[test]
fn the_shipped_default_dialplan_validates() {
    let text = include_str!("../../../dialplans/default.toml");
    let (contexts, errors) = parse(text);
    assert_eq!(errors, Vec::<String>::new());
    let (plan, errors) = DialplanConfig::build(vec![(FILE.into(), contexts)]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(plan.has_context(DEFAULT_CONTEXT));
}

#[test]
fn every_key_of_a_rule_is_read_into_typed_values() {
    let (contexts, errors) = parse(
        r#"
[[context]]
name = "main"
webhook = { url = "http://127.0.0.1:9000/route", timeout_ms = 250, fallback = "main" }

[[context.rule]]
name = "office"
destination_regex = '^9(?P<n>\d+)$'
destination_prefix = "9"
destination_country = "us"
caller = "1000"
caller_prefix = "10"
caller_regex = '^\d+$'
caller_country = "GB"
header = { name = "X-Campaign", regex = "^vip" }
zone = "America/New_York"
time = { days = ["mon", "fri"], from = "22:00", to = "06:00" }
on_holidays = ["2026-12-25", 2026-12-26]
except_holidays = ["2027-01-01"]
ring_sequential = [{ extensions = ["$1", "${n}"], timeout_secs = 20 }, { extensions = ["1002"] }]
number = "+1$1"
normalize = "US"
set_caller_number = "+15551230000"
set_caller_name = "ACME $0"
privacy = true
allow_trunk_origin = true
"#,
    );
    assert_eq!(errors, Vec::<String>::new());
    let context = &contexts[0];
    assert_eq!(context.name(), "main");
    assert_eq!(context.source(), Path::new(FILE));
    let webhook = context.webhook().unwrap();
    assert_eq!(webhook.url(), "http://127.0.0.1:9000/route");
    assert_eq!(webhook.timeout(), Duration::from_millis(250));
    assert_eq!(webhook.fallback(), Some("main"));

    let rule = &context.rules()[0];
    assert_eq!(rule.name(), Some("office"));
    assert_eq!(rule.destination().len(), 3);
    assert!(matches!(
        rule.destination()[2],
        NumberMatcher::Country(Region::US)
    ));
    assert_eq!(rule.caller().len(), 4);
    assert_eq!(rule.header().unwrap().name(), "x-campaign");
    assert_eq!(rule.zone(), chrono_tz::America::New_York);
    let time = rule.time().unwrap();
    assert_eq!(time.days(), [Weekday::Mon, Weekday::Fri]);
    assert_eq!((time.from_minute(), time.to_minute()), (22 * 60, 6 * 60));
    let date = |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    assert_eq!(
        rule.on_holidays().unwrap(),
        [date("2026-12-25"), date("2026-12-26")]
    );
    assert_eq!(rule.except_holidays(), [date("2027-01-01")]);
    let Action::RingSequential(steps) = rule.action() else {
        panic!("{:?}", rule.action());
    };
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].extensions()[1].as_str(), "${n}");
    assert_eq!(steps[0].timeout_secs(), Some(20));
    assert_eq!(steps[1].timeout_secs(), None);
    assert_eq!(rule.number().unwrap().as_str(), "+1$1");
    assert_eq!(rule.normalize(), Some(Region::US));
    assert!(rule.privacy() && rule.allow_trunk_origin());
}

#[test]
fn defaults_are_utc_every_day_and_a_one_second_webhook() {
    let (contexts, errors) = parse(
        "[[context]]\nname = \"c\"\nwebhook = { url = \"https://router.example/x\" }\n\
         [[context.rule]]\ntime = { from = \"09:00\", to = \"24:00\" }\nhangup = 486\n",
    );
    assert_eq!(errors, Vec::<String>::new());
    let rule = &contexts[0].rules()[0];
    assert_eq!(rule.zone(), chrono_tz::UTC);
    assert_eq!(rule.time().unwrap().days().len(), 7);
    assert_eq!(rule.time().unwrap().to_minute(), 1440);
    assert!(matches!(
        rule.action(),
        Action::Hangup {
            status: 486,
            reason: None
        }
    ));
    assert!(!rule.privacy());
    let webhook = contexts[0].webhook().unwrap();
    assert_eq!(webhook.timeout(), Duration::from_secs(1));
    assert_eq!(webhook.fallback(), None);
}

#[test]
fn a_bad_regex_is_reported_at_its_key_with_the_reason() {
    assert_eq!(
        rule_errors("destination_regex = '^9(\\d+$'\nring = [\"1\"]"),
        [key("destination_regex", "invalid regex: unclosed group")]
    );
    let errs = rule_errors("header = { name = \"X-A\", regex = \"(\" }\nring = [\"1\"]");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(&format!(
            "{FILE}: context[0].rule[0].header.regex: invalid regex"
        )),
        "{errs:?}"
    );
}

#[test]
fn zones_regions_days_times_and_dates_are_checked() {
    let errs = rule_errors(
        r#"zone = "Mars/Olympus"
destination_country = "XX"
normalize = "USA"
time = { days = ["mon", "someday"], from = "9:00", to = "24:01" }
on_holidays = ["2026-02-30", "26-1-1"]
except_holidays = []
hangup = 486"#,
    );
    assert_eq!(
        errs,
        [
            key(
                "destination_country",
                "invalid region code \"XX\": use a two-letter region (ISO 3166) such as US, GB or DE"
            ),
            key(
                "zone",
                "invalid time zone \"Mars/Olympus\": use an IANA zone name such as America/New_York or UTC"
            ),
            key(
                "time.days[1]",
                "invalid day \"someday\": use mon, tue, wed, thu, fri, sat or sun"
            ),
            key(
                "time.from",
                "invalid time \"9:00\": use HH:MM from 00:00 to 23:59"
            ),
            key(
                "time.to",
                "invalid time \"24:01\": use HH:MM from 00:00 to 24:00"
            ),
            key(
                "on_holidays[0]",
                "invalid date \"2026-02-30\": use YYYY-MM-DD, a real calendar date"
            ),
            key(
                "on_holidays[1]",
                "invalid date \"26-1-1\": use YYYY-MM-DD, a real calendar date"
            ),
            key("except_holidays", "must not be empty"),
            key(
                "normalize",
                "invalid region code \"USA\": use a two-letter region (ISO 3166) such as US, GB or DE"
            ),
        ]
    );
}

#[test]
fn a_time_window_needs_both_ends_and_they_must_differ() {
    assert_eq!(
        rule_errors("time = { from = \"09:00\" }\nhangup = 480"),
        [key("time.to", "missing (required)")]
    );
    assert_eq!(
        rule_errors("time = { from = \"09:00\", to = \"09:00\" }\nhangup = 480"),
        [key(
            "time",
            "from and to are equal: the window would be empty"
        )]
    );
    assert_eq!(
        rule_errors("time = { days = [] }\nhangup = 480"),
        [key("time.days", "must not be empty")]
    );
}

#[test]
fn a_rule_needs_exactly_one_action() {
    assert_eq!(
        rule_errors("destination = \"1\""),
        [format!(
            "{FILE}: context[0].rule[0]: no action: set exactly one of ring, ring_sequential, route_group, goto, ivr, hangup"
        )]
    );
    assert_eq!(
        rule_errors("ring = [\"1\"]\ngoto = \"c\"\nhangup = 486"),
        [format!(
            "{FILE}: context[0].rule[0]: more than one action (ring, goto, hangup): set exactly one"
        )]
    );
    // A mistyped action is reported once, as a type error, not also as "no action".
    let errs = rule_errors("ring = \"1001\"");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("context[0].rule[0].ring: invalid type"),
        "{errs:?}"
    );
}

#[test]
fn an_ivr_rule_names_its_menu_and_may_ask_for_recording() {
    let (contexts, errs) = parse(&one_rule(
        "destination = \"5000\"\nivr = \"demo\"\nrecord = true",
    ));
    assert!(errs.is_empty(), "{errs:?}");
    let rule = &contexts[0].rules()[0];
    assert!(matches!(rule.action(), Action::Ivr(m) if m == "demo"));
    assert!(rule.record());
    let (plan, errors) = DialplanConfig::build(vec![(FILE.into(), contexts)]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        plan.ivr_refs(),
        [(
            PathBuf::from(FILE),
            "context[0].rule[0].ivr".to_owned(),
            "demo".to_owned()
        )]
    );
    assert_eq!(
        rule_errors("ivr = \"demo\"\nring = [\"1\"]"),
        [format!(
            "{FILE}: context[0].rule[0]: more than one action (ring, ivr): set exactly one"
        )]
    );
    assert!(rule_errors("ivr = \"de mo\"")[0].contains("invalid IVR menu name"));
}

#[test]
fn actions_and_modifiers_are_checked() {
    let errs = rule_errors(
        r#"ring_sequential = [{ extensions = [] }, { timeout_secs = 0, extensions = ["1"] }, { x = 1 }]
set_caller_name = 'A "quoted" name'
reason = "Busy""#,
    );
    assert_eq!(
        errs,
        [
            key("ring_sequential[0].extensions", "must not be empty"),
            key(
                "ring_sequential[1].timeout_secs",
                "must be between 1 and 3600, got 0"
            ),
            key(
                "ring_sequential[2].x",
                "unknown key `x`, expected `extensions` or `timeout_secs`"
            ),
            key("ring_sequential[2].extensions", "missing (required)"),
            key("reason", "only allowed together with hangup"),
            key(
                "set_caller_name",
                "invalid caller name \"A \\\"quoted\\\" name\": no quotes, backslashes or control characters"
            ),
        ]
    );
    assert_eq!(
        rule_errors("hangup = 200"),
        [key("hangup", "must be between 400 and 699, got 200")]
    );
    assert_eq!(
        rule_errors("route_group = \"pstn gw\""),
        [key(
            "route_group",
            "invalid route group name \"pstn gw\": use letters, digits, '.', '_' and '-' (at most 64)"
        )]
    );
    assert_eq!(rule_errors("ring = []"), [key("ring", "must not be empty")]);
}

#[test]
fn templates_must_name_groups_the_destination_regex_has() {
    assert_eq!(
        rule_errors(
            "destination_regex = '^9(\\d+)$'\nring = [\"$1\", \"$2\"]\nnumber = \"${name}\""
        ),
        [
            key(
                "ring[1]",
                "$2 names no capture group of this rule's destination_regex"
            ),
            key(
                "number",
                "${name} names no capture group of this rule's destination_regex"
            ),
        ]
    );
    assert_eq!(
        rule_errors("ring = [\"$1\"]"),
        [key(
            "ring[0]",
            "$1 names no capture group of this rule's destination_regex"
        )]
    );
    assert_eq!(
        rule_errors("ring = [\"$0\"]\nset_caller_number = \"+1$x\""),
        [key(
            "set_caller_number",
            "invalid template \"+1$x\": '$' must be followed by a digit, {group} or another '$'"
        )]
    );
    // A broken regex is reported once; its templates are not checked against it.
    assert_eq!(
        rule_errors("destination_regex = '('\nring = [\"$1\"]").len(),
        1
    );
}

#[test]
fn header_names_must_be_sip_tokens() {
    assert_eq!(
        rule_errors("header = { name = \"X Campaign\", regex = \"x\" }\nhangup = 486"),
        [key(
            "header.name",
            "invalid header name \"X Campaign\": use a SIP token: letters, digits and -.!%*_+`'~"
        )]
    );
    assert_eq!(
        rule_errors("header = { regex = \"x\", extra = 1 }\nhangup = 486"),
        [
            key(
                "header.extra",
                "unknown key `extra`, expected `name` or `regex`"
            ),
            key("header.name", "missing (required)"),
        ]
    );
}

#[test]
fn webhooks_need_an_http_url_and_a_bounded_timeout() {
    let errs = errors(
        "[[context]]\nname = \"c\"\nwebhook = { url = \"ftp://x/y\", timeout_ms = 20000, fallback = \"\" }\n",
    );
    assert_eq!(
        errs,
        [
            format!(
                "{FILE}: context[0].webhook.url: invalid URL \"ftp://x/y\": use an http:// or https:// URL with a host"
            ),
            format!(
                "{FILE}: context[0].webhook.timeout_ms: must be between 1 and 10000, got 20000"
            ),
            format!("{FILE}: context[0].webhook.fallback: must not be empty"),
        ]
    );
    assert_eq!(
        errors("[[context]]\nname = \"c\"\nwebhook = { timeout_ms = 0 }\n"),
        [
            format!("{FILE}: context[0].webhook.url: missing (required)"),
            format!("{FILE}: context[0].webhook.timeout_ms: must be between 1 and 10000, got 0"),
        ]
    );
}

#[test]
fn unknown_keys_sections_and_syntax_errors_name_where_they_are() {
    let errs = errors(
        "[[context]]\nname = \"c\"\ncolor = 1\n[[context.rule]]\nhangup = 486\ncolour = 2\n[extra]\n",
    );
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(
        errs[0],
        format!("{FILE}: extra: unknown section (expected one of: context)")
    );
    assert_eq!(
        errs[1],
        format!("{FILE}: context[0].color: unknown key `color`, expected `name`")
    );
    assert!(
        errs[2].starts_with(&format!(
            "{FILE}: context[0].rule[0].colour: unknown key `colour`, expected one of"
        )),
        "{errs:?}"
    );
    let errs = errors("[[context]\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with(&format!("{FILE}:1:")), "{errs:?}");
    assert_eq!(
        errors("context = 1"),
        [format!(
            "{FILE}: context: must be an array of tables ([[context]])"
        )]
    );
    assert_eq!(
        errors("[[context]]\nrule = []"),
        [format!("{FILE}: context[0].name: missing (required)")]
    );
}

#[test]
fn every_error_of_a_file_is_reported_and_valid_rules_are_kept() {
    let (contexts, errs) = parse(
        "[[context]]\nname = \"c\"\n[[context.rule]]\nhangup = 1\n[[context.rule]]\nring = [\"1\"]\n\
         [[context.rule]]\nzone = \"X\"\nring = [\"2\"]\n",
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(contexts[0].rules().len(), 1);
    assert_eq!(contexts[0].rules()[0].index(), 1);
}

fn file(name: &str, text: &str) -> (PathBuf, Vec<Context>) {
    let (contexts, errors) = parse_dialplan_file(Path::new(name), text);
    assert!(errors.is_empty(), "{errors:?}");
    (PathBuf::from(name), contexts)
}

#[test]
fn duplicate_contexts_across_files_are_reported_with_both_places() {
    let (plan, errors) = DialplanConfig::build(vec![
        file("dialplans/a.toml", "[[context]]\nname = \"x\"\n"),
        file(
            "dialplans/b.toml",
            "[[context]]\nname = \"y\"\n[[context]]\nname = \"x\"\n",
        ),
    ]);
    let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "dialplans/b.toml: context[1].name: duplicate context name \"x\" (also in dialplans/a.toml context[0].name)"
        ]
    );
    assert!(matches!(
        errors[0].kind(),
        ConfigErrorKind::DuplicateName {
            what: "context",
            ..
        }
    ));
    assert_eq!(plan.len(), 2);
    assert_eq!(
        plan.context("x").unwrap().source(),
        Path::new("dialplans/a.toml")
    );
}

#[test]
fn goto_and_fallback_must_name_existing_contexts_in_any_file() {
    let (plan, errors) = DialplanConfig::build(vec![
        file(
            "dialplans/a.toml",
            "[[context]]\nname = \"a\"\nwebhook = { url = \"http://h/\", fallback = \"nope\" }\n\
             [[context.rule]]\ngoto = \"b\"\n[[context.rule]]\ngoto = \"missing\"\n",
        ),
        file("dialplans/b.toml", "[[context]]\nname = \"b\"\n"),
    ]);
    let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "dialplans/a.toml: context[0].webhook.fallback: unknown context \"nope\"",
            "dialplans/a.toml: context[0].rule[1].goto: unknown context \"missing\"",
        ]
    );
    assert!(matches!(
        errors[1].kind(),
        ConfigErrorKind::UnknownReference {
            what: "context",
            ..
        }
    ));
    assert!(plan.has_context("a") && plan.has_context("b"));
}

#[test]
fn route_group_references_are_listed_with_file_and_key() {
    let (plan, errors) = DialplanConfig::build(vec![
        file(
            "dialplans/out.toml",
            "[[context]]\nname = \"o\"\n[[context.rule]]\nhangup = 403\n\
             [[context.rule]]\nroute_group = \"pstn\"\n",
        ),
        file(
            "dialplans/in.toml",
            "[[context]]\nname = \"i\"\n[[context.rule]]\nroute_group = \"intl\"\n",
        ),
    ]);
    assert!(errors.is_empty());
    assert_eq!(
        plan.route_group_refs(),
        [
            (
                PathBuf::from("dialplans/in.toml"),
                "context[0].rule[0].route_group".to_owned(),
                "intl".to_owned()
            ),
            (
                PathBuf::from("dialplans/out.toml"),
                "context[0].rule[1].route_group".to_owned(),
                "pstn".to_owned()
            ),
        ]
    );
}

#[test]
fn the_default_dialplan_is_empty_and_shareable() {
    fn assert_shareable<T: Clone + std::fmt::Debug + Send + Sync>() {}
    assert_shareable::<DialplanConfig>();
    let plan = DialplanConfig::default();
    assert!(plan.is_empty() && !plan.has_context("default"));
    assert!(plan.route_group_refs().is_empty());
}

const RULE_KEYS: &[&str] = &[
    "name",
    "destination",
    "destination_prefix",
    "destination_regex",
    "destination_country",
    "caller_regex",
    "caller_country",
    "zone",
    "ring",
    "route_group",
    "goto",
    "hangup",
    "reason",
    "number",
    "normalize",
    "set_caller_number",
    "set_caller_name",
    "on_holidays",
];

proptest! {
    #[test]
    fn validation_never_panics_on_any_value_of_any_rule_key(
        key in prop::sample::select(RULE_KEYS),
        value in "\\PC{0,24}",
        as_list in any::<bool>(),
    ) {
        let value = toml::Value::String(value);
        let value = if as_list { format!("[{value}]") } else { value.to_string() };
        let text = format!(
            "[[context]]\nname = \"c\"\n[[context.rule]]\n{key} = {value}\n\
             time = {{ from = {value}, to = \"06:00\" }}\nheader = {{ name = {value}, regex = {value} }}\n"
        );
        let _ = parse_dialplan_file(Path::new(FILE), &text);
    }

    #[test]
    fn parsing_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = parse_dialplan_file(Path::new(FILE), &text);
    }
}
