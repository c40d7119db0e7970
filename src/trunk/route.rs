//! A call's way out through a route group: one gateway address per stage, trunk by trunk in
//! the strategy's order, skipping gateways that are down and trunks at their call or CPS
//! limit (no INVITE is sent to them). The route holds the call slot of the trunk it is on;
//! moving to another trunk, or dropping the route, frees it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use sip_core::message::{Host, SipUri, Uri};
use tracing::{debug, info, warn};

use super::gateway::Gateway;
use super::limits::CallSlot;
use super::{HealthChange, HealthSource, Trunk, publish_health};
use crate::call::actor::CallRoute;
use crate::call::{BranchIdentity, BranchOutcome, Stage, StageOutcome, Target};
use crate::telemetry::events::EventBus;
use crate::transport::{Peer, Transport};

/// Who is calling, as the dialplan left it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerInfo {
    /// Caller number (From user part); empty: none.
    pub number: String,
    /// Display name.
    pub name: Option<String>,
    /// RFC 3323 privacy asked for.
    pub privacy: bool,
}

/// The trunk being tried and where in its gateways the route is.
#[derive(Debug)]
struct OnTrunk {
    trunk: Arc<Trunk>,
    _slot: CallSlot,
    gateway: usize,
    addresses: Arc<Vec<(Transport, SocketAddr)>>,
    address: usize,
    /// The gateway and address of the last stage given out.
    last: Option<(Arc<Gateway>, SocketAddr)>,
}

/// Stages for one call through a route group; see the module doc.
#[derive(Debug)]
pub struct TrunkRoute {
    order: Vec<Arc<Trunk>>,
    next_trunk: usize,
    current: Option<OnTrunk>,
    number: String,
    caller: CallerInfo,
    created: Option<Instant>,
    events: Option<EventBus>,
}

impl TrunkRoute {
    pub(super) fn new(
        order: Vec<Arc<Trunk>>,
        number: &str,
        caller: CallerInfo,
        now: Instant,
    ) -> TrunkRoute {
        TrunkRoute {
            order,
            next_trunk: 0,
            current: None,
            number: number.to_owned(),
            caller,
            created: Some(now),
            events: None,
        }
    }

    /// The route publishing the gateway health changes its calls cause on `events`.
    pub(super) fn with_events(mut self, events: Option<EventBus>) -> TrunkRoute {
        self.events = events;
        self
    }

    /// The trunk names in the order they will be tried (skips decided later).
    pub fn trunk_order(&self) -> Vec<&str> {
        self.order.iter().map(|t| t.name()).collect()
    }

    /// The trunk being tried now.
    pub fn current_trunk(&self) -> Option<&str> {
        self.current.as_ref().map(|c| c.trunk.name())
    }

    /// [`CallRoute::next_stage`] at `now` (the CPS limit needs the time).
    pub fn next_stage_at(
        &mut self,
        previous: Option<&StageOutcome>,
        now: Instant,
    ) -> Option<Stage> {
        if let Some(outcome) = previous {
            self.feed_health(outcome);
        }
        loop {
            if let Some(stage) = self.next_on_current() {
                return Some(stage);
            }
            // Moving on frees the slot of the trunk left behind.
            self.current = None;
            let trunk = Arc::clone(self.order.get(self.next_trunk)?);
            self.next_trunk += 1;
            if !trunk.usable_gateway() {
                debug!(
                    trunk = trunk.name(),
                    reason = "no_usable_gateway",
                    "trunk skipped"
                );
                continue;
            }
            let Some(slot) = trunk.calls.try_acquire(trunk.config.max_calls()) else {
                debug!(trunk = trunk.name(), reason = "max_calls", "trunk skipped");
                continue;
            };
            if let Some(cps) = &trunk.cps
                && !cps.try_take(now)
            {
                debug!(trunk = trunk.name(), reason = "max_cps", "trunk skipped");
                continue;
            }
            let addresses = trunk
                .gateways
                .first()
                .map(|g| g.addresses())
                .unwrap_or_default();
            self.current = Some(OnTrunk {
                trunk,
                _slot: slot,
                gateway: 0,
                addresses,
                address: 0,
                last: None,
            });
        }
    }

    /// The next usable gateway address of the current trunk, as a stage.
    fn next_on_current(&mut self) -> Option<Stage> {
        let on = self.current.as_mut()?;
        loop {
            let gateway = on.trunk.gateways.get(on.gateway)?;
            let Some(&(transport, remote)) = on.addresses.get(on.address) else {
                on.gateway += 1;
                on.address = 0;
                on.addresses = on
                    .trunk
                    .gateways
                    .get(on.gateway)
                    .map(|g| g.addresses())
                    .unwrap_or_default();
                continue;
            };
            on.address += 1;
            if !gateway.is_usable_at(remote) {
                debug!(gateway = gateway.id(), %remote, reason = "down", "gateway skipped");
                continue;
            }
            // A TCP gateway goes out from the profile's TCP listener (validation makes sure
            // there is one); the connection opens with the INVITE.
            let Some(flow) = gateway.flow_to(transport, remote) else {
                debug!(
                    gateway = gateway.id(),
                    transport = transport.as_str(),
                    reason = "no_listener",
                    "gateway skipped"
                );
                continue;
            };
            let target = target(&on.trunk, gateway, flow, &self.number, &self.caller);
            on.last = Some((Arc::clone(gateway), remote));
            let mut failover_on = on.trunk.config.failover_codes().to_vec();
            // A trunk limited to codecs the caller did not offer fails the branch with 488
            // before anything is sent: the next trunk may take them.
            if !on.trunk.config.codecs().is_empty() && !failover_on.contains(&488) {
                failover_on.push(488);
            }
            return Some(Stage {
                targets: vec![target],
                ring_timeout: None,
                provisional_timeout: on.trunk.config.provisional_timeout(),
                failover_on,
            });
        }
    }

    /// Passive health: silence or 503 from the gateway just tried counts towards its
    /// breaker; any other answer shows it at work.
    fn feed_health(&self, outcome: &StageOutcome) {
        let Some((gateway, remote)) = self.current.as_ref().and_then(|c| c.last.as_ref()) else {
            return;
        };
        for branch in outcome.branches.iter().filter(|b| b.flow.remote == *remote) {
            if branch.silent || branch.status == 503 {
                let change = gateway.report_call_failed(*remote);
                if let (Some(events), Some(change)) = (&self.events, &change) {
                    publish_health(events, gateway, *remote, change, HealthSource::Passive);
                }
                log_change(change);
            } else {
                gateway.report_call_answered(*remote);
            }
        }
    }
}

impl CallRoute for TrunkRoute {
    fn next_stage(&mut self, previous: Option<&StageOutcome>) -> Option<Stage> {
        // The first stage is asked for right after routing: use the routing instant.
        let now = self.created.take().unwrap_or_else(Instant::now);
        self.next_stage_at(previous, now)
    }

    fn answered(&mut self, outcome: &BranchOutcome) {
        if let Some((gateway, remote)) = self.current.as_ref().and_then(|c| c.last.as_ref())
            && outcome.flow.remote == *remote
        {
            gateway.report_call_answered(*remote);
        }
    }
}

fn log_change(change: Option<HealthChange>) {
    if let Some(c) = change {
        if c.up {
            info!(gateway = %c.gateway, reason = c.reason.as_str(), "gateway up");
        } else {
            warn!(gateway = %c.gateway, reason = c.reason.as_str(), "gateway down");
        }
    }
}

/// The branch to `flow` on `gateway`: Request-URI and To `sip:<number>@<gateway host>`, From
/// and P-Asserted-Identity per the trunk's caller-ID rules, the trunk's credentials.
fn target(
    trunk: &Trunk,
    gateway: &Gateway,
    flow: Peer,
    number: &str,
    caller: &CallerInfo,
) -> Target {
    let uri = gateway.uri();
    let mut request = SipUri::new(uri.host().clone());
    request.set_user(Some(escape_user(number)));
    request.set_port(uri.port());
    let request = Uri::Sip(request);

    let rules = trunk.config.caller_id();
    let from_number = rules.number().unwrap_or(&caller.number);
    let from_host: Host = trunk
        .from_host
        .clone()
        .unwrap_or_else(|| uri.host().clone());
    let mut from = SipUri::new(from_host);
    if !from_number.is_empty() {
        from.set_user(Some(escape_user(from_number)));
    }
    let from = Uri::Sip(from);

    Target {
        uri: request.clone(),
        flow,
        identity: BranchIdentity {
            asserted: rules.asserted().then(|| from.clone()),
            from_uri: Some(from),
            from_display: caller.name.clone(),
            to_uri: Some(request),
            privacy: caller.privacy,
        },
        credentials: trunk.credentials.clone(),
        trunk: Some(trunk.name().to_owned()),
        pass_headers: trunk.config.pass_headers().to_vec(),
        codecs: trunk.config.codecs().to_vec(),
    }
}

/// RFC 3261 §25.1 `user`: unreserved and user-unreserved characters as they are, anything
/// else `%HH`-escaped.
fn escape_user(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
