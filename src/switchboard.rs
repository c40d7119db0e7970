//! The switchboard of one profile: takes each authenticated new INVITE from the SIP driver,
//! gives it a mailbox and a media session, and starts its call actor with the route decision:
//! the registered phones of the dialled user. Glue only: the protocol is the call machine's.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sip_core::message::Uri;
use tokio::sync::mpsc;

use crate::call::actor::{CallServices, FixedStages, RouteDecision, spawn_call};
use crate::call::{CallId, CallSettings, CallSetup, HangupCause, MediaPlan, Stage, Target};
use crate::cluster::{Aor, Binding, BoxFuture, FlowTransport, LocationStore, UnixMillis};
use crate::config::Profile;
use crate::media::{MediaError, MediaRelay, SessionOptions, Side};
use crate::sip::reply::SERVER;
use crate::sip::{InviteHandler, NewInvite};
use crate::telemetry::Pii;
use crate::transport::{Peer, Transport};

/// Messages a call's mailbox holds before the receive path answers 503 (requests) or drops
/// (responses).
const MAILBOX: usize = 64;

/// Default SIP port of a contact URI without one (RFC 3261 §19.1.2).
const DEFAULT_SIP_PORT: u16 = 5060;

/// What a switchboard knows of its profile.
#[derive(Debug, Clone)]
pub struct SwitchboardSettings {
    /// Profile name, for call records.
    pub profile: String,
    /// The profile's SIP domain: callees' AORs are `user@domain`.
    pub domain: String,
    /// The profile's user names: the only users that can be called.
    pub users: HashSet<String>,
    /// Settings every call of the profile starts with.
    pub calls: CallSettings,
    /// Phones are behind NAT: send to the flow they registered from, and let the relay latch.
    pub nat: bool,
    /// Hang up after this long without RTP (anchored media only).
    pub media_timeout: Option<Duration>,
}

impl SwitchboardSettings {
    /// The settings of `profile`.
    pub fn from_profile(profile: &Profile) -> Self {
        let calls = profile.calls();
        let media = profile.media();
        Self {
            profile: profile.name().to_owned(),
            domain: profile.domain().to_ascii_lowercase(),
            users: profile.users().keys().cloned().collect(),
            calls: CallSettings {
                timers: profile.sip().timers(),
                ring_timeout: calls.ring_timeout(),
                max_duration: calls.max_duration(),
                session_expires: calls.session_expires(),
                min_se: calls.min_se(),
                user_agent: SERVER.to_owned(),
            },
            nat: media.nat(),
            media_timeout: media.media_timeout(),
        }
    }
}

/// Starts the calls of one profile (the driver's [`InviteHandler`]).
pub struct Switchboard {
    settings: SwitchboardSettings,
    store: Arc<dyn LocationStore>,
    /// The profile's media relay; None for direct media.
    relay: Option<Arc<MediaRelay>>,
    services: CallServices,
}

impl std::fmt::Debug for Switchboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switchboard")
            .field("profile", &self.settings.profile)
            .field("anchored", &self.relay.is_some())
            .finish_non_exhaustive()
    }
}

impl Switchboard {
    /// A switchboard ringing the bindings in `store`, relaying media through `relay` (None:
    /// direct media).
    pub fn new(
        settings: SwitchboardSettings,
        store: Arc<dyn LocationStore>,
        relay: Option<Arc<MediaRelay>>,
        services: CallServices,
    ) -> Self {
        Self {
            settings,
            store,
            relay,
            services,
        }
    }

    /// The route future of a call to `request_uri`.
    fn route(&self, request_uri: Uri) -> BoxFuture<'static, RouteDecision> {
        let users = self.settings.users.clone();
        let domain = self.settings.domain.clone();
        let nat = self.settings.nat;
        let store = Arc::clone(&self.store);
        Box::pin(async move { route(&users, &domain, nat, store.as_ref(), &request_uri).await })
    }
}

impl InviteHandler for Switchboard {
    fn handle_invite(&self, invite: NewInvite) {
        let request = invite.transaction.request();
        let Ok(call_id) = request.headers().call_id().map(str::to_owned) else {
            return;
        };
        let request_uri = request.uri().clone();
        let (sender, inbox) = mpsc::channel(MAILBOX);
        // Routed before returning, so the INVITE's retransmissions and its CANCEL reach the
        // call (the driver relies on it).
        if !self.services.calls.insert(&call_id, sender.clone()) {
            tracing::warn!(
                sip_call_id = %call_id,
                "new INVITE for a Call-ID a call already owns; dropped"
            );
            return;
        }
        let mut route = self.route(request_uri);
        let (media, relay) = match &self.relay {
            None => (MediaPlan::Direct, None),
            Some(relay) => match relay.allocate(SessionOptions {
                nat: self.settings.nat,
                media_timeout: self.settings.media_timeout,
            }) {
                Ok(session) => {
                    let plan = MediaPlan::Anchored {
                        a: session.local_rtp(Side::A),
                        b: session.local_rtp(Side::B),
                    };
                    (plan, Some(session))
                }
                Err(error) => {
                    match error {
                        MediaError::NoPorts => tracing::warn!("no free media ports: call refused"),
                        error => tracing::error!(%error, "media session failed: call refused"),
                    }
                    route = Box::pin(std::future::ready(RouteDecision::Reject(
                        HangupCause::TemporaryFailure,
                    )));
                    (MediaPlan::Direct, None)
                }
            },
        };
        let setup = CallSetup {
            id: CallId::new_random(),
            profile: self.settings.profile.clone(),
            caller: invite.caller,
            invite: invite.transaction,
            a_peer: invite.peer,
            a_route: invite.route,
            settings: self.settings.calls.clone(),
            media,
            wall: UnixMillis::now(),
        };
        tracing::debug!(call_id = %setup.id, sip_call_id = %call_id, "new call");
        spawn_call(&self.services, setup, relay, (sender, inbox), route);
    }
}

/// RFC 3261 §10 location service lookup: the callee is the Request-URI user; not a user of the
/// profile: 404; no live binding: 480; else every binding is rung.
async fn route(
    users: &HashSet<String>,
    domain: &str,
    nat: bool,
    store: &dyn LocationStore,
    request_uri: &Uri,
) -> RouteDecision {
    let callee = match request_uri {
        Uri::Sip(uri) => uri
            .user_unescaped()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        Uri::Tel(tel) => Some(tel.number().to_owned()),
        Uri::Absolute(_) => None,
    };
    let Some(callee) = callee.filter(|user| users.contains(user)) else {
        return RouteDecision::Reject(HangupCause::UnallocatedNumber);
    };
    let aor = Aor::new(&callee, domain);
    let bindings = match store.bindings(&aor, UnixMillis::now()).await {
        Ok(bindings) => bindings,
        Err(error) => {
            tracing::warn!(aor = %Pii(&aor), %error, "location lookup failed");
            return RouteDecision::Reject(HangupCause::TemporaryFailure);
        }
    };
    let targets: Vec<Target> = bindings.iter().filter_map(|b| target(b, nat)).collect();
    if targets.is_empty() {
        return RouteDecision::Reject(HangupCause::UserNotRegistered);
    }
    RouteDecision::Dial(Box::new(FixedStages(
        [Stage {
            targets,
            ring_timeout: None,
            provisional_timeout: None,
            failover_on: Vec::new(),
        }]
        .into(),
    )))
}

/// Where to ring one binding: its contact URI as Request-URI, sent over TCP on the flow it
/// registered on (the phone's connection); over UDP to the contact's address from the listener
/// it registered on, or with `nat` to the address the REGISTER came from (RFC 3581 style
/// symmetric signalling). Transports the switch does not run are skipped.
fn target(binding: &Binding, nat: bool) -> Option<Target> {
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

#[cfg(test)]
mod tests;
