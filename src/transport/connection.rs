//! TCP connection table: one task per connection, keyed by the remote address so responses
//! and later requests to the same flow reuse the connection (RFC 3261 §18).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use sip_core::message::StreamFramer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{InboundHandler, Peer, SendError, Transport};

/// Bytes read from a socket per read call.
const READ_CHUNK: usize = 16 * 1024;

/// Limits and timeouts of TCP connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    /// Most connections open at once, inbound and outbound together.
    pub max_connections: usize,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// Messages waiting to be written per connection; beyond it sends fail.
    pub queue: usize,
    /// How long an outbound connect may take.
    pub connect_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(300),
            queue: 256,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Sending side of one connection.
#[derive(Debug)]
struct ConnectionHandle {
    id: u64,
    tx: mpsc::Sender<Bytes>,
}

/// Where a connection task gets its socket from.
enum Origin {
    /// Accepted by a listener.
    Accepted(TcpStream),
    /// To be opened by the task.
    Connect,
}

/// Why a connection ended (for the log, and the message a failed write leaves behind).
#[derive(Debug)]
enum Closed {
    Eof,
    Idle,
    Framing,
    Io(std::io::Error),
    /// Writing `unwritten` failed.
    Write {
        error: std::io::Error,
        unwritten: Bytes,
    },
    Dropped,
    Shutdown,
}

/// Open TCP connections by remote address.
#[derive(Debug)]
pub(crate) struct ConnectionTable {
    conns: DashMap<SocketAddr, ConnectionHandle>,
    limit: Arc<Semaphore>,
    next_id: AtomicU64,
    settings: ConnectionSettings,
    /// Stops reading new messages (shutdown begins); writes continue.
    stop_reading: CancellationToken,
    /// Closes every connection.
    close: CancellationToken,
    tracker: TaskTracker,
}

impl ConnectionTable {
    /// An empty table.
    pub(crate) fn new(
        settings: ConnectionSettings,
        stop_reading: CancellationToken,
        close: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        ConnectionTable {
            conns: DashMap::new(),
            limit: Arc::new(Semaphore::new(settings.max_connections)),
            next_id: AtomicU64::new(1),
            settings,
            stop_reading,
            close,
            tracker,
        }
    }

    /// Number of open (or opening) connections.
    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    /// Takes over an accepted connection; over the limit it is closed at once.
    pub(crate) fn adopt(
        self: &Arc<Self>,
        stream: TcpStream,
        remote: SocketAddr,
        local: SocketAddr,
        max_message_size: usize,
        handler: Arc<dyn InboundHandler>,
    ) {
        let Ok(permit) = Arc::clone(&self.limit).try_acquire_owned() else {
            let limit = self.settings.max_connections;
            tracing::debug!(%remote, limit, "TCP connection limit reached, closing new connection");
            return;
        };
        let (tx, rx) = mpsc::channel(self.settings.queue);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // A stale entry for the same address belongs to a dead connection: replace it.
        self.conns.insert(remote, ConnectionHandle { id, tx });
        let peer = Peer {
            transport: Transport::Tcp,
            remote,
            local,
        };
        let table = Arc::clone(self);
        self.tracker.spawn(async move {
            table
                .run(
                    id,
                    Origin::Accepted(stream),
                    peer,
                    rx,
                    permit,
                    max_message_size,
                    handler,
                )
                .await;
        });
    }

    /// Queues `data` on the connection to `remote`, if one is open.
    /// Returns `Ok(false)` when there is no connection.
    pub(crate) fn send_existing(&self, remote: SocketAddr, data: Bytes) -> Result<bool, SendError> {
        let Some(handle) = self.conns.get(&remote) else {
            return Ok(false);
        };
        match handle.tx.try_send(data) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(_)) => Err(SendError::QueueFull(remote)),
            // The task is ending; its entry goes away with it.
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(false),
        }
    }

    /// Queues `data` on the connection to `peer.remote`, opening one if there is none.
    /// Messages arriving on a new connection go to `handler` as coming from `peer`.
    pub(crate) fn send_or_connect(
        self: &Arc<Self>,
        peer: Peer,
        data: Bytes,
        max_message_size: usize,
        handler: Arc<dyn InboundHandler>,
    ) -> Result<(), SendError> {
        if self.close.is_cancelled() {
            return Err(SendError::ShuttingDown);
        }
        match self.conns.entry(peer.remote) {
            Entry::Occupied(entry) if !entry.get().tx.is_closed() => {
                entry.get().tx.try_send(data).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => SendError::QueueFull(peer.remote),
                    mpsc::error::TrySendError::Closed(_) => SendError::ShuttingDown,
                })
            }
            entry => {
                let permit = Arc::clone(&self.limit)
                    .try_acquire_owned()
                    .map_err(|_| SendError::ConnectionLimit(peer.remote))?;
                let (tx, rx) = mpsc::channel(self.settings.queue);
                // Cannot fail: the channel is new and has room.
                tx.try_send(data)
                    .map_err(|_| SendError::QueueFull(peer.remote))?;
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let handle = ConnectionHandle { id, tx };
                match entry {
                    Entry::Occupied(mut o) => {
                        o.insert(handle);
                    }
                    Entry::Vacant(v) => {
                        v.insert(handle);
                    }
                }
                let table = Arc::clone(self);
                self.tracker.spawn(async move {
                    table
                        .run(
                            id,
                            Origin::Connect,
                            peer,
                            rx,
                            permit,
                            max_message_size,
                            handler,
                        )
                        .await;
                });
                Ok(())
            }
        }
    }

    /// The connection task: reads and frames messages, writes queued ones, closes when idle.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        self: Arc<Self>,
        id: u64,
        origin: Origin,
        peer: Peer,
        mut rx: mpsc::Receiver<Bytes>,
        permit: OwnedSemaphorePermit,
        max_message_size: usize,
        handler: Arc<dyn InboundHandler>,
    ) {
        let remote = peer.remote;
        let stream = match origin {
            Origin::Accepted(stream) => Ok(stream),
            Origin::Connect => {
                match tokio::time::timeout(
                    self.settings.connect_timeout,
                    TcpStream::connect(remote),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
                }
            }
        };
        let closed = match stream {
            Ok(mut stream) => {
                let _ = stream.set_nodelay(true);
                tracing::debug!(%remote, "TCP connection open");
                self.serve(&mut stream, peer, &mut rx, max_message_size, &*handler)
                    .await
            }
            Err(e) => Closed::Io(e),
        };
        self.conns.remove_if(&remote, |_, h| h.id == id);
        drop(permit);
        // Out of the table, no sender reaches `rx` any more: what it holds was never written.
        rx.close();
        let mut undelivered = Vec::new();
        let shutdown = matches!(closed, Closed::Shutdown);
        match closed {
            Closed::Io(e) => tracing::debug!(%remote, error = %e, "TCP connection failed"),
            Closed::Write { error, unwritten } => {
                tracing::debug!(%remote, %error, "TCP write failed");
                undelivered.push(unwritten);
            }
            reason => tracing::debug!(%remote, ?reason, "TCP connection closed"),
        }
        while let Ok(data) = rx.try_recv() {
            undelivered.push(data);
        }
        // RFC 5626 §4.4.1 keep-alive pongs are no messages of anyone's.
        undelivered.retain(|m| !m.iter().all(|b| matches!(b, b'\r' | b'\n')));
        // At shutdown nobody waits for an outcome any more.
        if !undelivered.is_empty() && !shutdown {
            tracing::debug!(%remote, count = undelivered.len(), "TCP messages not delivered");
            handler.on_undelivered(peer, undelivered);
        }
    }

    /// Runs reading and writing of one open connection until it ends.
    async fn serve(
        &self,
        stream: &mut TcpStream,
        peer: Peer,
        rx: &mut mpsc::Receiver<Bytes>,
        max_message_size: usize,
        handler: &dyn InboundHandler,
    ) -> Closed {
        let idle = self.settings.idle_timeout;
        let started = Instant::now();
        let last_write_ms = AtomicU64::new(0);
        let (mut rd, mut wr) = stream.split();

        let reading = async {
            let mut framer = StreamFramer::new(max_message_size);
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                let read = tokio::select! {
                    biased;
                    () = self.stop_reading.cancelled() => {
                        // Shutdown: take no new messages, keep writing until closed.
                        return std::future::pending::<Closed>().await;
                    }
                    r = tokio::time::timeout(idle, rd.read(&mut buf)) => r,
                };
                let n = match read {
                    Err(_) => {
                        let since_write = (started.elapsed().as_millis() as u64)
                            .saturating_sub(last_write_ms.load(Ordering::Relaxed));
                        if Duration::from_millis(since_write) >= idle {
                            return Closed::Idle;
                        }
                        continue;
                    }
                    Ok(Ok(0)) => return Closed::Eof,
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => return Closed::Io(e),
                };
                framer.push(&buf[..n]);
                loop {
                    match framer.next_message() {
                        Ok(Some(message)) => handler.on_message(peer, message),
                        Ok(None) => {
                            // RFC 5626 §4.4.1: each CRLFCRLF ping gets a CRLF pong.
                            for _ in 0..framer.take_keepalive_pings() {
                                let _ =
                                    self.send_existing(peer.remote, Bytes::from_static(b"\r\n"));
                            }
                            break;
                        }
                        Err(e) => {
                            // RFC 3261 §18.3: framing is lost, so the connection must close.
                            tracing::debug!(remote = %peer.remote, error = %e, "TCP framing error");
                            return Closed::Framing;
                        }
                    }
                }
            }
        };

        let writing = async {
            while let Some(data) = rx.recv().await {
                if let Err(error) = wr.write_all(&data).await {
                    return Closed::Write {
                        error,
                        unwritten: data,
                    };
                }
                last_write_ms.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            }
            Closed::Dropped
        };

        tokio::select! {
            c = reading => c,
            c = writing => c,
            () = self.close.cancelled() => Closed::Shutdown,
        }
    }
}
