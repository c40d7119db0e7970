//! One gateway of a trunk at run time: its URI, resolved addresses with their transports (set
//! by DNS, read by route selection without waiting), the profile's listeners to send from,
//! and its health.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use super::health::{BREAKER_THRESHOLD, GatewayHealth, HealthChange, HealthThresholds};
use crate::config::trunks::{GatewayUri, ProbeSettings};
use crate::transport::{Peer, Transport};

/// A gateway of a trunk. Shared (`Arc`) between the trunk table, routes and the prober.
#[derive(Debug)]
pub struct Gateway {
    id: String,
    trunk: String,
    uri: GatewayUri,
    probe: ProbeSettings,
    listeners: Vec<(Transport, SocketAddr)>,
    addresses: Arc<ArcSwap<Vec<(Transport, SocketAddr)>>>,
    /// Health of each address the gateway resolved to: a name may stand for a dead and a live
    /// server, and probes and calls of one must not decide for the other.
    health: Arc<Mutex<HashMap<SocketAddr, Arc<GatewayHealth>>>>,
}

impl Gateway {
    /// Gateway `index` of `trunk`, sending from the profile's `listeners`. An IP-literal
    /// gateway's address is known at once, over its URI's transport (UDP when it names none,
    /// RFC 3263 §4.1); a DNS name's comes with [`Self::set_addresses`]. `previous` (the same
    /// gateway before a reload) passes on its addresses and health.
    pub(super) fn new(
        trunk: &str,
        index: usize,
        uri: GatewayUri,
        probe: ProbeSettings,
        listeners: Vec<(Transport, SocketAddr)>,
        previous: Option<&Gateway>,
    ) -> Gateway {
        let (addresses, health) = match previous {
            Some(p) => (Arc::clone(&p.addresses), Arc::clone(&p.health)),
            None => {
                let transport = uri.transport().unwrap_or(Transport::Udp);
                let known = uri.socket_addr().map(|a| (transport, a));
                (
                    Arc::new(ArcSwap::from_pointee(known.into_iter().collect())),
                    Arc::new(Mutex::new(HashMap::new())),
                )
            }
        };
        Gateway {
            id: format!("{trunk}/{index}"),
            trunk: trunk.to_owned(),
            uri,
            probe,
            listeners,
            addresses,
            health,
        }
    }

    /// Id for logs, metrics and probe reports: `trunk/index`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The trunk it belongs to.
    pub fn trunk(&self) -> &str {
        &self.trunk
    }

    /// Its URI as configured.
    pub fn uri(&self) -> &GatewayUri {
        &self.uri
    }

    /// Probe settings of its trunk.
    pub fn probe(&self) -> &ProbeSettings {
        &self.probe
    }

    /// Resolved addresses with the transport to reach each over, in the order to try them
    /// (empty until DNS answered).
    pub fn addresses(&self) -> Arc<Vec<(Transport, SocketAddr)>> {
        self.addresses.load_full()
    }

    /// Replaces the resolved addresses (after a DNS lookup).
    pub fn set_addresses(&self, addresses: Vec<(Transport, SocketAddr)>) {
        self.addresses.store(Arc::new(addresses));
    }

    /// The transports the gateway can be reached over: those the profile listens on (a TCP
    /// connection goes out from the profile's TCP listener, so its Via and Contact name an
    /// address that takes requests back, RFC 3261 §18.1.1).
    pub fn transports(&self) -> Vec<Transport> {
        let mut out: Vec<Transport> = Vec::new();
        for (t, _) in &self.listeners {
            if !out.contains(t) {
                out.push(*t);
            }
        }
        out
    }

    /// The flow to `remote` over `transport`: from the profile's first listener of that
    /// transport and the same address family, else its first listener of that transport.
    /// None: the profile does not listen on that transport.
    pub fn flow_to(&self, transport: Transport, remote: SocketAddr) -> Option<Peer> {
        let mut of_transport = self
            .listeners
            .iter()
            .filter(|(t, _)| *t == transport)
            .map(|(_, a)| *a);
        let first = of_transport.clone().next();
        let local = of_transport
            .find(|l| l.is_ipv4() == remote.is_ipv4())
            .or(first)?;
        Some(Peer {
            transport,
            remote,
            local,
        })
    }

    /// The flows to probe: one per resolved address the profile can reach.
    pub fn probe_flows(&self) -> Vec<Peer> {
        self.addresses()
            .iter()
            .filter_map(|&(transport, remote)| self.flow_to(transport, remote))
            .collect()
    }

    /// The health of its address `remote` (usable until told otherwise).
    pub fn health_at(&self, remote: SocketAddr) -> Arc<GatewayHealth> {
        let mut health = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(health.entry(remote).or_default())
    }

    /// Whether calls may go to its address `remote` now.
    pub fn is_usable_at(&self, remote: SocketAddr) -> bool {
        let health = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        health.get(&remote).is_none_or(|h| h.is_usable())
    }

    /// Whether calls may go to at least one of its resolved addresses now.
    pub fn is_usable(&self) -> bool {
        self.addresses()
            .iter()
            .any(|&(_, remote)| self.is_usable_at(remote))
    }

    fn thresholds(&self) -> HealthThresholds {
        HealthThresholds {
            down_after: self.probe.down_after(),
            up_after: self.probe.up_after(),
            breaker_after: self.probe.enabled().then_some(BREAKER_THRESHOLD),
        }
    }

    /// Feeds an OPTIONS probe result of its address `remote` (`alive`: a final response
    /// showing it at work).
    pub fn report_probe(&self, remote: SocketAddr, alive: bool) -> Option<HealthChange> {
        self.health_at(remote)
            .probe_result(&self.label(remote), alive, self.thresholds())
    }

    /// A call to its address `remote` got no answer or a 503 (passive health).
    pub fn report_call_failed(&self, remote: SocketAddr) -> Option<HealthChange> {
        self.health_at(remote)
            .call_failed(&self.label(remote), self.thresholds())
    }

    /// A call to its address `remote` got an answer showing it at work.
    pub fn report_call_answered(&self, remote: SocketAddr) {
        self.health_at(remote).call_succeeded();
    }

    /// How health changes name one address: `trunk/index@address`.
    fn label(&self, remote: SocketAddr) -> String {
        format!("{}@{remote}", self.id)
    }
}
