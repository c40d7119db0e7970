//! TCP listeners: socket setup and the accept loop that hands connections to the table.

use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener as TokioTcpListener;
use tokio_util::sync::CancellationToken;

use super::connection::ConnectionTable;
use super::{BindError, InboundHandler, Transport};

/// Pending connections the kernel queues before `accept`.
const BACKLOG: i32 = 1024;

/// A bound TCP listening socket.
#[derive(Debug)]
pub(crate) struct TcpListener {
    listener: TokioTcpListener,
    local: SocketAddr,
    max_message_size: usize,
}

impl TcpListener {
    /// Binds and listens on `addr` with SO_REUSEADDR.
    pub(crate) fn bind(addr: SocketAddr, max_message_size: usize) -> Result<Self, BindError> {
        let err = |e| BindError::from_io(Transport::Tcp, addr, e);
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(err)?;
        // SO_REUSEADDR: a restarted switch can bind while old connections sit in TIME_WAIT.
        socket.set_reuse_address(true).map_err(err)?;
        if addr.is_ipv6() {
            socket.set_only_v6(true).map_err(err)?;
        }
        socket.set_nonblocking(true).map_err(err)?;
        socket.bind(&addr.into()).map_err(err)?;
        socket.listen(BACKLOG).map_err(err)?;
        let std_listener: std::net::TcpListener = socket.into();
        let listener = TokioTcpListener::from_std(std_listener).map_err(err)?;
        let local = listener.local_addr().map_err(err)?;
        Ok(TcpListener {
            listener,
            local,
            max_message_size,
        })
    }

    /// The address actually bound (port 0 resolved).
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Largest message accepted on connections from this listener.
    pub(crate) fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Accepts connections until `stop` is cancelled. Over the connection limit a new
    /// connection is closed at once rather than left in the backlog.
    pub(crate) async fn accept_loop(
        &self,
        table: Arc<ConnectionTable>,
        handler: Arc<dyn InboundHandler>,
        stop: CancellationToken,
    ) {
        loop {
            let accepted = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                r = self.listener.accept() => r,
            };
            match accepted {
                Ok((stream, remote)) => {
                    table.adopt(
                        stream,
                        remote,
                        self.local,
                        self.max_message_size,
                        Arc::clone(&handler),
                    );
                }
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(local = %self.local, error = %e, "TCP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}
