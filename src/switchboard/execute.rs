//! Carrying out a route: the dialplan's [`Route`] becomes the call's [`RouteDecision`]:
//! extensions become stages of registered phones, a route group becomes the trunk module's
//! failover route, a hangup becomes the caller's final status.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip_core::message::Uri;

use super::directory::Unreachable;
use super::routing::Routing;
use crate::call::actor::{CallRoute, FixedStages, RouteDecision};
use crate::call::{BranchIdentity, BranchOutcome, HangupCause, Stage, StageOutcome};
use crate::cluster::LocationStore;
use crate::dialplan::{CallerChange, RingStep, Route, RouteRequest, Router};
use crate::trunk::{CallSlot, CallerInfo};

/// Final statuses after which a sequential ring step goes on to the next step: any failure
/// but a cancellation (the caller hung up) and a global decline.
const HUNT_ON: [u16; 14] = [
    403, 404, 408, 410, 480, 486, 488, 500, 502, 503, 504, 600, 603, 604,
];

/// Where a call came from.
#[derive(Debug)]
pub(super) enum Origin {
    /// A phone of a phones profile.
    Phone,
    /// A carrier trunk; its slot counts the call against the trunk's limit while it lasts.
    Trunk {
        /// The trunk's name.
        name: String,
        /// The trunk's call slot.
        slot: Option<CallSlot>,
    },
}

/// Everything a call's route decision needs, taken when the INVITE arrived.
pub(super) struct Execution {
    /// The routing snapshot the call keeps.
    pub routing: Arc<Routing>,
    /// Decides routes (static rules, webhooks).
    pub router: Router,
    /// Where phones are registered.
    pub store: Arc<dyn LocationStore>,
    /// The call's profile.
    pub profile: String,
    /// The request to route.
    pub request: RouteRequest,
    /// Host of the caller's From URI (a changed caller number keeps it).
    pub from_host: String,
    /// Where the call came from.
    pub origin: Origin,
    /// The profile's ring timeout: how long a ring step without its own timeout rings
    /// before the next step (the last step's expiry ends the call).
    pub ring_timeout: Duration,
}

/// Decides and prepares the route of one call.
pub(super) async fn execute(execution: Execution) -> RouteDecision {
    let route = execution
        .router
        .route(
            &execution.routing.dialplan,
            &execution.request,
            chrono::Utc::now(),
        )
        .await;
    tracing::debug!(?route, "route decided");
    let Execution {
        routing,
        router,
        store,
        profile,
        request,
        from_host,
        origin,
        ring_timeout,
    } = execution;
    let slot = match origin {
        Origin::Phone => None,
        Origin::Trunk { slot, .. } => slot.map(Arc::new),
    };
    let record = route.record();
    let context = CallContext {
        routing,
        router,
        store,
        profile,
        request,
        from_host,
        ring_timeout,
        slot,
    };
    if let Route::Ivr { menu, .. } = &route {
        return super::ivr::start(menu, record, context);
    }
    let decision = carry_out(route, &context).await;
    context.wrap(decision, record)
}

/// What carrying out a route for a call needs, beyond the route: kept by an IVR for its
/// transfers.
#[derive(Clone)]
pub(super) struct CallContext {
    /// The routing snapshot the call keeps.
    pub routing: Arc<Routing>,
    /// Decides routes (static rules, webhooks).
    pub router: Router,
    /// Where phones are registered.
    pub store: Arc<dyn LocationStore>,
    /// The call's profile.
    pub profile: String,
    /// The call's original routing request.
    pub request: RouteRequest,
    /// Host of the caller's From URI.
    pub from_host: String,
    /// The profile's ring timeout.
    pub ring_timeout: Duration,
    /// The inbound trunk's call slot, held for the call's life.
    pub slot: Option<Arc<CallSlot>>,
}

impl CallContext {
    /// `decision` holding the trunk's call slot, recording when `record`.
    pub(super) fn wrap(&self, decision: RouteDecision, record: bool) -> RouteDecision {
        match decision {
            RouteDecision::Dial(route) if record || self.slot.is_some() => {
                RouteDecision::Dial(Box::new(Holding {
                    inner: route,
                    _slot: self.slot.clone(),
                    record,
                }))
            }
            decision => decision,
        }
    }
}

/// The decision for a ring, route group or hangup route; an IVR route here (a transfer
/// into an IVR) is refused as an unallocated number.
pub(super) async fn carry_out(route: Route, context: &CallContext) -> RouteDecision {
    match route {
        Route::Hangup { status, .. } => RouteDecision::Reject(cause_for(status)),
        Route::Ring { steps, caller, .. } => {
            let identity = phone_identity(&caller, &context.from_host);
            let lookup = Lookup {
                routing: &context.routing,
                store: context.store.as_ref(),
                profile: &context.profile,
                ring_timeout: context.ring_timeout,
            };
            ring(&lookup, &steps, &identity).await
        }
        Route::RouteGroup {
            group,
            number,
            caller,
            allow_trunk_origin,
            ..
        } => {
            if let Some(trunk) = &context.request.from_trunk
                && !allow_trunk_origin
            {
                tracing::warn!(
                    trunk = %trunk,
                    group = %group,
                    "call from a trunk to a route group refused (no allow_trunk_origin)"
                );
                RouteDecision::Reject(HangupCause::SipFailure(403))
            } else {
                out_through(&context.routing, &group, &number, &caller, &context.request)
            }
        }
        Route::Ivr { menu, .. } => {
            tracing::info!(menu = %menu, "a transfer cannot enter an IVR");
            RouteDecision::Reject(HangupCause::UnallocatedNumber)
        }
    }
}

/// The cause whose SIP status is exactly `status` (a dialplan's hangup code).
fn cause_for(status: u16) -> HangupCause {
    let cause = HangupCause::from_sip_status(status);
    if cause.sip_status().as_u16() == status {
        cause
    } else {
        HangupCause::SipFailure(status)
    }
}

/// The identity phones see for a caller whose number, name or privacy the dialplan changed.
fn phone_identity(caller: &CallerChange, from_host: &str) -> BranchIdentity {
    BranchIdentity {
        from_uri: caller
            .number
            .as_deref()
            .and_then(|number| Uri::parse(&format!("sip:{number}@{from_host}"))),
        from_display: caller.name.clone(),
        to_uri: None,
        asserted: None,
        privacy: caller.privacy,
    }
}

/// What finding a ring step's phones needs.
pub(super) struct Lookup<'a> {
    pub(super) routing: &'a Routing,
    pub(super) store: &'a dyn LocationStore,
    pub(super) profile: &'a str,
    pub(super) ring_timeout: Duration,
}

/// Stages of registered phones, one per ring step; steps whose extensions have no phone are
/// skipped. A step without its own timeout rings for the profile's ring timeout before the
/// next one; the last such step's expiry ends the call (480). Nothing to ring: 404 when no
/// extension exists, 503 when the location store failed, else 480.
pub(super) async fn ring(
    lookup: &Lookup<'_>,
    steps: &[RingStep],
    identity: &BranchIdentity,
) -> RouteDecision {
    let mut stages = VecDeque::with_capacity(steps.len());
    let mut worst = Unreachable::Unknown;
    for step in steps {
        let mut targets = Vec::new();
        for extension in &step.extensions {
            match lookup
                .routing
                .directory
                .targets(lookup.store, extension, lookup.profile, identity)
                .await
            {
                Ok(mut found) => targets.append(&mut found),
                Err(Unreachable::Unknown) => {}
                Err(other) => {
                    if other == Unreachable::StoreFailed || worst == Unreachable::Unknown {
                        worst = other;
                    }
                }
            }
        }
        if !targets.is_empty() {
            stages.push_back(Stage {
                targets,
                ring_timeout: step.timeout_secs.map(|s| Duration::from_secs(u64::from(s))),
                provisional_timeout: None,
                failover_on: HUNT_ON.to_vec(),
            });
        }
    }
    let last = stages.len().saturating_sub(1);
    for (index, stage) in stages.iter_mut().enumerate() {
        if index < last && stage.ring_timeout.is_none() {
            stage.ring_timeout = Some(lookup.ring_timeout);
        }
    }
    if stages.is_empty() {
        return RouteDecision::Reject(match worst {
            Unreachable::Unknown => HangupCause::UnallocatedNumber,
            Unreachable::NotRegistered => HangupCause::UserNotRegistered,
            Unreachable::StoreFailed => HangupCause::TemporaryFailure,
        });
    }
    RouteDecision::Dial(Box::new(FixedStages(stages)))
}

/// The route group's failover route. No trunk usable right now (all down, at their limits,
/// or the group is unknown): 503.
fn out_through(
    routing: &Routing,
    group: &str,
    number: &str,
    caller: &CallerChange,
    request: &RouteRequest,
) -> RouteDecision {
    let info = CallerInfo {
        number: caller
            .number
            .clone()
            .or_else(|| request.caller.clone())
            .unwrap_or_default(),
        name: caller.name.clone().or_else(|| request.caller_name.clone()),
        privacy: caller.privacy,
    };
    let Some(mut route) = routing.trunks.route(group, number, info, Instant::now()) else {
        tracing::warn!(group, "no such route group");
        return RouteDecision::Reject(HangupCause::TemporaryFailure);
    };
    match route.next_stage(None) {
        Some(first) => RouteDecision::Dial(Box::new(Prefetched {
            first: Some(first),
            inner: route,
        })),
        None => {
            tracing::warn!(group, "no trunk of the route group can take the call now");
            RouteDecision::Reject(HangupCause::TemporaryFailure)
        }
    }
}

/// A route whose first stage was taken already (to tell "nothing usable" apart up front).
struct Prefetched<R> {
    first: Option<Stage>,
    inner: R,
}

impl<R: CallRoute> CallRoute for Prefetched<R> {
    fn next_stage(&mut self, previous: Option<&StageOutcome>) -> Option<Stage> {
        match self.first.take() {
            Some(first) => Some(first),
            None => self.inner.next_stage(previous),
        }
    }

    fn answered(&mut self, outcome: &BranchOutcome) {
        self.inner.answered(outcome);
    }
}

/// A route that also holds the inbound trunk's call slot for the call's life, and asks for
/// recording when its rule said `record = true`.
struct Holding {
    inner: Box<dyn CallRoute>,
    _slot: Option<Arc<CallSlot>>,
    record: bool,
}

impl CallRoute for Holding {
    fn next_stage(&mut self, previous: Option<&StageOutcome>) -> Option<Stage> {
        self.inner.next_stage(previous)
    }

    fn answered(&mut self, outcome: &BranchOutcome) {
        self.inner.answered(outcome);
    }

    fn record(&self) -> bool {
        self.record || self.inner.record()
    }
}
