//! A contact URI kept exactly as the phone sent it, with its parsed form for comparisons.

use std::fmt;

use sip_core::message::Uri;

/// Why a Contact URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactUriError {
    /// The text is not a URI we can parse.
    #[error("contact URI does not parse")]
    Malformed,
}

/// A Contact URI: the exact text (what we send back and route to) plus the parsed form used
/// for RFC 3261 §19.1.4 equivalence.
#[derive(Debug, Clone)]
pub struct ContactUri {
    raw: String,
    parsed: Uri,
}

impl ContactUri {
    /// Parses `raw`, the URI between `<` and `>` (or the bare addr-spec).
    pub fn parse(raw: &str) -> Result<Self, ContactUriError> {
        let parsed = Uri::parse(raw).ok_or(ContactUriError::Malformed)?;
        Ok(Self {
            raw: raw.to_owned(),
            parsed,
        })
    }

    /// A contact from an already parsed URI, keeping `raw` as its text.
    pub fn from_parts(raw: String, parsed: Uri) -> Self {
        Self { raw, parsed }
    }

    /// The URI text exactly as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed URI.
    pub fn uri(&self) -> &Uri {
        &self.parsed
    }

    /// RFC 3261 §19.1.4 URI equivalence (case-insensitive text for non-SIP schemes).
    pub fn equivalent(&self, other: &ContactUri) -> bool {
        self.parsed.equivalent(&other.parsed)
    }
}

impl PartialEq for ContactUri {
    /// Two contacts are equal when their text is identical (use [`ContactUri::equivalent`] for
    /// protocol comparisons).
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl fmt::Display for ContactUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}
