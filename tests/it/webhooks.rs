//! Webhooks end to end: the real switch POSTs the events of SIPp calls to a local receiver
//! that checks every signature and timestamp. Retries after the receiver's failures, order per
//! call, the outbox surviving a restart while the receiver is down (and the hangups of calls
//! cut by the shutdown), and dead letters listed and retried through the API.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::call_peers::{CALLEE, call_profile, caller, registered_callee_with};
use crate::harness::{Profile, Switch, token};
use crate::http;
use crate::rtp_peer::RtpPeer;
use crate::sipp_peer::SippPeer;
use crate::webhook_receiver::{DELIVERED_WITHIN, Post, Receiver, SECRET};

/// The `[webhooks]` section sending everything to `url`.
fn webhooks_toml(url: &str, max_attempts: u32) -> String {
    format!(
        "[webhooks]\nmax_attempts = {max_attempts}\ninitial_backoff_ms = 50\n\
         max_backoff_ms = 200\ntimeout_ms = 2000\n\
         [[webhooks.target]]\nname = \"crm\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n"
    )
}

fn start_switch(url: &str, max_attempts: u32) -> Switch {
    start_switch_with(&Profile::default(), url, max_attempts)
}

fn start_switch_with(profile: &Profile, url: &str, max_attempts: u32) -> Switch {
    Switch::start_with_config_api(
        |port| vec![("sip-profiles/it.toml".to_owned(), profile.to_toml(port))],
        &webhooks_toml(url, max_attempts),
    )
}

/// A free TCP port on 127.0.0.1 nobody listens on (connections to it are refused).
fn refused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A call to an extension nobody has: `call.created`, then `call.hungup`.
fn unanswered_call(switch: &Switch) {
    caller("call_uac_404", switch.addr(), "7777")
        .run()
        .assert_success("call to an unknown extension");
}

/// Checks that each call's events were accepted created-then-hungup and that no event of a
/// call was sent before the one ahead of it was accepted; returns the call ids.
fn assert_in_order_per_call(posts: &[Post], accepted: &[Post]) -> BTreeSet<String> {
    let mut calls: BTreeMap<String, Vec<&Post>> = BTreeMap::new();
    for post in accepted {
        let call = post.event["call_id"]
            .as_str()
            .expect("call event")
            .to_owned();
        calls.entry(call).or_default().push(post);
    }
    for (call, events) in &calls {
        let types: Vec<&str> = events
            .iter()
            .map(|p| p.event["type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(types, ["call.created", "call.hungup"], "call {call}");
        // The hungup's first attempt comes after the created was accepted.
        let position = |pred: &dyn Fn(&Post) -> bool| posts.iter().position(pred).unwrap();
        let created_ok = position(&|p: &Post| p.delivery == events[0].delivery && p.status == 200);
        let hungup_first = position(&|p: &Post| p.delivery == events[1].delivery);
        assert!(
            created_ok < hungup_first,
            "call {call}: call.hungup was sent before call.created was delivered: {posts:#?}"
        );
        assert!(
            events[0].event["seq"].as_u64() < events[1].event["seq"].as_u64(),
            "sequence numbers ascend: {events:#?}"
        );
    }
    calls.into_keys().collect()
}

/// Polls `GET /api/v1/webhooks/deliveries?<query>` until `done` holds for its items.
fn wait_for_deliveries(
    switch: &Switch,
    query: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + DELIVERED_WITHIN;
    loop {
        let answer = http::get(
            switch.api_addr(),
            &format!("/api/v1/webhooks/deliveries?{query}"),
            Some(token("readonly")),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        let items = answer.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if done(&items) {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries?{query} not as expected within {DELIVERED_WITHIN:?}: {items:#?}\nlog:\n{}",
            switch.log()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn call_events_arrive_signed_in_order_per_call_after_the_receivers_failures() {
    let receiver = Receiver::start(2);
    let switch = start_switch(&receiver.url(), 10);

    unanswered_call(&switch);
    unanswered_call(&switch);

    let accepted = receiver.wait_accepted(4, &switch);
    let posts = receiver.posts();
    let calls = assert_in_order_per_call(&posts, &accepted);
    assert_eq!(calls.len(), 2, "two calls: {accepted:#?}");
    for post in &accepted {
        let attempts = posts.iter().filter(|p| p.delivery == post.delivery).count();
        assert_eq!(
            attempts, 3,
            "delivery {} accepted at the third attempt, after two 500s: {posts:#?}",
            post.delivery
        );
    }
    let delivered = wait_for_deliveries(&switch, "state=delivered", |items| items.len() == 4);
    for item in &delivered {
        assert_eq!(item["attempts"], 3, "{item}");
        assert_eq!(item["last_status"], 200, "{item}");
        assert_eq!(item["target"], "crm");
        assert!(
            calls.contains(item["call_id"].as_str().unwrap_or("")),
            "{item}"
        );
    }
}

#[test]
fn pending_events_survive_a_restart_and_arrive_in_order_once_the_receiver_is_up() {
    // Connections are refused until the receiver starts on this port.
    let port = refused_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let switch = start_switch(&url, 1000);

    unanswered_call(&switch);
    unanswered_call(&switch);
    // Each call's call.created is tried (and refused); its call.hungup waits behind it.
    let pending = wait_for_deliveries(&switch, "state=pending", |items| {
        items.len() == 4
            && items
                .iter()
                .filter(|i| i["attempts"].as_u64() >= Some(1))
                .count()
                == 2
    });
    for item in &pending {
        let tried = item["event_type"] == "call.created";
        assert_eq!(item["attempts"].as_u64() >= Some(1), tried, "{pending:#?}");
        assert!(
            item["last_status"].is_null(),
            "refused, no HTTP status: {item}"
        );
        assert_eq!(item["last_error"].is_string(), tried, "{item}");
    }
    let (dir, sip_port, api_port) = switch.stop_keeping_dir();

    let receiver = Receiver::on(
        TcpListener::bind(("127.0.0.1", port)).expect("receiver on the target's port"),
        0,
    );
    let switch = Switch::restart_in(dir, sip_port, api_port);

    let accepted = receiver.wait_accepted(4, &switch);
    let ids: BTreeSet<i64> = accepted.iter().map(|p| p.delivery).collect();
    let pending_ids: BTreeSet<i64> = pending.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(
        ids, pending_ids,
        "the rows pending before the restart, each delivered"
    );
    assert_eq!(
        assert_in_order_per_call(&receiver.posts(), &accepted).len(),
        2
    );
    wait_for_deliveries(&switch, "state=pending", <[Value]>::is_empty);
}

#[test]
fn dead_letters_are_listed_and_an_admin_retry_delivers_them() {
    let receiver = Receiver::start(0);
    receiver.set_failing(true);
    let switch = start_switch(&receiver.url(), 2);

    unanswered_call(&switch);
    let dead = wait_for_deliveries(&switch, "state=dead", |items| items.len() == 2);
    for item in &dead {
        assert_eq!(item["attempts"], 2, "{item}");
        assert_eq!(item["last_status"], 500, "{item}");
        assert_eq!(item["last_error"], "HTTP 500", "{item}");
    }
    // Newest first: the call.created row is the second.
    assert_eq!(dead[1]["event_type"], "call.created");
    let created = dead[1]["id"].as_i64().unwrap();
    let path = format!("/api/v1/webhooks/deliveries/{created}/retry");
    let api = switch.api_addr();

    assert_eq!(http::post(api, &path, None, "").status, 401);
    for role in ["readonly", "agent", "supervisor"] {
        let answer = http::post(api, &path, Some(token(role)), "");
        assert_eq!(answer.status, 403, "{role}: {}", answer.body);
    }
    receiver.set_failing(false);
    let retried = http::post(api, &path, Some(token("admin")), "");
    assert_eq!(retried.status, 202, "{}", retried.body);
    assert_eq!(retried.json()["state"], "pending");
    assert_eq!(retried.json()["attempts"], 0);
    let again = http::post(api, &path, Some(token("admin")), "");
    assert_eq!(
        (again.status, again.json()["code"].as_str()),
        (409, Some("not_dead"))
    );
    let unknown = http::post(
        api,
        "/api/v1/webhooks/deliveries/999999/retry",
        Some(token("admin")),
        "",
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let malformed = http::post(
        api,
        "/api/v1/webhooks/deliveries/abc/retry",
        Some(token("admin")),
        "",
    );
    assert_eq!(malformed.status, 400, "{}", malformed.body);

    let accepted = receiver.wait_accepted(1, &switch);
    assert_eq!(accepted[0].delivery, created);
    assert_eq!(accepted[0].event["type"], "call.created");
    wait_for_deliveries(&switch, "state=delivered", |items| {
        items.len() == 1 && items[0]["id"] == created
    });
    assert_eq!(
        wait_for_deliveries(&switch, "state=dead", |items| items.len() == 1)[0]["event_type"],
        "call.hungup"
    );
}

#[test]
fn a_bad_deliveries_query_is_refused_with_400_naming_it() {
    let receiver = Receiver::start(0);
    let switch = start_switch(&receiver.url(), 2);
    let api = switch.api_addr();
    let get = |path: &str, role: Option<&str>| http::get(api, path, role.map(token));

    assert_eq!(get("/api/v1/webhooks/deliveries", None).status, 401);
    for query in ["state=lost", "colour=red", "limit=0", "cursor=zz"] {
        let answer = get(
            &format!("/api/v1/webhooks/deliveries?{query}"),
            Some("readonly"),
        );
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        assert_eq!(answer.json()["code"], "invalid_query", "{query}");
    }
    let empty = get(
        "/api/v1/webhooks/deliveries?state=dead&target=crm&limit=5",
        Some("readonly"),
    );
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(
        empty.json(),
        serde_json::json!({"items": [], "next_cursor": null})
    );
}

#[test]
fn the_hangup_of_a_call_cut_by_shutdown_is_delivered_after_the_restart() {
    let port = refused_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let switch = start_switch_with(&call_profile(), &url, 1000);
    let media = RtpPeer::listen();
    let callee = registered_callee_with(
        &switch,
        |port| SippPeer::uas("call_uas", port).timeout(Duration::from_secs(60)),
        &media,
        1,
    );
    let uac = caller("call_uac_wait_bye", switch.addr(), &CALLEE.to_string())
        .args(&["-recv_timeout", "40000"])
        .timeout(Duration::from_secs(60))
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while uac.established_calls() < 1 {
        assert!(
            Instant::now() < deadline,
            "the call was not established within 30 s"
        );
        thread::sleep(Duration::from_millis(50));
    }

    // SIGTERM: the switch hangs the call up, and its call.hungup goes to the outbox before
    // the database closes.
    let (dir, sip_port, api_port) = switch.stop_keeping_dir();
    uac.wait()
        .assert_success("the caller gets the BYE at shutdown");
    let receiver = Receiver::on(
        TcpListener::bind(("127.0.0.1", port)).expect("receiver on the target's port"),
        0,
    );
    let switch = Switch::restart_in(dir, sip_port, api_port);

    let deadline = Instant::now() + DELIVERED_WITHIN;
    let accepted = loop {
        let accepted = receiver.accepted();
        if accepted.iter().any(|p| p.event["type"] == "call.hungup") {
            break accepted;
        }
        assert!(
            Instant::now() < deadline,
            "no call.hungup delivered within {DELIVERED_WITHIN:?}: {accepted:#?}\nlog:\n{}",
            switch.log()
        );
        thread::sleep(Duration::from_millis(50));
    };
    // The call's events (the callee's registration has its own, ordered apart).
    let accepted: Vec<Post> = accepted
        .into_iter()
        .filter(|p| p.event["call_id"].is_string())
        .collect();
    let types: Vec<&str> = accepted
        .iter()
        .map(|p| p.event["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(types.first(), Some(&"call.created"), "{accepted:#?}");
    assert!(types.contains(&"call.answered"), "{accepted:#?}");
    assert_eq!(types.last(), Some(&"call.hungup"), "{accepted:#?}");
    let hungup = &accepted[accepted.len() - 1].event;
    assert_eq!(hungup["data"]["cause"], "system_shutdown", "{hungup}");
    let seqs: Vec<u64> = accepted
        .iter()
        .filter_map(|p| p.event["seq"].as_u64())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in order: {accepted:#?}"
    );
    drop(callee);
}
