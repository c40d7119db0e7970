//! Raw serde types of a dialplan file, exactly as written. Nested tables stay `toml` values so
//! that validation can deserialize them key by key and name the exact key that failed.

use serde::Deserialize;
use toml::{Table, Value};

/// One `[[context]]` without its `rule` and `webhook` keys (validated on their own).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawContextHead {
    pub name: Option<String>,
}

/// `webhook = { ... }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawWebhook {
    pub url: Option<String>,
    pub timeout_ms: Option<u32>,
    pub fallback: Option<String>,
}

/// One `[[context.rule]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRule {
    pub name: Option<String>,
    pub destination: Option<String>,
    pub destination_prefix: Option<String>,
    pub destination_regex: Option<String>,
    pub destination_country: Option<String>,
    pub caller: Option<String>,
    pub caller_prefix: Option<String>,
    pub caller_regex: Option<String>,
    pub caller_country: Option<String>,
    pub header: Option<Table>,
    pub zone: Option<String>,
    pub time: Option<Table>,
    /// Strings or TOML dates.
    pub on_holidays: Option<Vec<Value>>,
    /// Strings or TOML dates.
    pub except_holidays: Option<Vec<Value>>,
    pub ring: Option<Vec<String>>,
    pub ring_sequential: Option<Vec<Table>>,
    pub route_group: Option<String>,
    pub goto: Option<String>,
    pub ivr: Option<String>,
    pub record: bool,
    pub hangup: Option<u32>,
    pub reason: Option<String>,
    pub number: Option<String>,
    pub normalize: Option<String>,
    pub set_caller_number: Option<String>,
    pub set_caller_name: Option<String>,
    pub privacy: bool,
    pub allow_trunk_origin: bool,
}

/// `header = { name = "...", regex = "..." }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawHeader {
    pub name: Option<String>,
    pub regex: Option<String>,
}

/// `time = { days = [...], from = "HH:MM", to = "HH:MM" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTime {
    pub days: Option<Vec<String>>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One `ring_sequential` step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStep {
    pub extensions: Option<Vec<String>>,
    pub timeout_secs: Option<u32>,
}
