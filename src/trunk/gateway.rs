//! One gateway of a trunk at run time: its URI, resolved addresses (set by DNS, read by route
//! selection without waiting), the profile's listeners to send from, and its health.

use std::net::SocketAddr;
use std::sync::Arc;

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
    listeners: Vec<SocketAddr>,
    addresses: Arc<ArcSwap<Vec<SocketAddr>>>,
    health: Arc<GatewayHealth>,
}

impl Gateway {
    /// Gateway `index` of `trunk`. An IP-literal gateway's address is known at once; a DNS
    /// name's comes with [`Self::set_addresses`]. `previous` (the same gateway before a
    /// reload) passes on its addresses and health.
    pub(super) fn new(
        trunk: &str,
        index: usize,
        uri: GatewayUri,
        probe: ProbeSettings,
        listeners: Vec<SocketAddr>,
        previous: Option<&Gateway>,
    ) -> Gateway {
        let (addresses, health) = match previous {
            Some(p) => (Arc::clone(&p.addresses), Arc::clone(&p.health)),
            None => (
                Arc::new(ArcSwap::from_pointee(
                    uri.socket_addr().into_iter().collect(),
                )),
                Arc::new(GatewayHealth::new()),
            ),
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

    /// Resolved UDP addresses, in the order to try them (empty until DNS answered).
    pub fn addresses(&self) -> Arc<Vec<SocketAddr>> {
        self.addresses.load_full()
    }

    /// Replaces the resolved addresses (after a DNS lookup).
    pub fn set_addresses(&self, addresses: Vec<SocketAddr>) {
        self.addresses.store(Arc::new(addresses));
    }

    /// The profile listener to send to `remote` from: the first UDP listener of the same
    /// address family, else the first UDP listener. None: the profile has no UDP listener.
    pub fn local_for(&self, remote: SocketAddr) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.is_ipv4() == remote.is_ipv4())
            .or(self.listeners.first())
            .copied()
    }

    /// The flows to probe: one per resolved address.
    pub fn probe_flows(&self) -> Vec<Peer> {
        self.addresses()
            .iter()
            .filter_map(|&remote| {
                Some(Peer {
                    transport: Transport::Udp,
                    remote,
                    local: self.local_for(remote)?,
                })
            })
            .collect()
    }

    /// Its health.
    pub fn health(&self) -> &GatewayHealth {
        &self.health
    }

    /// Whether calls may go to it now.
    pub fn is_usable(&self) -> bool {
        self.health.is_usable()
    }

    fn thresholds(&self) -> HealthThresholds {
        HealthThresholds {
            down_after: self.probe.down_after(),
            up_after: self.probe.up_after(),
            breaker_after: self.probe.enabled().then_some(BREAKER_THRESHOLD),
        }
    }

    /// Feeds an OPTIONS probe result (`alive`: a final response showing it at work).
    pub fn report_probe(&self, alive: bool) -> Option<HealthChange> {
        self.health.probe_result(&self.id, alive, self.thresholds())
    }

    /// A call got no answer or a 503 from it (passive health).
    pub fn report_call_failed(&self) -> Option<HealthChange> {
        self.health.call_failed(&self.id, self.thresholds())
    }

    /// A call got an answer showing it at work.
    pub fn report_call_answered(&self) {
        self.health.call_succeeded();
    }
}
