//! Whether a rule's matchers hold for a call at a given time. Pure: no I/O, no clock.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use regex::Captures;

use crate::config::dialplan::{HeaderMatcher, NumberMatcher, Rule, TimeWindow};

use super::number::region_of;

/// The call as a rule sees it (the destination and caller as rewritten so far).
pub(super) struct Subject<'a> {
    pub destination: &'a str,
    pub caller: Option<&'a str>,
    pub headers: &'a [(String, String)],
    pub now: DateTime<Utc>,
}

/// `None` when some matcher fails; otherwise the captures of the `destination_regex`, if the
/// rule has one.
pub(super) fn matches<'s>(rule: &Rule, subject: &Subject<'s>) -> Option<Option<Captures<'s>>> {
    if !rule
        .destination()
        .iter()
        .all(|m| number_matches(m, subject.destination))
    {
        return None;
    }
    if !rule
        .caller()
        .iter()
        .all(|m| subject.caller.is_some_and(|c| number_matches(m, c)))
    {
        return None;
    }
    if let Some(h) = rule.header()
        && !header_matches(h, subject.headers)
    {
        return None;
    }
    let local = subject.now.with_timezone(&rule.zone());
    if let Some(w) = rule.time()
        && !window_holds(w, &local)
    {
        return None;
    }
    let today = local.date_naive();
    if rule.on_holidays().is_some_and(|d| !d.contains(&today)) {
        return None;
    }
    if rule.except_holidays().contains(&today) {
        return None;
    }
    Some(
        rule.destination_regex()
            .and_then(|r| r.captures(subject.destination)),
    )
}

fn number_matches(matcher: &NumberMatcher, number: &str) -> bool {
    match matcher {
        NumberMatcher::Exact(s) => number == s,
        NumberMatcher::Prefix(p) => number.starts_with(p.as_str()),
        NumberMatcher::Regex(r) => r.is_match(number),
        NumberMatcher::Country(region) => region_of(number) == Some(*region),
    }
}

fn header_matches(matcher: &HeaderMatcher, headers: &[(String, String)]) -> bool {
    headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case(matcher.name()) && matcher.regex().is_match(value)
    })
}

/// Whether local time `t` lies in the window. A window crossing midnight belongs to the day
/// it starts on, so its early-morning part checks the previous day.
fn window_holds(w: &TimeWindow, t: &DateTime<Tz>) -> bool {
    let minute = u16::try_from(t.hour() * 60 + t.minute()).unwrap_or(0);
    let (from, to) = (w.from_minute(), w.to_minute());
    let day = t.weekday();
    if from < to {
        (from..to).contains(&minute) && w.days().contains(&day)
    } else {
        (minute >= from && w.days().contains(&day))
            || (minute < to && w.days().contains(&day.pred()))
    }
}
