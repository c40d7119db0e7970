//! Validation of one profile file: TOML text -> sections -> resolved [`Profile`], collecting
//! every error instead of stopping at the first.
//!
//! The file is parsed into a `toml::Table` first; each section, and each key of it, is then
//! deserialized on its own, so one unknown or mistyped key does not hide the next. Semantic
//! checks skip keys that already failed, so a mistake is reported once.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use sip_core::auth::Algorithm;
use toml::{Table, Value};

use super::calls::{validate_calls, validate_media};
use super::dialplan::DEFAULT_CONTEXT;
use super::error::{ConfigError, ConfigErrorKind, ConfigWarning, ConfigWarningKind, Location};
use super::listen::ListenAddr;
use super::profile::{
    AuthPolicy, BanPolicy, NonceKey, Profile, ProfileKind, RegistrarPolicy, SipSettings,
};
use super::raw::{RawAuth, RawBan, RawProfile, RawRegistrar, RawSip};
use super::recording::validate_recording;
use super::users::validate_users;

const SECTIONS: &str = "profile, auth, ban, registrar, sip, calls, media, recording, users";

/// Errors and warnings of one file, with the file they are about.
pub(crate) struct Diag<'a> {
    file: &'a Path,
    pub(crate) errors: Vec<ConfigError>,
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl<'a> Diag<'a> {
    pub(crate) fn new(file: &'a Path) -> Self {
        Self {
            file,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The config directory of a profile file (`<dir>/sip-profiles/<name>.toml`), made
    /// absolute against the working directory: files the profile names (`sounds/`, the
    /// recordings directory) are relative to it.
    pub(crate) fn config_dir(&self) -> PathBuf {
        let dir = self
            .file
            .parent()
            .and_then(Path::parent)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
    }

    pub(crate) fn error(&mut self, key: impl Into<String>, kind: ConfigErrorKind) {
        self.errors
            .push(ConfigError::new(self.file, Location::Key(key.into()), kind));
    }

    pub(crate) fn warn(&mut self, key: impl Into<String>, kind: ConfigWarningKind) {
        self.warnings.push(ConfigWarning::new(
            self.file,
            Location::Key(key.into()),
            kind,
        ));
    }

    /// Checks `min <= value <= max`; reports and returns false otherwise.
    pub(crate) fn range(&mut self, key: &str, value: u32, min: u64, max: u64) -> bool {
        let v = u64::from(value);
        if v < min || v > max {
            self.error(key, ConfigErrorKind::OutOfRange { value: v, min, max });
            return false;
        }
        true
    }
}

/// The keys of a section that failed to deserialize (their values fell back to the defaults,
/// and checks involving them are skipped).
#[derive(Default)]
pub(crate) struct FailedKeys(BTreeSet<String>);

impl FailedKeys {
    /// Whether every one of `keys` deserialized.
    pub(crate) fn ok(&self, keys: &[&str]) -> bool {
        keys.iter().all(|k| !self.0.contains(*k))
    }

    /// Whether every key deserialized.
    pub(crate) fn none(&self) -> bool {
        self.0.is_empty()
    }
}

/// The TOML table of `text`; a syntax error is reported with its line and column.
pub(crate) fn parse_toml(diag: &mut Diag<'_>, text: &str) -> Option<Table> {
    match toml::from_str(text) {
        Ok(table) => Some(table),
        Err(e) => {
            let (line, column) = e
                .span()
                .map(|s| line_column(text, s.start))
                .unwrap_or((1, 1));
            let message = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            diag.errors.push(ConfigError::new(
                diag.file,
                Location::Line { line, column },
                ConfigErrorKind::Syntax { message },
            ));
            None
        }
    }
}

/// Deserializes `table` as `T`, one key at a time, reporting each failing key as `prefix.key`.
pub(crate) fn parse_section<T: DeserializeOwned + Default>(
    diag: &mut Diag<'_>,
    prefix: &str,
    table: &Table,
) -> (T, FailedKeys) {
    let mut good = Table::new();
    let mut bad = BTreeSet::new();
    for (key, value) in table {
        let mut one = Table::new();
        one.insert(key.clone(), value.clone());
        match Value::Table(one).try_into::<T>() {
            Ok(_) => {
                good.insert(key.clone(), value.clone());
            }
            Err(e) => {
                diag.error(
                    format!("{prefix}.{key}"),
                    ConfigErrorKind::Schema {
                        message: schema_message(e.message()),
                    },
                );
                bad.insert(key.clone());
            }
        }
    }
    let value = match Value::Table(good).try_into::<T>() {
        Ok(v) => v,
        Err(e) => {
            // Every key passed alone; a failure here would be a cross-key serde rule.
            diag.error(
                prefix,
                ConfigErrorKind::Schema {
                    message: schema_message(e.message()),
                },
            );
            T::default()
        }
    };
    (value, FailedKeys(bad))
}

/// The deserializer's message on one line, speaking of keys rather than fields.
fn schema_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    match first.strip_prefix("unknown field") {
        Some(rest) => format!("unknown key{rest}"),
        None => first.to_owned(),
    }
}

/// Validates one profile file. Returns the profile only when the file has no error; the
/// diagnostics go to `diag`. Also returns the profile name and listen addresses that did
/// validate, for the cross-file checks, even when other keys failed.
pub(crate) fn validate_file(diag: &mut Diag<'_>, text: &str) -> FileOutcome {
    let mut outcome = FileOutcome::default();
    let Some(table) = parse_toml(diag, text) else {
        return outcome;
    };
    let errors_before = diag.errors.len();

    for key in table.keys() {
        if !SECTIONS.split(", ").any(|s| s == key) {
            diag.error(
                key.as_str(),
                ConfigErrorKind::UnknownSection { expected: SECTIONS },
            );
        }
    }

    let empty = Table::new();
    let section = |diag: &mut Diag<'_>, name: &str, required: bool| -> Option<Table> {
        match table.get(name) {
            Some(Value::Table(t)) => Some(t.clone()),
            Some(_) => {
                diag.error(
                    name,
                    ConfigErrorKind::NotATable {
                        expected: "a table",
                    },
                );
                None
            }
            None if required => {
                diag.error(name, ConfigErrorKind::Missing);
                None
            }
            None => Some(empty.clone()),
        }
    };

    let profile_t = section(diag, "profile", true);
    let auth_t = section(diag, "auth", false);
    let ban_t = section(diag, "ban", false);
    let registrar_t = section(diag, "registrar", false);
    let sip_t = section(diag, "sip", false);
    let calls_t = section(diag, "calls", false);
    let media_t = section(diag, "media", false);
    let recording_t = section(diag, "recording", false);

    let head = profile_t.map(|t| validate_profile_section(diag, &t));
    if let Some(head) = &head {
        outcome.name = head.name.clone();
        outcome.listen = head.listen.clone();
    }
    let domain = head.as_ref().and_then(|h| h.domain.clone());
    let auth = auth_t.and_then(|t| validate_auth(diag, &t, domain.as_deref()));
    let ban = ban_t.and_then(|t| validate_ban(diag, &t));
    let registrar = registrar_t.and_then(|t| validate_registrar(diag, &t));
    let sip = sip_t.and_then(|t| validate_sip(diag, &t));
    let calls = calls_t.and_then(|t| validate_calls(diag, &t));
    let listen: Vec<ListenAddr> = head
        .as_ref()
        .map(|h| h.listen.iter().map(|(_, a)| *a).collect())
        .unwrap_or_default();
    let media = media_t.and_then(|t| validate_media(diag, &t, &listen));
    let recording = recording_t.and_then(|t| validate_recording(diag, &t));
    let algorithms = auth.as_ref().map(|a| a.algorithms.as_slice());
    let users = match table.get("users") {
        None => Some(BTreeMap::new()),
        Some(Value::Array(entries)) => validate_users(diag, entries, algorithms),
        Some(_) => {
            diag.error(
                "users",
                ConfigErrorKind::NotATable {
                    expected: "an array of tables ([[users]])",
                },
            );
            None
        }
    };

    if diag.errors.len() != errors_before {
        return outcome;
    }
    if let (
        Some(head),
        Some(auth),
        Some(ban),
        Some(registrar),
        Some(sip),
        Some(calls),
        Some(media),
        Some(recording),
        Some(users),
    ) = (
        head, auth, ban, registrar, sip, calls, media, recording, users,
    ) && let (Some(name), Some(domain), Some(kind), Some(context)) =
        (head.name, head.domain, head.kind, head.context)
    {
        outcome.profile = Some(Profile {
            name,
            source: diag.file.to_path_buf(),
            domain,
            listen: head.listen.into_iter().map(|(_, a)| a).collect(),
            kind,
            context,
            auth,
            ban,
            registrar,
            sip,
            calls,
            media,
            recording,
            users,
        });
    }
    outcome
}

/// What one file contributes to the cross-file checks, and its profile when it validated.
#[derive(Default)]
pub(crate) struct FileOutcome {
    /// The profile name, when it validated.
    pub(crate) name: Option<String>,
    /// The listen addresses that parsed, with their index in `profile.listen`.
    pub(crate) listen: Vec<(usize, ListenAddr)>,
    /// The profile, when the whole file validated.
    pub(crate) profile: Option<Profile>,
}

struct ProfileHead {
    name: Option<String>,
    domain: Option<String>,
    listen: Vec<(usize, ListenAddr)>,
    kind: Option<ProfileKind>,
    context: Option<String>,
}

fn validate_profile_section(diag: &mut Diag<'_>, table: &Table) -> ProfileHead {
    let (raw, p) = parse_section::<RawProfile>(diag, "profile", table);
    let mut head = ProfileHead {
        name: None,
        domain: None,
        listen: Vec::new(),
        kind: None,
        context: None,
    };
    if p.ok(&["kind"]) {
        match raw.kind.as_deref() {
            None | Some("phones") => head.kind = Some(ProfileKind::Phones),
            Some("trunks") => head.kind = Some(ProfileKind::Trunks),
            Some(other) => diag.error(
                "profile.kind",
                ConfigErrorKind::InvalidText {
                    what: "profile kind",
                    value: other.to_owned(),
                    allowed: "use \"phones\" or \"trunks\"",
                },
            ),
        }
    }
    if p.ok(&["context"]) {
        match raw.context {
            None => head.context = Some(DEFAULT_CONTEXT.to_owned()),
            Some(c) if c.is_empty() => diag.error("profile.context", ConfigErrorKind::Empty),
            Some(c) => head.context = Some(c),
        }
    }
    if p.ok(&["name"]) {
        match raw.name {
            None => diag.error("profile.name", ConfigErrorKind::Missing),
            Some(name) if name.is_empty() => diag.error("profile.name", ConfigErrorKind::Empty),
            Some(name) if !is_profile_name(&name) => diag.error(
                "profile.name",
                ConfigErrorKind::InvalidText {
                    what: "profile name",
                    value: name,
                    allowed: "use letters, digits, '.', '_' and '-' (at most 64)",
                },
            ),
            Some(name) => head.name = Some(name),
        }
    }
    if p.ok(&["domain"]) {
        match raw.domain {
            None => diag.error("profile.domain", ConfigErrorKind::Missing),
            Some(d) if d.is_empty() => diag.error("profile.domain", ConfigErrorKind::Empty),
            Some(d) => match normalize_domain(&d) {
                Some(d) => head.domain = Some(d),
                None => diag.error(
                    "profile.domain",
                    ConfigErrorKind::InvalidText {
                        what: "domain",
                        value: d,
                        allowed: "use a host name, an IPv4 address or an IPv6 address",
                    },
                ),
            },
        }
    }
    if p.ok(&["listen"]) {
        match raw.listen {
            None => diag.error("profile.listen", ConfigErrorKind::Missing),
            Some(l) if l.is_empty() => diag.error("profile.listen", ConfigErrorKind::Empty),
            Some(list) => {
                for (i, s) in list.into_iter().enumerate() {
                    match s.parse::<ListenAddr>() {
                        Ok(a) => head.listen.push((i, a)),
                        Err(reason) => diag.error(
                            format!("profile.listen[{i}]"),
                            ConfigErrorKind::BadListen { value: s, reason },
                        ),
                    }
                }
            }
        }
    }
    head
}

fn validate_auth(diag: &mut Diag<'_>, table: &Table, domain: Option<&str>) -> Option<AuthPolicy> {
    let (raw, p) = parse_section::<RawAuth>(diag, "auth", table);
    let before = diag.errors.len();

    let realm = match raw.realm {
        Some(r) if r.is_empty() => {
            diag.error("auth.realm", ConfigErrorKind::Empty);
            None
        }
        Some(r) if !is_quotable(&r) => {
            diag.error(
                "auth.realm",
                ConfigErrorKind::InvalidText {
                    what: "realm",
                    value: r,
                    allowed: "no quotes, backslashes or control characters",
                },
            );
            None
        }
        Some(r) => Some(r),
        None => domain.map(str::to_owned),
    };

    let mut algorithms = Vec::new();
    if !p.ok(&["algorithms"]) {
        // Already reported; fall through with none.
    } else if raw.algorithms.is_empty() {
        diag.error("auth.algorithms", ConfigErrorKind::Empty);
    } else {
        for (i, name) in raw.algorithms.into_iter().enumerate() {
            let key = format!("auth.algorithms[{i}]");
            match algorithm_from_name(&name) {
                None => diag.error(key, ConfigErrorKind::UnknownAlgorithm { name }),
                Some(a) if algorithms.contains(&a) => {
                    diag.error(key, ConfigErrorKind::DuplicateAlgorithm { name })
                }
                Some(a) => algorithms.push(a),
            }
        }
    }

    if p.ok(&["nonce_lifetime_secs"]) {
        diag.range(
            "auth.nonce_lifetime_secs",
            raw.nonce_lifetime_secs,
            1,
            86_400,
        );
    }

    let nonce_key = match raw.nonce_key {
        None => {
            if p.ok(&["nonce_key"]) {
                diag.warn("auth.nonce_key", ConfigWarningKind::RandomNonceKey);
            }
            None
        }
        Some(hex) => match decode_hex(&hex) {
            Some(bytes) if bytes.len() >= 32 => Some(NonceKey(bytes)),
            _ => {
                diag.error(
                    "auth.nonce_key",
                    ConfigErrorKind::BadHex {
                        expected: "an even number of hex digits, at least 64 (32 bytes)",
                    },
                );
                None
            }
        },
    };

    if diag.errors.len() != before || !p.none() {
        return None;
    }
    Some(AuthPolicy {
        realm: realm?,
        algorithms,
        nonce_lifetime: Duration::from_secs(u64::from(raw.nonce_lifetime_secs)),
        nonce_key,
    })
}

fn validate_ban(diag: &mut Diag<'_>, table: &Table) -> Option<BanPolicy> {
    let (raw, p) = parse_section::<RawBan>(diag, "ban", table);
    let mut ok = p.none();
    if p.ok(&["max_failures"]) {
        ok &= diag.range("ban.max_failures", raw.max_failures, 1, 1000);
    }
    if p.ok(&["window_secs"]) {
        ok &= diag.range("ban.window_secs", raw.window_secs, 1, 86_400);
    }
    if p.ok(&["ban_secs"]) {
        ok &= diag.range("ban.ban_secs", raw.ban_secs, 0, 7 * 86_400);
    }
    ok.then(|| BanPolicy {
        max_failures: raw.max_failures,
        window: secs(raw.window_secs),
        duration: (raw.ban_secs > 0).then(|| secs(raw.ban_secs)),
    })
}

fn validate_registrar(diag: &mut Diag<'_>, table: &Table) -> Option<RegistrarPolicy> {
    let (raw, p) = parse_section::<RawRegistrar>(diag, "registrar", table);
    let mut ok = p.none();
    if p.ok(&["min_expires"]) {
        ok &= diag.range(
            "registrar.min_expires",
            raw.min_expires,
            1,
            u64::from(u32::MAX),
        );
    }
    if p.ok(&["max_contacts"]) {
        ok &= diag.range("registrar.max_contacts", raw.max_contacts, 1, 1000);
    }
    if p.ok(&["min_expires", "default_expires"]) && raw.min_expires > raw.default_expires {
        diag.error(
            "registrar.min_expires",
            ConfigErrorKind::ExceedsOther {
                other_key: "default_expires",
                other_value: raw.default_expires.into(),
            },
        );
        ok = false;
    }
    if p.ok(&["default_expires", "max_expires"]) && raw.default_expires > raw.max_expires {
        diag.error(
            "registrar.default_expires",
            ConfigErrorKind::ExceedsOther {
                other_key: "max_expires",
                other_value: raw.max_expires.into(),
            },
        );
        ok = false;
    }
    ok.then(|| RegistrarPolicy {
        default_expires: secs(raw.default_expires),
        min_expires: secs(raw.min_expires),
        max_expires: secs(raw.max_expires),
        max_contacts: raw.max_contacts as usize,
    })
}

fn validate_sip(diag: &mut Diag<'_>, table: &Table) -> Option<SipSettings> {
    let (raw, p) = parse_section::<RawSip>(diag, "sip", table);
    let mut ok = p.none();
    let limits: [(&str, u32, u64, u64); 6] = [
        ("t1_ms", raw.t1_ms, 1, 60_000),
        ("t2_ms", raw.t2_ms, 1, 600_000),
        ("t4_ms", raw.t4_ms, 1, 600_000),
        ("max_message_size", raw.max_message_size, 1024, 1 << 20),
        ("udp_queue", raw.udp_queue, 1, 1 << 20),
        ("retry_after_secs", raw.retry_after_secs, 1, 86_400),
    ];
    for (key, value, min, max) in limits {
        if p.ok(&[key]) {
            ok &= diag.range(&format!("sip.{key}"), value, min, max);
        }
    }
    // RFC 3261 §17.1.2.2: retransmissions start at T1 and double up to T2.
    if p.ok(&["t1_ms", "t2_ms"]) && raw.t1_ms > raw.t2_ms {
        diag.error(
            "sip.t1_ms",
            ConfigErrorKind::ExceedsOther {
                other_key: "t2_ms",
                other_value: raw.t2_ms.into(),
            },
        );
        ok = false;
    }
    ok.then(|| SipSettings {
        t1: Duration::from_millis(raw.t1_ms.into()),
        t2: Duration::from_millis(raw.t2_ms.into()),
        t4: Duration::from_millis(raw.t4_ms.into()),
        max_message_size: raw.max_message_size as usize,
        udp_queue: raw.udp_queue as usize,
        retry_after: secs(raw.retry_after_secs),
    })
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// An RFC 8760 §2 algorithm name, case-insensitive. The `-sess` variants are not offered.
fn algorithm_from_name(name: &str) -> Option<Algorithm> {
    match Algorithm::from_token(name) {
        Some((algorithm, false)) => Some(algorithm),
        _ => None,
    }
}

/// The RFC 8760 name of an algorithm.
pub(crate) fn algorithm_name(a: Algorithm) -> &'static str {
    a.token(false)
}

/// Decodes an even-length hex string (either case).
pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

fn is_profile_name(s: &str) -> bool {
    s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Text that can go inside a SIP quoted-string without escaping (RFC 3261 §25.1).
pub(crate) fn is_quotable(s: &str) -> bool {
    !s.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

/// A SIP host (RFC 3261 §25.1 `host`): host name, IPv4 address, or IPv6 reference. Returns it
/// lower-cased, IPv6 in brackets; `None` if it is none of those.
fn normalize_domain(s: &str) -> Option<String> {
    if s.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv4()) {
        return Some(s.to_owned());
    }
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(v6) = inner.parse::<Ipv6Addr>() {
        return Some(format!("[{v6}]"));
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    is_host_name(name).then(|| name.to_ascii_lowercase())
}

/// RFC 3261 §25.1 `hostname` (RFC 1035 §2.3.1 labels: letters, digits, inner hyphens, at
/// most 63 each and 253 in all; a trailing dot allowed), the top label starting with a letter
/// (so "1.2.3.999" is not a host name).
pub(crate) fn is_host_name(s: &str) -> bool {
    let name = s.strip_suffix('.').unwrap_or(s);
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let top_ok = name
        .rsplit('.')
        .next()
        .and_then(|l| l.bytes().next())
        .is_some_and(|b| b.is_ascii_alphabetic());
    labels_ok && top_ok && !name.is_empty() && name.len() <= 253
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}
