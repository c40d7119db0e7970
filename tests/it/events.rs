//! The live event WebSocket of the real switch: a call's lifecycle in order, resume after a
//! disconnect, the gap notice, a slow subscriber cut off while the switch goes on, the type
//! filter, and the refusals answered before the upgrade.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::http::Request;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::call_peers::{CALLEE, call_profile, caller, registered_callee};
use crate::harness::{Profile, Switch, password_of, token};
use crate::http;
use crate::phone::Phone;
use crate::rtp_peer::RtpPeer;

/// How long anything the switch does at once may take to show on the stream.
const PROMPTLY: Duration = Duration::from_secs(15);

/// How long a client waits to be sure nothing more comes.
const QUIET: Duration = Duration::from_millis(300);

/// A blocking WebSocket client of `/api/v1/events`.
struct Events {
    ws: tungstenite::WebSocket<TcpStream>,
}

impl Events {
    /// Connects with the readonly token in the `Authorization` header; `query` is appended to
    /// the path (`?since=3`).
    fn connect(switch: &Switch, query: &str) -> Events {
        Events::connect_with(switch.api_addr(), query, Some(token("readonly")))
            .unwrap_or_else(|e| panic!("event stream handshake: {e}"))
    }

    fn connect_with(
        addr: SocketAddr,
        query: &str,
        bearer: Option<&str>,
    ) -> Result<Events, tungstenite::Error> {
        let mut request = Request::get(format!("ws://{addr}/api/v1/events{query}"))
            .header("Host", addr.to_string())
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", generate_key());
        if let Some(bearer) = bearer {
            request = request.header("Authorization", format!("Bearer {bearer}"));
        }
        let stream = TcpStream::connect(addr).expect("connect to the API");
        stream.set_read_timeout(Some(PROMPTLY)).expect("timeout");
        let (ws, _) = tungstenite::client::client(request.body(()).unwrap(), stream).map_err(
            |e| match e {
                tungstenite::HandshakeError::Failure(e) => e,
                tungstenite::HandshakeError::Interrupted(_) => {
                    panic!("handshake interrupted")
                }
            },
        )?;
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        Ok(Events { ws })
    }

    /// The next text or close frame within `within`; None when none came. Pings are
    /// answered as the client reads (that is how the switch sees it keeps up).
    fn next_within(&mut self, within: Duration) -> Option<Message> {
        let deadline = Instant::now() + within;
        loop {
            match self.ws.read() {
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(message) => return Some(message),
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("event stream read failed: {e}"),
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }

    /// The next frame as JSON (panics on anything else).
    fn next_json(&mut self) -> Value {
        match self.next_within(PROMPTLY) {
            Some(Message::Text(text)) => serde_json::from_str(&text).expect("JSON frame"),
            other => panic!("expected an event frame within {PROMPTLY:?}, got {other:?}"),
        }
    }

    /// The `stream.hello` frame's `last_seq`.
    fn hello(&mut self) -> u64 {
        let hello = self.next_json();
        assert_eq!(hello["type"], "stream.hello", "{hello}");
        hello["last_seq"].as_u64().expect("last_seq")
    }

    /// Events until one of type `last` (included).
    fn until(&mut self, last: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let event = self.next_json();
            let done = event["type"] == last;
            out.push(event);
            if done {
                return out;
            }
        }
    }

    /// Panics if a frame arrives within [`QUIET`].
    fn assert_quiet(&mut self) {
        if let Some(frame) = self.next_within(QUIET) {
            panic!("expected nothing more, got {frame:?}");
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

fn phone(switch: &Switch, user: u32) -> Phone {
    Phone::new(switch, &user.to_string(), &password_of(user))
}

fn contact(user: u32) -> String {
    format!("<sip:{user}@192.0.2.1:5060>")
}

/// REGISTERs `user` (one `registration.added`).
fn register(phone: &mut Phone, user: u32) {
    let ok = phone.register(&[&contact(user)], Some(300));
    assert_eq!(ok.status().as_u16(), 200, "REGISTER of {user}");
}

/// Unregisters `user` (one `registration.removed`).
fn unregister(phone: &mut Phone, user: u32) {
    let ok = phone.register(&[&contact(user)], Some(0));
    assert_eq!(ok.status().as_u16(), 200, "unREGISTER of {user}");
}

#[test]
fn a_call_with_hold_streams_its_whole_lifecycle_in_order() {
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas_hold", &media);
    let mut events = Events::connect(&switch, "?types=call.*");
    events.hello();
    let uac = caller("call_uac_hold", switch.addr(), &CALLEE.to_string()).run();
    let uas = callee.wait();
    uac.assert_success("caller of the held call");
    uas.assert_success("callee of the held call");

    let call = events.until("call.hungup");
    let call_id = call[0]["call_id"].as_str().expect("call id").to_owned();
    assert!(
        call.iter().all(|e| e["call_id"] == call_id.as_str()),
        "one call: {call:#?}"
    );
    assert_eq!(
        types(&call),
        [
            "call.created",
            "call.ringing",
            "call.answered",
            "call.held",
            "call.resumed",
            "call.hungup"
        ],
        "{call:#?}"
    );
    let numbers = seqs(&call);
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    assert_eq!(call[0]["data"]["profile"], "it");
    assert_eq!(call[3]["data"]["side"], "a");
    let hungup = &call[5]["data"];
    assert_eq!(hungup["cause"], "normal_clearing", "{hungup}");
    assert_eq!(hungup["q850"], 16);
    assert_eq!(hungup["answered"], true);
}

#[test]
fn a_client_resumes_after_a_disconnect_with_exactly_the_events_it_missed() {
    let switch = Switch::start();
    let mut desk = phone(&switch, 1000);
    let mut mobile = phone(&switch, 1001);
    let mut events = Events::connect(&switch, "");
    assert_eq!(events.hello(), 0);
    register(&mut desk, 1000);
    let seen = events.next_json();
    assert_eq!(seen["type"], "registration.added");
    assert_eq!(seen["data"]["user"], "1000");
    let last_seen = seen["seq"].as_u64().unwrap();
    drop(events);

    register(&mut mobile, 1001);
    unregister(&mut desk, 1000);

    let mut events = Events::connect(&switch, &format!("?since={last_seen}"));
    assert_eq!(events.hello(), last_seen + 2);
    let missed = [events.next_json(), events.next_json()];
    assert_eq!(seqs(&missed), [last_seen + 1, last_seen + 2]);
    assert_eq!(
        (
            &missed[0]["type"],
            &missed[0]["data"]["user"],
            &missed[1]["type"],
            &missed[1]["data"]["user"],
            &missed[1]["data"]["reason"],
        ),
        (
            &json!("registration.added"),
            &json!("1001"),
            &json!("registration.removed"),
            &json!("1000"),
            &json!("unregistered"),
        )
    );
    events.assert_quiet();
    // Live events follow the replay.
    unregister(&mut mobile, 1001);
    assert_eq!(events.next_json()["seq"], last_seen + 3);
}

#[test]
fn a_resume_older_than_the_replay_window_is_told_of_the_gap() {
    let switch = Switch::start_with_config_api(
        |port| {
            vec![(
                "sip-profiles/it.toml".to_owned(),
                Profile::default().to_toml(port),
            )]
        },
        "[events]\nreplay = 3\n",
    );
    let mut desk = phone(&switch, 1000);
    for _ in 0..3 {
        register(&mut desk, 1000);
        unregister(&mut desk, 1000);
    }
    let mut events = Events::connect(&switch, "?since=1");
    assert_eq!(events.hello(), 6);
    assert_eq!(
        events.next_json(),
        json!({"type": "stream.gap", "since": 1, "oldest": 4})
    );
    let kept = [events.next_json(), events.next_json(), events.next_json()];
    assert_eq!(seqs(&kept), [4, 5, 6]);
    assert_eq!(
        types(&kept),
        [
            "registration.removed",
            "registration.added",
            "registration.removed"
        ]
    );
}

#[test]
fn a_subscriber_that_stops_reading_is_cut_off_while_registrations_go_on() {
    let switch = Switch::start_with_config_api(
        |port| {
            vec![(
                "sip-profiles/it.toml".to_owned(),
                Profile::default().to_toml(port),
            )]
        },
        "[events]\nsubscriber_buffer = 4\n",
    );
    let mut slow = Events::connect(&switch, "");
    slow.hello();
    let mut reader = Events::connect(&switch, "");
    reader.hello();
    // From here the slow client reads nothing (and so answers no ping).
    let mut desk = phone(&switch, 1000);
    let mut received = Vec::new();
    for _ in 0..6 {
        register(&mut desk, 1000);
        unregister(&mut desk, 1000);
        // A client that reads keeps up all along.
        received.push(reader.next_json());
        received.push(reader.next_json());
    }
    assert_eq!(seqs(&received), (1..=12).collect::<Vec<u64>>());
    switch.wait_for_log("event subscriber cut off", 1, PROMPTLY);

    // The slow client gets what was written before the cut, then why it was cut and where to
    // resume.
    let mut last = 0;
    let close = loop {
        match slow.next_within(PROMPTLY) {
            Some(Message::Text(text)) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(event["seq"], last + 1, "in order");
                last += 1;
            }
            Some(Message::Close(frame)) => break frame.expect("a close frame with a reason"),
            other => panic!("expected events then a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Policy);
    assert_eq!(
        close.reason.as_str(),
        format!("too slow: fell behind; resume with since={last}")
    );
    assert!(last < 12, "cut off before it got everything ({last})");

    // Resuming from there gives the rest.
    let mut resumed = Events::connect(&switch, &format!("?since={last}"));
    resumed.hello();
    let rest: Vec<Value> = (last..12).map(|_| resumed.next_json()).collect();
    assert_eq!(seqs(&rest), (last + 1..=12).collect::<Vec<u64>>());
}

#[test]
fn the_type_filter_passes_only_the_types_asked_for_with_the_token_in_the_query() {
    let switch = Switch::start();
    let mut events = Events::connect_with(
        switch.api_addr(),
        &format!(
            "?types=registration.removed&access_token={}",
            token("readonly")
        ),
        None,
    )
    .expect("a browser-style client authenticates with access_token");
    events.hello();
    let mut desk = phone(&switch, 1000);
    register(&mut desk, 1000);
    unregister(&mut desk, 1000);
    let removed = events.next_json();
    assert_eq!(removed["type"], "registration.removed");
    // The added event before it was filtered out; its number stays its own.
    assert_eq!(removed["seq"], 2);
    assert_eq!(removed["data"]["aor"], "1000@switchyard.test");
    events.assert_quiet();
}

#[test]
fn the_stream_refuses_before_the_upgrade_with_json_errors() {
    let switch = Switch::start();
    let addr = switch.api_addr();

    let anonymous = http::get(addr, "/api/v1/events", None);
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["code"], "unauthorized");
    let forged = http::get(addr, "/api/v1/events?access_token=not-a-token", None);
    assert_eq!(forged.status, 401);
    match Events::connect_with(addr, "", None) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        Err(e) => panic!("expected 401, got {e}"),
        Ok(_) => panic!("a WebSocket without a token was accepted"),
    }

    // readonly is the least role: every token may watch.
    for (role, _) in crate::harness::TOKENS {
        let upgrade = http::get(addr, "/api/v1/events", Some(token(role)));
        assert_eq!(upgrade.status, 426, "{role}: {}", upgrade.body);
        assert_eq!(upgrade.json()["code"], "upgrade_required");
    }

    let unknown = http::get(
        addr,
        "/api/v1/events?types=call.answered,call.teleported",
        Some(token("readonly")),
    );
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json()["code"], "invalid_query");
    assert!(
        unknown.json()["message"]
            .as_str()
            .unwrap()
            .contains("call.teleported"),
        "{}",
        unknown.body
    );
    let since = http::get(addr, "/api/v1/events?since=-1", Some(token("readonly")));
    assert_eq!(since.status, 400, "{}", since.body);
    let stray = http::get(addr, "/api/v1/events?colour=blue", Some(token("readonly")));
    assert_eq!(stray.status, 400, "{}", stray.body);
    assert!(stray.body.contains("colour"), "{}", stray.body);
    match Events::connect_with(addr, "?types=sms.*", Some(token("readonly"))) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        Err(e) => panic!("expected 400, got {e}"),
        Ok(_) => panic!("an unknown type was accepted"),
    }
}

#[test]
fn a_registration_that_lapses_is_removed_as_expired_by_the_sweeper() {
    let profile = Profile {
        min_expires: 1,
        default_expires: 2,
        ..Profile::default()
    };
    let switch = Switch::start_with(&profile);
    let mut events = Events::connect(&switch, "?types=registration.*");
    events.hello();
    let mut desk = phone(&switch, 1003);
    let ok = desk.register(&[&contact(1003)], Some(1));
    assert_eq!(ok.status().as_u16(), 200);
    let added = events.next_json();
    assert_eq!(added["type"], "registration.added");
    assert_eq!(added["data"]["expires_secs"], 1);
    // The sweeper runs every 5 s; the REGISTER is not refreshed.
    let removed = events.next_json();
    assert_eq!(removed["type"], "registration.removed");
    assert_eq!(removed["data"]["reason"], "expired");
    assert_eq!(removed["data"]["profile"], "it");
    assert_eq!(removed["data"]["contact"], "sip:1003@192.0.2.1:5060");
}

#[test]
fn shutdown_closes_the_stream_with_1001_and_the_openapi_document_lists_it() {
    let mut switch = Switch::start();
    let doc = http::get(switch.api_addr(), "/api/v1/openapi.json", None).json();
    let get = &doc["paths"]["/api/v1/events"]["get"];
    for status in ["101", "400", "401", "426"] {
        assert!(get["responses"][status].is_object(), "{status} in {get}");
    }
    let mut events = Events::connect(&switch, "");
    events.hello();
    assert!(switch.stop().success());
    match events.next_within(PROMPTLY) {
        Some(Message::Close(Some(frame))) => {
            assert_eq!(frame.code, CloseCode::Away);
            assert_eq!(frame.reason.as_str(), "switch shutting down");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}
