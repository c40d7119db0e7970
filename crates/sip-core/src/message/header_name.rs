//! Header field names: well-known names (long and compact forms, RFC 3261 §7.3.3) and
//! extension names compared case-insensitively.

use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

use super::syntax::is_token_byte;

/// An extension header name, kept as written and compared ASCII case-insensitively.
#[derive(Debug, Clone)]
pub struct ExtensionName(Bytes);

impl ExtensionName {
    /// An extension name; `None` unless `name` is an RFC 3261 `token`.
    pub fn new(name: &str) -> Option<ExtensionName> {
        let ok = !name.is_empty() && name.bytes().all(is_token_byte);
        ok.then(|| ExtensionName(Bytes::copy_from_slice(name.as_bytes())))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        // Token bytes are ASCII, so this never fails for a constructed name.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl PartialEq for ExtensionName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for ExtensionName {}

impl Hash for ExtensionName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.iter() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $lower:literal $(, $compact:literal)?; )*) => {
        /// A header field name.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// Any other header name.
            Other(ExtensionName),
        }

        impl HeaderName {
            /// The canonical (long) name.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $name, )*
                    HeaderName::Other(n) => n.as_str(),
                }
            }

            /// The compact form (RFC 3261 §7.3.3 and extensions), if the name has one.
            pub fn compact_form(&self) -> Option<char> {
                match self {
                    $( $( HeaderName::$variant => Some(char::from($compact)), )? )*
                    _ => None,
                }
            }

            fn from_lowercase(lower: &[u8]) -> Option<HeaderName> {
                match lower {
                    $( $lower => Some(HeaderName::$variant), )*
                    $( $( [$compact] => Some(HeaderName::$variant), )? )*
                    _ => None,
                }
            }
        }
    };
}

header_names! {
    /// Via.
    Via => "Via", b"via", b'v';
    /// From.
    From => "From", b"from", b'f';
    /// To.
    To => "To", b"to", b't';
    /// Call-ID.
    CallId => "Call-ID", b"call-id", b'i';
    /// CSeq.
    CSeq => "CSeq", b"cseq";
    /// Max-Forwards.
    MaxForwards => "Max-Forwards", b"max-forwards";
    /// Contact.
    Contact => "Contact", b"contact", b'm';
    /// Content-Length.
    ContentLength => "Content-Length", b"content-length", b'l';
    /// Content-Type.
    ContentType => "Content-Type", b"content-type", b'c';
    /// Content-Encoding.
    ContentEncoding => "Content-Encoding", b"content-encoding", b'e';
    /// Content-Disposition.
    ContentDisposition => "Content-Disposition", b"content-disposition";
    /// Content-Language.
    ContentLanguage => "Content-Language", b"content-language";
    /// Route.
    Route => "Route", b"route";
    /// Record-Route.
    RecordRoute => "Record-Route", b"record-route";
    /// Expires.
    Expires => "Expires", b"expires";
    /// Min-Expires.
    MinExpires => "Min-Expires", b"min-expires";
    /// Allow.
    Allow => "Allow", b"allow";
    /// Accept.
    Accept => "Accept", b"accept";
    /// Accept-Encoding.
    AcceptEncoding => "Accept-Encoding", b"accept-encoding";
    /// Accept-Language.
    AcceptLanguage => "Accept-Language", b"accept-language";
    /// Supported.
    Supported => "Supported", b"supported", b'k';
    /// Require.
    Require => "Require", b"require";
    /// Proxy-Require.
    ProxyRequire => "Proxy-Require", b"proxy-require";
    /// Unsupported.
    Unsupported => "Unsupported", b"unsupported";
    /// User-Agent.
    UserAgent => "User-Agent", b"user-agent";
    /// Server.
    Server => "Server", b"server";
    /// Retry-After.
    RetryAfter => "Retry-After", b"retry-after";
    /// WWW-Authenticate.
    WwwAuthenticate => "WWW-Authenticate", b"www-authenticate";
    /// Proxy-Authenticate.
    ProxyAuthenticate => "Proxy-Authenticate", b"proxy-authenticate";
    /// Authorization.
    Authorization => "Authorization", b"authorization";
    /// Proxy-Authorization.
    ProxyAuthorization => "Proxy-Authorization", b"proxy-authorization";
    /// Authentication-Info.
    AuthenticationInfo => "Authentication-Info", b"authentication-info";
    /// Date.
    Date => "Date", b"date";
    /// Subject.
    Subject => "Subject", b"subject", b's';
    /// Event (RFC 6665).
    Event => "Event", b"event", b'o';
    /// Allow-Events (RFC 6665).
    AllowEvents => "Allow-Events", b"allow-events", b'u';
    /// Subscription-State (RFC 6665).
    SubscriptionState => "Subscription-State", b"subscription-state";
    /// Refer-To (RFC 3515).
    ReferTo => "Refer-To", b"refer-to", b'r';
    /// Referred-By (RFC 3892).
    ReferredBy => "Referred-By", b"referred-by", b'b';
    /// Timestamp.
    Timestamp => "Timestamp", b"timestamp";
    /// Warning.
    Warning => "Warning", b"warning";
    /// Organization.
    Organization => "Organization", b"organization";
    /// Priority.
    Priority => "Priority", b"priority";
    /// In-Reply-To.
    InReplyTo => "In-Reply-To", b"in-reply-to";
    /// Reply-To.
    ReplyTo => "Reply-To", b"reply-to";
    /// MIME-Version.
    MimeVersion => "MIME-Version", b"mime-version";
    /// Call-Info.
    CallInfo => "Call-Info", b"call-info";
    /// Alert-Info.
    AlertInfo => "Alert-Info", b"alert-info";
    /// Error-Info.
    ErrorInfo => "Error-Info", b"error-info";
    /// Path (RFC 3327).
    Path => "Path", b"path";
    /// Service-Route (RFC 3608).
    ServiceRoute => "Service-Route", b"service-route";
    /// RSeq (RFC 3262).
    RSeq => "RSeq", b"rseq";
    /// RAck (RFC 3262).
    RAck => "RAck", b"rack";
    /// Session-Expires (RFC 4028).
    SessionExpires => "Session-Expires", b"session-expires", b'x';
    /// Min-SE (RFC 4028).
    MinSe => "Min-SE", b"min-se";
    /// Reason (RFC 3326).
    Reason => "Reason", b"reason";
    /// Privacy (RFC 3323).
    Privacy => "Privacy", b"privacy";
    /// P-Asserted-Identity (RFC 3325).
    PAssertedIdentity => "P-Asserted-Identity", b"p-asserted-identity";
    /// P-Preferred-Identity (RFC 3325).
    PPreferredIdentity => "P-Preferred-Identity", b"p-preferred-identity";
}

const MAX_KNOWN_LEN: usize = 24;

impl HeaderName {
    /// Maps a name from the wire (any case, long or compact) to a `HeaderName`; `None` unless
    /// it is a `token`. `raw` shares the datagram's buffer for extension names.
    pub(crate) fn from_wire(buf: &Bytes, range: std::ops::Range<usize>) -> Option<HeaderName> {
        let raw = buf.get(range.clone())?;
        if let Some(known) = HeaderName::known(raw) {
            return Some(known);
        }
        (!raw.is_empty() && raw.len() <= 1024 && raw.iter().all(|b| is_token_byte(*b)))
            .then(|| HeaderName::Other(ExtensionName(buf.slice(range))))
    }

    /// The well-known name spelled by `raw` (any case, long or compact form).
    pub(crate) fn known(raw: &[u8]) -> Option<HeaderName> {
        if raw.is_empty() || raw.len() > MAX_KNOWN_LEN {
            return None;
        }
        if let Some(name) = HeaderName::frequent(raw) {
            return Some(name);
        }
        let mut buf = [0u8; MAX_KNOWN_LEN];
        let lower = &mut buf[..raw.len()];
        for (d, s) in lower.iter_mut().zip(raw.iter()) {
            *d = s.to_ascii_lowercase();
        }
        HeaderName::from_lowercase(lower)
    }

    /// The names found in nearly every message, picked by length and first letter and then
    /// checked once, before the full table lookup.
    fn frequent(raw: &[u8]) -> Option<HeaderName> {
        let first = raw.first()?.to_ascii_lowercase();
        let (name, spelled): (HeaderName, &[u8]) = match (raw.len(), first) {
            (3, b'v') => (HeaderName::Via, b"via"),
            (4, b'f') => (HeaderName::From, b"from"),
            (2, b't') => (HeaderName::To, b"to"),
            (7, b'c') if raw[1].eq_ignore_ascii_case(&b'a') => (HeaderName::CallId, b"call-id"),
            (7, b'c') => (HeaderName::Contact, b"contact"),
            (4, b'c') => (HeaderName::CSeq, b"cseq"),
            (12, b'm') => (HeaderName::MaxForwards, b"max-forwards"),
            (12, b'c') => (HeaderName::ContentType, b"content-type"),
            (14, b'c') => (HeaderName::ContentLength, b"content-length"),
            (5, b'a') => (HeaderName::Allow, b"allow"),
            (9, b's') => (HeaderName::Supported, b"supported"),
            (10, b'u') => (HeaderName::UserAgent, b"user-agent"),
            (12, b'r') => (HeaderName::RecordRoute, b"record-route"),
            (5, b'r') => (HeaderName::Route, b"route"),
            (7, b'e') => (HeaderName::Expires, b"expires"),
            (13, b'a') => (HeaderName::Authorization, b"authorization"),
            _ => return None,
        };
        eq_lowercase_name(raw, spelled).then_some(name)
    }

    /// Parses a header name (any case, long or compact form); `None` unless it is a `token`.
    pub fn parse(name: &str) -> Option<HeaderName> {
        let raw = Bytes::copy_from_slice(name.as_bytes());
        HeaderName::from_wire(&raw, 0..raw.len())
    }

    /// True for the headers of RFC 3261 §7.3.1 that hold one value and may appear once
    /// (checked by `Request::validate`, RFC 4475 §3.3.8).
    pub fn is_single_valued(&self) -> bool {
        matches!(
            self,
            HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::MaxForwards
                | HeaderName::ContentLength
        )
    }
}

/// `raw` equals `spelled` (lowercase letters and `-`, at most 16 bytes) ignoring the case of
/// letters, compared a word at a time. Only letter positions fold case, so a CR can never
/// stand in for `-`.
fn eq_lowercase_name(raw: &[u8], spelled: &[u8]) -> bool {
    let len = raw.len();
    if len != spelled.len() {
        return false;
    }
    // Letters have bit 0x40 set; shifted down it is the case bit to fold.
    let fold = |r: u64, s: u64| (r | ((s & 0x4040_4040_4040_4040) >> 1)) == s;
    let word = |b: &[u8], at: usize| {
        b.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let half = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
    };
    match len {
        // Two overlapping loads cover every byte.
        8..=16 => {
            fold(word(raw, 0), word(spelled, 0)) && fold(word(raw, len - 8), word(spelled, len - 8))
        }
        4..=7 => {
            fold(half(raw, 0), half(spelled, 0)) && fold(half(raw, len - 4), half(spelled, len - 4))
        }
        _ => raw
            .iter()
            .zip(spelled)
            .all(|(&r, &s)| fold(u64::from(r), u64::from(s))),
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<HeaderName> for HeaderName {
    fn as_ref(&self) -> &HeaderName {
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn compact_and_long_forms_map_to_the_same_name() {
        for (compact, long) in [
            ("i", "Call-ID"),
            ("f", "From"),
            ("t", "To"),
            ("m", "Contact"),
            ("v", "Via"),
            ("l", "Content-Length"),
            ("c", "Content-Type"),
            ("k", "Supported"),
            ("s", "Subject"),
            ("e", "Content-Encoding"),
            ("o", "Event"),
            ("u", "Allow-Events"),
            ("r", "Refer-To"),
            ("x", "Session-Expires"),
        ] {
            assert_eq!(
                HeaderName::parse(compact),
                HeaderName::parse(long),
                "{compact}"
            );
            assert_eq!(
                HeaderName::parse(&compact.to_uppercase()),
                HeaderName::parse(long)
            );
        }
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(
            HeaderName::parse("MaX-fOrWaRdS"),
            Some(HeaderName::MaxForwards)
        );
        assert_eq!(HeaderName::parse("X-Foo"), HeaderName::parse("x-fOO"));
        assert_eq!(HeaderName::parse("X-Foo").unwrap().as_str(), "X-Foo");
    }

    #[test]
    fn frequent_names_fold_case_only_on_letters() {
        assert_eq!(
            HeaderName::parse("CONTENT-LENGTH"),
            Some(HeaderName::ContentLength)
        );
        assert_eq!(HeaderName::parse("cAlL-iD"), Some(HeaderName::CallId));
        let cr = Bytes::from_static(b"Call\rID");
        assert_eq!(HeaderName::from_wire(&cr, 0..cr.len()), None);
        assert!(matches!(
            HeaderName::parse("Call_ID"),
            Some(HeaderName::Other(_))
        ));
    }

    #[test]
    fn non_token_names_are_rejected() {
        assert_eq!(HeaderName::parse("Foobar roobar"), None);
        assert_eq!(HeaderName::parse(""), None);
    }
}
