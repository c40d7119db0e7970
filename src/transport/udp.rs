//! UDP listeners: socket setup, the receive loop and non-blocking datagram sends.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{BindError, InboundHandler, Peer, SendError, Transport};

/// Largest UDP payload; datagrams are read into a buffer this big.
const MAX_DATAGRAM: usize = 65_535;

/// Sends that found the socket buffer full and wait in their own task; more are dropped.
const MAX_DEFERRED_SENDS: usize = 256;

/// A bound UDP socket and what its receive loop needs.
#[derive(Debug)]
pub(crate) struct UdpListener {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    max_message_size: usize,
    deferred: Arc<Semaphore>,
}

impl UdpListener {
    /// Binds `addr` with the given kernel buffer sizes.
    pub(crate) fn bind(
        addr: SocketAddr,
        buffer_bytes: usize,
        max_message_size: usize,
    ) -> Result<Self, BindError> {
        let err = |e| BindError::from_io(Transport::Udp, addr, e);
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
            .map_err(err)?;
        // No SO_REUSEADDR for UDP: Linux would let a second process bind the same port and
        // silently take its datagrams, where a clear "address in use" is wanted.
        if addr.is_ipv6() {
            socket.set_only_v6(true).map_err(err)?;
        }
        if buffer_bytes > 0 {
            // The kernel may clamp these (net.core.rmem_max); a smaller buffer is not fatal.
            let _ = socket.set_recv_buffer_size(buffer_bytes);
            let _ = socket.set_send_buffer_size(buffer_bytes);
        }
        socket.set_nonblocking(true).map_err(err)?;
        socket.bind(&addr.into()).map_err(err)?;
        let std_socket: std::net::UdpSocket = socket.into();
        let socket = UdpSocket::from_std(std_socket).map_err(err)?;
        let local = socket.local_addr().map_err(err)?;
        Ok(UdpListener {
            socket: Arc::new(socket),
            local,
            max_message_size,
            deferred: Arc::new(Semaphore::new(MAX_DEFERRED_SENDS)),
        })
    }

    /// The address actually bound (port 0 resolved).
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Receives datagrams until `stop` is cancelled, handing each to `handler`.
    pub(crate) async fn receive_loop(
        &self,
        handler: Arc<dyn InboundHandler>,
        stop: CancellationToken,
    ) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let received = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                r = self.socket.recv_from(&mut buf) => r,
            };
            match received {
                Ok((0, _)) => {}
                Ok((len, remote)) => {
                    if len > self.max_message_size {
                        tracing::debug!(%remote, len, "dropping oversized UDP datagram");
                        continue;
                    }
                    let peer = Peer {
                        transport: Transport::Udp,
                        remote,
                        local: self.local,
                    };
                    // One exact-size copy: parsed messages keep referencing this buffer.
                    handler.on_message(peer, Bytes::copy_from_slice(&buf[..len]));
                }
                // ICMP port-unreachable from an earlier send surfaces here on some systems.
                Err(e) => tracing::debug!(local = %self.local, error = %e, "UDP receive error"),
            }
        }
    }

    /// Sends one datagram without waiting. A full socket buffer defers the send to a task
    /// (at most [`MAX_DEFERRED_SENDS`] at once); beyond that the datagram is dropped.
    pub(crate) fn send(&self, to: SocketAddr, data: Bytes) -> Result<(), SendError> {
        match self.socket.try_send_to(&data, to) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let permit = Arc::clone(&self.deferred)
                    .try_acquire_owned()
                    .map_err(|_| SendError::QueueFull(to))?;
                let socket = Arc::clone(&self.socket);
                tokio::spawn(async move {
                    if let Err(e) = socket.send_to(&data, to).await {
                        tracing::debug!(%to, error = %e, "deferred UDP send failed");
                    }
                    drop(permit);
                });
                Ok(())
            }
            Err(source) => Err(SendError::Io { addr: to, source }),
        }
    }
}
