//! A notification request as accepted and stored (JSON in the store), and its validation:
//! every refusal names the field (`prompts[1]`, `window.timezone`) and why. Prompt files
//! are checked by decoding them, so a request the switch cannot play is refused up front.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::retry::{RETRYABLE, RetryPolicy};
use super::window::CallingWindow;
use crate::media::Audio;

/// Most prompts one notification plays.
pub const MAX_PROMPTS: usize = 10;

/// Most attempts a retry policy may ask for.
pub const MAX_ATTEMPTS: u32 = 10;

/// Longest retry interval, in seconds (a day).
pub const MAX_INTERVAL_SECS: u32 = 86_400;

/// Longest ring timeout, in seconds.
pub const MAX_RING_TIMEOUT_SECS: u32 = 300;

/// The request: who is called, as whom, what they hear, and the policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSpec {
    /// The number called, routed by the dialplan context.
    pub number: String,
    /// The caller number shown.
    pub caller_id: String,
    /// The caller name shown.
    pub caller_id_name: Option<String>,
    /// Prompt files under the sounds directory, played in order.
    pub prompts: Vec<String>,
    /// The confirmation step.
    pub confirm: Option<ConfirmSpec>,
    /// The retry policy; None: one attempt.
    pub retry: Option<RetrySpec>,
    /// The calling window; None: any time.
    pub window: Option<WindowSpec>,
    /// The dialplan context the number is routed in; None: the first phones profile's.
    pub context: Option<String>,
    /// How long the number may ring; None: the configured default.
    pub ring_timeout_secs: Option<u32>,
}

/// The confirmation step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmSpec {
    /// Prompt asking for the digit.
    pub prompt: String,
    /// The digit that confirms (`0`-`9`, `*`, `#`).
    pub digit: String,
    /// How long to wait for the digit after the prompt, in seconds.
    pub timeout_secs: u32,
    /// How often the prompt is repeated after a timeout or a wrong digit.
    pub retries: u32,
    /// Prompt played after the digit.
    pub thanks: Option<String>,
}

/// The retry policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrySpec {
    /// Attempts in all.
    pub max_attempts: u32,
    /// Seconds between an attempt's end and the next.
    pub interval_secs: u32,
    /// Results tried again.
    pub on: Vec<String>,
}

/// The calling window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// Opening time, `HH:MM` local.
    pub start: String,
    /// Closing time, `HH:MM` local (earlier than `start`: the window crosses midnight).
    pub end: String,
    /// IANA time zone (`Europe/Berlin`).
    pub timezone: String,
    /// Weekdays it opens on (`mon` … `sun`); empty: every day.
    pub days: Vec<String>,
}

/// A field of the request that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The field (`prompts[0]`, `confirm.digit`).
    pub field: String,
    /// Why.
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The validated confirmation step.
#[derive(Debug, Clone)]
pub struct ConfirmPlan {
    /// Prompt file.
    pub prompt: PathBuf,
    /// The digit.
    pub digit: char,
    /// Wait after the prompt.
    pub timeout: Duration,
    /// Repeats.
    pub retries: u32,
    /// Thanks prompt file.
    pub thanks: Option<PathBuf>,
}

/// A request as the scheduler uses it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Prompt files, in order.
    pub prompts: Vec<PathBuf>,
    /// Confirmation.
    pub confirm: Option<ConfirmPlan>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Calling window.
    pub window: Option<CallingWindow>,
    /// Ring timeout; None: the configured default.
    pub ring_timeout: Option<Duration>,
}

impl NotificationSpec {
    /// Checks every field; prompt files are resolved under `sounds` and decoded.
    pub fn validate(&self, sounds: &Path) -> Result<Plan, Invalid> {
        phone_number("number", &self.number)?;
        phone_number("caller_id", &self.caller_id)?;
        if let Some(name) = &self.caller_id_name
            && (name.chars().count() > 64
                || name
                    .chars()
                    .any(|c| c.is_control() || c == '"' || c == '\\'))
        {
            return Err(invalid(
                "caller_id_name",
                "at most 64 characters, without quotes, backslashes or control characters",
            ));
        }
        if self.prompts.is_empty() || self.prompts.len() > MAX_PROMPTS {
            return Err(invalid(
                "prompts",
                format!("1 to {MAX_PROMPTS} prompt files"),
            ));
        }
        let prompts = self
            .prompts
            .iter()
            .enumerate()
            .map(|(i, p)| prompt(&format!("prompts[{i}]"), p, sounds))
            .collect::<Result<Vec<_>, _>>()?;
        let confirm = self
            .confirm
            .as_ref()
            .map(|c| confirm(c, sounds))
            .transpose()?;
        let retry = match &self.retry {
            None => RetryPolicy::default(),
            Some(r) => retry(r)?,
        };
        let window = self.window.as_ref().map(window).transpose()?;
        if let Some(context) = &self.context
            && context.trim().is_empty()
        {
            return Err(invalid("context", "must not be empty"));
        }
        let ring_timeout = match self.ring_timeout_secs {
            None => None,
            Some(secs) if (1..=MAX_RING_TIMEOUT_SECS).contains(&secs) => {
                Some(Duration::from_secs(u64::from(secs)))
            }
            Some(_) => {
                return Err(invalid(
                    "ring_timeout_secs",
                    format!("1 to {MAX_RING_TIMEOUT_SECS} seconds"),
                ));
            }
        };
        Ok(Plan {
            prompts,
            confirm,
            retry,
            window,
            ring_timeout,
        })
    }
}

impl NotificationSpec {
    /// The calling window alone (no file access): what the scheduler checks for every due
    /// notification before it validates the rest.
    pub fn calling_window(&self) -> Result<Option<CallingWindow>, Invalid> {
        self.window.as_ref().map(window).transpose()
    }
}

/// A number a SIP URI's user part carries: an optional `+`, then 1 to 31 digits.
fn phone_number(field: &str, value: &str) -> Result<(), Invalid> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.is_empty() || digits.len() > 31 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            field,
            format!("{value:?} is not a number (an optional + and 1 to 31 digits)"),
        ));
    }
    Ok(())
}

/// The path of prompt `value` under `sounds`, checked by decoding it.
fn prompt(field: &str, value: &str, sounds: &Path) -> Result<PathBuf, Invalid> {
    let relative = Path::new(value);
    let plain = !value.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(invalid(
            field,
            format!("{value:?} must be a relative path under the sounds directory, without `..`"),
        ));
    }
    let path = sounds.join(relative);
    Audio::load(&path).map_err(|error| match error {
        crate::media::AudioError::Read { .. } => {
            invalid(field, format!("no readable file {value:?} under sounds/"))
        }
        crate::media::AudioError::Format { source, .. } => {
            invalid(field, format!("{value:?} cannot be played: {source}"))
        }
    })?;
    Ok(path)
}

fn confirm(spec: &ConfirmSpec, sounds: &Path) -> Result<ConfirmPlan, Invalid> {
    let prompt_path = prompt("confirm.prompt", &spec.prompt, sounds)?;
    let mut chars = spec.digit.chars();
    let digit = match (chars.next(), chars.next()) {
        (Some(d), None) if d.is_ascii_digit() || d == '*' || d == '#' => d,
        _ => {
            return Err(invalid("confirm.digit", "one of 0-9, * and #"));
        }
    };
    if !(1..=60).contains(&spec.timeout_secs) {
        return Err(invalid("confirm.timeout_secs", "1 to 60 seconds"));
    }
    if spec.retries > 5 {
        return Err(invalid("confirm.retries", "0 to 5"));
    }
    let thanks = spec
        .thanks
        .as_deref()
        .map(|t| prompt("confirm.thanks", t, sounds))
        .transpose()?;
    Ok(ConfirmPlan {
        prompt: prompt_path,
        digit,
        timeout: Duration::from_secs(u64::from(spec.timeout_secs)),
        retries: spec.retries,
        thanks,
    })
}

fn retry(spec: &RetrySpec) -> Result<RetryPolicy, Invalid> {
    if !(1..=MAX_ATTEMPTS).contains(&spec.max_attempts) {
        return Err(invalid(
            "retry.max_attempts",
            format!("1 to {MAX_ATTEMPTS}"),
        ));
    }
    if !(1..=MAX_INTERVAL_SECS).contains(&spec.interval_secs) {
        return Err(invalid(
            "retry.interval_secs",
            format!("1 to {MAX_INTERVAL_SECS} seconds"),
        ));
    }
    for (i, on) in spec.on.iter().enumerate() {
        if !RETRYABLE.contains(&on.as_str()) {
            return Err(invalid(
                format!("retry.on[{i}]"),
                format!("{on:?} is not one of {}", RETRYABLE.join(", ")),
            ));
        }
    }
    Ok(RetryPolicy {
        max_attempts: spec.max_attempts,
        interval: Duration::from_secs(u64::from(spec.interval_secs)),
        on: if spec.on.is_empty() {
            RetryPolicy::default().on
        } else {
            spec.on.clone()
        },
    })
}

fn window(spec: &WindowSpec) -> Result<CallingWindow, Invalid> {
    let time = |field: &str, value: &str| {
        NaiveTime::parse_from_str(value, "%H:%M")
            .map_err(|_| invalid(field, format!("{value:?} is not a time HH:MM")))
    };
    let start = time("window.start", &spec.start)?;
    let end = time("window.end", &spec.end)?;
    if start == end {
        return Err(invalid("window.end", "must differ from window.start"));
    }
    let timezone: Tz = spec.timezone.parse().map_err(|_| {
        invalid(
            "window.timezone",
            format!(
                "{:?} is not an IANA time zone (e.g. Europe/Berlin)",
                spec.timezone
            ),
        )
    })?;
    let mut days = Vec::with_capacity(spec.days.len());
    for (i, day) in spec.days.iter().enumerate() {
        let weekday = match day.as_str() {
            "mon" => Weekday::Mon,
            "tue" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            _ => {
                return Err(invalid(
                    format!("window.days[{i}]"),
                    format!("{day:?} is not one of mon, tue, wed, thu, fri, sat, sun"),
                ));
            }
        };
        if !days.contains(&weekday) {
            days.push(weekday);
        }
    }
    Ok(CallingWindow::new(start, end, timezone, days))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// The repo's `sounds/` directory (prompts shipped with the switch).
    fn sounds() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds")
    }

    fn spec() -> NotificationSpec {
        NotificationSpec {
            number: "15551234567".into(),
            caller_id: "+15550001111".into(),
            caller_id_name: Some("Acme".into()),
            prompts: vec!["notify/reminder.wav".into()],
            confirm: Some(ConfirmSpec {
                prompt: "notify/press1.wav".into(),
                digit: "1".into(),
                timeout_secs: 5,
                retries: 2,
                thanks: Some("notify/thanks.wav".into()),
            }),
            retry: Some(RetrySpec {
                max_attempts: 3,
                interval_secs: 60,
                on: vec!["no_answer".into(), "busy".into()],
            }),
            window: Some(WindowSpec {
                start: "09:00".into(),
                end: "20:00".into(),
                timezone: "Europe/Berlin".into(),
                days: vec!["mon".into(), "fri".into()],
            }),
            context: Some("default".into()),
            ring_timeout_secs: Some(30),
        }
    }

    fn field_of(spec: &NotificationSpec) -> String {
        spec.validate(&sounds()).unwrap_err().field
    }

    #[test]
    fn a_complete_request_with_shipped_prompts_is_accepted() {
        let plan = spec().validate(&sounds()).unwrap();
        assert_eq!(plan.prompts.len(), 1);
        assert_eq!(plan.confirm.unwrap().digit, '1');
        assert_eq!(plan.retry.max_attempts, 3);
        assert_eq!(plan.ring_timeout, Some(Duration::from_secs(30)));
    }

    #[test]
    fn bad_numbers_are_refused_naming_the_field() {
        let mut s = spec();
        s.number = "555-1234".into();
        assert_eq!(field_of(&s), "number");
        let mut s = spec();
        s.caller_id = String::new();
        assert_eq!(field_of(&s), "caller_id");
    }

    #[test]
    fn prompts_must_exist_stay_under_sounds_and_decode() {
        let mut s = spec();
        s.prompts = vec!["notify/reminder.wav".into(), "notify/missing.wav".into()];
        assert_eq!(field_of(&s), "prompts[1]");
        let mut s = spec();
        s.prompts = vec!["../api.toml".into()];
        assert_eq!(field_of(&s), "prompts[0]");
        let mut s = spec();
        s.prompts = vec!["/etc/passwd".into()];
        assert_eq!(field_of(&s), "prompts[0]");
        let mut s = spec();
        s.prompts = Vec::new();
        assert_eq!(field_of(&s), "prompts");
        let mut s = spec();
        s.prompts = vec!["notify/reminder.wav".into(); 11];
        assert_eq!(field_of(&s), "prompts");
    }

    #[test]
    fn a_file_that_is_not_a_wav_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.wav"), b"not a wav").unwrap();
        let mut s = spec();
        s.prompts = vec!["x.wav".into()];
        s.confirm = None;
        let error = s.validate(dir.path()).unwrap_err();
        assert_eq!(error.field, "prompts[0]");
    }

    #[test]
    fn confirmation_fields_are_checked() {
        let mut s = spec();
        if let Some(c) = s.confirm.as_mut() {
            c.digit = "12".into();
        }
        assert_eq!(field_of(&s), "confirm.digit");
        let mut s = spec();
        if let Some(c) = s.confirm.as_mut() {
            c.timeout_secs = 0;
        }
        assert_eq!(field_of(&s), "confirm.timeout_secs");
        let mut s = spec();
        if let Some(c) = s.confirm.as_mut() {
            c.thanks = Some("nope.wav".into());
        }
        assert_eq!(field_of(&s), "confirm.thanks");
    }

    #[test]
    fn retry_and_window_fields_are_checked() {
        let mut s = spec();
        if let Some(r) = s.retry.as_mut() {
            r.on = vec!["busy".into(), "sometimes".into()];
        }
        assert_eq!(field_of(&s), "retry.on[1]");
        let mut s = spec();
        if let Some(r) = s.retry.as_mut() {
            r.max_attempts = 0;
        }
        assert_eq!(field_of(&s), "retry.max_attempts");
        let mut s = spec();
        if let Some(w) = s.window.as_mut() {
            w.timezone = "Mars/Olympus".into();
        }
        assert_eq!(field_of(&s), "window.timezone");
        let mut s = spec();
        if let Some(w) = s.window.as_mut() {
            w.start = "25:00".into();
        }
        assert_eq!(field_of(&s), "window.start");
        let mut s = spec();
        if let Some(w) = s.window.as_mut() {
            w.days = vec!["mon".into(), "someday".into()];
        }
        assert_eq!(field_of(&s), "window.days[1]");
        let mut s = spec();
        if let Some(w) = s.window.as_mut() {
            w.end = w.start.clone();
        }
        assert_eq!(field_of(&s), "window.end");
    }

    #[test]
    fn the_ring_timeout_is_bounded() {
        let mut s = spec();
        s.ring_timeout_secs = Some(0);
        assert_eq!(field_of(&s), "ring_timeout_secs");
        s.ring_timeout_secs = Some(301);
        assert_eq!(field_of(&s), "ring_timeout_secs");
    }
}
