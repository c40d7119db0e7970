//! Tests of the driver over real sockets on 127.0.0.1: the test switch, its stub registrar and
//! stub calls, and helpers to talk to it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admission;
mod calls;
mod requests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sip_core::message::{HeaderName, Message, Response, StatusCode};
use sip_core::transaction::TimerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::auth_guard::AuthGuard;
use super::driver::{DriverStats, ResponseFuture};
use super::driver_ingress::{Ingress, ListenerProfile};
use super::reply::{Responder, SERVER};
use super::{
    CallMessage, CallTable, DriverSettings, InviteHandler, ListenerBinding, NewInvite,
    ProfileService, RegisterHandler, SipDriver, SourceAdmission,
};
use crate::config::parse_sources;
use crate::transport::{InboundHandler, ListenerSpec, Network, Peer, Transport, TransportSettings};

/// The profile the test driver authenticates against: user 1000, MD5 only, no bans.
const PROFILE: &str = r#"
[profile]
name = "t"
domain = "127.0.0.1"
listen = ["udp:127.0.0.1:5060"]

[auth]
realm = "127.0.0.1"
algorithms = ["MD5"]
nonce_key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

[ban]
ban_secs = 0

[[users]]
name = "1000"
password = "pw-1000"
"#;

fn guard() -> Arc<AuthGuard> {
    let config = parse_sources([("sip-profiles/t.toml", PROFILE)]).unwrap();
    Arc::new(AuthGuard::new(&config.profiles()[0], &[7; 32]).unwrap())
}

/// Answers every REGISTER with 200 after `delay`.
struct StubRegistrar {
    delay: Duration,
}

impl RegisterHandler for StubRegistrar {
    fn handle(self: Arc<Self>, request: sip_core::message::Request, _peer: Peer) -> ResponseFuture {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            Response::for_request(&request, StatusCode::OK)
        })
    }
}

/// Takes every INVITE: routes its Call-ID to `mailbox` and passes it on to the test.
struct StubCalls {
    calls: Arc<CallTable>,
    mailbox: mpsc::Sender<Box<CallMessage>>,
    taken: mpsc::Sender<NewInvite>,
}

impl InviteHandler for StubCalls {
    fn handle_invite(&self, invite: NewInvite) {
        let call_id = invite.transaction.request().headers().call_id().unwrap();
        assert!(self.calls.insert(call_id, self.mailbox.clone()));
        self.taken.try_send(invite).unwrap();
    }
}

/// What a test sees of the calls: the INVITEs handed over and the messages routed to them.
struct Calls {
    table: Arc<CallTable>,
    taken: mpsc::Receiver<NewInvite>,
    mailbox: mpsc::Receiver<Box<CallMessage>>,
}

struct Switch {
    network: Network,
    driver: Option<SipDriver>,
    udp: SocketAddr,
    tcp: SocketAddr,
}

impl Switch {
    fn start(settings: DriverSettings, register_delay: Duration) -> Switch {
        Switch::start_with(settings, register_delay, TimerConfig::default())
    }

    fn start_with(
        settings: DriverSettings,
        register_delay: Duration,
        timers: TimerConfig,
    ) -> Switch {
        Switch::build(
            settings,
            register_delay,
            timers,
            Arc::new(CallTable::new()),
            None,
            None,
        )
    }

    /// A switch whose profile takes calls, with a stub in place of the switchboard.
    fn with_calls(timers: TimerConfig) -> (Switch, Calls) {
        Switch::with_calls_admitting(timers, None)
    }

    /// A switch whose profile takes calls and, with `admission`, carrier traffic.
    fn with_calls_admitting(
        timers: TimerConfig,
        admission: Option<Arc<dyn SourceAdmission>>,
    ) -> (Switch, Calls) {
        let table = Arc::new(CallTable::new());
        let (mailbox_tx, mailbox) = mpsc::channel(16);
        let (taken_tx, taken) = mpsc::channel(16);
        let stub = StubCalls {
            calls: Arc::clone(&table),
            mailbox: mailbox_tx,
            taken: taken_tx,
        };
        let switch = Switch::build(
            settings(),
            Duration::ZERO,
            timers,
            Arc::clone(&table),
            Some(Arc::new(stub)),
            admission,
        );
        let calls = Calls {
            table,
            taken,
            mailbox,
        };
        (switch, calls)
    }

    fn build(
        settings: DriverSettings,
        register_delay: Duration,
        timers: TimerConfig,
        calls: Arc<CallTable>,
        invite: Option<Arc<dyn InviteHandler>>,
        admission: Option<Arc<dyn SourceAdmission>>,
    ) -> Switch {
        let specs = [
            ListenerSpec {
                kind: Transport::Udp,
                addr: "127.0.0.1:0".parse().unwrap(),
                max_message_size: 4096,
            },
            ListenerSpec {
                kind: Transport::Tcp,
                addr: "127.0.0.1:0".parse().unwrap(),
                max_message_size: 4096,
            },
        ];
        let network = Network::bind(
            &specs,
            TransportSettings::default(),
            CancellationToken::new(),
        )
        .unwrap();
        let bindings: Vec<_> = network
            .listeners()
            .iter()
            .map(|l| ListenerBinding {
                transport: l.kind,
                local: l.local,
                profile: 0,
            })
            .collect();
        let profile = ProfileService {
            name: "test".into(),
            timers,
            retry_after_secs: 5,
            register: Arc::new(StubRegistrar {
                delay: register_delay,
            }),
            auth: guard(),
            invite,
            admission,
        };
        let driver = SipDriver::start(&network, vec![profile], &bindings, settings, calls);
        Switch {
            udp: bindings[0].local,
            tcp: bindings[1].local,
            network,
            driver: Some(driver),
        }
    }

    async fn stop(mut self) {
        if let Some(driver) = self.driver.take() {
            assert!(driver.drain(Duration::from_secs(2)).await);
        }
        self.network.close().await;
    }
}

/// Timers long enough that no retransmission interleaves with a test's exchanges.
fn slow_timers() -> TimerConfig {
    TimerConfig {
        t1: Duration::from_secs(5),
        t2: Duration::from_secs(10),
        t4: Duration::from_secs(5),
    }
}

fn settings() -> DriverSettings {
    DriverSettings {
        shards: 2,
        shard_queue: 64,
        tasks_per_shard: 16,
    }
}

fn request(method: &str, uri: &str, transport: &str, via_host: &str, call_id: &str) -> String {
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {via_host};rport;branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@127.0.0.1>;tag=from-{call_id}\r\n\
         To: <sip:1000@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn options(transport: &str, via_host: &str, call_id: &str) -> String {
    request("OPTIONS", "sip:127.0.0.1", transport, via_host, call_id)
}

fn parse_response(bytes: &[u8]) -> Response {
    match Message::parse(Bytes::copy_from_slice(bytes)).unwrap() {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

async fn udp_exchange(client: &UdpSocket, to: SocketAddr, text: &str) -> Response {
    client.send_to(text.as_bytes(), to).await.unwrap();
    udp_receive(client).await
}

async fn udp_receive(client: &UdpSocket) -> Response {
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("no response within 5 s")
        .unwrap();
    parse_response(&buf[..n])
}

/// Reads one response off a TCP stream (Content-Length 0 responses only).
async fn tcp_receive(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Response {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let message: Vec<u8> = pending.drain(..end + 4).collect();
            return parse_response(&message);
        }
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("no response within 5 s")
            .unwrap();
        assert!(n > 0, "connection closed");
        pending.extend_from_slice(&buf[..n]);
    }
}

fn header(response: &Response, name: HeaderName) -> &str {
    response.headers().get(name).unwrap().to_str().unwrap()
}
