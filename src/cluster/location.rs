//! The `LocationStore` trait and the binding records it keeps: who is registered where.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{BoxFuture, ClusterError, ContactUri};

/// Wall-clock milliseconds since the Unix epoch. Bindings expire on the wall clock because
/// every node of a cluster reads them, and monotonic instants do not travel between hosts.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }

    /// This time plus `secs` seconds.
    pub fn plus_secs(self, secs: u32) -> Self {
        Self(self.0.saturating_add(u64::from(secs) * 1000))
    }

    /// Whole seconds from `now` until `self`, rounded up; 0 once `self` has passed.
    pub fn secs_after(self, now: UnixMillis) -> u32 {
        let ms = self.0.saturating_sub(now.0);
        u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)
    }

    /// Whole seconds since the epoch (what the digest nonces carry).
    pub fn as_secs(self) -> u64 {
        self.0 / 1000
    }
}

/// An address-of-record, normalised to `user@domain` with the domain in lower case.
///
/// The user part stays case-sensitive (RFC 3261 §19.1.4); escaped characters are expected to
/// be decoded by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aor(String);

impl Aor {
    /// Builds the AOR of `user` at `domain`.
    pub fn new(user: &str, domain: &str) -> Self {
        Self(format!("{user}@{}", domain.to_ascii_lowercase()))
    }

    /// The normalised `user@domain` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user part.
    pub fn user(&self) -> &str {
        self.0.rsplit_once('@').map_or(self.0.as_str(), |(u, _)| u)
    }

    /// The domain part, lower case.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for Aor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Contact `q` value (RFC 3261 §20.10) in thousandths, 0..=1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QValue(u16);

impl QValue {
    /// The q value `thousandths / 1000`; `None` above 1000.
    pub fn from_thousandths(thousandths: u16) -> Option<Self> {
        (thousandths <= 1000).then_some(Self(thousandths))
    }

    /// Parses the `qvalue` grammar: `0[.ddd]` or `1[.000]` (RFC 3261 §25.1).
    pub fn parse(text: &str) -> Option<Self> {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: u16 = match int {
            "0" => 0,
            "1" => 1000,
            _ => return None,
        };
        let mut part = 0u16;
        for (i, b) in frac.bytes().enumerate() {
            part += u16::from(b - b'0') * [100, 10, 1][i];
        }
        Self::from_thousandths(whole + part)
    }

    /// The value in thousandths.
    pub fn thousandths(self) -> u16 {
        self.0
    }
}

impl fmt::Display for QValue {
    /// Shortest `qvalue` text: `1`, `0.5`, `0.25`, `0.125`, `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1000 => f.write_str("1"),
            0 => f.write_str("0"),
            v => {
                let digits = format!("{v:03}");
                write!(f, "0.{}", digits.trim_end_matches('0'))
            }
        }
    }
}

/// Transport of the flow a REGISTER arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowTransport {
    /// UDP datagrams.
    Udp,
    /// A TCP connection.
    Tcp,
    /// A TLS connection.
    Tls,
    /// A WebSocket connection.
    Ws,
    /// A secure WebSocket connection.
    Wss,
}

/// The flow a binding was registered over: requests to a phone behind NAT go back on it
/// (RFC 5626 §5.3 idea, and the plain "send to the received address" fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// Transport of the flow.
    pub transport: FlowTransport,
    /// The phone's address as we saw it (source address of the packet or connection).
    pub remote: SocketAddr,
    /// Our local address the REGISTER arrived on.
    pub local: SocketAddr,
}

/// One registered contact of an AOR.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The AOR the contact is bound to.
    pub aor: Aor,
    /// The contact URI as the phone sent it, with its parsed form for comparisons.
    pub contact: ContactUri,
    /// The `q` parameter of the Contact, if given.
    pub q: Option<QValue>,
    /// When the binding lapses.
    pub expires_at: UnixMillis,
    /// Call-ID of the REGISTER that last wrote the binding (RFC 3261 §10.3 step 7).
    pub call_id: String,
    /// CSeq number of the REGISTER that last wrote the binding.
    pub cseq: u32,
    /// The flow the REGISTER arrived on.
    pub flow: Flow,
    /// `+sip.instance` Contact parameter, as sent (RFC 5626 §4.1).
    pub instance: Option<String>,
    /// `reg-id` Contact parameter (RFC 5626 §4.2).
    pub reg_id: Option<u32>,
    /// `User-Agent` of the REGISTER.
    pub user_agent: Option<String>,
    /// When the binding was last written.
    pub updated_at: UnixMillis,
}

impl Binding {
    /// Whether the binding has lapsed at `now`.
    pub fn is_expired(&self, now: UnixMillis) -> bool {
        self.expires_at <= now
    }

    /// Seconds left at `now`, rounded up.
    pub fn expires_in(&self, now: UnixMillis) -> u32 {
        self.expires_at.secs_after(now)
    }
}

/// One Contact of a REGISTER, already validated by the registrar.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactUpdate {
    /// The contact URI.
    pub contact: ContactUri,
    /// Granted lifetime in seconds; 0 removes the binding.
    pub expires_secs: u32,
    /// `q` parameter.
    pub q: Option<QValue>,
    /// `+sip.instance` parameter.
    pub instance: Option<String>,
    /// `reg-id` parameter.
    pub reg_id: Option<u32>,
}

/// What the Contact header fields of a REGISTER ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactChanges {
    /// `Contact: *` with `Expires: 0`: remove every binding of the AOR (RFC 3261 §10.2.2).
    RemoveAll,
    /// Add, refresh or remove (expires 0) these contacts; empty for a query.
    Update(Vec<ContactUpdate>),
}

/// The change one REGISTER makes to one AOR; applied atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterChange {
    /// Call-ID of the REGISTER.
    pub call_id: String,
    /// CSeq number of the REGISTER.
    pub cseq: u32,
    /// The flow it arrived on.
    pub flow: Flow,
    /// Its `User-Agent`.
    pub user_agent: Option<String>,
    /// The contacts to change.
    pub contacts: ContactChanges,
    /// Most bindings the AOR may hold afterwards; `None` for no limit.
    pub max_contacts: Option<usize>,
}

/// Selects bindings for [`LocationStore::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingFilter {
    /// Only this AOR.
    pub aor: Option<Aor>,
    /// Only AORs in this domain (compared case-insensitively).
    pub domain: Option<String>,
    /// At most this many bindings.
    pub limit: Option<usize>,
}

impl BindingFilter {
    /// Whether `binding` passes the AOR and domain conditions.
    pub fn matches(&self, binding: &Binding) -> bool {
        self.aor.as_ref().is_none_or(|aor| *aor == binding.aor)
            && self
                .domain
                .as_ref()
                .is_none_or(|d| d.eq_ignore_ascii_case(binding.aor.domain()))
    }
}

/// Where registered contacts live. Every method is atomic per AOR; expired bindings are
/// invisible to readers even before a sweep removes them.
pub trait LocationStore: Send + Sync {
    /// Applies one REGISTER's change to `aor` per RFC 3261 §10.3 steps 6-7, all or nothing,
    /// and returns every live binding of the AOR afterwards.
    ///
    /// A contact matches an existing binding when the URIs are equivalent (RFC 3261 §19.1.4)
    /// or when both carry the same `+sip.instance` and `reg-id` (RFC 5626 §6). A matched
    /// binding with the same Call-ID and a CSeq not lower than the request's aborts the
    /// whole change with [`ClusterError::OutOfOrder`]. Going over `max_contacts` aborts it with
    /// [`ClusterError::TooManyContacts`].
    fn apply<'a>(
        &'a self,
        aor: &'a Aor,
        change: RegisterChange,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Vec<Binding>, ClusterError>>;

    /// The live bindings of `aor` at `now`, in registration order.
    fn bindings<'a>(
        &'a self,
        aor: &'a Aor,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Vec<Binding>, ClusterError>>;

    /// Live bindings selected by `filter`, ordered by AOR then registration order.
    fn list<'a>(
        &'a self,
        filter: &'a BindingFilter,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Vec<Binding>, ClusterError>>;

    /// Deletes every binding expired at `now`; returns the bindings removed (the registration
    /// events name them).
    fn sweep_expired(&self, now: UnixMillis) -> BoxFuture<'_, Result<Vec<Binding>, ClusterError>>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn qvalue_parses_rfc_grammar_and_prints_shortest_form() {
        assert_eq!(QValue::parse("0.5").unwrap().to_string(), "0.5");
        assert_eq!(QValue::parse("1.000").unwrap().to_string(), "1");
        assert_eq!(QValue::parse("0.125").unwrap().thousandths(), 125);
        assert_eq!(QValue::parse("0").unwrap().to_string(), "0");
        assert_eq!(QValue::parse("0.250").unwrap().to_string(), "0.25");
        assert!(QValue::parse("1.5").is_none());
        assert!(QValue::parse("0.1234").is_none());
        assert!(QValue::parse("2").is_none());
        assert!(QValue::parse("0.x").is_none());
    }

    #[test]
    fn aor_lowercases_domain_but_keeps_user_case() {
        let aor = Aor::new("Alice", "Example.COM");
        assert_eq!(aor.as_str(), "Alice@example.com");
        assert_eq!(aor.user(), "Alice");
        assert_eq!(aor.domain(), "example.com");
    }

    #[test]
    fn remaining_seconds_round_up() {
        let exp = UnixMillis(10_500);
        assert_eq!(exp.secs_after(UnixMillis(10_000)), 1);
        assert_eq!(exp.secs_after(UnixMillis(7_500)), 3);
        assert_eq!(exp.secs_after(UnixMillis(11_000)), 0);
    }
}
