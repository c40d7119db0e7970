//! One event WebSocket after the upgrade: `stream.hello`, `stream.gap` when the resume point
//! has left the replay window, the kept backlog, then live events as they are published.
//!
//! Flow control: every ping the server sends carries the sequence number of the last event
//! written before it, and the client's pong echoes it (RFC 6455 §5.5.3), so the pong says how
//! far the client has read. At most `window` events are written ahead of the last pong; while
//! the window is full, new events wait in a queue of `queue` events. A client whose pending
//! events (unconfirmed plus queued) would exceed the subscriber buffer is cut off with close
//! code 1008, and so is one that stops answering pings, or whose writes stall, or one the bus
//! itself left behind (broadcast lag): the publisher never waits for a subscriber.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, MissedTickBehavior, timeout};
use tokio_util::sync::CancellationToken;

use crate::telemetry::events::{Event, EventFilter, Subscription};

/// How long writing one frame may take before the client counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pings go out at least this often, so an idle client's liveness is known.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// A ping unanswered this long cuts the client off.
const PONG_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the close handshake may take (RFC 6455 §7.1.1: wait for the client's Close).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How far a client may fall behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// Events written but not confirmed by a pong before writing pauses (at least 1).
    pub window: usize,
    /// Events waiting to be written while the window is full before the client is cut off.
    pub queue: usize,
}

impl Limits {
    /// Half of `subscriber_buffer` in flight, the rest queued: a client is cut off when more
    /// than `subscriber_buffer` events are pending for it.
    pub fn for_buffer(subscriber_buffer: usize) -> Self {
        let window = (subscriber_buffer / 2).max(1);
        Self {
            window,
            queue: subscriber_buffer.saturating_sub(window),
        }
    }
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The client sent a close frame.
    ClientClosed,
    /// The connection failed or was dropped without a close frame.
    ConnectionLost,
    /// The switch is shutting down: closed with 1001.
    Shutdown,
    /// More events were pending than the subscriber buffer holds: closed with 1008.
    TooSlow,
    /// No pong within [`PONG_TIMEOUT`]: closed with 1008.
    Unresponsive,
    /// Writing a frame took longer than [`WRITE_TIMEOUT`]: dropped without a close frame.
    WriteStalled,
}

impl End {
    /// Whether the switch cut the client off for not keeping up.
    fn is_cut(self) -> bool {
        matches!(self, End::TooSlow | End::Unresponsive | End::WriteStalled)
    }
}

struct Feed {
    socket: WebSocket,
    filter: EventFilter,
    limits: Limits,
    /// Replayed events not yet written.
    backlog: VecDeque<Arc<Event>>,
    /// Live events not yet written.
    queued: VecDeque<Arc<Event>>,
    /// Sequence numbers written and not yet confirmed by a pong.
    in_flight: VecDeque<u64>,
    /// The sequence number the client is at once it has read everything written: the last
    /// event written, or where the stream started.
    position: u64,
    /// The position the latest ping named.
    pinged: u64,
    /// Since when a ping has been waiting for its pong.
    awaiting_pong: Option<Instant>,
}

/// Streams `subscription` (filtered by `filter`) to `socket` until the client leaves, falls
/// behind `limits`, or `shutdown` is cancelled.
pub(super) async fn run(
    socket: WebSocket,
    subscription: Subscription,
    filter: EventFilter,
    limits: Limits,
    shutdown: CancellationToken,
) -> End {
    let Subscription {
        backlog,
        gap,
        last_seq,
        mut live,
    } = subscription;
    let start = backlog
        .first()
        .map_or(last_seq, |e| e.seq.saturating_sub(1));
    let mut feed = Feed {
        socket,
        filter,
        limits,
        backlog: backlog
            .into_iter()
            .filter(|e| filter.matches(e.kind))
            .collect(),
        queued: VecDeque::new(),
        in_flight: VecDeque::new(),
        position: start,
        pinged: start,
        awaiting_pong: None,
    };
    let hello = json!({ "type": "stream.hello", "last_seq": last_seq });
    if let Err(end) = feed.write_text(hello.to_string()).await {
        return feed.finish(end).await;
    }
    if let Some(gap) = gap {
        let notice = json!({ "type": "stream.gap", "since": gap.since, "oldest": gap.oldest });
        if let Err(end) = feed.write_text(notice.to_string()).await {
            return feed.finish(end).await;
        }
    }
    let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if let Err(end) = feed.flush().await {
            drop(live);
            return feed.finish(end).await;
        }
        let outcome = tokio::select! {
            biased;
            () = shutdown.cancelled() => Err(End::Shutdown),
            frame = feed.socket.recv() => feed.on_frame(frame),
            event = live.recv() => match event {
                Ok(event) => feed.on_event(event),
                // The bus dropped events this subscriber had not taken yet.
                Err(RecvError::Lagged(_)) => Err(End::TooSlow),
                Err(RecvError::Closed) => Err(End::Shutdown),
            },
            _ = keepalive.tick() => feed.keepalive().await,
        };
        if let Err(end) = outcome {
            // The subscription goes at once, not after the close handshake.
            drop(live);
            return feed.finish(end).await;
        }
    }
}

impl Feed {
    /// Writes what the window allows, backlog first, and asks for a pong once half the
    /// window is unconfirmed.
    async fn flush(&mut self) -> Result<(), End> {
        while self.in_flight.len() < self.limits.window {
            let Some(event) = self.backlog.pop_front().or_else(|| self.queued.pop_front()) else {
                break;
            };
            match serde_json::to_string(&*event) {
                Ok(text) => self.write_text(text).await?,
                Err(error) => {
                    tracing::error!(seq = event.seq, %error, "event not serializable: skipped");
                    continue;
                }
            }
            self.in_flight.push_back(event.seq);
            self.position = event.seq;
        }
        if self.in_flight.len() * 2 >= self.limits.window && self.pinged != self.position {
            self.ping().await?;
        }
        Ok(())
    }

    /// A live event: queued when the client wants its type.
    fn on_event(&mut self, event: Arc<Event>) -> Result<(), End> {
        if !self.filter.matches(event.kind) {
            return Ok(());
        }
        self.queued.push_back(event);
        if self.in_flight.len() + self.queued.len() > self.limits.window + self.limits.queue {
            return Err(End::TooSlow);
        }
        Ok(())
    }

    /// A frame from the client: pongs confirm progress; pings are answered by the
    /// WebSocket layer; text and binary frames mean nothing here and are ignored.
    fn on_frame(&mut self, frame: Option<Result<Message, axum::Error>>) -> Result<(), End> {
        match frame {
            Some(Ok(Message::Pong(payload))) => {
                let acked = std::str::from_utf8(&payload)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok());
                if let Some(acked) = acked {
                    self.confirm(acked);
                }
                Ok(())
            }
            Some(Ok(Message::Close(_))) => Err(End::ClientClosed),
            Some(Ok(Message::Ping(_) | Message::Text(_) | Message::Binary(_))) => Ok(()),
            Some(Err(_)) | None => Err(End::ConnectionLost),
        }
    }

    /// The client has read everything up to `acked`.
    fn confirm(&mut self, acked: u64) {
        let acked = acked.min(self.position);
        while self.in_flight.front().is_some_and(|seq| *seq <= acked) {
            self.in_flight.pop_front();
        }
        self.awaiting_pong = (acked < self.pinged).then(Instant::now);
    }

    /// The keepalive tick: cuts off a client that has not answered for too long, else pings.
    async fn keepalive(&mut self) -> Result<(), End> {
        if self
            .awaiting_pong
            .is_some_and(|since| since.elapsed() >= PONG_TIMEOUT)
        {
            return Err(End::Unresponsive);
        }
        self.ping().await
    }

    async fn ping(&mut self) -> Result<(), End> {
        self.pinged = self.position;
        self.awaiting_pong.get_or_insert_with(Instant::now);
        self.write(Message::Ping(self.position.to_string().into()))
            .await
    }

    async fn write_text(&mut self, text: String) -> Result<(), End> {
        self.write(Message::Text(text.into())).await
    }

    async fn write(&mut self, message: Message) -> Result<(), End> {
        match timeout(WRITE_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::ConnectionLost),
            Err(_) => Err(End::WriteStalled),
        }
    }

    /// Ends the stream: a close frame saying why when one can still be written, then the
    /// close handshake (bounded).
    async fn finish(mut self, end: End) -> End {
        if end.is_cut() {
            crate::telemetry::metrics::metrics().event_subscriber_cut();
            tracing::warn!(
                reason = ?end,
                position = self.position,
                "event subscriber cut off"
            );
        }
        let close = match end {
            End::Shutdown => Some((close_code::AWAY, "switch shutting down".to_owned())),
            End::TooSlow => Some((
                close_code::POLICY,
                format!("too slow: fell behind; resume with since={}", self.position),
            )),
            End::Unresponsive => Some((
                close_code::POLICY,
                format!(
                    "unresponsive: no pong for {}s; resume with since={}",
                    PONG_TIMEOUT.as_secs(),
                    self.position
                ),
            )),
            // The reply to the client's close frame goes out with the next read.
            End::ClientClosed => None,
            End::ConnectionLost | End::WriteStalled => return end,
        };
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let sent = timeout(CLOSE_TIMEOUT, self.socket.send(Message::Close(Some(frame))));
            if !matches!(sent.await, Ok(Ok(()))) {
                return end;
            }
        }
        let _ = timeout(CLOSE_TIMEOUT, async {
            while let Some(Ok(frame)) = self.socket.recv().await {
                if matches!(frame, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
        end
    }
}
