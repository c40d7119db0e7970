//! Voice notification attempts as originated calls: the number is routed through the
//! dialplan context exactly as a phone's call would be (extensions -> their registered
//! contacts, a route group -> the trunk route's first stage), and those targets are rung as
//! the call's A leg, showing the notification's caller ID; once A answers, the call runs the
//! notification app. Glue only: the app is `notify`'s, the protocol the call machine's.

use std::sync::Arc;
use std::time::Duration;

use sip_core::message::{NameAddr, Uri};
use tokio::sync::mpsc;

use super::originate::SwitchCall;
use super::{MAILBOX, Switchboard};
use crate::call::actor::{CallRoute, RouteDecision, spawn_originate};
use crate::call::app::{AppContext, AppOutcome, CallApp};
use crate::call::machine::OriginateSetup;
use crate::call::{CallId, HangupCause};
use crate::cluster::{BoxFuture, UnixMillis};
use crate::config::ProfileKind;
use crate::media::{MediaError, SessionOptions, Side};
use crate::notify::{AttemptRequest, DialRefusal, Dialer};
use crate::sip::client::new_call_id;

fn refused(cause: HangupCause, reason: impl Into<String>) -> DialRefusal {
    DialRefusal {
        cause,
        reason: reason.into(),
    }
}

/// The notification app with the route its targets came from: a trunk route holds the
/// trunk's call slot until the call ends.
struct WithRoute {
    app: Box<dyn CallApp>,
    route: Box<dyn CallRoute>,
}

impl CallApp for WithRoute {
    fn run(self: Box<Self>, context: AppContext) -> BoxFuture<'static, AppOutcome> {
        let WithRoute { app, route } = *self;
        let running = app.run(context);
        Box::pin(async move {
            let outcome = running.await;
            drop(route);
            outcome
        })
    }

    fn not_run(self: Box<Self>, cause: HangupCause) {
        self.app.not_run(cause);
    }
}

impl Switchboard {
    /// Whether this switchboard can originate notification calls: a phones profile whose
    /// media is anchored (the app needs the relay).
    pub fn can_notify(&self) -> bool {
        self.settings.kind == ProfileKind::Phones && self.relay.is_some()
    }

    /// Whether the dialplan has context `context` now.
    pub fn has_context(&self, context: &str) -> bool {
        self.routing.load().dialplan.has_context(context)
    }

    /// Starts one notification attempt: routes `attempt.number` in its context (the
    /// profile's by default) and rings the route's first targets; `app` runs once one
    /// answers. `domain` is the profile's SIP domain (host of the shown caller ID).
    pub async fn dial_notification(
        &self,
        attempt: AttemptRequest,
        app: Box<dyn CallApp>,
        domain: &str,
    ) -> Result<CallId, DialRefusal> {
        let profile = self.settings.profile.clone();
        let Some(relay) = self.relay.as_ref().filter(|_| self.can_notify()) else {
            return Err(refused(
                HangupCause::TemporaryFailure,
                format!("profile {profile:?} cannot originate anchored calls"),
            ));
        };
        if self.services.shutdown.is_cancelled() {
            return Err(refused(
                HangupCause::SystemShutdown,
                "the switch is shutting down",
            ));
        }
        let routing = self.routing.load_full();
        let context = attempt
            .context
            .clone()
            .unwrap_or_else(|| self.settings.context.clone());
        if !routing.dialplan.has_context(&context) {
            return Err(refused(
                HangupCause::UnallocatedNumber,
                format!("no dialplan context {context:?}"),
            ));
        }
        let uri = |user: &str| Uri::parse(&format!("sip:{user}@{domain}"));
        let (Some(called), Some(caller)) = (uri(&attempt.number), uri(&attempt.caller_id)) else {
            return Err(refused(
                HangupCause::TemporaryFailure,
                "the number or caller ID cannot be sent in a SIP URI",
            ));
        };
        let decision = self
            .route_from_switch(
                &routing,
                SwitchCall {
                    context,
                    destination: attempt.number.clone(),
                    caller: attempt.caller_id.clone(),
                    caller_name: attempt.caller_id_name.clone(),
                    from_host: domain.to_owned(),
                    ring_timeout: attempt.ring_timeout,
                },
            )
            .await;
        let mut route = match decision {
            RouteDecision::Dial(route) => route,
            RouteDecision::Reject(cause) => {
                return Err(refused(cause, format!("route refused: {}", cause.code())));
            }
            RouteDecision::App(other) => {
                other.not_run(HangupCause::TemporaryFailure);
                return Err(refused(
                    HangupCause::TemporaryFailure,
                    "the number routes to an application, not a phone or a trunk",
                ));
            }
        };
        let Some(first) = route.next_stage(None) else {
            return Err(refused(
                HangupCause::TemporaryFailure,
                "the route has nothing to ring",
            ));
        };
        let session = relay
            .allocate(SessionOptions {
                nat: self.settings.nat,
                media_timeout: self.settings.media_timeout,
            })
            .map_err(|error| match error {
                MediaError::NoPorts => {
                    refused(HangupCause::TemporaryFailure, "no free media ports")
                }
                error => refused(HangupCause::TemporaryFailure, error.to_string()),
            })?;
        let a_call_id = first.targets.first().map_or_else(
            || uuid::Uuid::new_v4().to_string(),
            |target| new_call_id(&target.flow),
        );
        let (sender, inbox) = mpsc::channel(MAILBOX);
        // Routed before A's INVITEs go out, so its responses reach the call.
        if !self.services.calls.insert(&a_call_id, sender.clone()) {
            return Err(refused(
                HangupCause::TemporaryFailure,
                "Call-ID already in use",
            ));
        }
        let shown = NameAddr {
            display_name: attempt.caller_id_name.clone(),
            ..NameAddr::new(caller)
        };
        let setup = OriginateSetup {
            id: CallId::new_random(),
            profile,
            user: attempt.caller_id.clone(),
            a_call_id,
            a_uri: called.clone(),
            a_targets: first.targets,
            shown_to_a: shown.clone(),
            shown_to_b: shown,
            destination: called,
            ring_timeout: first
                .ring_timeout
                .map_or(attempt.ring_timeout, |stage| {
                    stage.min(attempt.ring_timeout)
                })
                .max(Duration::from_secs(1)),
            settings: self.settings.calls.clone(),
            relay_a: session.local_rtp(Side::A),
            relay_b: session.local_rtp(Side::B),
            wall: UnixMillis::now(),
        };
        let id = setup.id;
        tracing::info!(
            call_id = %id,
            notification = %attempt.notification_id,
            "notification call originating"
        );
        let app: Box<dyn CallApp> = Box::new(WithRoute { app, route });
        spawn_originate(
            &self.services,
            setup,
            session,
            (sender, inbox),
            Box::pin(std::future::ready(RouteDecision::App(app))),
            self.settings.call_options(),
        );
        Ok(id)
    }
}

/// The notification [`Dialer`]: the first phones profile with anchored media dials.
pub struct NotificationDialer {
    board: Option<(Arc<Switchboard>, String)>,
}

impl std::fmt::Debug for NotificationDialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationDialer")
            .field(
                "profile",
                &self.board.as_ref().map(|(b, _)| &b.settings.profile),
            )
            .finish()
    }
}

impl NotificationDialer {
    /// Dials through the first of `boards` (switchboard, its profile's SIP domain) that can
    /// originate anchored calls.
    pub fn new(boards: impl IntoIterator<Item = (Arc<Switchboard>, String)>) -> Self {
        Self {
            board: boards.into_iter().find(|(board, _)| board.can_notify()),
        }
    }
}

impl Dialer for NotificationDialer {
    fn dial(
        &self,
        attempt: AttemptRequest,
        app: Box<dyn CallApp>,
    ) -> BoxFuture<'_, Result<CallId, DialRefusal>> {
        Box::pin(async move {
            match &self.board {
                Some((board, domain)) => board.dial_notification(attempt, app, domain).await,
                None => Err(refused(
                    HangupCause::TemporaryFailure,
                    "no phones profile with anchored media to call from",
                )),
            }
        })
    }

    fn has_context(&self, context: &str) -> bool {
        self.board
            .as_ref()
            .is_some_and(|(board, _)| board.has_context(context))
    }
}
