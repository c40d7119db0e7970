//! Configuration: raw serde types, validation into resolved types, errors with file and key.
//!
//! A config directory holds `sip-profiles/*.toml` (one profile per file, at least one) and an
//! optional `dialplans/` (not read yet). [`load`] reads and validates it and reports every
//! error at once, each with its file and key path:
//!
//! ```text
//! sip-profiles/default.toml: registrar.min_expires: must be <= default_expires (3600)
//! ```
//!
//! The resolved types ([`Config`], [`Profile`] and its sections, [`User`]) have private fields
//! and getters: they are only built by validation, so their invariants hold wherever they are
//! read. [`ListenAddr`] and [`Transport`] are plain values with public fields. To build a
//! config in a test, feed TOML text to [`parse_sources`]. [`ConfigHandle`] holds the live
//! config for reloads. The file schema is documented in `sip-profiles/README.md`.

pub mod api;
mod calls;
pub mod dialplan;
mod error;
mod handle;
pub mod ivr;
mod listen;
mod load;
mod profile;
mod raw;
mod recording;
mod routing;
pub mod trunks;
mod users;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;

pub use calls::{CallPolicy, DtmfSetting, MediaPolicy, MusicOnHold};
pub use dialplan::DEFAULT_CONTEXT;
pub use error::{
    ConfigError, ConfigErrorKind, ConfigErrors, ConfigWarning, ConfigWarningKind, Location,
};
pub use handle::ConfigHandle;
pub use listen::{ListenAddr, ListenAddrError, Transport};
pub use load::{DIALPLANS_DIR, PROFILES_DIR, TRUNKS_DIR, load, parse_sources};
pub use profile::{
    AuthPolicy, BanPolicy, NonceKey, Profile, ProfileKind, RegistrarPolicy, SipSettings, User,
};
pub use recording::{RecordPolicy, RecordingPolicy};

/// The validated configuration: every profile, in file-name order.
#[derive(Debug, Clone)]
pub struct Config {
    profiles: Vec<Profile>,
    dialplan: dialplan::DialplanConfig,
    trunks: trunks::TrunksConfig,
    api: api::ApiConfig,
    ivr: std::sync::Arc<ivr::IvrMenus>,
    warnings: Vec<ConfigWarning>,
}

impl Config {
    /// The profiles, in file-name order; never empty, names unique, no listen address twice.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The profile with this name.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name() == name)
    }

    /// The dialplan: every context, with the built-in `default` when no file defines one.
    pub fn dialplan(&self) -> &dialplan::DialplanConfig {
        &self.dialplan
    }

    /// Carrier trunks and route groups.
    pub fn trunks(&self) -> &trunks::TrunksConfig {
        &self.trunks
    }

    /// The control API, events and webhooks (`api.toml`).
    pub fn api(&self) -> &api::ApiConfig {
        &self.api
    }

    /// IVR menus (`dialplans/ivr/*.toml`) with their decoded prompts.
    pub fn ivr(&self) -> &std::sync::Arc<ivr::IvrMenus> {
        &self.ivr
    }

    /// Legal but doubtful settings, to log at startup (`check-config` prints them too).
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// A one-line summary: `1 profile, 20 users, listening on udp:127.0.0.1:5060, …`.
    pub fn summary(&self) -> ConfigSummary<'_> {
        ConfigSummary(self)
    }
}

/// Display of [`Config::summary`].
pub struct ConfigSummary<'a>(&'a Config);

impl fmt::Display for ConfigSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let profiles = self.0.profiles();
        let users: usize = profiles.iter().map(|p| p.users().len()).sum();
        write!(
            f,
            "{} profile{}, {} user{}, listening on ",
            profiles.len(),
            if profiles.len() == 1 { "" } else { "s" },
            users,
            if users == 1 { "" } else { "s" },
        )?;
        let mut first = true;
        for addr in profiles.iter().flat_map(|p| p.listen()) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{addr}")?;
        }
        Ok(())
    }
}
