//! Which phones an extension names: the users of every `phones` profile, and how to reach
//! their registered contacts. A dialplan's `ring` names an extension as `user` (a user of the
//! call's own profile, else of the one phones profile that has it) or `user@profile`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use sip_core::message::Uri;

use crate::call::{BranchIdentity, Target};
use crate::cluster::{Aor, Binding, FlowTransport, LocationStore, UnixMillis};
use crate::config::{Config, ProfileKind};
use crate::telemetry::Pii;
use crate::transport::{Peer, Transport};

/// Default SIP port of a contact URI without one (RFC 3261 §19.1.2).
const DEFAULT_SIP_PORT: u16 = 5060;

/// One phones profile, as far as ringing its users goes.
#[derive(Debug, Clone)]
struct PhoneProfile {
    domain: String,
    users: HashSet<String>,
    nat: bool,
}

/// The phones of every `phones` profile.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    profiles: HashMap<String, PhoneProfile>,
}

/// Why an extension has no phone to ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// No profile has such a user (404).
    Unknown,
    /// The user has no live registration (480).
    NotRegistered,
    /// The location store failed (503).
    StoreFailed,
}

impl Directory {
    /// The phones profiles of `config`.
    pub fn from_config(config: &Config) -> Self {
        let profiles = config
            .profiles()
            .iter()
            .filter(|p| p.kind() == ProfileKind::Phones)
            .map(|p| {
                (
                    p.name().to_owned(),
                    PhoneProfile {
                        domain: p.domain().to_ascii_lowercase(),
                        users: p.users().keys().cloned().collect(),
                        nat: p.media().nat(),
                    },
                )
            })
            .collect();
        Self { profiles }
    }

    /// The profile that owns `extension` for a call on `own_profile`: `user@profile`, else
    /// the call's own profile when it has the user, else the only phones profile that has it.
    fn owner<'a>(
        &'a self,
        extension: &'a str,
        own_profile: &str,
    ) -> Option<(&'a str, &'a PhoneProfile)> {
        if let Some((user, profile)) = extension.rsplit_once('@') {
            return self
                .profiles
                .get(profile)
                .filter(|p| p.users.contains(user))
                .map(|p| (user, p));
        }
        if let Some(own) = self.profiles.get(own_profile)
            && own.users.contains(extension)
        {
            return Some((extension, own));
        }
        let mut owners = self
            .profiles
            .values()
            .filter(|p| p.users.contains(extension));
        match (owners.next(), owners.next()) {
            (Some(only), None) => Some((extension, only)),
            _ => None,
        }
    }

    /// The targets that ring `extension` (every registered contact, RFC 3261 §10 location
    /// lookup), each with `identity`.
    pub async fn targets(
        &self,
        store: &dyn LocationStore,
        extension: &str,
        own_profile: &str,
        identity: &BranchIdentity,
    ) -> Result<Vec<Target>, Unreachable> {
        let Some((user, profile)) = self.owner(extension, own_profile) else {
            return Err(Unreachable::Unknown);
        };
        let aor = Aor::new(user, &profile.domain);
        let bindings = match store.bindings(&aor, UnixMillis::now()).await {
            Ok(bindings) => bindings,
            Err(error) => {
                tracing::warn!(aor = %Pii(&aor), %error, "location lookup failed");
                return Err(Unreachable::StoreFailed);
            }
        };
        let targets: Vec<Target> = bindings
            .iter()
            .filter_map(|b| target(b, profile.nat))
            .map(|mut t| {
                t.identity = identity.clone();
                t
            })
            .collect();
        if targets.is_empty() {
            return Err(Unreachable::NotRegistered);
        }
        Ok(targets)
    }
}

/// Where to ring one binding: its contact URI as Request-URI, sent over TCP on the flow it
/// registered on (the phone's connection); over UDP to the contact's address from the listener
/// it registered on, or with `nat` to the address the REGISTER came from (RFC 3581 style
/// symmetric signalling). Transports the switch does not run are skipped.
pub(super) fn target(binding: &Binding, nat: bool) -> Option<Target> {
    let flow = binding.flow;
    let transport = match flow.transport {
        FlowTransport::Udp => Transport::Udp,
        FlowTransport::Tcp => Transport::Tcp,
        FlowTransport::Tls | FlowTransport::Ws | FlowTransport::Wss => return None,
    };
    let uri = binding.contact.uri().clone();
    let remote = match transport {
        Transport::Tcp => flow.remote,
        Transport::Udp if nat => flow.remote,
        // A contact naming a host (not an address) would need DNS (RFC 3263): use the flow.
        Transport::Udp => contact_address(&uri).unwrap_or(flow.remote),
    };
    Some(Target::new(
        uri,
        Peer {
            transport,
            remote,
            local: flow.local,
        },
    ))
}

/// The IP address and port of a SIP contact URI, when its host is an address literal.
fn contact_address(uri: &Uri) -> Option<SocketAddr> {
    let Uri::Sip(sip) = uri else {
        return None;
    };
    let ip = sip.host().ip()?;
    Some(SocketAddr::new(ip, sip.port().unwrap_or(DEFAULT_SIP_PORT)))
}
