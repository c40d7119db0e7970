//! Trunk files (`sip-profiles/trunks/*.toml`): carrier trunks and route groups, validated.
//!
//! [`parse_trunk_file`] validates one file (every error with its file and key path, such as
//! `trunk[1].gateways[0]`); [`TrunksConfig::build`] checks what spans files (unique names,
//! profiles and trunks that exist). Rate tables are separate files, read with
//! [`load_rate_table`] and attached with [`TrunksConfig::set_rates`]. The resolved types have
//! private fields and getters: only validation builds them. The runtime lives in
//! `crate::trunk`.

mod gateway;
mod parse;
mod rates;
mod raw;
mod set;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

pub use gateway::{GatewayUri, SIP_DEFAULT_PORT};
pub use parse::parse_trunk_file;
pub use rates::{MAX_PREFIX_DIGITS, RateTable, load_rate_table};
pub use set::TrunksConfig;

/// The failover codes used when a trunk names none (`failover_codes`).
pub const DEFAULT_FAILOVER_CODES: [u16; 5] = [408, 500, 502, 503, 504];

/// One carrier trunk (`[[trunk]]`).
#[derive(Debug, Clone)]
pub struct TrunkConfig {
    pub(super) source: PathBuf,
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) profile: String,
    pub(super) gateways: Vec<GatewayUri>,
    pub(super) inbound: Vec<IpNet>,
    pub(super) context: Option<String>,
    pub(super) dids: BTreeMap<String, String>,
    pub(super) max_calls: u32,
    pub(super) max_cps: u32,
    pub(super) codecs: Vec<String>,
    pub(super) failover_codes: Vec<u16>,
    pub(super) provisional_timeout: Option<Duration>,
    pub(super) pass_headers: Vec<String>,
    pub(super) rates_path: Option<PathBuf>,
    pub(super) rates: Option<RateTable>,
    pub(super) caller_id: CallerIdRules,
    pub(super) auth: Option<TrunkAuth>,
    pub(super) register: Option<RegisterSettings>,
    pub(super) probe: ProbeSettings,
}

impl TrunkConfig {
    /// The file it was defined in.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Its key in that file: `trunk[2]`.
    pub fn key(&self) -> String {
        format!("trunk[{}]", self.index)
    }

    /// Unique name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The profile whose listeners carry its calls.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// Gateways, in the order to try them (never empty).
    pub fn gateways(&self) -> &[GatewayUri] {
        &self.gateways
    }

    /// Source networks whose INVITEs come from this trunk.
    pub fn inbound(&self) -> &[IpNet] {
        &self.inbound
    }

    /// Context of its inbound calls; None: the profile's context.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// DID -> context of calls to that number.
    pub fn dids(&self) -> &BTreeMap<String, String> {
        &self.dids
    }

    /// The context of an inbound call to `did`: the DID's own, else the trunk's; None means
    /// the profile's context.
    pub fn context_for(&self, did: &str) -> Option<&str> {
        self.dids.get(did).map(String::as_str).or(self.context())
    }

    /// Concurrent calls, inbound and outbound together; None: unlimited.
    pub fn max_calls(&self) -> Option<u32> {
        (self.max_calls > 0).then_some(self.max_calls)
    }

    /// New outbound calls per second; None: unlimited.
    pub fn max_cps(&self) -> Option<u32> {
        (self.max_cps > 0).then_some(self.max_cps)
    }

    /// Allowed codec names as written; empty: any.
    pub fn codecs(&self) -> &[String] {
        &self.codecs
    }

    /// Final statuses on which a call moves on to the next trunk.
    pub fn failover_codes(&self) -> &[u16] {
        &self.failover_codes
    }

    /// Without a provisional response within this, the call moves on; None: off.
    pub fn provisional_timeout(&self) -> Option<Duration> {
        self.provisional_timeout
    }

    /// Caller headers copied to the carrier (lower-case names).
    pub fn pass_headers(&self) -> &[String] {
        &self.pass_headers
    }

    /// The rate table's path (relative to the config directory as the file was reached), for
    /// the loader to read with [`load_rate_table`].
    pub fn rates_path(&self) -> Option<&Path> {
        self.rates_path.as_deref()
    }

    /// The rate table, once attached with [`TrunksConfig::set_rates`].
    pub fn rates(&self) -> Option<&RateTable> {
        self.rates.as_ref()
    }

    /// From / P-Asserted-Identity rules.
    pub fn caller_id(&self) -> &CallerIdRules {
        &self.caller_id
    }

    /// Digest credentials for the carrier's challenges.
    pub fn auth(&self) -> Option<&TrunkAuth> {
        self.auth.as_ref()
    }

    /// Outbound registration, when the trunk registers (it then has [`Self::auth`]).
    pub fn register(&self) -> Option<&RegisterSettings> {
        self.register.as_ref()
    }

    /// OPTIONS probing of each gateway.
    pub fn probe(&self) -> &ProbeSettings {
        &self.probe
    }
}

/// `[trunk.caller_id]`: how calls present themselves to the carrier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerIdRules {
    pub(super) from_domain: Option<String>,
    pub(super) number: Option<String>,
    pub(super) asserted: bool,
}

impl CallerIdRules {
    /// Host of the From URI; None: the gateway's host.
    pub fn from_domain(&self) -> Option<&str> {
        self.from_domain.as_deref()
    }

    /// Number that replaces the caller's; None: keep the caller's.
    pub fn number(&self) -> Option<&str> {
        self.number.as_deref()
    }

    /// Send P-Asserted-Identity (RFC 3325) with the caller number.
    pub fn asserted(&self) -> bool {
        self.asserted
    }
}

/// `[trunk.auth]`: digest credentials, answered only to this realm.
#[derive(Clone, PartialEq, Eq)]
pub struct TrunkAuth {
    pub(super) username: String,
    pub(super) password: String,
    pub(super) realm: String,
}

impl TrunkAuth {
    /// User name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The realm (default: host of the first gateway).
    pub fn realm(&self) -> &str {
        &self.realm
    }
}

impl std::fmt::Debug for TrunkAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrunkAuth")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// `[trunk.register]`: registration with the carrier (RFC 3261 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterSettings {
    pub(super) expires: Duration,
    pub(super) retry: Duration,
}

impl RegisterSettings {
    /// Expiry asked for.
    pub fn expires(&self) -> Duration {
        self.expires
    }

    /// Wait before retrying a failed registration.
    pub fn retry(&self) -> Duration {
        self.retry
    }
}

/// `[trunk.probe]`: OPTIONS probing per gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    pub(super) enabled: bool,
    pub(super) interval: Duration,
    pub(super) down_after: u32,
    pub(super) up_after: u32,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(30),
            down_after: 3,
            up_after: 2,
        }
    }
}

impl ProbeSettings {
    /// Whether gateways are probed (and the passive circuit breaker applies).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Time between probes of one gateway.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Consecutive failed probes that mark a gateway down (>= 1).
    pub fn down_after(&self) -> u32 {
        self.down_after
    }

    /// Consecutive successful probes that mark it up again (>= 1).
    pub fn up_after(&self) -> u32 {
        self.up_after
    }
}

/// How a route group orders its trunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// In the order listed (failover in order).
    #[default]
    Priority,
    /// Random by weight, without replacement.
    Weighted,
    /// Cheapest rate for the number's longest matching prefix first.
    LeastCost,
    /// Fewest active calls first.
    LeastBusy,
}

impl Strategy {
    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Priority => "priority",
            Strategy::Weighted => "weighted",
            Strategy::LeastCost => "least_cost",
            Strategy::LeastBusy => "least_busy",
        }
    }
}

/// One trunk of a route group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) weight: u32,
    pub(super) weight_written: bool,
}

impl Member {
    /// The trunk's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Weight (>= 1; default 1), used by [`Strategy::Weighted`].
    pub fn weight(&self) -> u32 {
        self.weight
    }
}

/// A route group (`[[route_group]]`).
#[derive(Debug, Clone)]
pub struct RouteGroupConfig {
    pub(super) source: PathBuf,
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) strategy: Strategy,
    pub(super) members: Vec<Member>,
}

impl RouteGroupConfig {
    /// The file it was defined in.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Its key in that file: `route_group[0]`.
    pub fn key(&self) -> String {
        format!("route_group[{}]", self.index)
    }

    /// Unique name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How its trunks are ordered.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Its trunks, as listed (never empty, no name twice).
    pub fn members(&self) -> &[Member] {
        &self.members
    }
}
