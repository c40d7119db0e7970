//! The carrier edge of the switch: a carrier's call to a DID rings the extension its context
//! names; a call from an address no trunk claims is refused with 403 that reveals nothing; a
//! carrier's call routed back out to a trunk is refused unless its rule allows it; and the
//! switch registers with a carrier's registrar, answering its digest challenges, and refreshes.

use std::cell::Cell;
use std::time::Duration;

use crate::call_peers::registered_callee_with;
use crate::cdr;
use crate::rtp_peer::RtpPeer;
use crate::sipp_peer::SippPeer;
use crate::trunk_peers::{
    CARRIER_CALLER, SALES_DID, TRANSIT_ALLOWED, TRANSIT_REFUSED, Trunk, TrunkSwitch,
    all_received_requests, attempts, carrier, received_requests, traced, wait_bound,
};
use crate::trunks::{ports, priority};

/// How long the switch may take to write the records of calls that just ended.
const RECORDS_WITHIN: Duration = Duration::from_secs(20);

/// A switch whose trunk `carrier-a` (gateway 127.0.0.1:`gateway`) owns calls from 127.0.0.1
/// and maps [`SALES_DID`] to context `sales`.
fn inbound_switch(gateway: u16) -> TrunkSwitch {
    TrunkSwitch::start(
        &[Trunk::new("carrier-a", gateway)
            .inbound_from_loopback()
            .key(&format!("dids = {{ \"{SALES_DID}\" = \"sales\" }}"))],
        &priority(&["carrier-a"]),
        "",
    )
}

/// A SIPp carrier calling `number` at the switch's trunks profile with `scenario`.
fn carrier_call(sw: &TrunkSwitch, scenario: &str, number: &str) -> SippPeer {
    SippPeer::uac(scenario, sw.carriers)
        .key("caller", CARRIER_CALLER)
        .service(number)
}

#[test]
fn carrier_call_to_a_did_rings_the_extension_its_context_names() {
    let [gateway] = ports();
    let sw = inbound_switch(gateway);
    let media = RtpPeer::listen();
    let callee_port = Cell::new(0);
    let callee = registered_callee_with(
        &sw.switch,
        |port| {
            callee_port.set(port);
            SippPeer::uas("call_uas", port)
        },
        &media,
        1,
    );
    let uac = carrier_call(&sw, "carrier_inbound_call", SALES_DID)
        .pause(Duration::from_millis(500))
        .run();
    uac.assert_success("the carrier's call is answered");
    let uas = callee.wait();
    uas.assert_success("extension 1001 rang and answered");
    let offered = received_requests(&uas.messages, "INVITE");
    assert_eq!(offered.len(), 1, "1001 got one INVITE");

    let records = cdr::wait_for(&sw.database(), 1, RECORDS_WITHIN);
    let call = &records.calls[0];
    assert_eq!(call.sip_status, 200, "{call:#?}");
    let tries = attempts(&sw.database());
    let tries = &tries[&call.call_id];
    assert!(
        tries.len() == 1 && tries[0].went_to(callee_port.get()),
        "the one attempt went to 1001's phone: {tries:#?}"
    );
}

#[test]
fn call_from_an_address_no_trunk_claims_gets_a_bare_403() {
    let [gateway] = ports();
    let sw = inbound_switch(gateway);
    // 127.0.0.2 is outside the trunk's inbound 127.0.0.1/32.
    let uac = carrier_call(&sw, "carrier_inbound_403", SALES_DID)
        .args(&["-i", "127.0.0.2"])
        .run();
    uac.assert_success("the stranger's INVITE is refused with 403");
    let refusal = traced(&uac.messages)
        .into_iter()
        .find(|m| m.received && m.first_line.starts_with("SIP/2.0 403"))
        .expect("the 403 in the trace");
    for header in ["server:", "user-agent:", "warning:", "contact:"] {
        assert!(
            !refusal
                .text
                .lines()
                .any(|l| l.trim_start().to_ascii_lowercase().starts_with(header)),
            "the 403 to an unknown source reveals nothing (no {header}):\n{}",
            refusal.text
        );
    }
}

#[test]
fn carrier_call_routed_back_to_a_trunk_is_refused_unless_its_rule_allows_it() {
    let [gateway] = ports();
    let upstream = carrier("carrier_answer", gateway, 1);
    let sw = inbound_switch(gateway);

    let refused = carrier_call(&sw, "carrier_inbound_403", TRANSIT_REFUSED).run();
    refused.assert_success("trunk to trunk without allow_trunk_origin gets 403");
    assert!(
        received_requests(&upstream.messages_so_far(), "INVITE").is_empty(),
        "the refused call reached no carrier"
    );

    let allowed = carrier_call(&sw, "carrier_inbound_call", TRANSIT_ALLOWED)
        .pause(Duration::from_millis(300))
        .run();
    allowed.assert_success("trunk to trunk with allow_trunk_origin goes out");
    let out = upstream.wait();
    out.assert_success("the carrier took the transit call");
    let invites = received_requests(&out.messages, "INVITE");
    assert!(
        invites.len() == 1 && invites[0].first_line.contains(TRANSIT_ALLOWED),
        "the allowed number went out: {invites:#?}"
    );
}

#[test]
fn switch_registers_with_the_carrier_answering_its_challenge_and_refreshes() {
    let [registrar_port] = ports();
    let registrar = SippPeer::uas("carrier_registrar", registrar_port)
        .key("realm", "carrier.test")
        .key("user", "acct")
        .key("password", "secret")
        .timeout(Duration::from_secs(25))
        .spawn();
    wait_bound(registrar_port);
    let _sw = TrunkSwitch::start(
        &[Trunk::new("carrier-reg", registrar_port)
            .table(
                "[trunk.auth]\nusername = \"acct\"\npassword = \"secret\"\n\
                 realm = \"carrier.test\"",
            )
            .table("[trunk.register]\nexpires_secs = 60\nretry_secs = 2")],
        &priority(&["carrier-reg"]),
        "",
    );
    // The scenario checks each Authorization against acct/secret, and fails unless the
    // refresh comes within the 5 s it granted.
    let out = registrar.wait();
    out.assert_success("registration with digest, then a refresh within the expiry");
    let registers = all_received_requests(&out.messages, "REGISTER");
    assert!(
        registers.len() >= 4 && registers.iter().all(|r| r.call_id == registers[0].call_id),
        "register, authorized register, refresh, authorized refresh, on one Call-ID: \
         {registers:#?}"
    );
    let authorized = registers
        .iter()
        .filter(|r| r.text.contains("username=\"acct\""))
        .count();
    assert!(authorized >= 2, "both 401s were answered: {registers:#?}");
}
