//! Validation of a rule's matchers and of region codes: number tests, header, time window,
//! holiday dates. Each error names its key.

use chrono::{NaiveDate, Weekday};
use phonenumber::country::Id as Region;
use regex::Regex;
use toml::{Table, Value};

use super::super::error::ConfigErrorKind;
use super::super::validate::{Diag, parse_section};
use super::raw::{RawHeader, RawTime};
use super::rule::{HeaderMatcher, NumberMatcher, TimeWindow};

/// Validates the four matcher keys of `what` (`destination` or `caller`), in the order
/// exact, prefix, regex, country. Returns false when the regex does not compile.
pub(super) fn number_matchers(
    diag: &mut Diag<'_>,
    prefix: &str,
    what: &str,
    [exact, starts, regex, country]: [Option<String>; 4],
    out: &mut Vec<NumberMatcher>,
) -> bool {
    let mut regex_ok = true;
    if let Some(e) = exact {
        if e.is_empty() {
            diag.error(format!("{prefix}.{what}"), ConfigErrorKind::Empty);
        } else {
            out.push(NumberMatcher::Exact(e));
        }
    }
    if let Some(s) = starts {
        if s.is_empty() {
            diag.error(format!("{prefix}.{what}_prefix"), ConfigErrorKind::Empty);
        } else {
            out.push(NumberMatcher::Prefix(s));
        }
    }
    if let Some(r) = regex {
        match compile(diag, &format!("{prefix}.{what}_regex"), &r) {
            Some(r) => out.push(NumberMatcher::Regex(r)),
            None => regex_ok = false,
        }
    }
    if let Some(c) = country
        && let Some(region) = region(diag, &format!("{prefix}.{what}_country"), c)
    {
        out.push(NumberMatcher::Country(region));
    }
    regex_ok
}

fn compile(diag: &mut Diag<'_>, key: &str, pattern: &str) -> Option<Regex> {
    match Regex::new(pattern) {
        Ok(r) => Some(r),
        Err(e) => {
            diag.error(
                key,
                ConfigErrorKind::BadRegex {
                    reason: regex_reason(&e),
                },
            );
            None
        }
    }
}

/// The regex error on one line: the `error: ...` line of a syntax error, which names the
/// problem (the pattern itself is in the file).
fn regex_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(text.lines().last().unwrap_or("syntax error"))
            .to_owned(),
        other => other.to_string(),
    }
}

pub(super) fn region(diag: &mut Diag<'_>, key: &str, code: String) -> Option<Region> {
    match code.to_ascii_uppercase().parse::<Region>() {
        Ok(r) if code.len() == 2 => Some(r),
        _ => {
            diag.error(
                key,
                ConfigErrorKind::InvalidText {
                    what: "region code",
                    value: code,
                    allowed: "use a two-letter region (ISO 3166) such as US, GB or DE",
                },
            );
            None
        }
    }
}

pub(super) fn validate_header(
    diag: &mut Diag<'_>,
    prefix: &str,
    table: &Table,
) -> Option<HeaderMatcher> {
    let prefix = format!("{prefix}.header");
    let (raw, p) = parse_section::<RawHeader>(diag, &prefix, table);
    let name = match raw.name {
        None if p.ok(&["name"]) => {
            diag.error(format!("{prefix}.name"), ConfigErrorKind::Missing);
            None
        }
        None => None,
        Some(n) if is_token(&n) => Some(n.to_ascii_lowercase()),
        Some(n) => {
            diag.error(
                format!("{prefix}.name"),
                ConfigErrorKind::InvalidText {
                    what: "header name",
                    value: n,
                    allowed: "use a SIP token: letters, digits and -.!%*_+`'~",
                },
            );
            None
        }
    };
    let regex = match raw.regex {
        None if p.ok(&["regex"]) => {
            diag.error(format!("{prefix}.regex"), ConfigErrorKind::Missing);
            None
        }
        None => None,
        Some(r) => compile(diag, &format!("{prefix}.regex"), &r),
    };
    Some(HeaderMatcher {
        name: name?,
        regex: regex?,
    })
}

/// RFC 3261 §25.1 `token`, as header names are.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

pub(super) fn validate_time(
    diag: &mut Diag<'_>,
    prefix: &str,
    table: &Table,
) -> Option<TimeWindow> {
    let prefix = format!("{prefix}.time");
    let (raw, p) = parse_section::<RawTime>(diag, &prefix, table);
    let before = diag.errors.len();
    if table.is_empty() {
        diag.error(&prefix, ConfigErrorKind::Empty);
    }
    let mut days = Vec::new();
    match raw.days {
        None => days.extend(
            [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ]
            .iter(),
        ),
        Some(list) if list.is_empty() => {
            diag.error(format!("{prefix}.days"), ConfigErrorKind::Empty);
        }
        Some(list) => {
            for (i, d) in list.into_iter().enumerate() {
                match d.parse::<Weekday>() {
                    Ok(day) if !days.contains(&day) => days.push(day),
                    Ok(_) => {}
                    Err(_) => diag.error(
                        format!("{prefix}.days[{i}]"),
                        ConfigErrorKind::InvalidText {
                            what: "day",
                            value: d,
                            allowed: "use mon, tue, wed, thu, fri, sat or sun",
                        },
                    ),
                }
            }
        }
    }
    let from = raw
        .from
        .as_deref()
        .map(|t| clock(diag, &format!("{prefix}.from"), t, false));
    let to = raw
        .to
        .as_deref()
        .map(|t| clock(diag, &format!("{prefix}.to"), t, true));
    let (from_minute, to_minute) = match (from, to) {
        (None, None) => (Some(0), Some(24 * 60)),
        (Some(f), Some(t)) => (f, t),
        (Some(_), None) => {
            if p.ok(&["to"]) {
                diag.error(format!("{prefix}.to"), ConfigErrorKind::Missing);
            }
            (None, None)
        }
        (None, Some(_)) => {
            if p.ok(&["from"]) {
                diag.error(format!("{prefix}.from"), ConfigErrorKind::Missing);
            }
            (None, None)
        }
    };
    if let (Some(f), Some(t)) = (from_minute, to_minute)
        && f == t
    {
        diag.error(&prefix, ConfigErrorKind::EmptyWindow);
    }
    if diag.errors.len() != before || !p.none() {
        return None;
    }
    Some(TimeWindow {
        days,
        from_minute: from_minute?,
        to_minute: to_minute?,
    })
}

/// `HH:MM` as minutes after midnight; `24:00` only when `end` is set.
fn clock(diag: &mut Diag<'_>, key: &str, text: &str, end: bool) -> Option<u16> {
    let parsed = (|| {
        let (h, m) = text.split_once(':')?;
        if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
        let minutes = h * 60 + m;
        (m < 60 && (h < 24 || (end && minutes == 24 * 60))).then_some(minutes)
    })();
    if parsed.is_none() {
        diag.error(
            key,
            ConfigErrorKind::InvalidText {
                what: "time",
                value: text.to_owned(),
                allowed: if end {
                    "use HH:MM from 00:00 to 24:00"
                } else {
                    "use HH:MM from 00:00 to 23:59"
                },
            },
        );
    }
    parsed
}

pub(super) fn dates(diag: &mut Diag<'_>, key: &str, values: &[Value]) -> Option<Vec<NaiveDate>> {
    if values.is_empty() {
        diag.error(key, ConfigErrorKind::Empty);
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, v) in values.iter().enumerate() {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
            other => other.to_string(),
        };
        let well_formed = text.len() == 10
            && text.bytes().enumerate().all(|(j, b)| {
                if j == 4 || j == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) if well_formed => out.push(d),
            _ => {
                ok = false;
                diag.error(
                    format!("{key}[{i}]"),
                    ConfigErrorKind::InvalidText {
                        what: "date",
                        value: text,
                        allowed: "use YYYY-MM-DD, a real calendar date",
                    },
                );
            }
        }
    }
    ok.then_some(out)
}
