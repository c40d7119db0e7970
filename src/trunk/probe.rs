//! OPTIONS health probing of one gateway: an OPTIONS every interval, each result reported to
//! whoever keeps the gateway's health (the probe itself decides nothing about up or down).
//!
//! RFC 3261 §11: OPTIONS asks a UA or proxy about itself, and any final response shows it is
//! there and processing requests. So a 4xx, 5xx or 6xx counts as alive (a 404 or 405 still
//! comes from a working gateway), except 408 (the gateway or a proxy in front of it gave up)
//! and 503 (RFC 3261 §21.5.4: it says it cannot take requests now). No answer within the
//! interval (at most Timer F) and a transport error count as failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sip_core::message::{HeaderName, Method, NameAddr, Response, StatusCode, Uri};
use tokio_util::sync::CancellationToken;

use crate::sip::client::{self, ClientError, RequestHeaders, SipClient};
use crate::transport::Peer;

/// What to probe and how often.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// The gateway's id, as the health state knows it.
    pub gateway: String,
    /// The Request-URI of the OPTIONS (the gateway URI).
    pub uri: Uri,
    /// The flow to send on: `remote` is the gateway's address, `local` the trunk profile's
    /// listener.
    pub flow: Peer,
    /// Time between the starts of two probes.
    pub interval: Duration,
}

/// How one probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// A final response that shows the gateway at work.
    Answered(StatusCode),
    /// 408 or 503: the gateway answered that it cannot serve now.
    Unavailable(StatusCode),
    /// No final response in time.
    Timeout,
    /// The request could not be sent.
    TransportError,
}

impl ProbeOutcome {
    /// The outcome of a final response (see the module doc).
    pub fn of_response(response: &Response) -> ProbeOutcome {
        let status = response.status();
        if status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::SERVICE_UNAVAILABLE {
            ProbeOutcome::Unavailable(status)
        } else {
            ProbeOutcome::Answered(status)
        }
    }

    /// True when the gateway showed it is alive.
    pub fn is_alive(self) -> bool {
        matches!(self, ProbeOutcome::Answered(_))
    }
}

/// One probe's result, for the health state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// The gateway probed.
    pub gateway: String,
    /// How it ended.
    pub outcome: ProbeOutcome,
    /// When it ended (tokio's clock).
    pub at: Instant,
}

/// Reports one probe result.
pub type ProbeReport = Arc<dyn Fn(ProbeResult) + Send + Sync>;

/// Probes `target` until `shutdown`: the first OPTIONS soon after the start (jittered by up to
/// a tenth of the interval, at most a second, so many gateways do not all go at once), then
/// one every interval; a probe still unanswered when the next is due counts as a timeout.
pub async fn run_probe(
    client: SipClient,
    target: ProbeTarget,
    report: ProbeReport,
    shutdown: CancellationToken,
) {
    let interval = target.interval.max(Duration::from_millis(100));
    let jitter_cap = (interval / 10).min(Duration::from_secs(1));
    let jitter = jitter_cap.mul_f64(rand::random::<f64>());
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + jitter, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // RFC 3261 §17.1.2.2: no final response before Timer F is a timeout anyway.
    let wait = interval.min(client.timers().transaction_timeout());
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = probe_once(&client, &target, wait) => outcome,
        };
        tracing::trace!(gateway = %target.gateway, ?outcome, "gateway probed");
        report(ProbeResult {
            gateway: target.gateway.clone(),
            outcome,
            at: tokio::time::Instant::now().into_std(),
        });
    }
}

/// Sends one OPTIONS and waits at most `wait` for its final response.
async fn probe_once(client: &SipClient, target: &ProbeTarget, wait: Duration) -> ProbeOutcome {
    let request = options_request(target);
    match tokio::time::timeout(wait, client.request(request, target.flow)).await {
        Ok(Ok(response)) => ProbeOutcome::of_response(&response),
        Ok(Err(ClientError::Timeout)) | Err(_) => ProbeOutcome::Timeout,
        Ok(Err(e)) => {
            tracing::debug!(gateway = %target.gateway, error = %e, "probe not sent");
            ProbeOutcome::TransportError
        }
    }
}

/// An OPTIONS for the gateway itself (RFC 3261 §11.1): To is the Request-URI, a fresh
/// Call-ID per probe, Accept for what the switch can take.
fn options_request(target: &ProbeTarget) -> sip_core::message::Request {
    let mut from = NameAddr::new(client::local_uri(&target.flow, Some("switchyard")));
    from.set_tag(&client::new_tag());
    let headers = RequestHeaders {
        from,
        to: NameAddr::new(target.uri.clone()),
        call_id: client::new_call_id(&target.flow),
        cseq: 1,
    };
    let mut request =
        client::new_request(Method::Options, target.uri.clone(), &target.flow, &headers);
    request
        .headers_mut()
        .push(HeaderName::Accept, "application/sdp");
    request
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use bytes::Bytes;
    use sip_core::message::Message;

    use super::*;
    use crate::transport::Transport;

    fn response(status: u16) -> Response {
        let text = format!(
            "SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKa\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        match Message::parse(Bytes::from(text)).unwrap() {
            Message::Response(r) => r,
            Message::Request(_) => panic!("not a response"),
        }
    }

    #[test]
    fn any_final_answer_but_408_and_503_shows_the_gateway_alive() {
        for status in [200, 404, 405, 481, 500, 502, 600, 603] {
            assert!(
                ProbeOutcome::of_response(&response(status)).is_alive(),
                "{status}"
            );
        }
        for status in [408, 503] {
            assert!(
                !ProbeOutcome::of_response(&response(status)).is_alive(),
                "{status}"
            );
        }
        assert!(!ProbeOutcome::Timeout.is_alive());
        assert!(!ProbeOutcome::TransportError.is_alive());
    }

    #[test]
    fn the_probe_is_an_options_for_the_gateway_from_our_listener() {
        let target = ProbeTarget {
            gateway: "carrier-a/0".into(),
            uri: Uri::parse("sip:198.51.100.7:5071").unwrap(),
            flow: Peer {
                transport: Transport::Udp,
                remote: "198.51.100.7:5071".parse().unwrap(),
                local: "192.0.2.1:5080".parse().unwrap(),
            },
            interval: Duration::from_secs(30),
        };
        let request = options_request(&target);
        let bytes = request.encode();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.starts_with("OPTIONS sip:198.51.100.7:5071 SIP/2.0\r\n"),
            "{text}"
        );
        let headers = request.headers();
        let via = headers.top_via().unwrap();
        assert_eq!(via.sent_by(), "192.0.2.1:5080");
        assert!(via.is_rfc3261_branch());
        assert!(headers.from().unwrap().tag().is_some());
        assert!(headers.to().unwrap().tag().is_none());
        assert!(headers.call_id().unwrap().ends_with("@192.0.2.1"));
        assert_eq!(headers.cseq().unwrap().seq, 1);
        assert_eq!(headers.max_forwards().unwrap(), Some(70));
        assert!(text.contains("\r\nAccept: application/sdp\r\n"), "{text}");
    }

    #[tokio::test]
    async fn every_probe_is_reported_until_shutdown() {
        use std::collections::HashSet;
        use std::net::SocketAddr;

        use sip_core::message::Request;
        use sip_core::transaction::TimerConfig;
        use tokio::net::UdpSocket;
        use tokio::sync::mpsc;

        use crate::sip::CallTable;
        use crate::sip::client::tests_support::ResponseRouter;
        use crate::transport::{ListenerSpec, Network, TransportSettings};

        /// The next OPTIONS with a Call-ID not seen before (retransmissions skipped).
        async fn next_probe(
            gateway: &UdpSocket,
            seen: &mut HashSet<String>,
        ) -> (Request, SocketAddr) {
            let mut buf = vec![0u8; 65535];
            loop {
                let (n, from) =
                    tokio::time::timeout(Duration::from_secs(5), gateway.recv_from(&mut buf))
                        .await
                        .expect("no probe within 5 s")
                        .unwrap();
                let Message::Request(request) =
                    Message::parse(Bytes::copy_from_slice(&buf[..n])).unwrap()
                else {
                    panic!("expected a request");
                };
                if seen.insert(request.headers().call_id().unwrap().to_owned()) {
                    return (request, from);
                }
            }
        }

        let network = Network::bind(
            &[ListenerSpec {
                kind: Transport::Udp,
                addr: "127.0.0.1:0".parse().unwrap(),
                max_message_size: 4096,
            }],
            TransportSettings::default(),
            CancellationToken::new(),
        )
        .unwrap();
        let calls = Arc::new(CallTable::new());
        network.start(Arc::new(ResponseRouter::new(Arc::clone(&calls))));
        let timers = TimerConfig {
            t1: Duration::from_millis(10),
            t2: Duration::from_millis(80),
            t4: Duration::from_millis(100),
        };
        let client = SipClient::new(network.clone(), Arc::clone(&calls), timers);
        let gateway = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = ProbeTarget {
            gateway: "gw-1".into(),
            uri: Uri::parse(&format!("sip:{}", gateway.local_addr().unwrap())).unwrap(),
            flow: Peer {
                transport: Transport::Udp,
                remote: gateway.local_addr().unwrap(),
                local: network.listeners()[0].local,
            },
            interval: Duration::from_millis(200),
        };
        let (results_tx, mut results) = mpsc::channel(16);
        let report: ProbeReport = Arc::new(move |result| {
            results_tx.try_send(result).unwrap();
        });
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_probe(client, target, report, shutdown.clone()));
        let mut seen = HashSet::new();
        let mut next_result = async || {
            tokio::time::timeout(Duration::from_secs(5), results.recv())
                .await
                .unwrap()
                .unwrap()
        };
        for status in [StatusCode::NOT_FOUND, StatusCode::SERVICE_UNAVAILABLE] {
            let (request, from) = next_probe(&gateway, &mut seen).await;
            let mut response = Response::for_request(&request, status);
            response.set_to_tag("gw");
            gateway.send_to(&response.encode(), from).await.unwrap();
            let result = next_result().await;
            assert_eq!(result.gateway, "gw-1");
            assert_eq!(result.outcome.is_alive(), status == StatusCode::NOT_FOUND);
        }
        // Silence: the probe is a timeout once the next one is due.
        next_probe(&gateway, &mut seen).await;
        assert_eq!(next_result().await.outcome, ProbeOutcome::Timeout);
        shutdown.cancel();
        task.await.unwrap();
        assert!(calls.is_empty());
        network.close().await;
    }
}
