//! `${var}` text templates of IVR actions (transfer targets, numbers, webhook URLs, `set`
//! values): literal text and call variables, expanded against the call's variables.

use std::collections::BTreeMap;

/// The call variables of an IVR session: collected digits and `set` values, by name.
pub type Variables = BTreeMap<String, String>;

/// Text with `${name}` references to call variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

impl VarTemplate {
    /// Parses `text`; a `${` must close with `}` around a variable name.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err("`${` without a closing `}`");
            };
            let name = &after[..end];
            if !is_variable_name(name) {
                return Err("a variable name is 1 to 32 letters, digits or '_'");
            }
            parts.push(Part::Var(name.to_owned()));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The text with each variable replaced by its value (unset variables by nothing).
    pub fn expand(&self, variables: &Variables) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(name) => out.push_str(variables.get(name).map_or("", String::as_str)),
            }
        }
        out
    }

    /// Whether the template names no variable.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }
}

/// 1 to 32 ASCII letters, digits or `_`.
pub(super) fn is_variable_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn variables_expand_and_unset_ones_vanish() {
        let t = VarTemplate::parse("9${ext}-${none}x").unwrap();
        let vars = Variables::from([("ext".to_owned(), "1001".to_owned())]);
        assert_eq!(t.expand(&vars), "91001-x");
        assert!(!t.is_literal());
        assert!(VarTemplate::parse("1001").unwrap().is_literal());
    }

    #[test]
    fn unclosed_or_bad_references_are_refused() {
        assert!(VarTemplate::parse("${ext").is_err());
        assert!(VarTemplate::parse("${}").is_err());
        assert!(VarTemplate::parse("${a b}").is_err());
    }
}
