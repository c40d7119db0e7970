//! A validated dialplan rule: its matchers, its one action and its modifiers. Built only by
//! validation, so its invariants (compiled regexes, known zone and region, templates naming
//! groups that exist) hold wherever it is read.

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use phonenumber::country::Id as Region;
use regex::Regex;

use super::template::Template;

/// One `[[context.rule]]`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(super) index: usize,
    pub(super) name: Option<String>,
    pub(super) destination: Vec<NumberMatcher>,
    pub(super) caller: Vec<NumberMatcher>,
    pub(super) header: Option<HeaderMatcher>,
    pub(super) zone: Tz,
    pub(super) time: Option<TimeWindow>,
    pub(super) on_holidays: Option<Vec<NaiveDate>>,
    pub(super) except_holidays: Vec<NaiveDate>,
    pub(super) action: Action,
    pub(super) number: Option<Template>,
    pub(super) normalize: Option<Region>,
    pub(super) set_caller_number: Option<Template>,
    pub(super) set_caller_name: Option<Template>,
    pub(super) privacy: bool,
    pub(super) allow_trunk_origin: bool,
    pub(super) record: bool,
}

impl Rule {
    /// Position in its context's `rule` array in the file (from 0), for `context[i].rule[j]`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The optional name, for logs.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Matchers on the dialled number; all must hold.
    pub fn destination(&self) -> &[NumberMatcher] {
        &self.destination
    }

    /// The `destination_regex`, whose captures the templates use.
    pub fn destination_regex(&self) -> Option<&Regex> {
        self.destination.iter().find_map(|m| match m {
            NumberMatcher::Regex(r) => Some(r),
            _ => None,
        })
    }

    /// Matchers on the caller's number; all must hold, and none holds without a caller.
    pub fn caller(&self) -> &[NumberMatcher] {
        &self.caller
    }

    /// The header matcher.
    pub fn header(&self) -> Option<&HeaderMatcher> {
        self.header.as_ref()
    }

    /// Zone of `time` and the holiday dates (UTC unless given).
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The time-of-day and day-of-week window.
    pub fn time(&self) -> Option<&TimeWindow> {
        self.time.as_ref()
    }

    /// When set, the rule holds only on these dates (in the zone).
    pub fn on_holidays(&self) -> Option<&[NaiveDate]> {
        self.on_holidays.as_deref()
    }

    /// The rule never holds on these dates (in the zone).
    pub fn except_holidays(&self) -> &[NaiveDate] {
        &self.except_holidays
    }

    /// What the rule does.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// Rewrite of the destination (applied before `normalize`).
    pub fn number(&self) -> Option<&Template> {
        self.number.as_ref()
    }

    /// Region whose national numbers are rewritten to E.164.
    pub fn normalize(&self) -> Option<Region> {
        self.normalize
    }

    /// New caller number.
    pub fn set_caller_number(&self) -> Option<&Template> {
        self.set_caller_number.as_ref()
    }

    /// New caller display name.
    pub fn set_caller_name(&self) -> Option<&Template> {
        self.set_caller_name.as_ref()
    }

    /// Ask for RFC 3323 identity privacy.
    pub fn privacy(&self) -> bool {
        self.privacy
    }

    /// A call that came in from a trunk may leave through a route group.
    pub fn allow_trunk_origin(&self) -> bool {
        self.allow_trunk_origin
    }

    /// `record = true`: the call is recorded from answer.
    pub fn record(&self) -> bool {
        self.record
    }
}

/// A test on a number (the destination or the caller).
#[derive(Debug, Clone)]
pub enum NumberMatcher {
    /// The number equals this text.
    Exact(String),
    /// The number starts with this text.
    Prefix(String),
    /// The regex finds a match in the number.
    Regex(Regex),
    /// The number, in E.164 form (`+` and digits), belongs to this region.
    Country(Region),
}

/// `header = { name, regex }`: some header of that name has a value the regex matches.
#[derive(Debug, Clone)]
pub struct HeaderMatcher {
    pub(super) name: String,
    pub(super) regex: Regex,
}

impl HeaderMatcher {
    /// The header name, lower-case.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The regex a value must match.
    pub fn regex(&self) -> &Regex {
        &self.regex
    }
}

/// `time = { days, from, to }` in the rule's zone.
///
/// `from` is inclusive and `to` exclusive, in minutes after local midnight (`to` may be 1440,
/// written `24:00`). When `from > to` the window crosses midnight and belongs to the day it
/// starts on: Friday 22:00 to 06:00 holds on Saturday at 02:00.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeWindow {
    pub(super) days: Vec<Weekday>,
    pub(super) from_minute: u16,
    pub(super) to_minute: u16,
}

impl TimeWindow {
    /// The days the window starts on (every day unless given).
    pub fn days(&self) -> &[Weekday] {
        &self.days
    }

    /// Start, minutes after midnight (0..=1439).
    pub fn from_minute(&self) -> u16 {
        self.from_minute
    }

    /// End, minutes after midnight (1..=1440), never equal to the start.
    pub fn to_minute(&self) -> u16 {
        self.to_minute
    }
}

/// The one thing a rule does.
#[derive(Debug, Clone)]
pub enum Action {
    /// `ring`: ring these extensions at once.
    Ring(Vec<Template>),
    /// `ring_sequential`: ring each step's extensions in turn.
    RingSequential(Vec<SequentialStep>),
    /// `route_group`: send the call out through this group of trunks.
    RouteGroup(String),
    /// `goto`: continue in this context with the rewritten destination.
    Goto(String),
    /// `ivr`: answer the call and run this IVR menu.
    Ivr(String),
    /// `hangup` (+ `reason`): answer with this final status.
    Hangup {
        /// 400..=699.
        status: u16,
        /// Reason phrase; the standard one when absent.
        reason: Option<String>,
    },
}

/// One step of `ring_sequential`.
#[derive(Debug, Clone)]
pub struct SequentialStep {
    pub(super) extensions: Vec<Template>,
    pub(super) timeout_secs: Option<u32>,
}

impl SequentialStep {
    /// Extensions rung at once in this step (never empty).
    pub fn extensions(&self) -> &[Template] {
        &self.extensions
    }

    /// How long this step rings (the profile's ring timeout when absent).
    pub fn timeout_secs(&self) -> Option<u32> {
        self.timeout_secs
    }
}
