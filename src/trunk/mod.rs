//! Carrier trunks at run time: inbound identification, route-group selection and failover,
//! per-trunk limits and gateway health.
//!
//! [`Trunks`] is built from the validated [`TrunksConfig`] and the profiles' listeners. It
//! answers synchronously: [`Trunks::identify`] (which trunk an INVITE came from),
//! [`Trunks::route`] (a [`TrunkRoute`] that hands the call machine one gateway at a time),
//! [`Trunks::inbound_slot`] (the concurrent-call limit for inbound calls). What needs I/O
//! feeds it from outside: DNS results ([`dns`], [`Gateway::set_addresses`]) and probe results
//! ([`Gateway::report_probe`]). A reload builds a new table with [`Trunks::reloaded`], which
//! keeps call counts, health and resolved addresses of trunks and gateways that stay.

pub mod dns;
mod gateway;
pub mod health;
mod limits;
pub mod probe;
mod rates;
pub mod register;
mod route;
mod select;
pub mod service;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use sip_core::message::Host;

pub use gateway::Gateway;
pub use health::{HealthChange, HealthReason};
pub use limits::{CallCounter, CallSlot, CpsLimiter};
pub use rates::PrefixRates;
pub use route::{CallerInfo, TrunkRoute};
pub use select::Candidate;

use crate::call::BranchCredentials;
use crate::config::trunks::{Strategy, TrunkConfig, TrunksConfig};
use crate::telemetry::events::{EventBus, EventType};
use crate::transport::Transport;

/// The listeners of each profile: profile name -> `(transport, bound address)`.
pub type ProfileListeners = HashMap<String, Vec<(Transport, SocketAddr)>>;

/// One trunk at run time.
#[derive(Debug)]
struct Trunk {
    config: TrunkConfig,
    calls: Arc<CallCounter>,
    cps: Option<Arc<CpsLimiter>>,
    gateways: Vec<Arc<Gateway>>,
    rates: Option<PrefixRates>,
    credentials: Option<BranchCredentials>,
    from_host: Option<Host>,
}

impl Trunk {
    fn name(&self) -> &str {
        self.config.name()
    }

    fn usable_gateway(&self) -> bool {
        self.gateways
            .iter()
            .any(|g| g.is_usable() && !g.addresses().is_empty())
    }
}

#[derive(Debug)]
struct Group {
    strategy: Strategy,
    /// Trunk index and weight.
    members: Vec<(usize, u32)>,
}

#[derive(Debug, Default)]
struct Table {
    trunks: Vec<Arc<Trunk>>,
    by_name: HashMap<String, usize>,
    groups: HashMap<String, Group>,
}

/// Every trunk and route group at run time. Cheap to clone; shared between tasks.
#[derive(Debug, Clone, Default)]
pub struct Trunks {
    table: Arc<Table>,
    /// Where gateway health changes are published.
    events: Option<EventBus>,
}

/// How a gateway's health change was noticed: the `reason` of `trunk.gateway_*` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthSource {
    /// An OPTIONS probe result.
    Probe,
    /// Calls to the gateway (the passive circuit breaker).
    Passive,
}

impl HealthSource {
    /// The wire name: `probe` or `passive`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthSource::Probe => "probe",
            HealthSource::Passive => "passive",
        }
    }
}

/// Publishes `trunk.gateway_up` or `trunk.gateway_down` for `change` of `gateway`'s address
/// `remote`.
fn publish_health(
    events: &EventBus,
    gateway: &Gateway,
    remote: SocketAddr,
    change: &HealthChange,
    source: HealthSource,
) {
    let kind = if change.up {
        EventType::TrunkGatewayUp
    } else {
        EventType::TrunkGatewayDown
    };
    events.publish(
        kind,
        None,
        serde_json::json!({
            "trunk": gateway.trunk(),
            "gateway": gateway.id(),
            "uri": gateway.uri().as_str(),
            "address": remote.to_string(),
            "reason": source.as_str(),
            "detail": change.reason.as_str(),
        }),
    );
}

/// The trunk an inbound INVITE came from.
#[derive(Debug, Clone)]
pub struct InboundTrunk {
    trunk: Arc<Trunk>,
}

impl InboundTrunk {
    /// The trunk's name.
    pub fn name(&self) -> &str {
        self.trunk.name()
    }

    /// The context of a call to `did`: the DID's own, else the trunk's; None: the profile's.
    pub fn context_for(&self, did: &str) -> Option<&str> {
        self.trunk.config.context_for(did)
    }

    /// The trunk's configuration (codecs, pass_headers, ...).
    pub fn config(&self) -> &TrunkConfig {
        &self.trunk.config
    }
}

impl Trunks {
    /// The run-time table of `config`; `listeners` gives each profile's bound listeners
    /// (calls to a trunk go out from its profile's listener of the gateway's transport).
    pub fn new(config: &TrunksConfig, listeners: &ProfileListeners) -> Trunks {
        Self::build(config, listeners, None)
    }

    /// The table of a reloaded `config`: trunks that keep their name keep their call count
    /// (and CPS state when the rate is unchanged); gateways that keep trunk and URI keep
    /// their health and resolved addresses.
    pub fn reloaded(&self, config: &TrunksConfig, listeners: &ProfileListeners) -> Trunks {
        let mut trunks = Self::build(config, listeners, Some(self));
        trunks.events.clone_from(&self.events);
        trunks
    }

    /// The table publishing gateway health changes on `events` (this table's reloads too).
    pub fn with_events(mut self, events: EventBus) -> Trunks {
        self.events = Some(events);
        self
    }

    /// Publishes a health change of gateway `id`'s address `remote` (when events are wired).
    pub fn publish_health(
        &self,
        id: &str,
        remote: SocketAddr,
        change: &HealthChange,
        source: HealthSource,
    ) {
        if let (Some(events), Some(gateway)) = (&self.events, self.gateway(id)) {
            publish_health(events, &gateway, remote, change, source);
        }
    }

    fn build(
        config: &TrunksConfig,
        listeners: &ProfileListeners,
        previous: Option<&Trunks>,
    ) -> Trunks {
        let mut table = Table::default();
        for tc in config.trunks() {
            let old = previous.and_then(|p| p.find(tc.name()));
            let profile_listeners: Vec<(Transport, SocketAddr)> =
                listeners.get(tc.profile()).cloned().unwrap_or_default();
            let gateways = tc
                .gateways()
                .iter()
                .enumerate()
                .map(|(i, uri)| {
                    let prev = old
                        .and_then(|o| o.gateways.iter().find(|g| g.uri().as_str() == uri.as_str()));
                    Arc::new(Gateway::new(
                        tc.name(),
                        i,
                        uri.clone(),
                        *tc.probe(),
                        profile_listeners.clone(),
                        prev.map(|g| &**g),
                    ))
                })
                .collect();
            let calls = old.map_or_else(CallCounter::new, |o| Arc::clone(&o.calls));
            let cps = tc.max_cps().map(|rate| match old {
                Some(o) if o.config.max_cps() == Some(rate) => o
                    .cps
                    .clone()
                    .unwrap_or_else(|| Arc::new(CpsLimiter::new(rate))),
                _ => Arc::new(CpsLimiter::new(rate)),
            });
            let credentials = tc.auth().map(|a| BranchCredentials {
                username: a.username().to_owned(),
                password: a.password().to_owned(),
                realm: a.realm().to_owned(),
            });
            let from_host = tc.caller_id().from_domain().and_then(Host::parse);
            table
                .by_name
                .insert(tc.name().to_owned(), table.trunks.len());
            table.trunks.push(Arc::new(Trunk {
                config: tc.clone(),
                calls,
                cps,
                gateways,
                rates: tc.rates().map(PrefixRates::new),
                credentials,
                from_host,
            }));
        }
        for gc in config.route_groups() {
            let members = gc
                .members()
                .iter()
                .filter_map(|m| Some((*table.by_name.get(m.name())?, m.weight())))
                .collect();
            table.groups.insert(
                gc.name().to_owned(),
                Group {
                    strategy: gc.strategy(),
                    members,
                },
            );
        }
        Trunks {
            table: Arc::new(table),
            events: None,
        }
    }

    fn find(&self, name: &str) -> Option<&Arc<Trunk>> {
        self.table
            .by_name
            .get(name)
            .and_then(|&i| self.table.trunks.get(i))
    }

    /// The trunk of `profile` that `source` belongs to: the first (in config order) whose
    /// `inbound` networks hold it or, for a trunk that registers with its carrier, one of
    /// whose gateways resolved to it.
    pub fn identify(&self, profile: &str, source: IpAddr) -> Option<InboundTrunk> {
        let source = source.to_canonical();
        self.table
            .trunks
            .iter()
            .filter(|t| t.config.profile() == profile)
            .find(|t| {
                t.config.inbound().iter().any(|net| net.contains(&source))
                    || (t.config.register().is_some()
                        && t.gateways.iter().any(|g| {
                            g.addresses()
                                .iter()
                                .any(|(_, a)| a.ip().to_canonical() == source)
                        }))
            })
            .map(|t| InboundTrunk {
                trunk: Arc::clone(t),
            })
    }

    /// A slot for a call that came in from `trunk`; None when the trunk is at its
    /// `max_calls` (answer 503) or unknown.
    pub fn inbound_slot(&self, trunk: &str) -> Option<CallSlot> {
        let t = self.find(trunk)?;
        t.calls.try_acquire(t.config.max_calls())
    }

    /// Calls holding a slot of `trunk` now (None: unknown trunk).
    pub fn active_calls(&self, trunk: &str) -> Option<u32> {
        self.find(trunk).map(|t| t.calls.active())
    }

    /// The configuration of `trunk`.
    pub fn trunk_config(&self, trunk: &str) -> Option<&TrunkConfig> {
        self.find(trunk).map(|t| &t.config)
    }

    /// Every gateway of every trunk, for the prober and the DNS refresher.
    pub fn gateways(&self) -> Vec<Arc<Gateway>> {
        self.table
            .trunks
            .iter()
            .flat_map(|t| t.gateways.iter().cloned())
            .collect()
    }

    /// The gateway with this id (`trunk/index`).
    pub fn gateway(&self, id: &str) -> Option<Arc<Gateway>> {
        let (trunk, _) = id.rsplit_once('/')?;
        self.find(trunk)?
            .gateways
            .iter()
            .find(|g| g.id() == id)
            .cloned()
    }

    /// Feeds a probe result of gateway `id` at its address `remote`; the change, if any, is
    /// for the caller to log.
    pub fn report_probe(&self, id: &str, remote: SocketAddr, alive: bool) -> Option<HealthChange> {
        self.gateway(id)?.report_probe(remote, alive)
    }

    /// A route for a call to `number` through route group `group` (None: no such group).
    /// The trunks are ordered now; gateways that are down and trunks at a limit are skipped
    /// as the route's stages are asked for.
    pub fn route(
        &self,
        group: &str,
        number: &str,
        caller: CallerInfo,
        now: Instant,
    ) -> Option<TrunkRoute> {
        self.route_with_rng(group, number, caller, now, &mut rand::thread_rng())
    }

    /// [`Self::route`] with the caller's random generator (the weighted strategy draws
    /// from it).
    pub fn route_with_rng(
        &self,
        group: &str,
        number: &str,
        caller: CallerInfo,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Option<TrunkRoute> {
        let group = self.table.groups.get(group)?;
        let candidates = group
            .members
            .iter()
            .filter_map(|&(index, weight)| {
                let t = self.table.trunks.get(index)?;
                Some(Candidate {
                    index,
                    weight,
                    rate: match group.strategy {
                        Strategy::LeastCost => t.rates.as_ref().and_then(|r| r.lookup(number)),
                        _ => None,
                    },
                    active: t.calls.active(),
                })
            })
            .collect();
        let order = select::order(group.strategy, candidates, rng)
            .into_iter()
            .filter_map(|i| self.table.trunks.get(i).cloned())
            .collect();
        Some(TrunkRoute::new(order, number, caller, now).with_events(self.events.clone()))
    }
}

#[cfg(test)]
mod health_event_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::PathBuf;

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::call::{BranchOutcome, StageOutcome};
    use crate::config::trunks::parse_trunk_file;
    use crate::telemetry::events::{BusSettings, Event};

    const TRUNK: &str = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1:5071"]

[[route_group]]
name = "pstn"
trunks = ["a"]
"#;

    fn trunks(bus: &EventBus) -> Trunks {
        let path = PathBuf::from("sip-profiles/trunks/t.toml");
        let (t, g, e) = parse_trunk_file(&path, TRUNK);
        assert!(e.is_empty(), "{e:?}");
        let (config, e) = TrunksConfig::build(vec![(path, t, g)], &["carriers"]);
        assert!(e.is_empty(), "{e:?}");
        let mut listeners = ProfileListeners::new();
        listeners.insert(
            "carriers".into(),
            vec![(Transport::Udp, "127.0.0.1:5080".parse().unwrap())],
        );
        Trunks::new(&config, &listeners).with_events(bus.clone())
    }

    fn drain(bus: &EventBus) -> Vec<Event> {
        bus.subscribe(Some(0))
            .backlog
            .iter()
            .map(|e| (**e).clone())
            .collect()
    }

    #[test]
    fn silent_calls_publish_gateway_down_as_passive_and_a_probe_publishes_it_up() {
        let bus = EventBus::new(BusSettings::default());
        let trunks = trunks(&bus);
        let now = Instant::now();
        for _ in 0..3 {
            let mut route = trunks
                .route_with_rng(
                    "pstn",
                    "+15551234567",
                    CallerInfo::default(),
                    now,
                    &mut StdRng::seed_from_u64(1),
                )
                .unwrap();
            let stage = route.next_stage_at(None, now).unwrap();
            let target = &stage.targets[0];
            let outcome = StageOutcome {
                branches: vec![BranchOutcome {
                    trunk: target.trunk.clone(),
                    flow: target.flow,
                    status: 408,
                    silent: true,
                }],
                best_status: 408,
            };
            route.next_stage_at(Some(&outcome), now);
        }
        let remote: SocketAddr = "127.0.0.1:5071".parse().unwrap();
        if let Some(change) = trunks.report_probe("a/0", remote, true) {
            trunks.publish_health("a/0", remote, &change, HealthSource::Probe);
        }
        let events = drain(&bus);
        let seen: Vec<(&str, &serde_json::Value)> =
            events.iter().map(|e| (e.kind.as_str(), &e.data)).collect();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].0, "trunk.gateway_down");
        assert_eq!(
            *seen[0].1,
            serde_json::json!({
                "trunk": "a",
                "gateway": "a/0",
                "uri": "sip:127.0.0.1:5071",
                "address": "127.0.0.1:5071",
                "reason": "passive",
                "detail": "breaker_opened",
            })
        );
        assert_eq!(seen[1].0, "trunk.gateway_up");
        assert_eq!(seen[1].1["reason"], "probe");
        assert_eq!(seen[1].1["detail"], "breaker_closed");
    }

    #[test]
    fn a_reloaded_table_keeps_publishing() {
        let bus = EventBus::new(BusSettings::default());
        let trunks = trunks(&bus);
        assert!(trunks.events.is_some());
        let reloaded = trunks.reloaded(&TrunksConfig::default(), &ProfileListeners::new());
        assert!(reloaded.events.is_some());
    }
}
