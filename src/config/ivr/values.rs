//! Checks of single values in IVR files and webhook answers: names, integers, DTMF keys,
//! `${var}` templates, prompt files. Each reports into the validation context and gives None
//! on error.

use toml::{Table, Value};

use super::super::error::ConfigErrorKind;
use super::action::{Cx, Prompt};
use super::vars::VarTemplate;

/// Reports keys of `t` not in `known`.
pub(super) fn unknown_keys(cx: &mut Cx<'_>, prefix: &str, t: &Table, known: &[&str]) {
    for k in t.keys().filter(|k| !known.contains(&k.as_str())) {
        cx.error(
            format!("{prefix}.{k}"),
            schema(&format!(
                "unknown key `{k}`, expected one of {}",
                known.join(", ")
            )),
        );
    }
}

pub(super) fn schema(message: &str) -> ConfigErrorKind {
    ConfigErrorKind::Schema {
        message: message.to_owned(),
    }
}

/// A menu, context or route group name: letters, digits, `.`, `_`, `-`, at most 64.
pub(super) fn name(
    cx: &mut Cx<'_>,
    key: &str,
    value: Option<&Value>,
    what: &'static str,
) -> Option<String> {
    match value {
        None => cx.error(key, ConfigErrorKind::Missing),
        Some(Value::String(n)) if n.is_empty() => cx.error(key, ConfigErrorKind::Empty),
        Some(Value::String(n)) if !is_name(n) => cx.error(
            key,
            ConfigErrorKind::InvalidText {
                what,
                value: n.clone(),
                allowed: "use letters, digits, '.', '_' and '-' (at most 64)",
            },
        ),
        Some(Value::String(n)) => return Some(n.clone()),
        Some(_) => cx.error(key, schema("must be a string")),
    }
    None
}

fn is_name(s: &str) -> bool {
    s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A non-empty `${var}` template without control characters.
pub(super) fn template(cx: &mut Cx<'_>, key: &str, value: Option<&Value>) -> Option<VarTemplate> {
    match value {
        Some(Value::String(s)) if s.is_empty() => {
            cx.error(key, ConfigErrorKind::Empty);
            None
        }
        Some(v) => template_allow_empty(cx, key, v),
        None => {
            cx.error(key, ConfigErrorKind::Missing);
            None
        }
    }
}

pub(super) fn template_allow_empty(
    cx: &mut Cx<'_>,
    key: &str,
    value: &Value,
) -> Option<VarTemplate> {
    let Value::String(s) = value else {
        cx.error(key, schema("must be a string"));
        return None;
    };
    if s.chars().any(char::is_control) {
        cx.error(
            key,
            ConfigErrorKind::InvalidText {
                what: "text",
                value: s.clone(),
                allowed: "no control characters",
            },
        );
        return None;
    }
    match VarTemplate::parse(s) {
        Ok(t) => Some(t),
        Err(reason) => {
            cx.error(
                key,
                ConfigErrorKind::BadTemplate {
                    value: s.clone(),
                    reason,
                },
            );
            None
        }
    }
}

/// A prompt file, loaded through the context's loader.
pub(super) fn prompt(cx: &mut Cx<'_>, key: &str, value: Option<&Value>) -> Option<Prompt> {
    let path = match value {
        Some(Value::String(p)) if p.is_empty() => {
            cx.error(key, ConfigErrorKind::Empty);
            return None;
        }
        Some(Value::String(p)) => p.clone(),
        Some(_) => {
            cx.error(key, schema("must be a file name (string)"));
            return None;
        }
        None => {
            cx.error(key, ConfigErrorKind::Missing);
            return None;
        }
    };
    let inside = std::path::Path::new(&path).components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    if !inside {
        cx.error(
            key,
            ConfigErrorKind::BadPrompt {
                path,
                reason: "must be a relative path inside sounds/ (no `..`, not absolute)".to_owned(),
            },
        );
        return None;
    }
    match (cx.load_prompt)(&path) {
        Ok(audio) => Some(Prompt { path, audio }),
        Err(reason) => {
            cx.error(key, ConfigErrorKind::BadPrompt { path, reason });
            None
        }
    }
}

/// A single DTMF character: `0`-`9`, `*`, `#`, `A`-`D`.
pub(super) fn digit(cx: &mut Cx<'_>, key: &str, value: &Value) -> Option<char> {
    if let Value::String(s) = value {
        let mut chars = s.chars();
        if let (Some(c), None) = (chars.next(), chars.next())
            && is_dtmf(c)
        {
            return Some(c);
        }
    }
    cx.error(
        key,
        ConfigErrorKind::InvalidText {
            what: "DTMF key",
            value: value.to_string(),
            allowed: "one of 0-9, *, #, A-D",
        },
    );
    None
}

/// Whether `c` is a DTMF digit.
fn is_dtmf(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D')
}

/// An integer in `min..=max`, `default` when absent.
pub(super) fn int(
    cx: &mut Cx<'_>,
    key: &str,
    value: Option<&Value>,
    default: u64,
    min: u64,
    max: u64,
) -> Option<u64> {
    let v = match value {
        None => return Some(default),
        Some(Value::Integer(i)) => u64::try_from(*i).unwrap_or(0),
        Some(_) => {
            cx.error(key, schema("must be an integer"));
            return None;
        }
    };
    if !(min..=max).contains(&v) {
        cx.error(key, ConfigErrorKind::OutOfRange { value: v, min, max });
        return None;
    }
    Some(v)
}
