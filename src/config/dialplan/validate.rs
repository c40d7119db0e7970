//! Validation of one dialplan file: TOML text -> [`Context`]s, collecting every error with its
//! key path (`context[0].rule[2].destination_regex`) instead of stopping at the first.
//!
//! References between contexts are checked across files by `DialplanConfig::build`.

use std::path::Path;
use std::time::Duration;

use chrono_tz::Tz;
use regex::Regex;
use toml::{Table, Value};

use super::super::error::{ConfigError, ConfigErrorKind};
use super::super::validate::{Diag, parse_section, parse_toml};
use super::context::{Context, Webhook};
use super::matchers::{dates, number_matchers, region, validate_header, validate_time};
use super::raw::{RawContextHead, RawRule, RawStep, RawWebhook};
use super::rule::{Action, NumberMatcher, Rule, SequentialStep};
use super::template::Template;

const ACTIONS: &str = "ring, ring_sequential, route_group, goto, ivr, hangup";
const NAME_CHARS: &str = "use letters, digits, '.', '_' and '-' (at most 64)";
const DEFAULT_WEBHOOK_TIMEOUT_MS: u32 = 1000;

/// Parses and validates one `dialplans/*.toml` file; `path` names it in errors.
///
/// Returns every context whose name validated, holding the rules that validated, together
/// with every error. When errors are returned the contexts are incomplete: use them only for
/// cross-file checks ([`DialplanConfig::build`](super::DialplanConfig::build)).
pub fn parse_dialplan_file(path: &Path, text: &str) -> (Vec<Context>, Vec<ConfigError>) {
    let mut diag = Diag::new(path);
    let contexts = validate_file(&mut diag, path, text);
    (contexts, diag.errors)
}

fn validate_file(diag: &mut Diag<'_>, path: &Path, text: &str) -> Vec<Context> {
    let Some(table) = parse_toml(diag, text) else {
        return Vec::new();
    };
    for key in table.keys().filter(|k| *k != "context") {
        diag.error(
            key.as_str(),
            ConfigErrorKind::UnknownSection {
                expected: "context",
            },
        );
    }
    let entries = match table.get("context") {
        None => return Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            diag.error(
                "context",
                ConfigErrorKind::NotATable {
                    expected: "an array of tables ([[context]])",
                },
            );
            return Vec::new();
        }
    };
    let mut contexts = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let prefix = format!("context[{index}]");
        let Value::Table(table) = entry else {
            diag.error(
                prefix,
                ConfigErrorKind::NotATable {
                    expected: "a table ([[context]] entry)",
                },
            );
            continue;
        };
        if let Some(context) = validate_context(diag, path, &prefix, index, table) {
            contexts.push(context);
        }
    }
    contexts
}

fn validate_context(
    diag: &mut Diag<'_>,
    path: &Path,
    prefix: &str,
    index: usize,
    table: &Table,
) -> Option<Context> {
    let mut head = table.clone();
    let rules_value = head.remove("rule");
    let webhook_value = head.remove("webhook");
    let (raw, p) = parse_section::<RawContextHead>(diag, prefix, &head);
    let name = if p.ok(&["name"]) {
        required_name(diag, &format!("{prefix}.name"), raw.name, "context name")
    } else {
        None
    };
    let webhook = webhook_value.and_then(|v| validate_webhook(diag, prefix, &v));
    let mut rules = Vec::new();
    match rules_value {
        None => {}
        Some(Value::Array(entries)) => {
            for (i, entry) in entries.iter().enumerate() {
                let rule_prefix = format!("{prefix}.rule[{i}]");
                match entry {
                    Value::Table(t) => rules.extend(validate_rule(diag, &rule_prefix, i, t)),
                    _ => diag.error(
                        rule_prefix,
                        ConfigErrorKind::NotATable {
                            expected: "a table ([[context.rule]] entry)",
                        },
                    ),
                }
            }
        }
        Some(_) => diag.error(
            format!("{prefix}.rule"),
            ConfigErrorKind::NotATable {
                expected: "an array of tables ([[context.rule]])",
            },
        ),
    }
    Some(Context {
        source: path.to_path_buf(),
        index,
        name: name?,
        webhook,
        rules,
    })
}

fn validate_webhook(diag: &mut Diag<'_>, prefix: &str, value: &Value) -> Option<Webhook> {
    let prefix = format!("{prefix}.webhook");
    let Value::Table(table) = value else {
        diag.error(
            prefix,
            ConfigErrorKind::NotATable {
                expected: "a table (webhook = { url = \"...\" })",
            },
        );
        return None;
    };
    let (raw, p) = parse_section::<RawWebhook>(diag, &prefix, table);
    let before = diag.errors.len();
    let url = match raw.url {
        None if p.ok(&["url"]) => {
            diag.error(format!("{prefix}.url"), ConfigErrorKind::Missing);
            None
        }
        None => None,
        Some(url) => match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(url),
            _ => {
                diag.error(
                    format!("{prefix}.url"),
                    ConfigErrorKind::InvalidText {
                        what: "URL",
                        value: url,
                        allowed: "use an http:// or https:// URL with a host",
                    },
                );
                None
            }
        },
    };
    let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT_MS);
    diag.range(&format!("{prefix}.timeout_ms"), timeout_ms, 1, 10_000);
    let fallback = raw
        .fallback
        .and_then(|f| required_name(diag, &format!("{prefix}.fallback"), Some(f), "context name"));
    if diag.errors.len() != before || !p.none() {
        return None;
    }
    Some(Webhook {
        url: url?,
        timeout: Duration::from_millis(u64::from(timeout_ms)),
        fallback,
    })
}

fn validate_rule(diag: &mut Diag<'_>, prefix: &str, index: usize, table: &Table) -> Option<Rule> {
    let (raw, p) = parse_section::<RawRule>(diag, prefix, table);
    let before = diag.errors.len();
    let key = |k: &str| format!("{prefix}.{k}");

    let name = raw.name.and_then(|n| {
        if n.is_empty() {
            diag.error(key("name"), ConfigErrorKind::Empty);
            None
        } else {
            Some(n)
        }
    });

    let mut destination = Vec::new();
    let regex_ok = number_matchers(
        diag,
        prefix,
        "destination",
        [
            raw.destination,
            raw.destination_prefix,
            raw.destination_regex,
            raw.destination_country,
        ],
        &mut destination,
    );
    let mut caller = Vec::new();
    number_matchers(
        diag,
        prefix,
        "caller",
        [
            raw.caller,
            raw.caller_prefix,
            raw.caller_regex,
            raw.caller_country,
        ],
        &mut caller,
    );
    // `None` when the regex failed: templates are then not checked against it.
    let regex: Option<Option<&Regex>> = regex_ok.then(|| {
        destination.iter().find_map(|m| match m {
            NumberMatcher::Regex(r) => Some(r),
            _ => None,
        })
    });

    let header = raw.header.and_then(|t| validate_header(diag, prefix, &t));
    let zone = match raw.zone {
        None => Tz::UTC,
        Some(z) => z.parse::<Tz>().unwrap_or_else(|_| {
            diag.error(
                key("zone"),
                ConfigErrorKind::InvalidText {
                    what: "time zone",
                    value: z,
                    allowed: "use an IANA zone name such as America/New_York or UTC",
                },
            );
            Tz::UTC
        }),
    };
    let time = raw.time.and_then(|t| validate_time(diag, prefix, &t));
    let on_holidays = raw
        .on_holidays
        .and_then(|d| dates(diag, &key("on_holidays"), &d));
    let except_holidays = raw
        .except_holidays
        .and_then(|d| dates(diag, &key("except_holidays"), &d))
        .unwrap_or_default();

    let given: Vec<&str> = [
        ("ring", raw.ring.is_some()),
        ("ring_sequential", raw.ring_sequential.is_some()),
        ("route_group", raw.route_group.is_some()),
        ("goto", raw.goto.is_some()),
        ("ivr", raw.ivr.is_some()),
        ("hangup", raw.hangup.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    let is_hangup = raw.hangup.is_some();
    let ring = raw
        .ring
        .and_then(|list| templates(diag, &key("ring"), &list, regex));
    let ring_sequential = raw
        .ring_sequential
        .and_then(|steps| validate_steps(diag, prefix, &steps, regex));
    let route_group = raw
        .route_group
        .and_then(|g| required_name(diag, &key("route_group"), Some(g), "route group name"));
    let goto = raw
        .goto
        .and_then(|g| required_name(diag, &key("goto"), Some(g), "context name"));
    let ivr = raw
        .ivr
        .and_then(|m| required_name(diag, &key("ivr"), Some(m), "IVR menu name"));
    let hangup = raw.hangup.and_then(|code| {
        diag.range(&key("hangup"), code, 400, 699)
            .then(|| u16::try_from(code).ok())
            .flatten()
    });
    let reason = match raw.reason {
        Some(_) if !is_hangup => {
            if p.ok(&["hangup"]) {
                diag.error(
                    key("reason"),
                    ConfigErrorKind::OnlyWith {
                        other_key: "hangup",
                    },
                );
            }
            None
        }
        Some(r) if r.is_empty() => {
            diag.error(key("reason"), ConfigErrorKind::Empty);
            None
        }
        Some(r) if r.chars().any(char::is_control) => {
            diag.error(
                key("reason"),
                ConfigErrorKind::InvalidText {
                    what: "reason phrase",
                    value: r,
                    allowed: "no control characters",
                },
            );
            None
        }
        r => r,
    };
    let action_keys_ok = p.ok(&[
        "ring",
        "ring_sequential",
        "route_group",
        "goto",
        "ivr",
        "hangup",
    ]);
    let action = match given.as_slice() {
        [] => {
            if action_keys_ok {
                diag.error(prefix, ConfigErrorKind::NoAction { expected: ACTIONS });
            }
            None
        }
        [_] => ring
            .map(Action::Ring)
            .or(ring_sequential.map(Action::RingSequential))
            .or(route_group.map(Action::RouteGroup))
            .or(goto.map(Action::Goto))
            .or(ivr.map(Action::Ivr))
            .or(hangup.map(|status| Action::Hangup { status, reason })),
        several => {
            diag.error(
                prefix,
                ConfigErrorKind::SeveralActions {
                    actions: several.join(", "),
                },
            );
            None
        }
    };

    let number = raw
        .number
        .and_then(|t| template(diag, &key("number"), &t, regex));
    let normalize = raw
        .normalize
        .and_then(|r| region(diag, &key("normalize"), r));
    let set_caller_number = raw
        .set_caller_number
        .and_then(|t| template(diag, &key("set_caller_number"), &t, regex));
    let set_caller_name = raw.set_caller_name.and_then(|t| {
        if t.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
            diag.error(
                key("set_caller_name"),
                ConfigErrorKind::InvalidText {
                    what: "caller name",
                    value: t,
                    allowed: "no quotes, backslashes or control characters",
                },
            );
            return None;
        }
        template(diag, &key("set_caller_name"), &t, regex)
    });

    if diag.errors.len() != before || !p.none() {
        return None;
    }
    Some(Rule {
        index,
        name,
        destination,
        caller,
        header,
        zone,
        time,
        on_holidays,
        except_holidays,
        action: action?,
        number,
        normalize,
        set_caller_number,
        set_caller_name,
        privacy: raw.privacy,
        allow_trunk_origin: raw.allow_trunk_origin,
        record: raw.record,
    })
}

fn validate_steps(
    diag: &mut Diag<'_>,
    prefix: &str,
    steps: &[Table],
    regex: Option<Option<&Regex>>,
) -> Option<Vec<SequentialStep>> {
    if steps.is_empty() {
        diag.error(format!("{prefix}.ring_sequential"), ConfigErrorKind::Empty);
        return None;
    }
    let before = diag.errors.len();
    let mut out = Vec::new();
    for (i, table) in steps.iter().enumerate() {
        let step_prefix = format!("{prefix}.ring_sequential[{i}]");
        let (raw, p) = parse_section::<RawStep>(diag, &step_prefix, table);
        let key = format!("{step_prefix}.extensions");
        let extensions = match raw.extensions {
            None if p.ok(&["extensions"]) => {
                diag.error(key, ConfigErrorKind::Missing);
                None
            }
            None => None,
            Some(list) => templates(diag, &key, &list, regex),
        };
        if let Some(t) = raw.timeout_secs {
            diag.range(&format!("{step_prefix}.timeout_secs"), t, 1, 3600);
        }
        if let Some(extensions) = extensions {
            out.push(SequentialStep {
                extensions,
                timeout_secs: raw.timeout_secs,
            });
        }
    }
    (diag.errors.len() == before).then_some(out)
}

/// A non-empty list of non-empty templates.
fn templates(
    diag: &mut Diag<'_>,
    key: &str,
    list: &[String],
    regex: Option<Option<&Regex>>,
) -> Option<Vec<Template>> {
    if list.is_empty() {
        diag.error(key, ConfigErrorKind::Empty);
        return None;
    }
    let out: Vec<Option<Template>> = list
        .iter()
        .enumerate()
        .map(|(i, t)| template(diag, &format!("{key}[{i}]"), t, regex))
        .collect();
    out.into_iter().collect()
}

/// A non-empty template whose groups exist in `regex` (not checked when `regex` is `None`,
/// i.e. the rule's regex failed).
fn template(
    diag: &mut Diag<'_>,
    key: &str,
    text: &str,
    regex: Option<Option<&Regex>>,
) -> Option<Template> {
    if text.is_empty() {
        diag.error(key, ConfigErrorKind::Empty);
        return None;
    }
    let t = match Template::parse(text) {
        Ok(t) => t,
        Err(e) => {
            diag.error(
                key,
                ConfigErrorKind::BadTemplate {
                    value: text.to_owned(),
                    reason: e.reason(),
                },
            );
            return None;
        }
    };
    if let Some(regex) = regex
        && let Some(group) = t.missing_group(regex)
    {
        diag.error(key, ConfigErrorKind::UnknownCaptureGroup { group });
        return None;
    }
    Some(t)
}

/// A context or route group name: required, letters, digits, `.`, `_`, `-`, at most 64.
fn required_name(
    diag: &mut Diag<'_>,
    key: &str,
    name: Option<String>,
    what: &'static str,
) -> Option<String> {
    match name {
        None => diag.error(key, ConfigErrorKind::Missing),
        Some(n) if n.is_empty() => diag.error(key, ConfigErrorKind::Empty),
        Some(n) if !is_name(&n) => diag.error(
            key,
            ConfigErrorKind::InvalidText {
                what,
                value: n,
                allowed: NAME_CHARS,
            },
        ),
        Some(n) => return Some(n),
    }
    None
}

fn is_name(s: &str) -> bool {
    s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
