//! Where a message came from and the flow to answer on.

use std::net::SocketAddr;

pub use crate::config::Transport;

/// The flow a message arrived on: transport, the remote address and our local address.
///
/// Answering on the same `Peer` reuses the flow: the UDP socket bound to `local`, or the TCP
/// connection from `remote` (RFC 3261 §18.2.2). `local` is the listener's bound address (a
/// wildcard stays a wildcard), so it also names the listener, and with it the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport of the flow.
    pub transport: Transport,
    /// The remote side's address (source address of the packet or connection).
    pub remote: SocketAddr,
    /// The listener's bound address the message arrived on.
    pub local: SocketAddr,
}
