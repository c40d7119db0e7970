//! Click-to-call on a phones profile: finds the originating phone's registered contacts,
//! routes the destination through the dialplan exactly as if that phone had dialled it, takes
//! a relay session (the switch writes A's offer itself, so media is always anchored) and
//! starts the call. The route is decided before A rings, so a destination that cannot be
//! reached is refused at once instead of ringing A for nothing. Glue only: the A leg's
//! protocol is the call machine's.

use std::sync::Arc;
use std::time::Duration;

use sip_core::message::{NameAddr, Uri};
use tokio::sync::mpsc;

use super::directory::Unreachable;
use super::execute::{Execution, Origin, execute};
use super::{MAILBOX, Switchboard};
use crate::call::actor::{RouteDecision, spawn_originate};
use crate::call::machine::OriginateSetup;
use crate::call::{BranchIdentity, CallId, HangupCause};
use crate::cluster::UnixMillis;
use crate::config::ProfileKind;
use crate::dialplan::RouteRequest;
use crate::media::{MediaError, SessionOptions, Side};
use crate::sip::client::new_call_id;

/// A click-to-call asked of one phones profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origination {
    /// The extension rung first (a user of the profile).
    pub from: String,
    /// Where it is connected once it answers: an extension or a number.
    pub to: String,
    /// The profile's SIP domain: the host of `from`'s address of record.
    pub domain: String,
    /// The dialplan context `to` is routed in; None: the profile's.
    pub context: Option<String>,
    /// Caller number shown to `to`; None: `from`.
    pub caller_id_number: Option<String>,
    /// Caller name shown to `to`, and to `from` as who is calling.
    pub caller_id_name: Option<String>,
    /// How long `from` may ring; None: the profile's ring timeout.
    pub ring_timeout: Option<Duration>,
}

/// Why a click-to-call was refused before anything rang.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginateRefusal {
    /// The profile is a trunks profile: only phones can be rung first.
    #[error("profile {0:?} is not a phones profile")]
    NotPhones(String),
    /// The profile passes media directly between phones; the switch cannot offer A media.
    #[error("profile {0:?} uses direct media; originate needs media anchored on the relay")]
    DirectMedia(String),
    /// The profile has no such user.
    #[error("unknown extension {0:?}")]
    UnknownUser(String),
    /// The user has no live registration.
    #[error("extension {0:?} has no registered phone")]
    NotRegistered(String),
    /// The caller number to show is not something a SIP URI's user part can carry.
    #[error("caller number {0:?} cannot be sent")]
    BadCallerNumber(String),
    /// The dialplan context does not exist.
    #[error("unknown dialplan context {0:?}")]
    UnknownContext(String),
    /// The destination names no extension (the dialplan's route found none), or is not a
    /// number a SIP URI can carry.
    #[error("unknown destination {0:?}")]
    UnknownDestination(String),
    /// The destination is an extension without a registered phone.
    #[error("destination {0:?} has no registered phone")]
    DestinationNotRegistered(String),
    /// The dialplan refuses the destination, or no trunk can take it now.
    #[error("destination {destination:?} cannot be reached: {cause}")]
    Unroutable {
        /// The destination.
        destination: String,
        /// The hangup cause code of the refusal.
        cause: &'static str,
    },
    /// The location store failed.
    #[error("the location store failed")]
    StoreFailed,
    /// No relay ports are free, or the relay failed.
    #[error("no media session: {0}")]
    Media(String),
    /// The switch is shutting down.
    #[error("the switch is shutting down")]
    ShuttingDown,
}

impl Switchboard {
    /// Starts a click-to-call: rings `order.from`'s phones; once one answers, the route
    /// of `order.to` is dialled and both are bridged on the relay. Returns once A's INVITEs
    /// are going out.
    pub async fn originate(&self, order: Origination) -> Result<CallId, OriginateRefusal> {
        let profile = self.settings.profile.clone();
        if self.settings.kind != ProfileKind::Phones {
            return Err(OriginateRefusal::NotPhones(profile));
        }
        let Some(relay) = &self.relay else {
            return Err(OriginateRefusal::DirectMedia(profile));
        };
        if self.services.shutdown.is_cancelled() {
            return Err(OriginateRefusal::ShuttingDown);
        }
        let routing = self.routing.load_full();
        let context = order
            .context
            .clone()
            .unwrap_or_else(|| self.settings.context.clone());
        if !routing.dialplan.has_context(&context) {
            return Err(OriginateRefusal::UnknownContext(context));
        }
        let a_uri = aor(&order.from, &order.domain)
            .ok_or_else(|| OriginateRefusal::UnknownUser(order.from.clone()))?;
        let a_targets = routing
            .directory
            .targets(
                self.store.as_ref(),
                &format!("{}@{profile}", order.from),
                &profile,
                &BranchIdentity::default(),
            )
            .await
            .map_err(|unreachable| match unreachable {
                Unreachable::Unknown => OriginateRefusal::UnknownUser(order.from.clone()),
                Unreachable::NotRegistered => OriginateRefusal::NotRegistered(order.from.clone()),
                Unreachable::StoreFailed => OriginateRefusal::StoreFailed,
            })?;
        let destination = aor(&order.to, &order.domain)
            .ok_or_else(|| OriginateRefusal::UnknownDestination(order.to.clone()))?;
        let shown_number = order
            .caller_id_number
            .clone()
            .unwrap_or_else(|| order.from.clone());
        let shown_to_b = NameAddr {
            display_name: order.caller_id_name.clone(),
            ..NameAddr::new(
                aor(&shown_number, &order.domain)
                    .ok_or_else(|| OriginateRefusal::BadCallerNumber(shown_number.clone()))?,
            )
        };
        let shown_to_a = NameAddr {
            display_name: Some(
                order
                    .caller_id_name
                    .clone()
                    .unwrap_or_else(|| order.to.clone()),
            ),
            ..NameAddr::new(destination.clone())
        };
        let decision = self
            .route_from_switch(
                &routing,
                SwitchCall {
                    context,
                    destination: order.to.clone(),
                    caller: shown_number,
                    caller_name: order.caller_id_name.clone(),
                    from_host: order.domain.clone(),
                    ring_timeout: self.settings.calls.ring_timeout,
                },
            )
            .await;
        if let RouteDecision::Reject(cause) = &decision {
            return Err(match cause {
                HangupCause::UnallocatedNumber => {
                    OriginateRefusal::UnknownDestination(order.to.clone())
                }
                HangupCause::UserNotRegistered => {
                    OriginateRefusal::DestinationNotRegistered(order.to.clone())
                }
                cause => OriginateRefusal::Unroutable {
                    destination: order.to.clone(),
                    cause: cause.code(),
                },
            });
        }
        let session = relay
            .allocate(SessionOptions {
                nat: self.settings.nat,
                media_timeout: self.settings.media_timeout,
            })
            .map_err(|error| match error {
                MediaError::NoPorts => OriginateRefusal::Media("no free media ports".into()),
                error => OriginateRefusal::Media(error.to_string()),
            })?;
        let first_flow = a_targets.first().map(|t| t.flow);
        let a_call_id = first_flow.map_or_else(
            || uuid::Uuid::new_v4().to_string(),
            |flow| new_call_id(&flow),
        );
        let (sender, inbox) = mpsc::channel(MAILBOX);
        // Routed before A's INVITEs go out, so its responses reach the call.
        if !self.services.calls.insert(&a_call_id, sender.clone()) {
            return Err(OriginateRefusal::Media("Call-ID already in use".into()));
        }
        let setup = OriginateSetup {
            id: CallId::new_random(),
            profile,
            user: order.from.clone(),
            a_call_id,
            a_uri,
            a_targets,
            shown_to_a,
            shown_to_b,
            destination,
            ring_timeout: order
                .ring_timeout
                .unwrap_or(self.settings.calls.ring_timeout),
            settings: self.settings.calls.clone(),
            relay_a: session.local_rtp(Side::A),
            relay_b: session.local_rtp(Side::B),
            wall: UnixMillis::now(),
        };
        let id = setup.id;
        tracing::info!(call_id = %id, "originating");
        spawn_originate(
            &self.services,
            setup,
            session,
            (sender, inbox),
            Box::pin(std::future::ready(decision)),
            self.settings.call_options(),
        );
        Ok(id)
    }
}

/// `sip:user@domain`, when `user` is something a SIP URI's user part can carry.
fn aor(user: &str, domain: &str) -> Option<Uri> {
    let plain = !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-_.*#".contains(c));
    if !plain {
        return None;
    }
    Uri::parse(&format!("sip:{user}@{domain}"))
}

/// A call the switch places itself, as the dialplan sees it.
pub(super) struct SwitchCall {
    /// Context the destination is routed in.
    pub context: String,
    /// The number dialled.
    pub destination: String,
    /// Caller number shown.
    pub caller: String,
    /// Caller name shown.
    pub caller_name: Option<String>,
    /// Host of the shown caller's URI.
    pub from_host: String,
    /// How long each ring step without its own timeout rings.
    pub ring_timeout: Duration,
}

impl Switchboard {
    /// Routes a call the switch places (click-to-call's B, a notification's number) through
    /// the dialplan exactly as if a phone of this profile had dialled it.
    pub(super) async fn route_from_switch(
        &self,
        routing: &Arc<super::Routing>,
        call: SwitchCall,
    ) -> RouteDecision {
        let profile = self.settings.profile.clone();
        let request = RouteRequest {
            context: call.context,
            destination: call.destination,
            caller: Some(call.caller),
            caller_name: call.caller_name,
            headers: Vec::new(),
            from_trunk: None,
            profile: profile.clone(),
        };
        execute(Execution {
            routing: Arc::clone(routing),
            router: self.router.clone(),
            store: Arc::clone(&self.store),
            profile,
            request,
            from_host: call.from_host,
            origin: Origin::Phone,
            ring_timeout: call.ring_timeout,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_extensions_make_an_address_of_record() {
        let uri = aor("+4930123", "example.com").map(|u| u.to_string());
        assert_eq!(uri.as_deref(), Some("sip:+4930123@example.com"));
        assert!(aor("1001", "[::1]").is_some());
    }

    #[test]
    fn what_a_sip_user_part_cannot_carry_is_refused() {
        for user in ["", "10 01", "a@b", "x;y", "<1001>"] {
            assert!(aor(user, "example.com").is_none(), "{user:?}");
        }
    }
}
