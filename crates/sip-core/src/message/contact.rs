//! The Contact header (RFC 3261 §20.10): `*` or a list of addresses with `q` and `expires`.

use std::fmt;

use super::name_addr::NameAddr;
use super::params::Params;
use super::syntax::{parse_u32, split_top_level, trim_ws};
use super::uri::Uri;

/// One Contact value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Contact {
    addr: NameAddr,
}

/// All Contact values of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactList {
    /// `Contact: *` (RFC 3261 §10.2.2: remove all bindings, only with `Expires: 0`).
    Star,
    /// Zero or more addresses, in order.
    List(Vec<Contact>),
}

impl Contact {
    /// A contact for `addr`.
    pub fn new(addr: NameAddr) -> Contact {
        Contact { addr }
    }

    /// The contact URI.
    pub fn uri(&self) -> &Uri {
        &self.addr.uri
    }

    /// The display name, if any.
    pub fn display_name(&self) -> Option<&str> {
        self.addr.display_name.as_deref()
    }

    /// The whole address.
    pub fn addr(&self) -> &NameAddr {
        &self.addr
    }

    /// Contact parameters (not URI parameters; RFC 4475 §3.3.12).
    pub fn params(&self) -> &Params {
        &self.addr.params
    }

    /// Mutable contact parameters.
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.addr.params
    }

    /// The `q` value in thousandths (RFC 3261 §20.10 `qvalue`), `None` when absent or invalid.
    pub fn q_millis(&self) -> Option<u16> {
        parse_qvalue(self.addr.params.value("q")?)
    }

    /// The `q` value as a number in 0.0..=1.0.
    pub fn q(&self) -> Option<f32> {
        self.q_millis().map(|m| f32::from(m) / 1000.0)
    }

    /// The `expires` parameter in seconds; `None` when absent or not a valid `u32`.
    pub fn expires(&self) -> Option<u32> {
        parse_u32(self.addr.params.value("expires")?)
    }
}

/// RFC 3261 §25.1 `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut millis = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        millis += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(millis),
        "1" if millis == 0 => Some(1000),
        _ => None,
    }
}

impl ContactList {
    /// Parses the values of one Contact header line and appends them to `self`.
    pub(crate) fn parse_line(s: &str) -> Option<ContactList> {
        let s = trim_ws(s);
        if s == "*" {
            return Some(ContactList::Star);
        }
        let contacts = split_top_level(s, b',')?
            .into_iter()
            .map(|part| NameAddr::parse(part).map(Contact::new))
            .collect::<Option<Vec<_>>>()?;
        Some(ContactList::List(contacts))
    }

    /// The contacts (empty for `*`).
    pub fn contacts(&self) -> &[Contact] {
        match self {
            ContactList::Star => &[],
            ContactList::List(v) => v,
        }
    }

    /// True for `*`.
    pub fn is_star(&self) -> bool {
        matches!(self, ContactList::Star)
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn contact_params_are_read() {
        let l = ContactList::parse_line(
            r#""Quoted string \"\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33"#,
        )
        .unwrap();
        let c = &l.contacts()[0];
        assert_eq!(c.q_millis(), Some(330));
        assert_eq!(c.params().value("newparam"), Some("newvalue"));
        assert!(c.params().contains("secondparam"));
    }

    #[test]
    fn star_and_lists_are_distinguished() {
        assert!(ContactList::parse_line(" * ").unwrap().is_star());
        let l = ContactList::parse_line("<sip:a@b>;expires=60, <sip:c@d>;q=1").unwrap();
        assert_eq!(l.contacts().len(), 2);
        assert_eq!(l.contacts()[0].expires(), Some(60));
        assert_eq!(l.contacts()[1].q(), Some(1.0));
    }

    #[test]
    fn invalid_qvalues_are_ignored() {
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0.7"), Some(700));
    }

    #[test]
    fn empty_contact_params_are_rejected() {
        assert!(ContactList::parse_line(r#""Joe" <sip:joe@example.org>;;;;"#).is_none());
    }
}
