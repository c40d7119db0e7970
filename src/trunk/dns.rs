//! RFC 3263 §4 resolution of a gateway URI to the addresses to send to.
//!
//! - an IP literal is its own address (port default 5060);
//! - a name with a port: A/AAAA of the name;
//! - a name with a transport but no port: SRV `_sip._udp` / `_sip._tcp`, then A/AAAA;
//! - a bare name: NAPTR (`SIP+D2U`, `SIP+D2T`) -> SRV -> A/AAAA; without NAPTR records, SRV
//!   for each transport; without SRV records, A/AAAA on 5060 over UDP.
//!
//! The ordering rules ([`naptr_order`], [`srv_order`]) are pure; [`resolve`] walks the steps
//! over any [`DnsLookup`], and [`HickoryLookup`] is the real one.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{RData, RecordType};
use rand::{Rng, SeedableRng};

use super::Trunks;
use crate::config::trunks::{GatewayUri, SIP_DEFAULT_PORT};
use crate::transport::Transport;

/// Why a gateway could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A lookup failed (server failure, timeout): not the same as "no records".
    #[error("DNS lookup of {name} ({kind}) failed: {message}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// The record type.
        kind: &'static str,
        /// The resolver's explanation.
        message: String,
    },
    /// Every step answered, but no address came out.
    #[error("no address for {name}")]
    NoAddress {
        /// The gateway's host.
        name: String,
    },
    /// The system resolver configuration could not be read.
    #[error("resolver configuration: {0}")]
    Config(String),
}

/// A NAPTR record (RFC 3403) as far as SIP uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    /// Lower first.
    pub order: u16,
    /// Lower first among equal `order`.
    pub preference: u16,
    /// Flags (`s`: the replacement is an SRV name).
    pub flags: String,
    /// Service (`SIP+D2U`, `SIP+D2T`, ...).
    pub service: String,
    /// The SRV name to look up next.
    pub replacement: String,
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower first.
    pub priority: u16,
    /// Relative share among equal priority.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Host to look up (`.` means no service).
    pub target: String,
}

/// The DNS queries resolution needs. "No records" is `Ok` with an empty list; `Err` is a
/// failed lookup.
pub trait DnsLookup: Sync {
    /// NAPTR records of `name`.
    fn naptr(&self, name: &str) -> impl Future<Output = Result<Vec<NaptrRecord>, DnsError>> + Send;
    /// SRV records of `name`.
    fn srv(&self, name: &str) -> impl Future<Output = Result<Vec<SrvRecord>, DnsError>> + Send;
    /// A and AAAA records of `name`.
    fn ip(&self, name: &str) -> impl Future<Output = Result<Vec<IpAddr>, DnsError>> + Send;
}

/// RFC 3263 §4.1: the NAPTR records for SIP over the `usable` transports, as
/// `(transport, SRV name)`, by order then preference.
pub fn naptr_order(records: &[NaptrRecord], usable: &[Transport]) -> Vec<(Transport, String)> {
    let mut sip: Vec<(&NaptrRecord, Transport)> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter_map(|r| {
            let t = if r.service.eq_ignore_ascii_case("SIP+D2U") {
                Transport::Udp
            } else if r.service.eq_ignore_ascii_case("SIP+D2T") {
                Transport::Tcp
            } else {
                return None;
            };
            usable.contains(&t).then_some((r, t))
        })
        .collect();
    sip.sort_by_key(|(r, _)| (r.order, r.preference));
    sip.into_iter()
        .map(|(r, t)| (t, r.replacement.clone()))
        .collect()
}

/// RFC 2782: lowest priority first; within a priority, drawn one at a time with chance
/// proportional to weight (weight 0 records get a small chance, after the weighted ones
/// mostly). A lone `.` target means the service is not offered: nothing is returned.
pub fn srv_order(records: &[SrvRecord], rng: &mut impl Rng) -> Vec<SrvRecord> {
    if records.len() == 1 && records.first().is_some_and(|r| r.target == ".") {
        return Vec::new();
    }
    let mut sorted: Vec<SrvRecord> = records
        .iter()
        .filter(|r| r.target != ".")
        .cloned()
        .collect();
    sorted.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(sorted.len());
    let mut rest = sorted.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let (group, tail) = rest.split_at(same);
        // RFC 2782: zero-weight records first in the list, then draw a running sum.
        let mut left: Vec<SrvRecord> = group
            .iter()
            .filter(|r| r.weight == 0)
            .chain(group.iter().filter(|r| r.weight != 0))
            .cloned()
            .collect();
        while !left.is_empty() {
            let total: u32 = left.iter().map(|r| u32::from(r.weight)).sum();
            let point = rng.gen_range(0..=total);
            let mut sum = 0;
            let at = left
                .iter()
                .position(|r| {
                    sum += u32::from(r.weight);
                    sum >= point
                })
                .unwrap_or(0);
            out.push(left.remove(at));
        }
        rest = tail;
    }
    out
}

/// Resolves `uri` to `(transport, address)` pairs in the order to try them, over the
/// `usable` transports.
pub async fn resolve(
    lookup: &impl DnsLookup,
    uri: &GatewayUri,
    usable: &[Transport],
    rng: &mut (impl Rng + Send),
) -> Result<Vec<(Transport, SocketAddr)>, DnsError> {
    if let Some(addr) = uri.socket_addr() {
        let t = uri.transport().unwrap_or(Transport::Udp);
        return Ok(if usable.contains(&t) {
            vec![(t, addr)]
        } else {
            Vec::new()
        });
    }
    let Some(name) = uri.dns_name() else {
        return Ok(Vec::new());
    };
    let name = fqdn(name);
    // RFC 3263 §4.1: an explicit transport wins; without one, UDP.
    let transport = uri.transport();
    if let Some(port) = uri.port() {
        let t = transport.unwrap_or(Transport::Udp);
        if !usable.contains(&t) {
            return Ok(Vec::new());
        }
        return addresses(lookup, &name, port, t, &name).await;
    }
    let mut srv_names: Vec<(Transport, String)> = Vec::new();
    match transport {
        Some(t) if usable.contains(&t) => srv_names.push((t, srv_name(t, &name))),
        Some(_) => return Ok(Vec::new()),
        None => {
            srv_names = naptr_order(&lookup.naptr(&name).await?, usable);
            if srv_names.is_empty() {
                srv_names = usable.iter().map(|&t| (t, srv_name(t, &name))).collect();
            }
        }
    }
    let mut out = Vec::new();
    let mut any_srv = false;
    for (t, srv) in srv_names {
        let records = srv_order(&lookup.srv(&srv).await?, rng);
        any_srv |= !records.is_empty();
        for r in records {
            let target = fqdn(&r.target);
            for ip in lookup.ip(&target).await? {
                out.push((t, SocketAddr::new(ip, r.port)));
            }
        }
    }
    if any_srv {
        return if out.is_empty() {
            Err(DnsError::NoAddress { name })
        } else {
            Ok(out)
        };
    }
    // RFC 3263 §4.2: no SRV records: A/AAAA of the name itself on the default port.
    let t = transport.unwrap_or(Transport::Udp);
    if !usable.contains(&t) {
        return Ok(Vec::new());
    }
    addresses(lookup, &name, SIP_DEFAULT_PORT, t, &name).await
}

async fn addresses(
    lookup: &impl DnsLookup,
    host: &str,
    port: u16,
    t: Transport,
    name: &str,
) -> Result<Vec<(Transport, SocketAddr)>, DnsError> {
    let ips = lookup.ip(host).await?;
    if ips.is_empty() {
        return Err(DnsError::NoAddress {
            name: name.to_owned(),
        });
    }
    Ok(ips
        .into_iter()
        .map(|ip| (t, SocketAddr::new(ip, port)))
        .collect())
}

fn srv_name(t: Transport, name: &str) -> String {
    format!("_sip._{}.{name}", t.as_str())
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// Resolves every gateway of `trunks` with a DNS name over the transports its profile listens
/// on (RFC 3263 §4.1: the client's supported transports) and stores the addresses with the
/// transport each was found for. Returns the gateways that failed, with why (their previous
/// addresses stay).
pub async fn refresh(trunks: &Trunks, lookup: &impl DnsLookup) -> Vec<(String, DnsError)> {
    let mut failures = Vec::new();
    for gateway in trunks.gateways() {
        if gateway.uri().dns_name().is_none() {
            continue;
        }
        let mut rng = rand::rngs::StdRng::from_entropy();
        match resolve(lookup, gateway.uri(), &gateway.transports(), &mut rng).await {
            Ok(found) => gateway.set_addresses(found),
            Err(e) => failures.push((gateway.id().to_owned(), e)),
        }
    }
    failures
}

/// [`DnsLookup`] over hickory-resolver with the system configuration.
#[derive(Clone)]
pub struct HickoryLookup {
    resolver: TokioResolver,
}

impl std::fmt::Debug for HickoryLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HickoryLookup")
    }
}

impl HickoryLookup {
    /// A resolver configured from `/etc/resolv.conf`.
    pub fn from_system() -> Result<HickoryLookup, DnsError> {
        let resolver = TokioResolver::builder_tokio()
            .and_then(|b| b.build())
            .map_err(|e| DnsError::Config(e.to_string()))?;
        Ok(HickoryLookup { resolver })
    }

    async fn records(&self, name: &str, kind: RecordType) -> Result<Vec<RData>, DnsError> {
        match self.resolver.lookup(name, kind).await {
            Ok(lookup) => Ok(lookup.answers().iter().map(|r| r.data.clone()).collect()),
            Err(e) if no_records(&e) => Ok(Vec::new()),
            Err(e) => Err(DnsError::Lookup {
                name: name.to_owned(),
                kind: kind_name(kind),
                message: e.to_string(),
            }),
        }
    }
}

fn no_records(e: &NetError) -> bool {
    e.is_no_records_found() || e.is_nx_domain()
}

fn kind_name(kind: RecordType) -> &'static str {
    match kind {
        RecordType::NAPTR => "NAPTR",
        RecordType::SRV => "SRV",
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        _ => "other",
    }
}

fn name_text(name: &hickory_resolver::proto::rr::Name) -> String {
    name.to_ascii()
}

impl DnsLookup for HickoryLookup {
    async fn naptr(&self, name: &str) -> Result<Vec<NaptrRecord>, DnsError> {
        Ok(self
            .records(name, RecordType::NAPTR)
            .await?
            .into_iter()
            .filter_map(|d| match d {
                RData::NAPTR(n) => Some(NaptrRecord {
                    order: n.order,
                    preference: n.preference,
                    flags: String::from_utf8_lossy(&n.flags).into_owned(),
                    service: String::from_utf8_lossy(&n.services).into_owned(),
                    replacement: name_text(&n.replacement),
                }),
                _ => None,
            })
            .collect())
    }

    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, DnsError> {
        Ok(self
            .records(name, RecordType::SRV)
            .await?
            .into_iter()
            .filter_map(|d| match d {
                RData::SRV(s) => Some(SrvRecord {
                    priority: s.priority,
                    weight: s.weight,
                    port: s.port,
                    target: name_text(&s.target),
                }),
                _ => None,
            })
            .collect())
    }

    async fn ip(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        match self.resolver.lookup_ip(name).await {
            Ok(found) => Ok(found.iter().collect()),
            Err(e) if no_records(&e) => Ok(Vec::new()),
            Err(e) => Err(DnsError::Lookup {
                name: name.to_owned(),
                kind: "A/AAAA",
                message: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
