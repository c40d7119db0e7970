//! Validation of `[[users]]` entries: names, exactly one way of storing the secret, HA1 form
//! and coverage of the offered algorithms.

use std::collections::BTreeMap;

use sip_core::auth::{Algorithm, Secret};
use toml::Value;

use super::error::{ConfigErrorKind, ConfigWarningKind};
use super::profile::User;
use super::raw::RawUser;
use super::validate::{Diag, algorithm_name, decode_hex, is_quotable, parse_section};

/// Validates every entry; returns the users by name when all of them validated.
/// `algorithms` is `None` when `[auth]` failed (coverage is then not checked).
pub(crate) fn validate_users(
    diag: &mut Diag<'_>,
    entries: &[Value],
    algorithms: Option<&[Algorithm]>,
) -> Option<BTreeMap<String, User>> {
    let before = diag.errors.len();
    let mut users = BTreeMap::new();
    let mut first_index: BTreeMap<String, usize> = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let prefix = format!("users[{i}]");
        let Value::Table(table) = entry else {
            diag.error(
                prefix,
                ConfigErrorKind::NotATable {
                    expected: "a table ([[users]] entry)",
                },
            );
            continue;
        };
        let (raw, p) = parse_section::<RawUser>(diag, &prefix, table);

        let name = if p.ok(&["name"]) {
            check_name(diag, &prefix, raw.name.clone())
        } else {
            None
        };
        if let Some(name) = &name {
            if let Some(&first) = first_index.get(name) {
                diag.error(
                    format!("{prefix}.name"),
                    ConfigErrorKind::DuplicateUser {
                        name: name.clone(),
                        first_index: first,
                    },
                );
            } else {
                first_index.insert(name.clone(), i);
            }
        }

        let secret = if p.ok(&["password", "ha1_md5", "ha1_sha256"]) {
            check_secret(diag, &prefix, name.as_deref(), &raw, algorithms)
        } else {
            None
        };

        let display_name = match raw.display_name.clone() {
            Some(d) if !is_quotable(&d) => {
                diag.error(
                    format!("{prefix}.display_name"),
                    ConfigErrorKind::InvalidText {
                        what: "display name",
                        value: d,
                        allowed: "no quotes, backslashes or control characters",
                    },
                );
                None
            }
            d => d,
        };

        if let (Some(name), Some(secret), true) = (name, secret, p.none()) {
            users.entry(name.clone()).or_insert(User {
                name,
                secret,
                display_name,
            });
        }
    }
    (diag.errors.len() == before).then_some(users)
}

/// RFC 3261 §25.1 `user`: unreserved and user-unreserved characters (no escapes).
fn is_user_name(s: &str) -> bool {
    s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b))
}

fn check_name(diag: &mut Diag<'_>, prefix: &str, name: Option<String>) -> Option<String> {
    let key = format!("{prefix}.name");
    match name {
        None => diag.error(key, ConfigErrorKind::Missing),
        Some(n) if n.is_empty() => diag.error(key, ConfigErrorKind::Empty),
        Some(n) if !is_user_name(&n) => diag.error(
            key,
            ConfigErrorKind::InvalidText {
                what: "user name",
                value: n,
                allowed: "use letters, digits and -_.!~*'()&=+$,;?/ (at most 64)",
            },
        ),
        Some(n) => return Some(n),
    }
    None
}

fn check_secret(
    diag: &mut Diag<'_>,
    prefix: &str,
    name: Option<&str>,
    raw: &RawUser,
    algorithms: Option<&[Algorithm]>,
) -> Option<Secret> {
    let has_ha1 = raw.ha1_md5.is_some() || raw.ha1_sha256.is_some();
    match (&raw.password, has_ha1) {
        (None, false) => {
            diag.error(prefix, ConfigErrorKind::NoSecret);
            None
        }
        (Some(_), true) => {
            diag.error(prefix, ConfigErrorKind::TwoSecrets);
            None
        }
        (Some(p), false) if p.is_empty() => {
            diag.error(format!("{prefix}.password"), ConfigErrorKind::Empty);
            None
        }
        (Some(p), false) => Some(Secret::Password(p.clone())),
        (None, true) => {
            let md5 = check_ha1(diag, &format!("{prefix}.ha1_md5"), &raw.ha1_md5, 32);
            let sha256 = check_ha1(diag, &format!("{prefix}.ha1_sha256"), &raw.ha1_sha256, 64);
            let (md5, sha256) = (md5?, sha256?);
            if let Some(offered) = algorithms {
                check_coverage(diag, prefix, name, offered, md5.is_some(), sha256.is_some())?;
            }
            Some(Secret::Ha1 { md5, sha256 })
        }
    }
}

/// `Some(None)` when absent, `Some(Some(lower-case hex))` when valid, `None` after an error.
fn check_ha1(
    diag: &mut Diag<'_>,
    key: &str,
    value: &Option<String>,
    digits: usize,
) -> Option<Option<String>> {
    let Some(hex) = value else {
        return Some(None);
    };
    if hex.len() != digits || decode_hex(hex).is_none() {
        let expected = if digits == 32 {
            "exactly 32 hex digits (MD5 of user:realm:password)"
        } else {
            "exactly 64 hex digits (SHA-256 of user:realm:password)"
        };
        diag.error(key, ConfigErrorKind::BadHex { expected });
        return None;
    }
    Some(Some(hex.to_ascii_lowercase()))
}

fn check_coverage(
    diag: &mut Diag<'_>,
    prefix: &str,
    name: Option<&str>,
    offered: &[Algorithm],
    has_md5: bool,
    has_sha256: bool,
) -> Option<()> {
    let missing: Vec<Algorithm> = offered
        .iter()
        .copied()
        .filter(|a| match a {
            Algorithm::Md5 => !has_md5,
            Algorithm::Sha256 => !has_sha256,
        })
        .collect();
    if missing.len() == offered.len() {
        let offered = offered
            .iter()
            .map(|a| algorithm_name(*a))
            .collect::<Vec<_>>()
            .join(", ");
        diag.error(prefix, ConfigErrorKind::NoUsableHa1 { offered });
        return None;
    }
    for algorithm in missing {
        diag.warn(
            prefix,
            ConfigWarningKind::Ha1MissingForAlgorithm {
                user: name.unwrap_or_default().to_owned(),
                algorithm: algorithm_name(algorithm),
            },
        );
    }
    Some(())
}
