//! The control API's config, `api.toml` at the top of the config directory (optional):
//! listener, bearer tokens (stored as SHA-256 hashes) with roles, the event bus sizes and
//! the webhook targets. Schema in `sip-profiles/README.md` ("Control API").

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Table;

use super::error::{ConfigError, ConfigErrorKind, Location};
use super::validate::{Diag, parse_section, parse_toml};

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

/// Voice notifications (`[notifications]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationsConfig {
    /// Call attempts per minute per caller ID (default 30); more wait.
    pub per_caller_id_per_minute: u32,
    /// Notification calls under way at once (default 50); more wait.
    pub max_concurrent: usize,
    /// How long a notification call rings when the request names no `ring_timeout_secs`
    /// (default 30 s).
    pub default_ring_timeout: Duration,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            per_caller_id_per_minute: 30,
            max_concurrent: 50,
            default_ring_timeout: Duration::from_secs(30),
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
    /// Voice notifications.
    pub notifications: NotificationsConfig,
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
            notifications: NotificationsConfig::default(),
        }
    }
}

/// Reads and validates `dir/api.toml`; a missing file gives the defaults. Errors go to
/// `errors` (with file and key), and the defaults are returned with them.
pub(crate) fn load_api(dir: &Path, errors: &mut Vec<ConfigError>) -> ApiConfig {
    let path = dir.join(API_FILE);
    let label = Path::new(API_FILE);
    let text = match std::fs::read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                errors.push(ConfigError::new(
                    label,
                    Location::File,
                    ConfigErrorKind::NotUtf8,
                ));
                return ApiConfig::default();
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ApiConfig::default(),
        Err(e) => {
            errors.push(ConfigError::new(
                label,
                Location::File,
                ConfigErrorKind::Read(e),
            ));
            return ApiConfig::default();
        }
    };
    let mut diag = Diag::new(label);
    let config = parse_api(&mut diag, &text);
    errors.append(&mut diag.errors);
    config
}

/// Validates the text of `api.toml`.
pub(crate) fn parse_api(diag: &mut Diag<'_>, text: &str) -> ApiConfig {
    let mut config = ApiConfig::default();
    let Some(table) = parse_toml(diag, text) else {
        return config;
    };
    for key in table.keys() {
        if !matches!(
            key.as_str(),
            "api" | "events" | "webhooks" | "notifications"
        ) {
            diag.error(
                key.as_str(),
                ConfigErrorKind::UnknownSection {
                    expected: "api, events, webhooks, notifications",
                },
            );
        }
    }
    if let Some(section) = section(diag, &table, "api") {
        let (raw, _) = parse_section::<RawApi>(diag, "api", &section);
        config.listen = if raw.enabled {
            match raw.listen.parse() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    diag.error(
                        "api.listen",
                        ConfigErrorKind::InvalidText {
                            what: "listen address",
                            value: raw.listen.clone(),
                            allowed: "IP:port, e.g. 127.0.0.1:8080",
                        },
                    );
                    None
                }
            }
        } else {
            None
        };
        if diag.range(
            "api.max_body_bytes",
            raw.max_body_bytes,
            1024,
            16 * 1024 * 1024,
        ) {
            config.max_body_bytes = raw.max_body_bytes as usize;
        }
        config.tokens = tokens(diag, raw.token);
    }
    if let Some(section) = section(diag, &table, "events") {
        let (raw, _) = parse_section::<RawEvents>(diag, "events", &section);
        if diag.range("events.replay", raw.replay, 1, 1_000_000) {
            config.events.replay = raw.replay as usize;
        }
        if diag.range("events.subscriber_buffer", raw.subscriber_buffer, 1, 65_536) {
            config.events.subscriber_buffer = raw.subscriber_buffer as usize;
        }
    }
    if let Some(section) = section(diag, &table, "webhooks") {
        let (raw, _) = parse_section::<RawWebhooks>(diag, "webhooks", &section);
        config.webhooks = webhooks(diag, raw);
    }
    if let Some(section) = section(diag, &table, "notifications") {
        let (raw, _) = parse_section::<RawNotifications>(diag, "notifications", &section);
        let limits = &mut config.notifications;
        if diag.range(
            "notifications.per_caller_id_per_minute",
            raw.per_caller_id_per_minute,
            1,
            6000,
        ) {
            limits.per_caller_id_per_minute = raw.per_caller_id_per_minute;
        }
        if diag.range(
            "notifications.max_concurrent",
            raw.max_concurrent,
            1,
            10_000,
        ) {
            limits.max_concurrent = raw.max_concurrent as usize;
        }
        if diag.range(
            "notifications.default_ring_timeout_secs",
            raw.default_ring_timeout_secs,
            1,
            300,
        ) {
            limits.default_ring_timeout =
                Duration::from_secs(u64::from(raw.default_ring_timeout_secs));
        }
    }
    config
}

/// The table under `key`, reported when it is something else.
fn section(diag: &mut Diag<'_>, table: &Table, key: &str) -> Option<Table> {
    match table.get(key)? {
        toml::Value::Table(section) => Some(section.clone()),
        _ => {
            diag.error(
                key,
                ConfigErrorKind::NotATable {
                    expected: "a table",
                },
            );
            None
        }
    }
}

fn tokens(diag: &mut Diag<'_>, raw: Vec<RawToken>) -> Vec<ApiToken> {
    let mut tokens: Vec<ApiToken> = Vec::with_capacity(raw.len());
    for (i, token) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("api.token[{i}].{field}");
        if token.name.trim().is_empty() {
            diag.error(key("name"), ConfigErrorKind::Empty);
        } else if let Some(other) = tokens.iter().position(|t| t.name == token.name) {
            diag.error(
                key("name"),
                ConfigErrorKind::DuplicateName {
                    what: "token",
                    name: token.name.clone(),
                    other: format!("api.token[{other}]"),
                },
            );
        }
        let role = Role::parse(&token.role);
        if role.is_none() {
            diag.error(
                key("role"),
                ConfigErrorKind::InvalidText {
                    what: "role",
                    value: token.role.clone(),
                    allowed: "admin, supervisor, agent or readonly",
                },
            );
        }
        let hash = super::validate::decode_hex(&token.sha256)
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
        if hash.is_none() {
            diag.error(
                key("sha256"),
                ConfigErrorKind::InvalidText {
                    what: "token hash",
                    value: token.sha256.clone(),
                    allowed: "64 hex digits: the SHA-256 of the token (`switchyard ctl token` makes one)",
                },
            );
        }
        if let (Some(role), Some(sha256)) = (role, hash) {
            tokens.push(ApiToken {
                name: token.name,
                role,
                sha256,
            });
        }
    }
    tokens
}

fn webhooks(diag: &mut Diag<'_>, raw: RawWebhooks) -> WebhooksConfig {
    let mut config = WebhooksConfig::default();
    if diag.range("webhooks.max_attempts", raw.max_attempts, 1, 1000) {
        config.max_attempts = raw.max_attempts;
    }
    if diag.range(
        "webhooks.initial_backoff_ms",
        raw.initial_backoff_ms,
        10,
        3_600_000,
    ) {
        config.initial_backoff = Duration::from_millis(u64::from(raw.initial_backoff_ms));
    }
    if diag.range(
        "webhooks.max_backoff_ms",
        raw.max_backoff_ms,
        10,
        86_400_000,
    ) {
        config.max_backoff = Duration::from_millis(u64::from(raw.max_backoff_ms));
    }
    if config.max_backoff < config.initial_backoff {
        diag.error(
            "webhooks.max_backoff_ms",
            ConfigErrorKind::OutOfRange {
                value: u64::from(raw.max_backoff_ms),
                min: u64::from(raw.initial_backoff_ms),
                max: 86_400_000,
            },
        );
    }
    if diag.range("webhooks.timeout_ms", raw.timeout_ms, 100, 120_000) {
        config.timeout = Duration::from_millis(u64::from(raw.timeout_ms));
    }
    for (i, target) in raw.target.into_iter().enumerate() {
        let key = |field: &str| format!("webhooks.target[{i}].{field}");
        let mut ok = true;
        if target.name.trim().is_empty() {
            diag.error(key("name"), ConfigErrorKind::Empty);
            ok = false;
        } else if let Some(other) = config.targets.iter().position(|t| t.name == target.name) {
            diag.error(
                key("name"),
                ConfigErrorKind::DuplicateName {
                    what: "webhook target",
                    name: target.name.clone(),
                    other: format!("webhooks.target[{other}]"),
                },
            );
            ok = false;
        }
        let url_ok = reqwest::Url::parse(&target.url)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
        if !url_ok {
            diag.error(
                key("url"),
                ConfigErrorKind::InvalidText {
                    what: "webhook URL",
                    value: target.url.clone(),
                    allowed: "an http:// or https:// URL",
                },
            );
            ok = false;
        }
        for (j, name) in target.events.iter().enumerate() {
            if crate::telemetry::events::EventType::parse(name).is_none() {
                diag.error(
                    format!("webhooks.target[{i}].events[{j}]"),
                    ConfigErrorKind::UnknownReference {
                        what: "event type",
                        name: name.clone(),
                    },
                );
                ok = false;
            }
        }
        if target.secret.len() < 16 {
            diag.error(
                key("secret"),
                ConfigErrorKind::InvalidText {
                    what: "webhook secret",
                    value: "<hidden>".into(),
                    allowed: "at least 16 characters",
                },
            );
            ok = false;
        }
        if ok {
            config.targets.push(WebhookTarget {
                name: target.name,
                url: target.url,
                events: target.events,
                secret: target.secret,
            });
        }
    }
    config
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawApi {
    enabled: bool,
    listen: String,
    max_body_bytes: u32,
    token: Vec<RawToken>,
}

impl Default for RawApi {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: DEFAULT_API_LISTEN.to_owned(),
            max_body_bytes: 64 * 1024,
            token: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    role: String,
    sha256: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawEvents {
    replay: u32,
    subscriber_buffer: u32,
}

impl Default for RawEvents {
    fn default() -> Self {
        Self {
            replay: 10_000,
            subscriber_buffer: 1024,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawNotifications {
    per_caller_id_per_minute: u32,
    max_concurrent: u32,
    default_ring_timeout_secs: u32,
}

impl Default for RawNotifications {
    fn default() -> Self {
        Self {
            per_caller_id_per_minute: 30,
            max_concurrent: 50,
            default_ring_timeout_secs: 30,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWebhooks {
    max_attempts: u32,
    initial_backoff_ms: u32,
    max_backoff_ms: u32,
    timeout_ms: u32,
    target: Vec<RawTarget>,
}

impl Default for RawWebhooks {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff_ms: 1000,
            max_backoff_ms: 300_000,
            timeout_ms: 5000,
            target: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    url: String,
    #[serde(default)]
    events: Vec<String>,
    secret: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (ApiConfig, Vec<String>) {
        let mut diag = Diag::new(Path::new(API_FILE));
        let config = parse_api(&mut diag, text);
        (
            config,
            diag.errors.iter().map(ToString::to_string).collect(),
        )
    }

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let (config, errors) = parse("");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config, ApiConfig::default());
    }

    #[test]
    fn notification_limits_are_read_and_bounded() {
        let (config, errors) = parse(
            "[notifications]\nper_caller_id_per_minute = 5\nmax_concurrent = 2\n\
             default_ring_timeout_secs = 20\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            config.notifications,
            NotificationsConfig {
                per_caller_id_per_minute: 5,
                max_concurrent: 2,
                default_ring_timeout: Duration::from_secs(20),
            }
        );
        let (_, errors) = parse("[notifications]\nmax_concurrent = 0\nsurprise = 1\n");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("notifications.max_concurrent")),
            "{errors:?}"
        );
        assert!(errors.iter().any(|e| e.contains("surprise")), "{errors:?}");
    }

    #[test]
    fn tokens_targets_and_sizes_are_read() {
        let (config, errors) = parse(&format!(
            "[api]\nlisten = \"127.0.0.1:9090\"\n[[api.token]]\nname = \"ops\"\nrole = \"admin\"\nsha256 = \"{HASH}\"\n\
             [events]\nreplay = 50\n\
             [webhooks]\nmax_attempts = 3\n[[webhooks.target]]\nname = \"crm\"\nurl = \"http://127.0.0.1:9000/h\"\nevents = [\"call.hungup\"]\nsecret = \"0123456789abcdef\"\n"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.listen, "127.0.0.1:9090".parse().ok());
        assert_eq!(config.tokens[0].role, Role::Admin);
        assert_eq!(config.events.replay, 50);
        assert_eq!(config.webhooks.max_attempts, 3);
        assert_eq!(config.webhooks.targets[0].events, ["call.hungup"]);
    }

    #[test]
    fn every_mistake_is_reported_with_its_key() {
        let (_, errors) = parse(
            "[api]\nlisten = \"nowhere\"\ncolour = 1\n[[api.token]]\nname = \"x\"\nrole = \"boss\"\nsha256 = \"abc\"\n\
             [webhooks]\n[[webhooks.target]]\nname = \"t\"\nurl = \"ftp://x\"\nevents = [\"call.exploded\"]\nsecret = \"short\"\n\
             [extra]\n",
        );
        let all = errors.join("\n");
        for key in [
            "api.listen",
            "api.colour",
            "api.token[0].role",
            "api.token[0].sha256",
            "webhooks.target[0].url",
            "webhooks.target[0].events[0]",
            "webhooks.target[0].secret",
            "extra",
        ] {
            assert!(all.contains(key), "no error for {key} in:\n{all}");
        }
    }

    #[test]
    fn a_disabled_api_has_no_listener() {
        let (config, errors) = parse("[api]\nenabled = false\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.listen, None);
    }
}
