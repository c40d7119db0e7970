//! Outbound calls from a phone through route group `pstn` to SIPp carriers: failover when the
//! first carrier answers 503, stays silent or cannot be connected to over TCP, a gateway
//! marked down by its OPTIONS probes and skipped, then back up; the per-trunk
//! calls-per-second limit; a weighted group's spread.
//! Each test checks what the caller saw, what each carrier received, and the call records.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::cdr;
use crate::harness::free_port;
use crate::sipp_peer::tail;
use crate::trunk_peers::{
    PSTN_NUMBER, SilentGateway, Trunk, TrunkSwitch, attempts, carrier, final_statuses, phone_call,
    received_requests, traced,
};

/// How long the switch may take to write the records of calls that just ended.
const RECORDS_WITHIN: Duration = Duration::from_secs(20);

/// `n` distinct free ports.
pub fn ports<const N: usize>() -> [u16; N] {
    let mut taken = BTreeSet::new();
    std::array::from_fn(|_| {
        loop {
            let port = free_port();
            if taken.insert(port) {
                break port;
            }
        }
    })
}

/// A `priority` route group over `trunks`, in order.
pub fn priority(trunks: &[&str]) -> String {
    let names: Vec<String> = trunks.iter().map(|t| format!("\"{t}\"")).collect();
    format!("strategy = \"priority\"\ntrunks = [{}]", names.join(", "))
}

#[test]
fn primary_answering_503_fails_over_to_the_secondary_and_the_caller_never_sees_the_503() {
    let [a, b, c] = ports();
    let carrier_a = carrier("carrier_503", a, 1);
    let carrier_b = carrier("carrier_answer", b, 1);
    let carrier_c = carrier("carrier_answer", c, 1);
    let sw = TrunkSwitch::start(
        &[
            Trunk::new("carrier-a", a),
            Trunk::new("carrier-b", b),
            Trunk::new("carrier-c", c),
        ],
        &priority(&["carrier-a", "carrier-b", "carrier-c"]),
        "",
    );
    // call_uac_load takes only 100/180/183 before its 200: a 503 fails the call.
    let uac = phone_call(&sw, "call_uac_load", PSTN_NUMBER)
        .pause(Duration::from_millis(500))
        .run();
    uac.assert_success("call through the secondary");
    let out_a = carrier_a.wait();
    let out_b = carrier_b.wait();
    out_a.assert_success("the primary's 503 was ACKed");
    out_b.assert_success("the secondary took the call");
    assert!(
        !uac.messages.contains("SIP/2.0 503"),
        "the caller saw the primary's 503:\n{}",
        tail(&uac.messages, 6000)
    );
    assert!(
        received_requests(&carrier_c.messages_so_far(), "INVITE").is_empty(),
        "the third carrier is not tried once the second answered"
    );

    let records = cdr::wait_for(&sw.database(), 1, RECORDS_WITHIN);
    let call = &records.calls[0];
    assert_eq!(
        (call.sip_status, call.hangup_cause.as_str()),
        (200, "normal_clearing"),
        "{call:#?}"
    );
    let tries = attempts(&sw.database());
    let tries = &tries[&call.call_id];
    assert_eq!(tries.len(), 2, "one attempt per carrier tried: {tries:#?}");
    assert!(
        tries[0].went_to(a) && tries[0].final_status == Some(503),
        "the record names the primary's 503 first: {tries:#?}"
    );
    assert!(
        tries[1].went_to(b) && tries[1].final_status == Some(200),
        "then the secondary's 200: {tries:#?}"
    );
    let named: Vec<_> = tries
        .iter()
        .map(|t| (t.trunk.as_deref(), t.stage))
        .collect();
    assert_eq!(
        named,
        [(Some("carrier-a"), 1), (Some("carrier-b"), 2)],
        "each attempt names its trunk and stage"
    );
}

#[test]
fn silent_primary_is_left_after_the_provisional_timeout_for_the_secondary() {
    let [a, b] = ports();
    let carrier_a = carrier("carrier_silent", a, 1);
    let carrier_b = carrier("carrier_answer", b, 1);
    let sw = TrunkSwitch::start(
        &[
            Trunk::new("carrier-a", a).key("provisional_timeout_ms = 1000"),
            Trunk::new("carrier-b", b),
        ],
        &priority(&["carrier-a", "carrier-b"]),
        "",
    );
    let uac = phone_call(&sw, "call_uac_load", PSTN_NUMBER)
        .pause(Duration::from_millis(300))
        .run();
    uac.assert_success("call through the secondary");
    let out_b = carrier_b.wait();
    out_b.assert_success("the secondary took the call");

    let to_a = received_requests(&carrier_a.messages_so_far(), "INVITE");
    let to_b = received_requests(&out_b.messages, "INVITE");
    assert_eq!((to_a.len(), to_b.len()), (1, 1), "one INVITE to each");
    let waited = to_b[0].at - to_a[0].at;
    assert!(
        (0.95..5.0).contains(&waited),
        "the secondary was tried after the 1 s provisional timeout, not before and not at \
         Timer B: {waited:.3} s"
    );

    let records = cdr::wait_for(&sw.database(), 1, RECORDS_WITHIN);
    let tries = attempts(&sw.database());
    let tries = &tries[&records.calls[0].call_id];
    assert!(
        tries.len() == 2
            && tries[0].went_to(a)
            && tries[0].final_status != Some(200)
            && tries[1].went_to(b)
            && tries[1].final_status == Some(200),
        "the record names the silent primary, then the secondary's 200: {tries:#?}"
    );
}

#[test]
fn a_tcp_primary_refusing_the_connection_fails_over_to_the_secondary_at_once() {
    // Nothing listens on TCP port `a`: the connect for carrier-a's INVITE is refused.
    let [a, b] = ports();
    let carrier_b = carrier("carrier_answer", b, 1);
    let sw = TrunkSwitch::start(
        &[
            // Neither the provisional timeout (10 s) nor Timer B (32 s) can explain a quick
            // failover: only the refused connect can.
            Trunk::new("carrier-a", a)
                .over_tcp()
                .key("provisional_timeout_ms = 10000"),
            Trunk::new("carrier-b", b),
        ],
        &priority(&["carrier-a", "carrier-b"]),
        "",
    );
    let uac = phone_call(&sw, "call_uac_load", PSTN_NUMBER)
        .pause(Duration::from_millis(300))
        .run();
    uac.assert_success("call through the secondary");
    carrier_b
        .wait()
        .assert_success("the secondary took the call");

    let trace = traced(&uac.messages);
    let first_invite = trace
        .iter()
        .find(|m| !m.received && m.first_line.starts_with("INVITE "))
        .expect("the caller sent an INVITE");
    let answered = trace
        .iter()
        .find(|m| m.received && m.first_line.starts_with("SIP/2.0 200"))
        .expect("the caller got a 200");
    let setup = answered.at - first_invite.at;
    assert!(
        (0.0..5.0).contains(&setup),
        "the call was set up within 5 s of the caller's INVITE: {setup:.3} s"
    );

    let records = cdr::wait_for(&sw.database(), 1, RECORDS_WITHIN);
    let tries = attempts(&sw.database());
    let tries = &tries[&records.calls[0].call_id];
    let named: Vec<_> = tries
        .iter()
        .map(|t| (t.trunk.as_deref(), t.final_status, t.stage))
        .collect();
    assert_eq!(
        named,
        [
            (Some("carrier-a"), Some(503), 1),
            (Some("carrier-b"), Some(200), 2)
        ],
        "the record names carrier-a's connect failure as 503, then carrier-b's 200: {tries:#?}"
    );
}

#[test]
fn gateway_failing_its_probes_is_skipped_without_an_invite_and_used_again_once_they_succeed() {
    let gateway = SilentGateway::start();
    let a = gateway.port();
    let [b] = ports();
    let carrier_b = carrier("carrier_answer", b, 100);
    let sw = TrunkSwitch::start(
        &[
            Trunk::new("carrier-a", a)
                .key("provisional_timeout_ms = 1000")
                .probe(1, 2, 2),
            Trunk::new("carrier-b", b),
        ],
        &priority(&["carrier-a", "carrier-b"]),
        // Short SIP timers, so an unanswered probe's transaction ends in 6.4 s (64 x T1, RFC
        // 3261 §17.1.2.2) even if the probe waits for Timer F.
        "[sip]\nt1_ms = 100\n",
    );
    sw.wait_for_gateway_state("carrier-a", "down", Duration::from_secs(20));
    assert!(
        gateway.requests("OPTIONS") >= 2,
        "down after 2 unanswered probes"
    );

    let uac = phone_call(&sw, "call_uac_load", PSTN_NUMBER)
        .pause(Duration::from_millis(200))
        .run();
    uac.assert_success("call while the primary is down");
    assert_eq!(
        gateway.requests("INVITE"),
        0,
        "a gateway marked down gets no INVITE"
    );
    assert_eq!(
        received_requests(&carrier_b.messages_so_far(), "INVITE").len(),
        1,
        "the call went straight to the secondary"
    );

    // The primary comes back: a carrier answering its probes on the same port.
    gateway.close();
    let carrier_a = carrier("carrier_answer", a, 100);
    let deadline = Instant::now() + Duration::from_secs(15);
    // Two successes mark it up (up_after = 2); the third probe comes a second after that.
    while received_requests(&carrier_a.messages_so_far(), "OPTIONS").len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the switch did not probe the returning gateway 3 times within 15 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let uac = phone_call(&sw, "call_uac_load", PSTN_NUMBER)
        .pause(Duration::from_millis(200))
        .run();
    uac.assert_success("call once the primary is back");
    assert_eq!(
        received_requests(&carrier_a.messages_so_far(), "INVITE").len(),
        1,
        "the primary takes calls again"
    );
    assert_eq!(
        received_requests(&carrier_b.messages_so_far(), "INVITE").len(),
        1,
        "the secondary got no second call"
    );
}

#[test]
fn calls_over_the_trunks_cps_limit_are_refused_with_503_and_never_reach_the_carrier() {
    const CALLS: u32 = 10;
    let [a] = ports();
    let carrier_a = carrier("carrier_answer", a, 100);
    let sw = TrunkSwitch::start(
        &[Trunk::new("carrier-a", a).key("max_cps = 2")],
        &priority(&["carrier-a"]),
        "",
    );
    // A burst of 10 calls within about a second.
    let uac = phone_call(&sw, "carrier_phone_call_or_503", PSTN_NUMBER)
        .calls(CALLS)
        .rate(CALLS, CALLS)
        .pause(Duration::from_millis(200))
        .run();
    uac.assert_success("every call answered or refused with 503, nothing else");
    let finals = final_statuses(&uac.messages);
    let answered = finals.values().filter(|s| **s == 200).count();
    let refused = finals.values().filter(|s| **s == 503).count();
    assert_eq!(
        answered + refused,
        CALLS as usize,
        "each call got 200 or 503: {finals:?}"
    );
    // Governor-style limit: a burst of 2, then one more every 500 ms of the burst.
    let mut sent: BTreeMap<String, f64> = BTreeMap::new();
    for m in traced(&uac.messages) {
        if !m.received && m.first_line.starts_with("INVITE ") && m.text.contains("CSeq: 2 INVITE") {
            sent.entry(m.call_id).or_insert(m.at);
        }
    }
    let span = sent.values().copied().fold(f64::MIN, f64::max)
        - sent.values().copied().fold(f64::MAX, f64::min);
    let most = 2 + (2.0 * span).ceil() as usize;
    assert!(
        (2..=most).contains(&answered),
        "2 calls a second pass: {answered} of {CALLS} answered in a burst of {span:.2} s"
    );

    let invites = received_requests(&carrier_a.messages_so_far(), "INVITE");
    assert_eq!(
        invites.len(),
        answered,
        "only the calls let through reach the carrier"
    );
    let busiest = invites
        .iter()
        .map(|first| {
            invites
                .iter()
                .filter(|m| m.at >= first.at && m.at - first.at < 0.9)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        busiest <= 3,
        "at most 3 INVITEs reach the carrier in any 0.9 s: {busiest}"
    );

    let records = cdr::wait_for(&sw.database(), CALLS as usize, RECORDS_WITHIN);
    let tries = attempts(&sw.database());
    for call in records.calls.iter().filter(|c| c.sip_status == 503) {
        assert!(
            tries
                .get(&call.call_id)
                .is_none_or(|t| t.iter().all(|t| !t.went_to(a))),
            "a call refused at the limit was not sent to the carrier: {call:#?} {tries:#?}"
        );
    }
    assert_eq!(
        records.calls.iter().filter(|c| c.sip_status == 503).count(),
        refused,
        "each refused call is recorded with its 503"
    );
}

#[test]
fn weighted_group_spreads_calls_by_weight() {
    const CALLS: u32 = 100;
    let [a, b] = ports();
    let carrier_a = carrier("carrier_answer", a, CALLS);
    let carrier_b = carrier("carrier_answer", b, CALLS);
    let sw = TrunkSwitch::start(
        &[Trunk::new("carrier-a", a), Trunk::new("carrier-b", b)],
        "strategy = \"weighted\"\ntrunks = [{ name = \"carrier-a\", weight = 70 }, \
         { name = \"carrier-b\", weight = 30 }]",
        "",
    );
    let uac = phone_call(&sw, "call_uac_load", PSTN_NUMBER)
        .calls(CALLS)
        .rate(25, 25)
        .pause(Duration::from_millis(100))
        .without_message_trace()
        .timeout(Duration::from_secs(40))
        .run();
    uac.assert_success("100 calls through the weighted group");
    let to_a = received_requests(&carrier_a.messages_so_far(), "INVITE").len();
    let to_b = received_requests(&carrier_b.messages_so_far(), "INVITE").len();
    assert_eq!(to_a + to_b, CALLS as usize, "each call reached one carrier");
    // 70/30 over 100 calls: the standard deviation is 4.6 calls; 55..=85 is over 3 of them.
    assert!(
        (55..=85).contains(&to_a),
        "70/30 weights spread {to_a}/{to_b}"
    );
}

#[test]
fn least_cost_group_sends_each_number_to_its_cheapest_carrier() {
    let [a, b] = ports();
    let rates = tempfile::tempdir().expect("rates dir");
    // carrier-a is cheaper for +1555123 (longest prefix), carrier-b for the rest of +1555.
    let rate_a = rates.path().join("a.csv");
    let rate_b = rates.path().join("b.csv");
    std::fs::write(&rate_a, "# prefix,rate\n+1,0.020\n+1555123,0.004\n").expect("write rates");
    std::fs::write(&rate_b, "+1555,0.010\n").expect("write rates");
    let carrier_a = carrier("carrier_answer", a, 1);
    let carrier_b = carrier("carrier_answer", b, 1);
    let sw = TrunkSwitch::start(
        &[
            Trunk::new("carrier-a", a).key(&format!("rates = {:?}", rate_a.display().to_string())),
            Trunk::new("carrier-b", b).key(&format!("rates = {:?}", rate_b.display().to_string())),
        ],
        "strategy = \"least_cost\"\ntrunks = [\"carrier-a\", \"carrier-b\"]",
        "",
    );
    for number in ["+15551234567", "+15559876543"] {
        phone_call(&sw, "call_uac_load", number)
            .pause(Duration::from_millis(100))
            .run()
            .assert_success("the call is answered");
    }
    let to_a = received_requests(&carrier_a.messages_so_far(), "INVITE");
    let to_b = received_requests(&carrier_b.messages_so_far(), "INVITE");
    assert!(
        to_a.len() == 1 && to_a[0].first_line.contains("+15551234567"),
        "+1555123... is cheapest on carrier-a: {to_a:#?}"
    );
    assert!(
        to_b.len() == 1 && to_b[0].first_line.contains("+15559876543"),
        "the rest of +1555 is cheapest on carrier-b: {to_b:#?}"
    );
}
