//! Tests of the transport over real sockets on 127.0.0.1: flow reuse, outbound connections,
//! the connection limit, idle close and bind errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;

const MESSAGE: &str = "OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n";

/// Forwards every inbound message to a channel.
struct Collect(Mutex<Option<mpsc::UnboundedSender<(Peer, Bytes)>>>);

impl InboundHandler for Collect {
    fn on_message(&self, peer: Peer, data: Bytes) {
        if let Some(tx) = &*self.0.lock().unwrap() {
            let _ = tx.send((peer, data));
        }
    }
}

fn network(kinds: &[Transport], connections: ConnectionSettings) -> Network {
    let specs: Vec<_> = kinds
        .iter()
        .map(|&kind| ListenerSpec {
            kind,
            addr: "127.0.0.1:0".parse().unwrap(),
            max_message_size: 4096,
        })
        .collect();
    let settings = TransportSettings {
        udp_buffer_bytes: 0,
        connections,
    };
    Network::bind(&specs, settings, CancellationToken::new()).unwrap()
}

fn start(network: &Network) -> mpsc::UnboundedReceiver<(Peer, Bytes)> {
    let (tx, rx) = mpsc::unbounded_channel();
    network.start(Arc::new(Collect(Mutex::new(Some(tx)))));
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<(Peer, Bytes)>) -> (Peer, Bytes) {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("nothing received within 5 s")
        .unwrap()
}

fn local(network: &Network, kind: Transport) -> SocketAddr {
    network
        .listeners()
        .iter()
        .find(|l| l.kind == kind)
        .unwrap()
        .local
}

#[tokio::test]
async fn a_udp_datagram_arrives_with_its_flow_and_the_answer_leaves_from_the_same_socket() {
    let net = network(&[Transport::Udp], ConnectionSettings::default());
    let mut rx = start(&net);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(MESSAGE.as_bytes(), local(&net, Transport::Udp))
        .await
        .unwrap();
    let (peer, data) = next(&mut rx).await;
    assert_eq!(data, MESSAGE.as_bytes());
    assert_eq!(peer.transport, Transport::Udp);
    assert_eq!(peer.remote, client.local_addr().unwrap());
    assert_eq!(peer.local, local(&net, Transport::Udp));

    net.send(&peer, Bytes::from_static(b"answer")).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = client.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"answer");
    assert_eq!(from, local(&net, Transport::Udp));
    net.close().await;
}

#[tokio::test]
async fn an_oversized_udp_datagram_is_dropped() {
    let net = network(&[Transport::Udp], ConnectionSettings::default());
    let mut rx = start(&net);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = local(&net, Transport::Udp);
    client.send_to(&vec![b'x'; 5000], to).await.unwrap();
    client.send_to(MESSAGE.as_bytes(), to).await.unwrap();
    let (_, data) = next(&mut rx).await;
    assert_eq!(data, MESSAGE.as_bytes());
    net.close().await;
}

#[tokio::test]
async fn answers_on_a_tcp_flow_reuse_the_connection_the_request_came_on() {
    let net = network(&[Transport::Tcp], ConnectionSettings::default());
    let mut rx = start(&net);
    let mut client = TcpStream::connect(local(&net, Transport::Tcp))
        .await
        .unwrap();
    client.write_all(MESSAGE.as_bytes()).await.unwrap();
    let (peer, data) = next(&mut rx).await;
    assert_eq!(data, MESSAGE.as_bytes());
    assert_eq!(peer.remote, client.local_addr().unwrap());
    assert!(
        net.send_on_connection(peer.remote, Bytes::from_static(b"one"))
            .unwrap()
    );
    net.send(&peer, Bytes::from_static(b"two")).unwrap();
    let mut buf = [0u8; 6];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"onetwo");
    assert_eq!(net.connection_count(), 1);
    net.close().await;
}

#[tokio::test]
async fn sending_to_a_flow_without_a_connection_opens_one_and_reuses_it() {
    let net = network(&[Transport::Tcp], ConnectionSettings::default());
    let mut rx = start(&net);
    let remote = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = Peer {
        transport: Transport::Tcp,
        remote: remote.local_addr().unwrap(),
        local: local(&net, Transport::Tcp),
    };
    // Two sends before the connection is even up: both queue on the same new connection.
    net.send(&peer, Bytes::from_static(b"first ")).unwrap();
    net.send(&peer, Bytes::from_static(b"second")).unwrap();
    let (mut stream, _) = remote.accept().await.unwrap();
    let mut buf = [0u8; 12];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"first second");
    // What the remote sends back on it arrives as coming from that flow.
    stream.write_all(MESSAGE.as_bytes()).await.unwrap();
    let (from, data) = next(&mut rx).await;
    assert_eq!(from, peer);
    assert_eq!(data, MESSAGE.as_bytes());
    assert_eq!(net.connection_count(), 1);
    net.close().await;
}

/// Forwards what the transport reports undelivered to a channel.
struct Undelivered(mpsc::UnboundedSender<(Peer, Vec<Bytes>)>);

impl InboundHandler for Undelivered {
    fn on_message(&self, _peer: Peer, _data: Bytes) {}

    fn on_undelivered(&self, peer: Peer, messages: Vec<Bytes>) {
        let _ = self.0.send((peer, messages));
    }
}

#[tokio::test]
async fn a_refused_connect_reports_every_queued_message_as_undelivered() {
    let net = network(&[Transport::Tcp], ConnectionSettings::default());
    let (tx, mut rx) = mpsc::unbounded_channel();
    net.start(Arc::new(Undelivered(tx)));
    // A port nothing listens on: the connect is refused.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let remote = closed.local_addr().unwrap();
    drop(closed);
    let peer = Peer {
        transport: Transport::Tcp,
        remote,
        local: local(&net, Transport::Tcp),
    };
    net.send(&peer, Bytes::from_static(b"first")).unwrap();
    net.send(&peer, Bytes::from_static(b"second")).unwrap();
    let (to, messages) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no report within 5 s")
        .unwrap();
    assert_eq!(to, peer);
    assert_eq!(messages, [&b"first"[..], &b"second"[..]]);
    assert_eq!(net.connection_count(), 0);
    net.close().await;
}

#[tokio::test]
async fn beyond_the_connection_limit_new_connections_are_closed() {
    let limits = ConnectionSettings {
        max_connections: 1,
        ..ConnectionSettings::default()
    };
    let net = network(&[Transport::Tcp], limits);
    let mut rx = start(&net);
    let addr = local(&net, Transport::Tcp);
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(MESSAGE.as_bytes()).await.unwrap();
    next(&mut rx).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the connection over the limit is closed");
    assert_eq!(net.connection_count(), 1);
    net.close().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let idle = Duration::from_millis(200);
    let limits = ConnectionSettings {
        idle_timeout: idle,
        ..ConnectionSettings::default()
    };
    let net = network(&[Transport::Tcp], limits);
    let mut rx = start(&net);
    let mut client = TcpStream::connect(local(&net, Transport::Tcp))
        .await
        .unwrap();
    client.write_all(MESSAGE.as_bytes()).await.unwrap();
    next(&mut rx).await;
    let started = tokio::time::Instant::now();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
        .await
        .expect("still open after 5 s")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() >= idle);
    tokio::task::yield_now().await;
    assert_eq!(net.connection_count(), 0);
    net.close().await;
}

#[tokio::test]
async fn a_framing_error_closes_the_connection() {
    let net = network(&[Transport::Tcp], ConnectionSettings::default());
    let _rx = start(&net);
    let mut client = TcpStream::connect(local(&net, Transport::Tcp))
        .await
        .unwrap();
    // Header section beyond the 4096-byte limit.
    let huge = format!("OPTIONS sip:x SIP/2.0\r\nX-Pad: {}\r\n", "a".repeat(8000));
    client.write_all(huge.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    net.close().await;
}

#[tokio::test]
async fn binding_an_address_in_use_names_transport_and_address() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let specs = [ListenerSpec {
        kind: Transport::Tcp,
        addr,
        max_message_size: 4096,
    }];
    let err = Network::bind(
        &specs,
        TransportSettings::default(),
        CancellationToken::new(),
    )
    .unwrap_err();
    assert!(matches!(err, BindError::AddressInUse { .. }), "{err:?}");
    assert_eq!(err.addr(), addr);
    assert_eq!(
        err.to_string(),
        format!("tcp address {addr} is already in use")
    );

    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let specs = [ListenerSpec {
        kind: Transport::Udp,
        addr: udp.local_addr().unwrap(),
        max_message_size: 4096,
    }];
    let err = Network::bind(
        &specs,
        TransportSettings::default(),
        CancellationToken::new(),
    )
    .unwrap_err();
    assert!(matches!(err, BindError::AddressInUse { .. }), "{err:?}");
}

#[tokio::test]
async fn close_releases_the_ports() {
    let net = network(
        &[Transport::Udp, Transport::Tcp],
        ConnectionSettings::default(),
    );
    let _rx = start(&net);
    let udp = local(&net, Transport::Udp);
    let tcp = local(&net, Transport::Tcp);
    net.close().await;
    drop(net);
    let specs = [
        ListenerSpec {
            kind: Transport::Udp,
            addr: udp,
            max_message_size: 4096,
        },
        ListenerSpec {
            kind: Transport::Tcp,
            addr: tcp,
            max_message_size: 4096,
        },
    ];
    let again = Network::bind(
        &specs,
        TransportSettings::default(),
        CancellationToken::new(),
    );
    assert!(again.is_ok(), "{again:?}");
}
