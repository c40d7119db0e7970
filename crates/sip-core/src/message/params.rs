//! Ordered `;name=value` parameter lists used by URIs, Via, name-addr and Contact.
//!
//! Names compare case-insensitively and, for URI parameters, after `%HH` unescaping
//! (RFC 3261 §19.1.4). Values are kept as written on the wire (quoted strings keep quotes).

use std::borrow::Cow;
use std::fmt;

use super::short_text::ShortText;
use super::syntax::{
    TOKEN_BYTES, eq_ignore_case, is_token_byte, is_ws, quoted_len, split_once_byte, unescape,
};

/// One parameter: a name with an optional value, as written on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    name: Cow<'static, str>,
    value: Option<ShortText>,
}

/// Well-known parameter names, shared instead of allocated per parse.
const COMMON_NAMES: [&str; 14] = [
    "branch",
    "tag",
    "rport",
    "received",
    "lr",
    "transport",
    "maddr",
    "ttl",
    "user",
    "method",
    "expires",
    "q",
    "ob",
    "reg-id",
];

fn intern(name: &str) -> Cow<'static, str> {
    match COMMON_NAMES.iter().find(|n| **n == name) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(name.to_owned()),
    }
}

impl Param {
    /// A parameter with the given name and optional value (taken as wire text).
    pub fn new(name: &str, value: Option<String>) -> Param {
        Param {
            name: intern(name),
            value: value.map(ShortText::from_string),
        }
    }

    /// A parameter read from the wire: the value is copied without an allocation when short.
    fn parsed(name: &str, value: Option<&str>) -> Param {
        Param {
            name: intern(name),
            value: value.map(ShortText::new),
        }
    }

    /// The name as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value as written (quoted strings keep their quotes), `None` for a bare name.
    pub fn value(&self) -> Option<&str> {
        self.value.as_ref().map(ShortText::as_str)
    }

    /// True when this parameter's name equals `name` ignoring ASCII case and `%HH` escapes.
    pub fn is_named(&self, name: &str) -> bool {
        if self.name == name || eq_ignore_case(self.name.as_bytes(), name.as_bytes()) {
            return true;
        }
        self.name.as_bytes().contains(&b'%')
            && eq_ignore_case(&unescape(&self.name), name.as_bytes())
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}", self.name, v),
            None => f.write_str(&self.name),
        }
    }
}

/// An ordered list of parameters. `Display` writes each as `;name[=value]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Params {
    items: Vec<Param>,
}

impl Params {
    /// An empty list.
    pub fn new() -> Params {
        Params::default()
    }

    /// The first parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.items.iter().find(|p| p.is_named(name))
    }

    /// The value of the first parameter called `name`, if it has one.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Param::value)
    }

    /// True when a parameter called `name` is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Replaces the value of the first parameter called `name`, or appends it.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self.items.iter_mut().find(|p| p.is_named(name)) {
            Some(p) => p.value = value.map(ShortText::from_string),
            None => self.items.push(Param::new(name, value)),
        }
    }

    /// Appends a parameter without looking for an existing one.
    pub fn push(&mut self, param: Param) {
        self.items.push(param);
    }

    /// Removes every parameter called `name`; true when one was removed.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|p| !p.is_named(name));
        before != self.items.len()
    }

    /// Parameters in wire order.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.items.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Parses header parameters: `s` is the text after the value proper, starting with `;`
    /// (or empty). RFC 3261 §7.3.1 allows LWS around `;` and `=`. `None` on an empty
    /// parameter (`;;`), a non-token name, or a malformed value.
    pub(crate) fn parse_header_params(s: &str) -> Option<Params> {
        let b = s.as_bytes();
        let mut items = Vec::new();
        let mut i = skip_ws(b, 0);
        while i < b.len() {
            if b[i] != b';' {
                return None;
            }
            i = skip_ws(b, i + 1);
            let name_start = i;
            while i < b.len() && is_token_byte(b[i]) {
                i += 1;
            }
            if i == name_start {
                return None;
            }
            let name = &s[name_start..i];
            i = skip_ws(b, i);
            let mut value = None;
            if i < b.len() && b[i] == b'=' {
                i = skip_ws(b, i + 1);
                let v_start = i;
                if i < b.len() && b[i] == b'"' {
                    i += quoted_len(&b[i..])?;
                } else {
                    while i < b.len() && is_value_byte(b[i]) {
                        i += 1;
                    }
                }
                if i == v_start {
                    return None;
                }
                value = Some(&s[v_start..i]);
                i = skip_ws(b, i);
            }
            items.push(Param::parsed(name, value));
        }
        Some(Params { items })
    }

    /// Parses URI parameters: `s` is the text after the host/port, each starting with `;`
    /// (RFC 3261 §19.1.1: no whitespace). `None` when a name is empty.
    pub(crate) fn parse_uri_params(s: &str) -> Option<Params> {
        let mut items = Vec::new();
        if s.is_empty() {
            return Some(Params { items });
        }
        let rest = s.strip_prefix(';')?;
        for part in rest.split(';') {
            let (name, value) = match split_once_byte(part, b'=') {
                Some((n, v)) => (n, Some(v)),
                None => (part, None),
            };
            if name.is_empty() || !name.bytes().all(is_uri_param_byte) {
                return None;
            }
            if let Some(v) = value
                && (v.is_empty() || !v.bytes().all(is_uri_param_byte))
            {
                return None;
            }
            items.push(Param::parsed(name, value));
        }
        Some(Params { items })
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.items {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

/// A header parameter value byte outside quotes: a `token` byte, or `[`, `]` and `:` for an
/// IPv6 `received` (RFC 3261 §20.42, RFC 5118 §4.5).
fn is_value_byte(b: u8) -> bool {
    VALUE_BYTES[usize::from(b)]
}

const VALUE_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = TOKEN_BYTES[i] || matches!(i as u8, b'[' | b']' | b':');
        i += 1;
    }
    table
};

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

/// RFC 3261 §25.1 `paramchar` (escapes are checked by the caller).
pub(crate) fn is_uri_param_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'[' | b']'
                | b'/'
                | b':'
                | b'&'
                | b'+'
                | b'$'
                | b'-'
                | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b'%'
        )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn header_params_allow_whitespace_around_separators() {
        let p = Params::parse_header_params(" ;   tag    = 1918181833n").unwrap();
        assert_eq!(p.value("tag"), Some("1918181833n"));
    }

    #[test]
    fn header_params_reject_empty_parameter() {
        assert!(Params::parse_header_params(";;").is_none());
        assert!(Params::parse_header_params(";a=").is_none());
    }

    #[test]
    fn uri_param_lookup_ignores_case_and_escapes() {
        let p = Params::parse_uri_params(";%6C%72;n%61me=v").unwrap();
        assert!(p.contains("lr"));
        assert!(p.contains("NAME"));
    }

    #[test]
    fn set_replaces_existing_value() {
        let mut p = Params::parse_header_params(";rport;branch=z9hG4bK1").unwrap();
        p.set("rport", Some("5060".into()));
        assert_eq!(p.to_string(), ";rport=5060;branch=z9hG4bK1");
    }
}
