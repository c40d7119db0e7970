//! The switchboard of one profile: takes each new INVITE from the SIP driver, gives it a
//! mailbox and a media session, asks the dialplan where it goes and starts its call actor with
//! the route: phones to ring stage by stage, or a route group's trunks with failover. Glue
//! only: the protocol is the call machine's, the decision the dialplan's, trunk choice the
//! trunk module's.

mod directory;
mod execute;
mod ivr;
pub mod notify;
mod originate;
mod routing;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sip_core::message::Uri;
use tokio::sync::mpsc;

use crate::call::actor::{CallServices, RouteDecision, spawn_call};
use crate::call::app::{CallOptions, DtmfMode};
use crate::call::registry::CallDirection;
use crate::call::{CallId, CallSettings, CallSetup, HangupCause, MediaPlan};
use crate::cluster::{BoxFuture, LocationStore, UnixMillis};
use crate::config::{DtmfSetting, Profile, ProfileKind, RecordPolicy};
use crate::dialplan::{RouteRequest, Router};
use crate::media::{Audio, MediaError, MediaRelay, SessionOptions, Side};
use crate::sip::reply::SERVER;
use crate::sip::{InviteHandler, NewInvite};

pub use directory::{Directory, Unreachable};
pub use originate::{OriginateRefusal, Origination};
pub use routing::{Routing, SharedRouting};

use execute::{Execution, Origin, execute};

/// Messages a call's mailbox holds before the receive path answers 503 (requests) or drops
/// (responses).
const MAILBOX: usize = 64;

/// Headers of an INVITE a dialplan's header matchers see (the rest are ignored).
const MAX_ROUTED_HEADERS: usize = 64;

/// What a switchboard knows of its profile.
#[derive(Debug, Clone)]
pub struct SwitchboardSettings {
    /// Profile name, for call records.
    pub profile: String,
    /// Phones or trunks.
    pub kind: ProfileKind,
    /// The dialplan context of calls from the profile's phones (trunk calls: the trunk's).
    pub context: String,
    /// Settings every call of the profile starts with.
    pub calls: CallSettings,
    /// Phones are behind NAT: send to the flow they registered from, and let the relay latch.
    pub nat: bool,
    /// Hang up after this long without RTP (anchored media only).
    pub media_timeout: Option<Duration>,
    /// DTMF modes of legs the switch answers itself.
    pub dtmf: DtmfMode,
    /// Played to the other side while one side holds (decoded at config load); None: none.
    pub music_on_hold: Option<Audio>,
    /// Where the profile's recordings go (absolute); None with direct media (nothing to tap).
    pub recordings_dir: Option<PathBuf>,
    /// Record every call from answer (`[recording] policy = "all"`).
    pub record: bool,
}

impl SwitchboardSettings {
    /// The settings of `profile`.
    pub fn from_profile(profile: &Profile) -> Self {
        let calls = profile.calls();
        let media = profile.media();
        Self {
            profile: profile.name().to_owned(),
            kind: profile.kind(),
            context: profile.context().to_owned(),
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
            dtmf: match media.dtmf() {
                DtmfSetting::Auto => DtmfMode::Auto,
                DtmfSetting::Rfc4733 => DtmfMode::Rfc4733,
                DtmfSetting::Info => DtmfMode::Info,
                DtmfSetting::Inband => DtmfMode::Inband,
            },
            music_on_hold: media.music_on_hold().map(|moh| moh.audio().clone()),
            recordings_dir: (!media.direct_media())
                .then(|| profile.recording().directory().to_path_buf()),
            record: profile.recording().policy() == RecordPolicy::All,
        }
    }

    /// The options a new call of the profile starts with (the route may add to them).
    pub fn call_options(&self) -> CallOptions {
        CallOptions {
            dtmf: self.dtmf,
            music_on_hold: self.music_on_hold.clone(),
            recordings_dir: self.recordings_dir.clone(),
            record: self.record && self.recordings_dir.is_some(),
            variables: Default::default(),
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
    routing: SharedRouting,
    router: Router,
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
    /// A switchboard routing by `routing` (phones in `store`), relaying media through `relay`
    /// (None: direct media); `router` runs the dialplan's webhooks.
    pub fn new(
        settings: SwitchboardSettings,
        store: Arc<dyn LocationStore>,
        relay: Option<Arc<MediaRelay>>,
        services: CallServices,
        routing: SharedRouting,
        router: Router,
    ) -> Self {
        Self {
            settings,
            store,
            relay,
            services,
            routing,
            router,
        }
    }

    /// The route future of the call `invite` starts.
    fn route(&self, invite: &NewInvite) -> BoxFuture<'static, RouteDecision> {
        let routing = self.routing.load_full();
        let request = invite.transaction.request();
        let headers = request.headers();
        let from = headers.from().ok();
        let destination = match request.uri() {
            Uri::Sip(uri) => uri
                .user_unescaped()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .unwrap_or_default(),
            Uri::Tel(tel) => tel.number().to_owned(),
            Uri::Absolute(_) => String::new(),
        };
        let (caller, from_host) = match from.as_ref().map(|f| &f.uri) {
            Some(Uri::Sip(uri)) => (
                uri.user_unescaped()
                    .and_then(|bytes| String::from_utf8(bytes).ok()),
                uri.host().to_string(),
            ),
            Some(Uri::Tel(tel)) => (Some(tel.number().to_owned()), String::new()),
            _ => (None, String::new()),
        };
        let (origin, context) = match self.settings.kind {
            ProfileKind::Phones => (Origin::Phone, self.settings.context.clone()),
            ProfileKind::Trunks => {
                let source = invite.peer.remote.ip();
                let Some(trunk) = routing.trunks.identify(&self.settings.profile, source) else {
                    // The driver admits only trunk sources; a reload may have removed it.
                    tracing::info!(%source, "INVITE from no trunk's address: refused");
                    return reject(HangupCause::SipFailure(403));
                };
                let Some(slot) = routing.trunks.inbound_slot(trunk.name()) else {
                    tracing::warn!(trunk = trunk.name(), "trunk at its call limit: refused");
                    return reject(HangupCause::TemporaryFailure);
                };
                let context = trunk
                    .context_for(&destination)
                    .unwrap_or(&self.settings.context)
                    .to_owned();
                let name = trunk.name().to_owned();
                (
                    Origin::Trunk {
                        name,
                        slot: Some(slot),
                    },
                    context,
                )
            }
        };
        let from_trunk = match &origin {
            Origin::Trunk { name, .. } => Some(name.clone()),
            Origin::Phone => None,
        };
        let request = RouteRequest {
            context,
            destination,
            caller,
            caller_name: from.and_then(|f| f.display_name),
            headers: headers
                .iter()
                .take(MAX_ROUTED_HEADERS)
                .map(|(name, value)| (name.as_str().to_ascii_lowercase(), value.to_string_lossy()))
                .collect(),
            from_trunk,
            profile: self.settings.profile.clone(),
        };
        Box::pin(execute(Execution {
            routing,
            router: self.router.clone(),
            store: Arc::clone(&self.store),
            profile: self.settings.profile.clone(),
            request,
            from_host,
            origin,
            ring_timeout: self.settings.calls.ring_timeout,
        }))
    }
}

/// A route future that refuses the call at once.
fn reject(cause: HangupCause) -> BoxFuture<'static, RouteDecision> {
    Box::pin(std::future::ready(RouteDecision::Reject(cause)))
}

impl InviteHandler for Switchboard {
    fn handle_invite(&self, invite: NewInvite) {
        let request = invite.transaction.request();
        let Ok(call_id) = request.headers().call_id().map(str::to_owned) else {
            return;
        };
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
        let mut route = self.route(&invite);
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
                    route = reject(HangupCause::TemporaryFailure);
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
        let direction = match self.settings.kind {
            ProfileKind::Phones => CallDirection::Outbound,
            ProfileKind::Trunks => CallDirection::Inbound,
        };
        spawn_call(
            &self.services,
            setup,
            relay,
            (sender, inbox),
            route,
            direction,
            self.settings.call_options(),
        );
    }
}

#[cfg(test)]
mod tests;
