//! Rate tables for least-cost routing: `prefix,rate` lines, `#` comments, blank lines.
//! Validated here; the runtime builds its longest-prefix index from them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::{ConfigError, ConfigErrorKind, Location};

/// Longest prefix accepted, in digits (a leading `+` is not counted).
pub const MAX_PREFIX_DIGITS: usize = 18;

/// A validated rate table: distinct digit prefixes (without `+`) with a finite rate >= 0.
/// Cheap to clone.
#[derive(Clone, Default, PartialEq)]
pub struct RateTable {
    entries: Arc<[(Box<str>, f64)]>,
}

impl std::fmt::Debug for RateTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateTable")
            .field("prefixes", &self.entries.len())
            .finish()
    }
}

impl RateTable {
    /// A table from `(prefix, rate)` pairs, for tests and benchmarks; `None` if a prefix is
    /// not 1 to 18 digits (after an optional `+`), is listed twice, or a rate is negative or
    /// not finite.
    pub fn from_pairs<I, S>(pairs: I) -> Option<RateTable>
    where
        I: IntoIterator<Item = (S, f64)>,
        S: AsRef<str>,
    {
        let mut seen = std::collections::HashSet::new();
        let mut entries = Vec::new();
        for (prefix, rate) in pairs {
            let digits = prefix_digits(prefix.as_ref()).ok()?;
            if !valid_rate(rate) || !seen.insert(digits.to_owned()) {
                return None;
            }
            entries.push((Box::from(digits), rate));
        }
        Some(RateTable {
            entries: entries.into(),
        })
    }

    /// The `(prefix digits, rate)` entries in file order.
    pub fn entries(&self) -> &[(Box<str>, f64)] {
        &self.entries
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no prefix.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Reads and validates the rate table at `path`. A read error is about the file; a bad
/// line names its line number. The first error is returned.
pub fn load_rate_table(path: &Path) -> Result<RateTable, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::new(path, Location::File, ConfigErrorKind::Read(e)))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ConfigError::new(path, Location::File, ConfigErrorKind::NotUtf8))?;
    parse_rate_table(path, &text)
}

/// Validates rate-table text; `path` only names the file in errors.
pub(crate) fn parse_rate_table(path: &Path, text: &str) -> Result<RateTable, ConfigError> {
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let at = |kind| ConfigError::new(path, Location::Line { line, column: 1 }, kind);
        let bad = |reason| {
            at(ConfigErrorKind::BadRateLine {
                text: raw.trim().to_owned(),
                reason,
            })
        };
        let Some((prefix, rate)) = content.split_once(',') else {
            return Err(bad("expected prefix,rate"));
        };
        let digits = prefix_digits(prefix.trim()).map_err(bad)?;
        let rate: f64 = rate
            .trim()
            .parse()
            .map_err(|_| bad("the rate is not a number"))?;
        if !valid_rate(rate) {
            return Err(bad("the rate must be a finite number >= 0"));
        }
        if let Some(&first) = first_line.get(digits) {
            return Err(at(ConfigErrorKind::DuplicatePrefix {
                prefix: digits.to_owned(),
                first_line: first,
            }));
        }
        first_line.insert(digits, line);
        entries.push((Box::from(digits), rate));
    }
    Ok(RateTable {
        entries: entries.into(),
    })
}

fn valid_rate(rate: f64) -> bool {
    rate.is_finite() && rate >= 0.0
}

/// The digits of a prefix written with an optional leading `+`.
fn prefix_digits(prefix: &str) -> Result<&str, &'static str> {
    let digits = prefix.strip_prefix('+').unwrap_or(prefix);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the prefix must be digits (an optional leading + is ignored)");
    }
    if digits.len() > MAX_PREFIX_DIGITS {
        return Err("the prefix is longer than 18 digits");
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn rate_table_reads_prefixes_skipping_comments_and_blank_lines() {
        let text = "# carrier A\n\n+1,0.010\n1555, 0.02 # local\n44,0.03\n";
        let t = parse_rate_table(Path::new("r.csv"), text).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(&*t.entries()[0].0, "1");
        assert_eq!(t.entries()[1].1, 0.02);
    }

    #[test]
    fn bad_rate_line_names_its_line() {
        let e = parse_rate_table(Path::new("r.csv"), "1,0.1\n\n12x,0.2\n").unwrap_err();
        assert_eq!(e.location(), &Location::Line { line: 3, column: 1 });
        assert!(e.to_string().starts_with("r.csv:3:1: invalid rate line"));
        let e = parse_rate_table(Path::new("r.csv"), "1,-0.1\n").unwrap_err();
        assert!(matches!(e.kind(), ConfigErrorKind::BadRateLine { .. }));
        let e = parse_rate_table(Path::new("r.csv"), "1;0.1\n").unwrap_err();
        assert!(matches!(e.kind(), ConfigErrorKind::BadRateLine { .. }));
    }

    #[test]
    fn prefix_listed_twice_is_refused_with_its_first_line() {
        let e = parse_rate_table(Path::new("r.csv"), "1,0.1\n+1,0.2\n").unwrap_err();
        assert!(matches!(
            e.kind(),
            ConfigErrorKind::DuplicatePrefix { first_line: 1, .. }
        ));
        assert_eq!(e.location(), &Location::Line { line: 2, column: 1 });
    }

    proptest::proptest! {
        #[test]
        fn rate_table_parser_never_panics(text in "[0-9+,.#\\n a-z-]{0,200}") {
            let _ = parse_rate_table(Path::new("r.csv"), &text);
        }
    }

    #[test]
    fn missing_rate_file_is_a_read_error_about_the_file() {
        let e = load_rate_table(Path::new("/nonexistent/rates.csv")).unwrap_err();
        assert!(matches!(e.kind(), ConfigErrorKind::Read(_)));
        assert_eq!(e.location(), &Location::File);
    }
}
