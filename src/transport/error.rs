//! Errors of the transport layer: binding listeners and sending bytes.

use std::net::SocketAddr;

use super::Transport;

/// Why a listener could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The address is already used by another socket.
    #[error("{kind} address {addr} is already in use")]
    AddressInUse {
        /// Transport of the listener.
        kind: Transport,
        /// The address that was asked for.
        addr: SocketAddr,
    },
    /// The address does not belong to this host.
    #[error("{kind} address {addr} is not available on this host")]
    AddressNotAvailable {
        /// Transport of the listener.
        kind: Transport,
        /// The address that was asked for.
        addr: SocketAddr,
    },
    /// Not allowed to bind (e.g. a privileged port).
    #[error("permission denied binding {kind} address {addr}")]
    PermissionDenied {
        /// Transport of the listener.
        kind: Transport,
        /// The address that was asked for.
        addr: SocketAddr,
    },
    /// Any other socket error while creating, configuring or binding the socket.
    #[error("cannot bind {kind} address {addr}: {source}")]
    Io {
        /// Transport of the listener.
        kind: Transport,
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl BindError {
    /// Classifies an I/O error from binding `addr`.
    pub(crate) fn from_io(kind: Transport, addr: SocketAddr, source: std::io::Error) -> Self {
        match source.kind() {
            std::io::ErrorKind::AddrInUse => BindError::AddressInUse { kind, addr },
            std::io::ErrorKind::AddrNotAvailable => BindError::AddressNotAvailable { kind, addr },
            std::io::ErrorKind::PermissionDenied => BindError::PermissionDenied { kind, addr },
            _ => BindError::Io { kind, addr, source },
        }
    }

    /// The address that could not be bound.
    pub fn addr(&self) -> SocketAddr {
        match self {
            BindError::AddressInUse { addr, .. }
            | BindError::AddressNotAvailable { addr, .. }
            | BindError::PermissionDenied { addr, .. }
            | BindError::Io { addr, .. } => *addr,
        }
    }
}

/// Why bytes were not handed to the network. Sending never waits: a full queue is an error
/// the caller counts (SIP retransmissions cover a lost datagram).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No UDP socket is bound to the flow's local address.
    #[error("no UDP socket bound to {0}")]
    NoSocket(SocketAddr),
    /// The socket's or connection's outbound queue is full.
    #[error("outbound queue to {0} is full")]
    QueueFull(SocketAddr),
    /// There is no connection to this address and none can be opened (no TCP listener).
    #[error("no TCP connection to {0}")]
    NoConnection(SocketAddr),
    /// The connection limit is reached, so no new connection can be opened.
    #[error("connection limit reached, cannot connect to {0}")]
    ConnectionLimit(SocketAddr),
    /// The transport is shutting down.
    #[error("transport is shutting down")]
    ShuttingDown,
    /// The message was queued, but its TCP connection failed (connect refused or timed
    /// out, connection lost) before it was written; reported after the fact through
    /// [`super::InboundHandler::on_undelivered`].
    #[error("connection to {0} failed before the message was written")]
    Undelivered(SocketAddr),
    /// The operating system refused the datagram.
    #[error("cannot send to {addr}: {source}")]
    Io {
        /// Destination.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl SendError {
    /// True when only this copy was lost and a retransmission may go through (a full
    /// queue): over UDP the transaction's own retransmissions cover it (RFC 3261 §17.1.1.2).
    /// Any other error, or any error on a reliable flow (nothing is retransmitted there), is a
    /// transport failure of the transaction (§17.1.4).
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::QueueFull(_))
    }
}
