//! Raw serde types of a trunk file, exactly as written, with the defaults of optional keys.
//! Nested tables stay `toml::Table` so each is checked under its own key path.

use serde::Deserialize;
use toml::Table;

use super::{DEFAULT_FAILOVER_CODES, Strategy};

/// `[[trunk]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTrunk {
    pub name: Option<String>,
    pub profile: Option<String>,
    pub gateways: Option<Vec<String>>,
    pub inbound: Vec<String>,
    pub context: Option<String>,
    pub dids: Table,
    pub max_calls: u32,
    pub max_cps: u32,
    pub codecs: Vec<String>,
    pub failover_codes: Vec<u32>,
    pub provisional_timeout_ms: u32,
    pub pass_headers: Vec<String>,
    pub rates: Option<String>,
    pub caller_id: Option<Table>,
    pub auth: Option<Table>,
    pub register: Option<Table>,
    pub probe: Option<Table>,
}

impl Default for RawTrunk {
    fn default() -> Self {
        Self {
            name: None,
            profile: None,
            gateways: None,
            inbound: Vec::new(),
            context: None,
            dids: Table::new(),
            max_calls: 0,
            max_cps: 0,
            codecs: Vec::new(),
            failover_codes: DEFAULT_FAILOVER_CODES.iter().map(|&c| c.into()).collect(),
            provisional_timeout_ms: 5000,
            pass_headers: Vec::new(),
            rates: None,
            caller_id: None,
            auth: None,
            register: None,
            probe: None,
        }
    }
}

/// `[trunk.caller_id]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCallerId {
    pub from_domain: Option<String>,
    pub number: Option<String>,
    pub asserted: bool,
}

/// `[trunk.auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTrunkAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    pub realm: Option<String>,
}

/// `[trunk.register]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRegister {
    pub expires_secs: u32,
    pub retry_secs: u32,
}

impl Default for RawRegister {
    fn default() -> Self {
        Self {
            expires_secs: 600,
            retry_secs: 30,
        }
    }
}

/// `[trunk.probe]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawProbe {
    pub enabled: bool,
    pub interval_secs: u32,
    pub down_after: u32,
    pub up_after: u32,
}

impl Default for RawProbe {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_secs: 30,
            down_after: 3,
            up_after: 2,
        }
    }
}

/// `[[route_group]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRouteGroup {
    pub name: Option<String>,
    pub strategy: Strategy,
    pub trunks: Option<Vec<toml::Value>>,
}

/// A route-group member written as a table: `{ name = "a", weight = 70 }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMember {
    pub name: Option<String>,
    pub weight: Option<u32>,
}
