#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::call::actor::CallRoute;
use crate::call::{BranchOutcome, Stage, StageOutcome};
use crate::config::trunks::{RateTable, parse_trunk_file};
use crate::transport::Peer;

const LOCAL: &str = "127.0.0.1:5080";

fn config(text: &str) -> TrunksConfig {
    let path = PathBuf::from("sip-profiles/trunks/t.toml");
    let (t, g, e) = parse_trunk_file(&path, text);
    assert!(e.is_empty(), "{e:?}");
    let (config, e) = TrunksConfig::build(vec![(path, t, g)], &["carriers", "other"]);
    assert!(e.is_empty(), "{e:?}");
    config
}

fn listeners() -> ProfileListeners {
    let mut l = ProfileListeners::new();
    l.insert(
        "carriers".into(),
        vec![
            (Transport::Tcp, "127.0.0.1:5090".parse().unwrap()),
            (Transport::Udp, LOCAL.parse().unwrap()),
        ],
    );
    l
}

fn trunks(text: &str) -> Trunks {
    Trunks::new(&config(text), &listeners())
}

fn caller() -> CallerInfo {
    CallerInfo {
        number: "1000".into(),
        name: Some("Front Desk".into()),
        privacy: false,
    }
}

fn route(t: &Trunks, group: &str, now: Instant) -> TrunkRoute {
    t.route_with_rng(
        group,
        "+15551234567",
        caller(),
        now,
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap()
}

/// `(trunk, remote)` of a stage's only target.
fn hop(stage: &Stage) -> (String, SocketAddr) {
    assert_eq!(stage.targets.len(), 1);
    let t = &stage.targets[0];
    (t.trunk.clone().unwrap(), t.flow.remote)
}

fn hops(mut r: TrunkRoute, now: Instant) -> Vec<(String, SocketAddr)> {
    let mut out = Vec::new();
    let mut previous: Option<StageOutcome> = None;
    while let Some(stage) = r.next_stage_at(previous.as_ref(), now) {
        let h = hop(&stage);
        previous = Some(failed(&stage, 486, false));
        out.push(h);
    }
    out
}

fn failed(stage: &Stage, status: u16, silent: bool) -> StageOutcome {
    let t = &stage.targets[0];
    StageOutcome {
        branches: vec![BranchOutcome {
            trunk: t.trunk.clone(),
            flow: t.flow,
            status,
            silent,
        }],
        best_status: status,
    }
}

/// Feeds a probe result of gateway `id` at its first address.
fn probe(t: &Trunks, id: &str, alive: bool) -> Option<HealthChange> {
    let gateway = t.gateway(id).unwrap();
    let (_, remote) = gateway.addresses()[0];
    t.report_probe(id, remote, alive)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const TWO_TRUNKS: &str = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1:5071", "sip:127.0.0.2:5071"]
failover_codes = [503, 480]
provisional_timeout_ms = 2000
pass_headers = ["x-campaign"]
[trunk.auth]
username = "acct"
password = "pw"
[trunk.caller_id]
from_domain = "carrier-a.example"
number = "+15550000000"
asserted = true

[[trunk]]
name = "b"
profile = "carriers"
gateways = ["sip:127.0.0.3:5072"]

[[route_group]]
name = "pstn"
trunks = ["a", "b"]
"#;

#[test]
fn priority_route_tries_every_gateway_of_each_trunk_in_config_order() {
    let t = trunks(TWO_TRUNKS);
    let now = Instant::now();
    assert_eq!(
        hops(route(&t, "pstn", now), now),
        vec![
            ("a".into(), addr("127.0.0.1:5071")),
            ("a".into(), addr("127.0.0.2:5071")),
            ("b".into(), addr("127.0.0.3:5072")),
        ]
    );
}

#[test]
fn stage_carries_the_trunks_uri_flow_identity_credentials_and_timeouts() {
    let t = trunks(TWO_TRUNKS);
    let mut r = route(&t, "pstn", Instant::now());
    let stage = r.next_stage(None).unwrap();
    assert_eq!(stage.ring_timeout, None);
    assert_eq!(stage.provisional_timeout, Some(Duration::from_secs(2)));
    assert_eq!(stage.failover_on, vec![503, 480]);
    let target = &stage.targets[0];
    assert_eq!(target.uri.to_string(), "sip:+15551234567@127.0.0.1:5071");
    assert_eq!(
        target.flow,
        Peer {
            transport: Transport::Udp,
            remote: addr("127.0.0.1:5071"),
            local: addr(LOCAL),
        }
    );
    let id = &target.identity;
    assert_eq!(
        id.from_uri.as_ref().unwrap().to_string(),
        "sip:+15550000000@carrier-a.example"
    );
    assert_eq!(id.asserted, id.from_uri);
    assert_eq!(
        id.to_uri.as_ref().unwrap().to_string(),
        target.uri.to_string()
    );
    assert_eq!(id.from_display.as_deref(), Some("Front Desk"));
    assert!(!id.privacy);
    let cred = target.credentials.as_ref().unwrap();
    assert_eq!(
        (cred.username.as_str(), cred.realm.as_str()),
        ("acct", "127.0.0.1")
    );
    assert_eq!(target.pass_headers, vec!["x-campaign".to_owned()]);

    // Trunk b keeps the caller's number, puts its gateway host in From, sends no PAI.
    let mut r = t
        .route_with_rng(
            "pstn",
            "44#1",
            CallerInfo {
                number: "1000".into(),
                name: None,
                privacy: true,
            },
            Instant::now(),
            &mut StdRng::seed_from_u64(1),
        )
        .unwrap();
    let now = Instant::now();
    let s1 = r.next_stage_at(None, now).unwrap();
    let s2 = r
        .next_stage_at(Some(&failed(&s1, 503, false)), now)
        .unwrap();
    let s3 = r
        .next_stage_at(Some(&failed(&s2, 503, false)), now)
        .unwrap();
    let id = &s3.targets[0].identity;
    assert_eq!(s3.targets[0].uri.to_string(), "sip:44%231@127.0.0.3:5072");
    assert_eq!(
        id.from_uri.as_ref().unwrap().to_string(),
        "sip:1000@127.0.0.3"
    );
    assert_eq!(id.asserted, None);
    assert!(id.privacy);
    assert!(s3.targets[0].credentials.is_none());
    assert_eq!(s3.failover_on, vec![408, 500, 502, 503, 504]);
}

#[test]
fn unknown_group_has_no_route() {
    let t = trunks(TWO_TRUNKS);
    assert!(t.route("nope", "1", caller(), Instant::now()).is_none());
}

const LIMITED: &str = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1:5071", "sip:127.0.0.2:5071"]
max_calls = 1
max_cps = 1

[[trunk]]
name = "b"
profile = "carriers"
gateways = ["sip:127.0.0.3:5072"]

[[route_group]]
name = "pstn"
trunks = ["a", "b"]
"#;

#[test]
fn route_holds_the_trunk_slot_until_it_moves_on_or_is_dropped() {
    let t = trunks(LIMITED);
    let now = Instant::now();
    let mut first = route(&t, "pstn", now);
    let s = first.next_stage_at(None, now).unwrap();
    assert_eq!(hop(&s).0, "a");
    assert_eq!(t.active_calls("a"), Some(1));
    // The second gateway of the same trunk keeps the same slot.
    let s = first
        .next_stage_at(Some(&failed(&s, 503, false)), now)
        .unwrap();
    assert_eq!(hop(&s).0, "a");
    assert_eq!(t.active_calls("a"), Some(1));
    // Moving to b frees a's slot and takes one of b's.
    let s = first
        .next_stage_at(Some(&failed(&s, 503, false)), now)
        .unwrap();
    assert_eq!(hop(&s).0, "b");
    assert_eq!(t.active_calls("a"), Some(0));
    assert_eq!(t.active_calls("b"), Some(1));
    drop(first);
    assert_eq!(t.active_calls("b"), Some(0));
}

#[test]
fn trunk_at_max_calls_is_skipped_without_an_invite() {
    let t = trunks(LIMITED);
    let now = Instant::now();
    let _inbound = t.inbound_slot("a").unwrap();
    assert!(t.inbound_slot("a").is_none());
    assert_eq!(
        hops(route(&t, "pstn", now), now),
        vec![("b".into(), addr("127.0.0.3:5072"))]
    );
}

#[test]
fn trunk_at_its_cps_limit_is_skipped_until_the_next_second() {
    let t = trunks(LIMITED);
    let t0 = Instant::now();
    let mut first = route(&t, "pstn", t0);
    assert_eq!(hop(&first.next_stage_at(None, t0).unwrap()).0, "a");
    drop(first);
    let mut second = route(&t, "pstn", t0);
    assert_eq!(
        hop(&second
            .next_stage_at(None, t0 + Duration::from_millis(500))
            .unwrap())
        .0,
        "b"
    );
    drop(second);
    let mut third = route(&t, "pstn", t0);
    assert_eq!(
        hop(&third
            .next_stage_at(None, t0 + Duration::from_secs(1))
            .unwrap())
        .0,
        "a"
    );
}

#[test]
fn gateway_marked_down_by_probes_is_skipped_and_comes_back() {
    let t = trunks(TWO_TRUNKS);
    let now = Instant::now();
    assert_eq!(probe(&t, "a/0", false), None);
    assert_eq!(probe(&t, "a/0", false), None);
    let change = probe(&t, "a/0", false).unwrap();
    assert_eq!(
        change,
        HealthChange {
            gateway: "a/0@127.0.0.1:5071".into(),
            up: false,
            reason: HealthReason::ProbesFailed(3)
        }
    );
    let got = hops(route(&t, "pstn", now), now);
    assert_eq!(got[0], ("a".into(), addr("127.0.0.2:5071")));
    assert_eq!(got.len(), 2);
    probe(&t, "a/0", true);
    assert!(probe(&t, "a/0", true).unwrap().up);
    assert_eq!(hops(route(&t, "pstn", now), now).len(), 3);
}

#[test]
fn each_address_of_a_gateway_keeps_its_own_health() {
    let t = trunks(TWO_TRUNKS);
    let now = Instant::now();
    let gateway = t.gateway("a/0").unwrap();
    // As if its name had resolved to two servers.
    let (dead, live) = (addr("127.0.0.1:5071"), addr("127.0.0.9:5071"));
    gateway.set_addresses(vec![(Transport::Udp, dead), (Transport::Udp, live)]);
    for _ in 0..3 {
        assert!(t.report_probe("a/0", live, true).is_none());
    }
    let change = (0..3)
        .filter_map(|_| t.report_probe("a/0", dead, false))
        .next_back()
        .unwrap();
    assert!(
        !change.up && change.gateway == "a/0@127.0.0.1:5071",
        "{change:?}"
    );
    assert!(
        gateway.is_usable(),
        "one live address keeps the gateway in use"
    );
    assert!(!gateway.is_usable_at(dead) && gateway.is_usable_at(live));
    let got: Vec<SocketAddr> = hops(route(&t, "pstn", now), now)
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    assert_eq!(
        got,
        [live, addr("127.0.0.2:5071"), addr("127.0.0.3:5072")],
        "the dead address is skipped, the live one of the same gateway is tried"
    );
}

#[test]
fn trunk_with_every_gateway_down_takes_no_slot() {
    let t = trunks(LIMITED);
    let now = Instant::now();
    for id in ["a/0", "a/1"] {
        for _ in 0..3 {
            probe(&t, id, false);
        }
    }
    let mut r = route(&t, "pstn", now);
    assert_eq!(hop(&r.next_stage_at(None, now).unwrap()).0, "b");
    assert_eq!(t.active_calls("a"), Some(0));
}

#[test]
fn silent_gateway_opens_its_breaker_after_three_calls_and_a_probe_closes_it() {
    let t = trunks(TWO_TRUNKS);
    let now = Instant::now();
    for _ in 0..3 {
        let mut r = route(&t, "pstn", now);
        let s = r.next_stage_at(None, now).unwrap();
        assert_eq!(hop(&s).1, addr("127.0.0.1:5071"));
        let next = r.next_stage_at(Some(&failed(&s, 408, true)), now).unwrap();
        assert_eq!(hop(&next).1, addr("127.0.0.2:5071"));
    }
    assert!(!t.gateway("a/0").unwrap().is_usable());
    let mut r = route(&t, "pstn", now);
    assert_eq!(
        hop(&r.next_stage_at(None, now).unwrap()).1,
        addr("127.0.0.2:5071")
    );
    let change = probe(&t, "a/0", true).unwrap();
    assert_eq!(change.reason, HealthReason::BreakerClosed);
    let mut r = route(&t, "pstn", now);
    assert_eq!(
        hop(&r.next_stage_at(None, now).unwrap()).1,
        addr("127.0.0.1:5071")
    );
}

#[test]
fn an_answered_call_resets_the_breaker_count() {
    let t = trunks(TWO_TRUNKS);
    let now = Instant::now();
    for round in 0..6 {
        let mut r = route(&t, "pstn", now);
        let s = r.next_stage_at(None, now).unwrap();
        if round % 2 == 0 {
            r.next_stage_at(Some(&failed(&s, 503, false)), now);
        } else {
            let o = failed(&s, 200, false);
            r.answered(&o.branches[0]);
        }
    }
    assert!(t.gateway("a/0").unwrap().is_usable());
}

#[test]
fn least_cost_tries_the_cheapest_longest_prefix_first() {
    let text = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1"]
[[trunk]]
name = "b"
profile = "carriers"
gateways = ["sip:127.0.0.2"]
[[trunk]]
name = "c"
profile = "carriers"
gateways = ["sip:127.0.0.3"]
[[trunk]]
name = "d"
profile = "carriers"
gateways = ["sip:127.0.0.4"]
[[route_group]]
name = "lcr"
strategy = "least_cost"
trunks = ["d", "a", "b", "c"]
"#;
    let mut cfg = config(text);
    // a: cheap for 1 but dear for 1555; b: middling; c: no matching prefix; d: no table.
    cfg.set_rates(
        "a",
        RateTable::from_pairs([("1", 0.001), ("1555", 0.05)]).unwrap(),
    );
    cfg.set_rates(
        "b",
        RateTable::from_pairs([("1", 0.02), ("155", 0.01)]).unwrap(),
    );
    cfg.set_rates("c", RateTable::from_pairs([("44", 0.0001)]).unwrap());
    let t = Trunks::new(&cfg, &listeners());
    let r = route(&t, "lcr", Instant::now());
    assert_eq!(r.trunk_order(), vec!["b", "a", "d", "c"]);
    let r = t
        .route("lcr", "+12125550000", caller(), Instant::now())
        .unwrap();
    assert_eq!(r.trunk_order(), vec!["a", "b", "d", "c"]);
}

#[test]
fn least_busy_tries_the_trunk_with_fewest_calls_first() {
    let text = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1"]
[[trunk]]
name = "b"
profile = "carriers"
gateways = ["sip:127.0.0.2"]
[[route_group]]
name = "g"
strategy = "least_busy"
trunks = ["a", "b"]
"#;
    let t = trunks(text);
    assert_eq!(route(&t, "g", Instant::now()).trunk_order(), vec!["a", "b"]);
    let _busy = [t.inbound_slot("a").unwrap(), t.inbound_slot("a").unwrap()];
    let _one = t.inbound_slot("b").unwrap();
    assert_eq!(route(&t, "g", Instant::now()).trunk_order(), vec!["b", "a"]);
}

#[test]
fn weighted_group_spreads_first_attempts_by_weight() {
    let text = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1"]
[[trunk]]
name = "b"
profile = "carriers"
gateways = ["sip:127.0.0.2"]
[[route_group]]
name = "w"
strategy = "weighted"
trunks = [{ name = "a", weight = 3 }, { name = "b", weight = 1 }]
"#;
    let t = trunks(text);
    let mut rng = StdRng::seed_from_u64(42);
    let now = Instant::now();
    let a_first = (0..10_000)
        .filter(|_| {
            let mut r = t.route_with_rng("w", "1", caller(), now, &mut rng).unwrap();
            let first = hop(&r.next_stage_at(None, now).unwrap()).0;
            first == "a"
        })
        .count();
    assert!((7_300..=7_700).contains(&a_first), "{a_first}");
}

#[test]
fn unresolved_dns_gateway_is_skipped_until_it_has_addresses() {
    let text = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:gw.carrier.example"]
[[trunk]]
name = "b"
profile = "carriers"
gateways = ["sip:127.0.0.3:5072"]
[[route_group]]
name = "pstn"
trunks = ["a", "b"]
"#;
    let t = trunks(text);
    let now = Instant::now();
    assert_eq!(hops(route(&t, "pstn", now), now)[0].0, "b");
    t.gateway("a/0")
        .unwrap()
        .set_addresses(vec![(Transport::Udp, addr("192.0.2.9:5060"))]);
    let mut r = route(&t, "pstn", now);
    let s = r.next_stage_at(None, now).unwrap();
    assert_eq!(hop(&s), ("a".into(), addr("192.0.2.9:5060")));
    assert_eq!(
        s.targets[0].uri.to_string(),
        "sip:+15551234567@gw.carrier.example"
    );
}

#[test]
fn trunk_without_a_udp_listener_gets_no_stage() {
    let text = r#"
[[trunk]]
name = "a"
profile = "other"
gateways = ["sip:127.0.0.1"]
[[route_group]]
name = "pstn"
trunks = ["a"]
"#;
    let t = trunks(text);
    let now = Instant::now();
    assert!(route(&t, "pstn", now).next_stage_at(None, now).is_none());
    assert_eq!(t.active_calls("a"), Some(0));
}

const INBOUND: &str = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1:5071"]
inbound = ["198.51.100.0/24", "127.0.0.1"]
context = "from-a"
dids = { "+15551230001" = "sales" }

[[trunk]]
name = "reg"
profile = "carriers"
gateways = ["sip:203.0.113.5"]
[trunk.auth]
username = "u"
password = "p"
[trunk.register]

[[trunk]]
name = "other"
profile = "other"
gateways = ["sip:192.0.2.1"]
inbound = ["192.0.2.0/24"]
"#;

#[test]
fn inbound_trunk_is_identified_by_cidr_within_its_profile() {
    let t = trunks(INBOUND);
    let found = t
        .identify("carriers", "198.51.100.77".parse().unwrap())
        .unwrap();
    assert_eq!(found.name(), "a");
    assert_eq!(found.context_for("+15551230001"), Some("sales"));
    assert_eq!(found.context_for("+15559999999"), Some("from-a"));
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    assert_eq!(t.identify("carriers", mapped).unwrap().name(), "a");
    assert!(
        t.identify("carriers", "192.0.2.1".parse().unwrap())
            .is_none()
    );
    assert!(
        t.identify("carriers", "10.0.0.1".parse().unwrap())
            .is_none()
    );
    assert_eq!(
        t.identify("other", "192.0.2.1".parse().unwrap())
            .unwrap()
            .name(),
        "other"
    );
}

#[test]
fn registering_trunk_is_identified_by_its_gateway_address() {
    let t = trunks(INBOUND);
    let found = t
        .identify("carriers", "203.0.113.5".parse().unwrap())
        .unwrap();
    assert_eq!(found.name(), "reg");
    assert_eq!(found.context_for("+1"), None);
}

#[test]
fn reload_keeps_call_counts_and_gateway_health() {
    let t = trunks(TWO_TRUNKS);
    let _slot = t.inbound_slot("a").unwrap();
    for _ in 0..3 {
        probe(&t, "a/0", false);
    }
    let reloaded = t.reloaded(&config(TWO_TRUNKS), &listeners());
    assert_eq!(reloaded.active_calls("a"), Some(1));
    assert!(!reloaded.gateway("a/0").unwrap().is_usable());
    assert!(reloaded.gateway("a/1").unwrap().is_usable());
    drop(_slot);
    assert_eq!(reloaded.active_calls("a"), Some(0));
}

#[test]
fn prober_sees_every_gateway_with_its_flow() {
    let t = trunks(TWO_TRUNKS);
    let gateways = t.gateways();
    let ids: Vec<&str> = gateways.iter().map(|g| g.id()).collect();
    assert_eq!(ids, vec!["a/0", "a/1", "b/0"]);
    assert_eq!(
        gateways[0].probe_flows(),
        vec![Peer {
            transport: Transport::Udp,
            remote: addr("127.0.0.1:5071"),
            local: addr(LOCAL),
        }]
    );
    assert_eq!(gateways[2].trunk(), "b");
}

const TCP_GATEWAY: &str = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1:5071;transport=tcp", "sip:127.0.0.1:5072"]
[[route_group]]
name = "pstn"
trunks = ["a"]
"#;

#[test]
fn a_tcp_gateway_is_dialled_and_probed_over_tcp_from_the_profiles_tcp_listener() {
    let t = trunks(TCP_GATEWAY);
    let tcp = Peer {
        transport: Transport::Tcp,
        remote: addr("127.0.0.1:5071"),
        local: addr("127.0.0.1:5090"),
    };
    let now = Instant::now();
    let mut r = route(&t, "pstn", now);
    let first = r.next_stage_at(None, now).unwrap();
    assert_eq!(first.targets[0].flow, tcp);
    // The next gateway of the trunk keeps its own transport.
    let second = r
        .next_stage_at(Some(&failed(&first, 503, true)), now)
        .unwrap();
    assert_eq!(second.targets[0].flow.transport, Transport::Udp);
    assert_eq!(second.targets[0].flow.local, addr(LOCAL));
    assert_eq!(t.gateway("a/0").unwrap().probe_flows(), vec![tcp]);
}

#[test]
fn a_tcp_gateway_of_a_profile_without_a_tcp_listener_is_skipped() {
    let mut udp_only = ProfileListeners::new();
    udp_only.insert(
        "carriers".into(),
        vec![(Transport::Udp, LOCAL.parse().unwrap())],
    );
    let t = Trunks::new(&config(TCP_GATEWAY), &udp_only);
    let now = Instant::now();
    assert_eq!(
        hops(route(&t, "pstn", now), now),
        [("a".to_owned(), addr("127.0.0.1:5072"))]
    );
    assert!(t.gateway("a/0").unwrap().probe_flows().is_empty());
}
