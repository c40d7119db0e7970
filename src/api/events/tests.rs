#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message, protocol::frame::coding::CloseCode};
use tokio_util::sync::CancellationToken;

use super::filter_of;
use super::session::{End, Limits, run};
use crate::telemetry::events::{BusSettings, EventBus, EventFilter, EventType};

/// How long a test waits for anything the server should do at once.
const PROMPTLY: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Rig {
    bus: EventBus,
    shutdown: CancellationToken,
    ends: tokio::sync::mpsc::Sender<End>,
}

#[derive(serde::Deserialize)]
struct Params {
    since: Option<u64>,
    types: Option<String>,
}

async fn stream(
    State(rig): State<Rig>,
    Query(params): Query<Params>,
    upgrade: WebSocketUpgrade,
) -> axum::response::Response {
    let filter = filter_of(params.types.as_deref()).unwrap();
    let subscription = rig.bus.subscribe(params.since);
    let limits = Limits::for_buffer(rig.bus.settings().subscriber_buffer);
    upgrade.on_upgrade(move |socket| async move {
        let end = run(socket, subscription, filter, limits, rig.shutdown.clone()).await;
        let _ = rig.ends.send(end).await;
    })
}

/// An event server on 127.0.0.1:0 over a bus of `replay` and `buffer`; the receiver gets how
/// each stream ended.
async fn server(
    replay: usize,
    buffer: usize,
) -> (SocketAddr, Rig, tokio::sync::mpsc::Receiver<End>) {
    let (ends, ended) = tokio::sync::mpsc::channel(8);
    let rig = Rig {
        bus: EventBus::new(BusSettings {
            replay,
            subscriber_buffer: buffer,
        }),
        shutdown: CancellationToken::new(),
        ends,
    };
    let app = Router::new()
        .route("/events", get(stream))
        .with_state(rig.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rig, ended)
}

/// A blocking WebSocket client (run inside `spawn_blocking`).
struct Client {
    ws: tungstenite::WebSocket<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr, query: &str) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        let (ws, _) = tungstenite::client::client(format!("ws://{addr}/events{query}"), stream)
            .expect("WebSocket handshake");
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Client { ws }
    }

    /// The next data or close frame (pings are answered by tungstenite as it reads).
    fn next(&mut self) -> Message {
        let deadline = Instant::now() + PROMPTLY;
        loop {
            match self.ws.read() {
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(message) => return message,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("WebSocket read failed: {e}"),
            }
            assert!(Instant::now() < deadline, "no frame within {PROMPTLY:?}");
        }
    }

    fn next_json(&mut self) -> Value {
        match self.next() {
            Message::Text(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    fn seqs(&mut self, count: usize) -> Vec<u64> {
        (0..count)
            .map(|_| self.next_json()["seq"].as_u64().unwrap())
            .collect()
    }
}

fn publish(bus: &EventBus, kind: EventType, n: usize) {
    for _ in 0..n {
        bus.publish(kind, None, json!({}));
    }
}

/// Waits (bounded) until the bus has `count` live subscribers.
async fn subscribers(bus: &EventBus, count: usize) {
    let deadline = Instant::now() + PROMPTLY;
    while bus.subscribers() != count {
        assert!(Instant::now() < deadline, "{count} subscriber(s) expected");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_names_the_newest_number_and_live_events_follow_in_order() {
    let (addr, rig, _) = server(100, 64).await;
    publish(&rig.bus, EventType::CallCreated, 3);
    let bus = rig.bus.clone();
    blocking(move || {
        let mut client = Client::connect(addr, "");
        assert_eq!(
            client.next_json(),
            json!({"type": "stream.hello", "last_seq": 3})
        );
        publish(&bus, EventType::CallAnswered, 2);
        let first = client.next_json();
        assert_eq!(first["seq"], 4);
        assert_eq!(first["type"], "call.answered");
        assert!(first["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(client.seqs(1), [5]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_replays_exactly_the_events_after_since() {
    let (addr, rig, _) = server(100, 64).await;
    publish(&rig.bus, EventType::CallCreated, 6);
    let bus = rig.bus.clone();
    blocking(move || {
        let mut client = Client::connect(addr, "?since=4");
        assert_eq!(client.next_json()["type"], "stream.hello");
        assert_eq!(client.seqs(2), [5, 6]);
        publish(&bus, EventType::CallHungup, 1);
        assert_eq!(client.seqs(1), [7]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_older_than_the_window_gets_a_gap_notice_then_the_kept_backlog() {
    let (addr, rig, _) = server(3, 64).await;
    publish(&rig.bus, EventType::CallCreated, 8);
    blocking(move || {
        let mut client = Client::connect(addr, "?since=2");
        assert_eq!(
            client.next_json(),
            json!({"type": "stream.hello", "last_seq": 8})
        );
        assert_eq!(
            client.next_json(),
            json!({"type": "stream.gap", "since": 2, "oldest": 6})
        );
        assert_eq!(client.seqs(3), [6, 7, 8]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_out_events_are_skipped_and_numbers_keep_their_place() {
    let (addr, rig, _) = server(100, 64).await;
    let bus = rig.bus.clone();
    blocking(move || {
        let mut client = Client::connect(addr, "?types=call.hungup,registration.*");
        assert_eq!(client.next_json()["last_seq"], 0);
        publish(&bus, EventType::CallCreated, 1);
        publish(&bus, EventType::CallHungup, 1);
        publish(&bus, EventType::CallAnswered, 1);
        publish(&bus, EventType::RegistrationRemoved, 1);
        let hungup = client.next_json();
        assert_eq!(
            (hungup["seq"].as_u64(), hungup["type"].as_str()),
            (Some(2), Some("call.hungup"))
        );
        let removed = client.next_json();
        assert_eq!(
            (removed["seq"].as_u64(), removed["type"].as_str()),
            (Some(4), Some("registration.removed"))
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_with_1008_and_where_to_resume() {
    let (addr, rig, mut ended) = server(100, 4).await;
    let mut client = blocking(move || {
        let mut client = Client::connect(addr, "");
        assert_eq!(client.next_json()["type"], "stream.hello");
        client
    })
    .await;
    // The client reads nothing more, so it answers no ping: at most two events go out (half
    // the buffer), two more may wait, and one more is too many.
    publish(&rig.bus, EventType::CallCreated, 5);
    // The subscription goes as soon as the switch decides to cut the client off; the close
    // handshake (which waits for the client's Close) follows.
    subscribers(&rig.bus, 0).await;
    // Publishing went on regardless.
    publish(&rig.bus, EventType::CallCreated, 1);
    assert_eq!(rig.bus.last_seq(), 6);
    blocking(move || {
        // What was written before the cut arrives, then the close frame naming the last of it.
        let mut last = 0;
        loop {
            match client.next() {
                Message::Text(text) => {
                    let event: Value = serde_json::from_str(&text).unwrap();
                    let seq = event["seq"].as_u64().unwrap();
                    assert_eq!(seq, last + 1, "in order, none skipped");
                    last = seq;
                }
                Message::Close(Some(frame)) => {
                    assert_eq!(frame.code, CloseCode::Policy);
                    assert_eq!(
                        frame.reason.as_str(),
                        format!("too slow: fell behind; resume with since={last}")
                    );
                    break;
                }
                other => panic!("expected an event or a close frame, got {other:?}"),
            }
        }
        assert!(
            last <= 2,
            "no more than half the buffer unconfirmed: {last}"
        );
    })
    .await;
    assert_eq!(
        tokio::time::timeout(PROMPTLY, ended.recv()).await.unwrap(),
        Some(End::TooSlow)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_keeps_up_with_far_more_events_than_its_buffer() {
    let (addr, rig, _) = server(1000, 4).await;
    let bus = rig.bus.clone();
    blocking(move || {
        let mut client = Client::connect(addr, "");
        assert_eq!(client.next_json()["type"], "stream.hello");
        for round in 0..50u64 {
            publish(&bus, EventType::RegistrationAdded, 2);
            assert_eq!(client.seqs(2), [round * 2 + 1, round * 2 + 2]);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_from_the_client_is_answered() {
    let (addr, _rig, _) = server(10, 8).await;
    blocking(move || {
        let mut client = Client::connect(addr, "");
        assert_eq!(client.next_json()["type"], "stream.hello");
        client
            .ws
            .send(Message::Ping(b"are you there".to_vec().into()))
            .unwrap();
        let deadline = Instant::now() + PROMPTLY;
        loop {
            match client.ws.read() {
                Ok(Message::Pong(payload)) => {
                    assert_eq!(&payload[..], b"are you there");
                    break;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(_)) => {}
                Err(e) => panic!("{e}"),
            }
            assert!(Instant::now() < deadline, "no pong");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_close_ends_the_stream() {
    let (addr, rig, mut ended) = server(10, 8).await;
    blocking(move || {
        let mut client = Client::connect(addr, "");
        assert_eq!(client.next_json()["type"], "stream.hello");
        client.ws.close(None).unwrap();
        // The server answers the close handshake.
        assert!(matches!(client.next(), Message::Close(_)));
    })
    .await;
    assert_eq!(
        tokio::time::timeout(PROMPTLY, ended.recv()).await.unwrap(),
        Some(End::ClientClosed)
    );
    subscribers(&rig.bus, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_stream_with_1001() {
    let (addr, rig, mut ended) = server(10, 8).await;
    let mut client = blocking(move || {
        let mut client = Client::connect(addr, "");
        assert_eq!(client.next_json()["type"], "stream.hello");
        client
    })
    .await;
    rig.shutdown.cancel();
    blocking(move || match client.next() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame, got {other:?}"),
    })
    .await;
    assert_eq!(
        tokio::time::timeout(PROMPTLY, ended.recv()).await.unwrap(),
        Some(End::Shutdown)
    );
}

#[test]
fn the_types_parameter_is_refused_naming_an_unknown_type() {
    let error = filter_of(Some("call.answered,call.teleported")).unwrap_err();
    assert_eq!(error.code, "invalid_query");
    assert!(
        error.message.contains("call.teleported"),
        "{}",
        error.message
    );
    assert_eq!(filter_of(None).unwrap(), EventFilter::all());
    assert!(
        filter_of(Some("call.*"))
            .unwrap()
            .matches(EventType::CallHeld)
    );
}

#[test]
fn the_buffer_is_split_between_unconfirmed_and_queued_events() {
    assert_eq!(
        Limits::for_buffer(1024),
        Limits {
            window: 512,
            queue: 512
        }
    );
    assert_eq!(
        Limits::for_buffer(1),
        Limits {
            window: 1,
            queue: 0
        }
    );
    assert_eq!(
        Limits::for_buffer(5),
        Limits {
            window: 2,
            queue: 3
        }
    );
}
