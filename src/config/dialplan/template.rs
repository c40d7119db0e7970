//! Text templates of dialplan actions and modifiers (`"+1$1"`, `"${ext}"`): literal text with
//! references to the capture groups of the rule's `destination_regex`.
//!
//! Syntax: `$0`..`$9` name a group by number (one digit), `${12}` or `${name}` any group,
//! `$$` is a literal `$`. `$0` is the whole match, or the whole destination when the rule has
//! no regex. Anything else after `$` is an error.

use regex::{Captures, Regex};

/// A parsed template; expanded per call with the rule's captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Index(usize),
    Name(String),
}

/// Why a template does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// `$` at the end, or followed by something other than a digit, `{` or `$`.
    DanglingDollar,
    /// `${` without its `}`, or an empty or malformed group name inside.
    BadBraces,
}

impl TemplateError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::DanglingDollar => "'$' must be followed by a digit, {group} or another '$'",
            Self::BadBraces => {
                "'${' must hold a group number or name (letters, digits, '_') and end with '}'"
            }
        }
    }
}

impl Template {
    /// Parses `source`.
    pub(crate) fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' {
                literal.push(c);
                continue;
            }
            let part = match chars.next() {
                Some('$') => {
                    literal.push('$');
                    continue;
                }
                Some(d) if d.is_ascii_digit() => Part::Index(d as usize - '0' as usize),
                Some('{') => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() || c == '_' => name.push(c),
                            _ => return Err(TemplateError::BadBraces),
                        }
                    }
                    if name.is_empty() {
                        return Err(TemplateError::BadBraces);
                    }
                    match name.parse::<usize>() {
                        Ok(i) => Part::Index(i),
                        Err(_) if name.starts_with(|c: char| c.is_ascii_digit()) => {
                            return Err(TemplateError::BadBraces);
                        }
                        Err(_) => Part::Name(name),
                    }
                }
                _ => return Err(TemplateError::DanglingDollar),
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first group this template names that `regex` lacks (every group but `$0` when
    /// there is no regex), as written: `$2`, `${name}`.
    pub(crate) fn missing_group(&self, regex: Option<&Regex>) -> Option<String> {
        self.parts.iter().find_map(|p| {
            let present = match (p, regex) {
                (Part::Literal(_), _) | (Part::Index(0), _) => true,
                (Part::Index(i), Some(r)) => *i < r.captures_len(),
                (Part::Name(n), Some(r)) => r.capture_names().flatten().any(|g| g == n),
                (_, None) => false,
            };
            match p {
                _ if present => None,
                Part::Index(i) if *i < 10 => Some(format!("${i}")),
                Part::Index(i) => Some(format!("${{{i}}}")),
                Part::Name(n) => Some(format!("${{{n}}}")),
                Part::Literal(_) => None,
            }
        })
    }

    /// The text with each reference replaced: by its group in `captures` (empty when the
    /// group did not take part in the match), or, without captures, `$0` by `whole`.
    pub fn expand(&self, captures: Option<&Captures<'_>>, whole: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match (part, captures) {
                (Part::Literal(s), _) => out.push_str(s),
                (Part::Index(0), None) => out.push_str(whole),
                (Part::Index(i), Some(c)) => {
                    out.push_str(c.get(*i).map_or("", |m| m.as_str()));
                }
                (Part::Name(n), Some(c)) => out.push_str(c.name(n).map_or("", |m| m.as_str())),
                (_, None) => {}
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn parsing_and_expanding_never_panic(template in "[$0-9{}a-z_]{0,16}", text in "[0-9]{0,8}") {
            if let Ok(t) = Template::parse(&template) {
                let r = Regex::new(r"^(?P<a>\d)?(\d*)$").unwrap();
                let caps = r.captures(&text);
                let _ = t.missing_group(Some(&r));
                let _ = t.expand(caps.as_ref(), &text);
                let _ = t.expand(None, &text);
            }
        }
    }

    fn expand(template: &str, regex: &str, text: &str) -> String {
        let r = Regex::new(regex).unwrap();
        let caps = r.captures(text).unwrap();
        Template::parse(template).unwrap().expand(Some(&caps), text)
    }

    #[test]
    fn numbered_and_named_groups_and_literals_expand() {
        assert_eq!(expand("+1$1", r"^9(\d+)$", "92125551234"), "+12125551234");
        assert_eq!(
            expand("${ext}-${1}x$$", r"^(?P<ext>\d{4})$", "1001"),
            "1001-1001x$"
        );
        assert_eq!(expand("$0", r"\d+", "ab12cd"), "12");
    }

    #[test]
    fn a_single_digit_ends_a_reference_so_digits_may_follow() {
        assert_eq!(expand("$10", r"^(\d)$", "7"), "70");
    }

    #[test]
    fn without_a_regex_dollar_zero_is_the_whole_destination() {
        let t = Template::parse("sip-$0").unwrap();
        assert_eq!(t.expand(None, "1001"), "sip-1001");
        assert_eq!(t.missing_group(None), None);
        assert_eq!(
            Template::parse("$1")
                .unwrap()
                .missing_group(None)
                .as_deref(),
            Some("$1")
        );
    }

    #[test]
    fn groups_the_regex_lacks_are_reported_as_written() {
        let r = Regex::new(r"^(?P<a>\d)(\d)$").unwrap();
        let ok = Template::parse("$1$2${a}${2}").unwrap();
        assert_eq!(ok.missing_group(Some(&r)), None);
        let bad = |s: &str| Template::parse(s).unwrap().missing_group(Some(&r));
        assert_eq!(bad("$3").as_deref(), Some("$3"));
        assert_eq!(bad("${12}").as_deref(), Some("${12}"));
        assert_eq!(bad("${b}").as_deref(), Some("${b}"));
    }

    #[test]
    fn malformed_references_are_rejected() {
        for bad in ["$", "a$b", "${", "${}", "${a", "${a-b}", "${1a}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let empty_group = Regex::new(r"^(x)?(\d+)$").unwrap();
        let caps = empty_group.captures("12").unwrap();
        let t = Template::parse("[$1]").unwrap();
        assert_eq!(t.expand(Some(&caps), "12"), "[]");
    }
}
