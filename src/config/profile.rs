//! Resolved profile types: what the rest of the switch reads once a profile file validated.
//!
//! Fields are private to `config` and read through getters, so every value seen outside this
//! module passed validation (`min_expires <= default_expires <= max_expires`, `t1 <= t2`, …).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sip_core::auth::{Algorithm, Secret};
use sip_core::transaction::TimerConfig;

use super::calls::{CallPolicy, MediaPolicy};
use super::listen::ListenAddr;
use super::recording::RecordingPolicy;

/// Whom a profile serves (`profile.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    /// Registering phones and softphones: every new INVITE is digest-authenticated.
    Phones,
    /// Carrier trunks: requests are admitted by source address (a trunk's `inbound` CIDRs or
    /// its registrar), never challenged; anyone else gets 403.
    Trunks,
}

/// One listening profile: addresses, domain, users and their policies.
#[derive(Debug, Clone)]
pub struct Profile {
    pub(in crate::config) name: String,
    pub(in crate::config) source: PathBuf,
    pub(in crate::config) domain: String,
    pub(in crate::config) listen: Vec<ListenAddr>,
    pub(in crate::config) kind: ProfileKind,
    pub(in crate::config) context: String,
    pub(in crate::config) auth: AuthPolicy,
    pub(in crate::config) ban: BanPolicy,
    pub(in crate::config) registrar: RegistrarPolicy,
    pub(in crate::config) sip: SipSettings,
    pub(in crate::config) calls: CallPolicy,
    pub(in crate::config) media: MediaPolicy,
    pub(in crate::config) recording: RecordingPolicy,
    pub(in crate::config) users: BTreeMap<String, User>,
}

impl Profile {
    /// The profile name, unique across files.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file the profile was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Whom the profile serves: phones (digest-authenticated users) or carrier trunks.
    pub fn kind(&self) -> ProfileKind {
        self.kind
    }

    /// The dialplan context the profile's calls start in (a trunk may name its own).
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The SIP domain this profile serves (the host of its AORs), lower-cased. An IPv6
    /// address is kept in brackets (`[::1]`), as it appears in a SIP URI.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The addresses to listen on, in file order; never empty.
    pub fn listen(&self) -> &[ListenAddr] {
        &self.listen
    }

    /// Digest authentication policy.
    pub fn auth(&self) -> &AuthPolicy {
        &self.auth
    }

    /// Temporary-ban policy for repeated authentication failures.
    pub fn ban(&self) -> &BanPolicy {
        &self.ban
    }

    /// Registration expiry and contact limits.
    pub fn registrar(&self) -> &RegistrarPolicy {
        &self.registrar
    }

    /// SIP timers, message size and queue limits.
    pub fn sip(&self) -> &SipSettings {
        &self.sip
    }

    /// `[calls]` settings.
    pub fn calls(&self) -> &CallPolicy {
        &self.calls
    }

    /// `[media]` settings.
    pub fn media(&self) -> &MediaPolicy {
        &self.media
    }

    /// `[recording]` settings.
    pub fn recording(&self) -> &RecordingPolicy {
        &self.recording
    }

    /// The users, by name (SIP user part, case-sensitive).
    pub fn users(&self) -> &BTreeMap<String, User> {
        &self.users
    }

    /// The user with this name, if any.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }
}

/// `[auth]`: digest authentication (RFC 3261 §22, RFC 8760).
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub(in crate::config) realm: String,
    pub(in crate::config) algorithms: Vec<Algorithm>,
    pub(in crate::config) nonce_lifetime: Duration,
    pub(in crate::config) nonce_key: Option<NonceKey>,
}

impl AuthPolicy {
    /// The realm in challenges; defaults to the profile's domain.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Algorithms to offer, most preferred first (RFC 8760 §2.4: one challenge each, in this
    /// order); never empty, no duplicates.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// How long a nonce stays valid before it is answered with `stale=true`.
    pub fn nonce_lifetime(&self) -> Duration {
        self.nonce_lifetime
    }

    /// The HMAC key for stateless nonces, shared by cluster nodes. `None`: the caller draws a
    /// random key once per process (and keeps it across reloads).
    pub fn nonce_key(&self) -> Option<&NonceKey> {
        self.nonce_key.as_ref()
    }
}

/// A nonce HMAC key of at least 32 bytes. Debug does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct NonceKey(pub(in crate::config) Vec<u8>);

impl NonceKey {
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

/// `[ban]`: temporary bans after repeated authentication failures (per source and per user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanPolicy {
    pub(in crate::config) max_failures: u32,
    pub(in crate::config) window: Duration,
    pub(in crate::config) duration: Option<Duration>,
}

impl BanPolicy {
    /// Failed authentications within [`window`](Self::window) that trigger a ban; >= 1.
    pub fn max_failures(&self) -> u32 {
        self.max_failures
    }

    /// The window failures are counted in.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How long a ban lasts; `None` when banning is disabled (`ban_secs = 0`).
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }
}

impl Default for BanPolicy {
    /// 5 failures in 60 s ban for 300 s.
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(60),
            duration: Some(Duration::from_secs(300)),
        }
    }
}

/// `[registrar]`: binding lifetimes and limits (RFC 3261 §10.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarPolicy {
    pub(in crate::config) default_expires: Duration,
    pub(in crate::config) min_expires: Duration,
    pub(in crate::config) max_expires: Duration,
    pub(in crate::config) max_contacts: usize,
}

impl RegistrarPolicy {
    /// Expiry used when the REGISTER names none.
    pub fn default_expires(&self) -> Duration {
        self.default_expires
    }

    /// Shortest accepted expiry (RFC 3261 §10.3 step 7: shorter gets 423 with Min-Expires);
    /// >= 1 s and <= `default_expires`.
    pub fn min_expires(&self) -> Duration {
        self.min_expires
    }

    /// Longest granted expiry; longer requests are lowered to it. >= `default_expires`.
    pub fn max_expires(&self) -> Duration {
        self.max_expires
    }

    /// Most contacts bound to one AOR; >= 1.
    pub fn max_contacts(&self) -> usize {
        self.max_contacts
    }
}

impl Default for RegistrarPolicy {
    /// 3600 s default, 60 s min, 7200 s max, 10 contacts.
    fn default() -> Self {
        Self {
            default_expires: Duration::from_secs(3600),
            min_expires: Duration::from_secs(60),
            max_expires: Duration::from_secs(7200),
            max_contacts: 10,
        }
    }
}

/// `[sip]`: transaction timers, message size and overload limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipSettings {
    pub(in crate::config) t1: Duration,
    pub(in crate::config) t2: Duration,
    pub(in crate::config) t4: Duration,
    pub(in crate::config) max_message_size: usize,
    pub(in crate::config) udp_queue: usize,
    pub(in crate::config) retry_after: Duration,
}

impl SipSettings {
    /// RFC 3261 T1 (RTT estimate); <= T2.
    pub fn t1(&self) -> Duration {
        self.t1
    }

    /// RFC 3261 T2 (retransmit cap).
    pub fn t2(&self) -> Duration {
        self.t2
    }

    /// RFC 3261 T4 (time a message lingers in the network).
    pub fn t4(&self) -> Duration {
        self.t4
    }

    /// T1, T2 and T4 as the transaction layer takes them.
    pub fn timers(&self) -> TimerConfig {
        TimerConfig {
            t1: self.t1,
            t2: self.t2,
            t4: self.t4,
        }
    }

    /// Largest message accepted (bytes), for UDP datagrams and the TCP framer.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Depth of the bounded queue behind each UDP socket; when full, requests get 503.
    pub fn udp_queue(&self) -> usize {
        self.udp_queue
    }

    /// Retry-After value sent with an overload 503 (RFC 3261 §21.5.4, §20.33).
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl Default for SipSettings {
    /// T1 500 ms, T2 4 s, T4 5 s (RFC 3261 Table 4), 65535-byte messages, 4096-deep queues,
    /// Retry-After 5 s.
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            max_message_size: 65535,
            udp_queue: 4096,
            retry_after: Duration::from_secs(5),
        }
    }
}

/// One `[[users]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub(in crate::config) name: String,
    pub(in crate::config) secret: Secret,
    pub(in crate::config) display_name: Option<String>,
}

impl User {
    /// The user name: the user part of the AOR and the digest `username`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The password or HA1 hashes (HA1 values are lower-case hex). Debug does not print it.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The display name, if set.
    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }
}
