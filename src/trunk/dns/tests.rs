#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
    SrvRecord {
        priority,
        weight,
        port,
        target: target.into(),
    }
}

fn naptr(order: u16, preference: u16, service: &str, replacement: &str) -> NaptrRecord {
    NaptrRecord {
        order,
        preference,
        flags: "s".into(),
        service: service.into(),
        replacement: replacement.into(),
    }
}

#[test]
fn naptr_records_are_taken_by_order_then_preference_for_usable_transports() {
    let records = vec![
        naptr(20, 10, "SIP+D2U", "_sip._udp.b.example."),
        naptr(10, 20, "SIP+D2U", "_sip._udp.a2.example."),
        naptr(10, 10, "SIP+D2T", "_sip._tcp.a.example."),
        naptr(5, 10, "SIPS+D2T", "_sips._tcp.a.example."),
        NaptrRecord {
            flags: "a".into(),
            ..naptr(1, 1, "SIP+D2U", "x.example.")
        },
    ];
    assert_eq!(
        naptr_order(&records, &[Transport::Udp, Transport::Tcp]),
        vec![
            (Transport::Tcp, "_sip._tcp.a.example.".into()),
            (Transport::Udp, "_sip._udp.a2.example.".into()),
            (Transport::Udp, "_sip._udp.b.example.".into()),
        ]
    );
    assert_eq!(naptr_order(&records, &[Transport::Udp]).len(), 2);
}

#[test]
fn srv_records_go_by_priority_first() {
    let records = vec![
        srv(20, 100, 5060, "c.example."),
        srv(10, 0, 5060, "b.example."),
        srv(10, 0, 5061, "a.example."),
        srv(30, 5, 5060, "d.example."),
    ];
    for seed in 0..50 {
        let got = srv_order(&records, &mut StdRng::seed_from_u64(seed));
        let priorities: Vec<u16> = got.iter().map(|r| r.priority).collect();
        assert_eq!(priorities, vec![10, 10, 20, 30]);
    }
}

#[test]
fn srv_weight_decides_the_share_within_a_priority() {
    let records = vec![srv(10, 90, 5060, "heavy."), srv(10, 10, 5060, "light.")];
    let mut rng = StdRng::seed_from_u64(3);
    let heavy_first = (0..10_000)
        .filter(|_| srv_order(&records, &mut rng)[0].target == "heavy.")
        .count();
    assert!((8_800..=9_200).contains(&heavy_first), "{heavy_first}");
}

#[test]
fn srv_dot_target_means_no_service() {
    assert!(srv_order(&[srv(0, 0, 0, ".")], &mut StdRng::seed_from_u64(1)).is_empty());
}

#[derive(Default)]
struct FakeDns {
    naptr: HashMap<String, Vec<NaptrRecord>>,
    srv: HashMap<String, Vec<SrvRecord>>,
    ip: HashMap<String, Vec<IpAddr>>,
}

impl DnsLookup for FakeDns {
    async fn naptr(&self, name: &str) -> Result<Vec<NaptrRecord>, DnsError> {
        Ok(self.naptr.get(name).cloned().unwrap_or_default())
    }
    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, DnsError> {
        Ok(self.srv.get(name).cloned().unwrap_or_default())
    }
    async fn ip(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        Ok(self.ip.get(name).cloned().unwrap_or_default())
    }
}

fn uri(s: &str) -> GatewayUri {
    GatewayUri::parse(s).unwrap()
}

async fn run(dns: &FakeDns, gateway: &str) -> Result<Vec<(Transport, SocketAddr)>, DnsError> {
    resolve(
        dns,
        &uri(gateway),
        &[Transport::Udp, Transport::Tcp],
        &mut StdRng::seed_from_u64(9),
    )
    .await
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn ip_literal_resolves_to_itself_without_lookups() {
    let dns = FakeDns::default();
    assert_eq!(
        run(&dns, "sip:192.0.2.1").await.unwrap(),
        vec![(Transport::Udp, "192.0.2.1:5060".parse().unwrap())]
    );
}

#[tokio::test]
async fn name_with_port_uses_a_records_only() {
    let mut dns = FakeDns::default();
    dns.ip.insert("gw.example.".into(), vec![ip("192.0.2.7")]);
    dns.srv.insert(
        "_sip._udp.gw.example.".into(),
        vec![srv(0, 0, 7000, "other.example.")],
    );
    assert_eq!(
        run(&dns, "sip:gw.example:5080").await.unwrap(),
        vec![(Transport::Udp, "192.0.2.7:5080".parse().unwrap())]
    );
}

#[tokio::test]
async fn bare_name_follows_naptr_then_srv_then_a() {
    let mut dns = FakeDns::default();
    dns.naptr.insert(
        "carrier.example.".into(),
        vec![naptr(10, 10, "SIP+D2U", "_sip._udp.carrier.example.")],
    );
    dns.srv.insert(
        "_sip._udp.carrier.example.".into(),
        vec![
            srv(20, 0, 5070, "b.carrier.example."),
            srv(10, 0, 5060, "a.carrier.example."),
        ],
    );
    dns.ip
        .insert("a.carrier.example.".into(), vec![ip("192.0.2.10")]);
    dns.ip
        .insert("b.carrier.example.".into(), vec![ip("2001:db8::1")]);
    assert_eq!(
        run(&dns, "sip:carrier.example").await.unwrap(),
        vec![
            (Transport::Udp, "192.0.2.10:5060".parse().unwrap()),
            (Transport::Udp, "[2001:db8::1]:5070".parse().unwrap()),
        ]
    );
}

#[tokio::test]
async fn bare_name_without_naptr_tries_srv_per_transport() {
    let mut dns = FakeDns::default();
    dns.srv.insert(
        "_sip._tcp.carrier.example.".into(),
        vec![srv(10, 0, 5062, "t.carrier.example.")],
    );
    dns.ip
        .insert("t.carrier.example.".into(), vec![ip("192.0.2.20")]);
    assert_eq!(
        run(&dns, "sip:carrier.example").await.unwrap(),
        vec![(Transport::Tcp, "192.0.2.20:5062".parse().unwrap())]
    );
}

#[tokio::test]
async fn bare_name_without_naptr_or_srv_falls_back_to_a_on_5060() {
    let mut dns = FakeDns::default();
    dns.ip
        .insert("carrier.example.".into(), vec![ip("192.0.2.30")]);
    assert_eq!(
        run(&dns, "sip:carrier.example").await.unwrap(),
        vec![(Transport::Udp, "192.0.2.30:5060".parse().unwrap())]
    );
}

#[tokio::test]
async fn explicit_transport_goes_straight_to_its_srv_name() {
    let mut dns = FakeDns::default();
    dns.naptr.insert(
        "carrier.example.".into(),
        vec![naptr(10, 10, "SIP+D2T", "_sip._tcp.carrier.example.")],
    );
    dns.srv.insert(
        "_sip._udp.carrier.example.".into(),
        vec![srv(10, 0, 5090, "u.carrier.example.")],
    );
    dns.ip
        .insert("u.carrier.example.".into(), vec![ip("192.0.2.40")]);
    assert_eq!(
        run(&dns, "sip:carrier.example;transport=udp")
            .await
            .unwrap(),
        vec![(Transport::Udp, "192.0.2.40:5090".parse().unwrap())]
    );
}

#[tokio::test]
async fn name_with_no_records_at_all_is_an_error() {
    let dns = FakeDns::default();
    assert!(matches!(
        run(&dns, "sip:nothing.example").await,
        Err(DnsError::NoAddress { .. })
    ));
}

#[tokio::test]
async fn udp_only_resolution_skips_tcp_naptr_records() {
    let mut dns = FakeDns::default();
    dns.naptr.insert(
        "carrier.example.".into(),
        vec![naptr(10, 10, "SIP+D2T", "_sip._tcp.carrier.example.")],
    );
    dns.srv.insert(
        "_sip._udp.carrier.example.".into(),
        vec![srv(10, 0, 5064, "u.carrier.example.")],
    );
    dns.ip
        .insert("u.carrier.example.".into(), vec![ip("192.0.2.50")]);
    let got = resolve(
        &dns,
        &uri("sip:carrier.example"),
        &[Transport::Udp],
        &mut StdRng::seed_from_u64(1),
    )
    .await
    .unwrap();
    assert_eq!(
        got,
        vec![(Transport::Udp, "192.0.2.50:5064".parse().unwrap())]
    );
}
