//! Tokio UDP/TCP I/O only: listeners, connections, datagrams in and out.
//!
//! Knows nothing of SIP beyond TCP framing: inbound messages go to an [`InboundHandler`],
//! outbound bytes come in through [`Network::send`], which never waits; what a TCP connection
//! queued but never wrote goes back to the handler ([`InboundHandler::on_undelivered`]).

mod connection;
mod error;
mod peer;
mod tcp;
mod udp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use connection::ConnectionSettings;
pub use error::{BindError, SendError};
pub use peer::{Peer, Transport};

use connection::ConnectionTable;
use tcp::TcpListener;
use udp::UdpListener;

/// Receives every message the transport reads: one UDP datagram or one framed TCP message.
///
/// Called on the receive task: it must not block. Hand the message on over a bounded channel.
pub trait InboundHandler: Send + Sync + 'static {
    /// One message arrived from `peer`.
    fn on_message(&self, peer: Peer, data: Bytes);

    /// Messages queued for `peer` that were never written: its TCP connection could not be
    /// opened (refused, timed out) or ended with them still queued. RFC 3261 §18.4: the
    /// transport reports such failures to its user, so the transaction that sent a request
    /// fails at once (§17.1.4) instead of waiting for its timeout. A message whose write had
    /// begun counts as undelivered: the peer cannot have read it whole. Called on the
    /// connection's task, in queue order; the default ignores them.
    fn on_undelivered(&self, peer: Peer, messages: Vec<Bytes>) {
        let _ = (peer, messages);
    }
}

/// One address to listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerSpec {
    /// UDP or TCP.
    pub kind: Transport,
    /// Address to bind; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Largest message accepted on this listener, in bytes.
    pub max_message_size: usize,
}

/// Settings shared by all listeners.
#[derive(Debug, Clone, Copy)]
pub struct TransportSettings {
    /// Kernel receive and send buffer size for UDP sockets, in bytes (0 keeps the default).
    pub udp_buffer_bytes: usize,
    /// TCP connection limits and timeouts.
    pub connections: ConnectionSettings,
}

impl Default for TransportSettings {
    fn default() -> Self {
        TransportSettings {
            udp_buffer_bytes: 4 * 1024 * 1024,
            connections: ConnectionSettings::default(),
        }
    }
}

/// A listener after binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundListener {
    /// UDP or TCP.
    pub kind: Transport,
    /// The address asked for.
    pub requested: SocketAddr,
    /// The address bound (port 0 resolved); it is [`Peer::local`] of messages arriving here.
    pub local: SocketAddr,
}

/// Per TCP listener: what a connection opened from it needs.
#[derive(Clone)]
struct TcpEndpoint {
    max_message_size: usize,
    handler: Arc<dyn InboundHandler>,
}

/// State shared by the handle clones.
struct Inner {
    udp: HashMap<SocketAddr, Arc<UdpListener>>,
    tcp: HashMap<SocketAddr, Arc<TcpListener>>,
    /// Set by `start`, cleared by `close` (it holds the handler, which holds this transport).
    tcp_endpoints: arc_swap::ArcSwapOption<HashMap<SocketAddr, TcpEndpoint>>,
    connections: Arc<ConnectionTable>,
    bound: Vec<BoundListener>,
    stop_receiving: CancellationToken,
    close: CancellationToken,
    tracker: TaskTracker,
}

/// The switch's sockets: UDP sockets, TCP listeners and connections. Cheap to clone.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("bound", &self.inner.bound)
            .field("connections", &self.inner.connections.len())
            .finish()
    }
}

impl Network {
    /// Binds every listener; nothing is received until [`Network::start`].
    ///
    /// `stop_receiving` ends receiving and accepting (shutdown begins); [`Network::close`]
    /// then closes the connections.
    pub fn bind(
        specs: &[ListenerSpec],
        settings: TransportSettings,
        stop_receiving: CancellationToken,
    ) -> Result<Self, BindError> {
        let mut udp = HashMap::new();
        let mut tcp = HashMap::new();
        let mut bound = Vec::with_capacity(specs.len());
        for spec in specs {
            let local = match spec.kind {
                Transport::Udp => {
                    let l = UdpListener::bind(
                        spec.addr,
                        settings.udp_buffer_bytes,
                        spec.max_message_size,
                    )?;
                    let local = l.local();
                    udp.insert(local, Arc::new(l));
                    local
                }
                Transport::Tcp => {
                    let l = TcpListener::bind(spec.addr, spec.max_message_size)?;
                    let local = l.local();
                    tcp.insert(local, Arc::new(l));
                    local
                }
            };
            bound.push(BoundListener {
                kind: spec.kind,
                requested: spec.addr,
                local,
            });
        }
        let close = CancellationToken::new();
        let tracker = TaskTracker::new();
        let connections = Arc::new(ConnectionTable::new(
            settings.connections,
            stop_receiving.clone(),
            close.clone(),
            tracker.clone(),
        ));
        Ok(Network {
            inner: Arc::new(Inner {
                udp,
                tcp,
                tcp_endpoints: arc_swap::ArcSwapOption::empty(),
                connections,
                bound,
                stop_receiving,
                close,
                tracker,
            }),
        })
    }

    /// The listeners, in the order they were asked for.
    pub fn listeners(&self) -> &[BoundListener] {
        &self.inner.bound
    }

    /// Starts receiving: one task per UDP socket and per TCP listener, messages to `handler`.
    /// Calling it again has no effect.
    pub fn start(&self, handler: Arc<dyn InboundHandler>) {
        if self.inner.tcp_endpoints.load().is_some() {
            return;
        }
        let endpoints: HashMap<SocketAddr, TcpEndpoint> = self
            .inner
            .tcp
            .iter()
            .map(|(local, l)| {
                let endpoint = TcpEndpoint {
                    max_message_size: l.max_message_size(),
                    handler: Arc::clone(&handler),
                };
                (*local, endpoint)
            })
            .collect();
        self.inner.tcp_endpoints.store(Some(Arc::new(endpoints)));
        for listener in self.inner.udp.values() {
            let listener = Arc::clone(listener);
            let handler = Arc::clone(&handler);
            let stop = self.inner.stop_receiving.clone();
            self.inner
                .tracker
                .spawn(async move { listener.receive_loop(handler, stop).await });
        }
        for listener in self.inner.tcp.values() {
            let listener = Arc::clone(listener);
            let handler = Arc::clone(&handler);
            let table = Arc::clone(&self.inner.connections);
            let stop = self.inner.stop_receiving.clone();
            self.inner
                .tracker
                .spawn(async move { listener.accept_loop(table, handler, stop).await });
        }
    }

    /// Sends `data` on the flow `peer` without waiting: over UDP from the socket bound to
    /// `peer.local` to `peer.remote`; over TCP on the open connection to `peer.remote`, or on a
    /// new one when there is none (RFC 3261 §18.2.2: a response whose connection has closed
    /// goes on a new connection; §18.1.1 for requests).
    pub fn send(&self, peer: &Peer, data: Bytes) -> Result<(), SendError> {
        match peer.transport {
            Transport::Udp => self
                .inner
                .udp
                .get(&peer.local)
                .ok_or(SendError::NoSocket(peer.local))?
                .send(peer.remote, data),
            Transport::Tcp => {
                let endpoints = self.inner.tcp_endpoints.load();
                let endpoint = endpoints
                    .as_deref()
                    .and_then(|e| e.get(&peer.local).or_else(|| e.values().next()));
                match endpoint {
                    Some(endpoint) => self.inner.connections.send_or_connect(
                        *peer,
                        data,
                        endpoint.max_message_size,
                        Arc::clone(&endpoint.handler),
                    ),
                    // No TCP listener: only flows that already exist can be used.
                    None => match self.inner.connections.send_existing(peer.remote, data)? {
                        true => Ok(()),
                        false => Err(SendError::NoConnection(peer.remote)),
                    },
                }
            }
        }
    }

    /// Sends `data` on the TCP connection to `remote` only if one is open.
    /// Returns `Ok(false)` when there is none.
    pub fn send_on_connection(&self, remote: SocketAddr, data: Bytes) -> Result<bool, SendError> {
        self.inner.connections.send_existing(remote, data)
    }

    /// Number of open TCP connections.
    pub fn connection_count(&self) -> usize {
        self.inner.connections.len()
    }

    /// Closes every connection and waits for all transport tasks to end.
    pub async fn close(&self) {
        self.inner.stop_receiving.cancel();
        self.inner.close.cancel();
        self.inner.tcp_endpoints.store(None);
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

#[cfg(test)]
mod tests;
