//! Raw serde types: one per section of a profile file, exactly as written, with the defaults
//! of every optional key. Validation into resolved types happens in `validate`.

use serde::Deserialize;

/// `[profile]`. Required keys are `Option` so that a missing one is reported by validation,
/// next to every other error, instead of stopping deserialization.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawProfile {
    pub name: Option<String>,
    pub domain: Option<String>,
    pub listen: Option<Vec<String>>,
    pub kind: Option<String>,
    pub context: Option<String>,
}

/// `[auth]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAuth {
    pub realm: Option<String>,
    pub algorithms: Vec<String>,
    pub nonce_lifetime_secs: u32,
    pub nonce_key: Option<String>,
}

impl Default for RawAuth {
    fn default() -> Self {
        Self {
            realm: None,
            // MD5 first: SIPp 3.6 and many deployed phones answer the first challenge only and
            // cannot do SHA-256; RFC 8760 phones still find SHA-256 offered.
            algorithms: vec!["MD5".to_owned(), "SHA-256".to_owned()],
            nonce_lifetime_secs: 300,
            nonce_key: None,
        }
    }
}

/// `[ban]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawBan {
    pub max_failures: u32,
    pub window_secs: u32,
    pub ban_secs: u32,
}

impl Default for RawBan {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_secs: 60,
            ban_secs: 300,
        }
    }
}

/// `[registrar]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRegistrar {
    pub default_expires: u32,
    pub min_expires: u32,
    pub max_expires: u32,
    pub max_contacts: u32,
}

impl Default for RawRegistrar {
    fn default() -> Self {
        Self {
            default_expires: 3600,
            min_expires: 60,
            max_expires: 7200,
            max_contacts: 10,
        }
    }
}

/// `[sip]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSip {
    pub t1_ms: u32,
    pub t2_ms: u32,
    pub t4_ms: u32,
    pub max_message_size: u32,
    pub udp_queue: u32,
    pub retry_after_secs: u32,
}

impl Default for RawSip {
    fn default() -> Self {
        Self {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            max_message_size: 65535,
            udp_queue: 4096,
            retry_after_secs: 5,
        }
    }
}

/// `[calls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCalls {
    pub ring_timeout_secs: u32,
    pub max_duration_secs: u32,
    pub session_expires_secs: u32,
    pub min_se_secs: u32,
}

impl Default for RawCalls {
    fn default() -> Self {
        Self {
            ring_timeout_secs: 60,
            max_duration_secs: 4 * 3600,
            session_expires_secs: 1800,
            min_se_secs: 90,
        }
    }
}

/// `[media]`. Ports are `u32` so an out-of-range value is reported as such, not as a type
/// error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawMedia {
    pub direct_media: bool,
    pub nat: bool,
    pub address: Option<String>,
    pub rtp_port_min: u32,
    pub rtp_port_max: u32,
    pub media_timeout_secs: u32,
    pub dtmf: String,
    pub music_on_hold: Option<String>,
}

impl Default for RawMedia {
    fn default() -> Self {
        Self {
            direct_media: false,
            nat: false,
            address: None,
            rtp_port_min: 16_384,
            rtp_port_max: 32_767,
            media_timeout_secs: 60,
            dtmf: "auto".to_owned(),
            music_on_hold: None,
        }
    }
}

/// `[recording]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRecording {
    pub policy: String,
    pub directory: String,
}

impl Default for RawRecording {
    fn default() -> Self {
        Self {
            policy: "none".to_owned(),
            directory: "var/recordings".to_owned(),
        }
    }
}

/// One `[[users]]` entry. `name` is `Option` for the same reason as in [`RawProfile`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawUser {
    pub name: Option<String>,
    pub password: Option<String>,
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
    pub display_name: Option<String>,
}
