//! The registration decisions with explicit times, and one registration run against a
//! registrar on a loopback socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use sip_core::auth::{Algorithm, Challenge, Credentials};
use sip_core::message::{HeaderName, Message, Request, Response};

use super::machine::{Registration, Step, refresh_delay};
use super::*;
use crate::transport::Transport;

const REGISTRAR: &str = "198.51.100.7:5060";

fn spec() -> RegistrationSpec {
    let flow = Peer {
        transport: Transport::Udp,
        remote: REGISTRAR.parse().unwrap(),
        local: "192.0.2.1:5080".parse().unwrap(),
    };
    RegistrationSpec {
        trunk: "carrier-a".into(),
        registrar: Uri::parse("sip:198.51.100.7").unwrap(),
        flow,
        user: "acct".into(),
        domain: "carrier.example".into(),
        contact: client::local_uri(&flow, Some("acct")),
        expires: 600,
        retry: Duration::from_secs(30),
        credentials: Some(DigestAccount {
            username: "acct".into(),
            password: "secret".into(),
            realm: "carrier.example".into(),
        }),
    }
}

fn registration() -> Registration {
    Registration::new(spec(), "reg-1@192.0.2.1".into(), "ourtag")
}

/// The response to `request` with `status` and `extra` header lines.
fn answer(request: &Request, status: u16, extra: &[(HeaderName, &str)]) -> Response {
    let mut response =
        Response::for_request(request, sip_core::message::StatusCode::new(status).unwrap());
    response.set_to_tag("theirs");
    for (name, value) in extra {
        response.headers_mut().push(name.clone(), *value);
    }
    // Through the wire format, as the driver would hand it over.
    match Message::parse(response.encode()).unwrap() {
        Message::Response(r) => r,
        Message::Request(_) => panic!("not a response"),
    }
}

fn challenge(realm: &str) -> String {
    Challenge::new(realm, "n0nce", Algorithm::Md5).to_string()
}

fn registrar() -> SocketAddr {
    REGISTRAR.parse().unwrap()
}

fn header(request: &Request, name: HeaderName) -> Option<&str> {
    request
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
}

fn sent(step: Step) -> Request {
    match step {
        Step::Send(request) => *request,
        other => panic!("expected a REGISTER to send, got {other:?}"),
    }
}

fn failed(step: Step) -> (RegistrationFailure, Instant) {
    match step {
        Step::Failed { failure, retry_at } => (failure, retry_at),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn the_first_register_binds_our_contact_to_the_address_of_record() {
    let request = registration().begin();
    let bytes = request.encode();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(
        text.starts_with("REGISTER sip:198.51.100.7 SIP/2.0\r\n"),
        "{text}"
    );
    let headers = request.headers();
    assert_eq!(
        headers.to().unwrap().uri.to_string(),
        "sip:acct@carrier.example"
    );
    assert_eq!(
        headers.from().unwrap().uri.to_string(),
        "sip:acct@carrier.example"
    );
    assert_eq!(headers.from().unwrap().tag(), Some("ourtag"));
    assert_eq!(headers.call_id().unwrap(), "reg-1@192.0.2.1");
    assert_eq!(headers.cseq().unwrap().seq, 1);
    assert_eq!(headers.expires(), Some(600));
    let contacts = headers.contact().unwrap();
    assert_eq!(
        contacts.contacts()[0].uri().to_string(),
        "sip:acct@192.0.2.1:5080"
    );
    assert_eq!(headers.top_via().unwrap().sent_by(), "192.0.2.1:5080");
    assert!(headers.authorization().next().is_none());
}

#[test]
fn a_401_for_our_realm_from_the_registrar_is_answered_once_with_the_same_call_id() {
    let mut reg = registration();
    let first = reg.begin();
    let now = Instant::now();
    let challenged = answer(
        &first,
        401,
        &[(HeaderName::WwwAuthenticate, &challenge("carrier.example"))],
    );
    let second = sent(reg.on_response(&challenged, registrar(), now, "c1"));
    assert_eq!(second.headers().call_id().unwrap(), "reg-1@192.0.2.1");
    assert_eq!(second.headers().cseq().unwrap().seq, 2);
    assert_ne!(
        second.headers().top_via().unwrap().branch(),
        first.headers().top_via().unwrap().branch()
    );
    let credentials =
        Credentials::parse(header(&second, HeaderName::Authorization).unwrap()).unwrap();
    assert_eq!(credentials.username(), "acct");
    assert_eq!(credentials.realm(), "carrier.example");
    assert_eq!(credentials.uri(), "sip:198.51.100.7");
    // A second challenge in the same attempt is a failure, not another answer.
    let again = answer(
        &second,
        401,
        &[(HeaderName::WwwAuthenticate, &challenge("carrier.example"))],
    );
    let (failure, retry_at) = failed(reg.on_response(&again, registrar(), now, "c2"));
    assert_eq!(
        failure,
        RegistrationFailure::Rejected(sip_core::message::StatusCode::UNAUTHORIZED)
    );
    assert_eq!(retry_at, now + Duration::from_secs(30));
}

#[test]
fn a_407_is_answered_with_proxy_authorization() {
    let mut reg = registration();
    let first = reg.begin();
    let challenged = answer(
        &first,
        407,
        &[(HeaderName::ProxyAuthenticate, &challenge("carrier.example"))],
    );
    let second = sent(reg.on_response(&challenged, registrar(), Instant::now(), "c1"));
    assert!(header(&second, HeaderName::ProxyAuthorization).is_some());
    assert!(header(&second, HeaderName::Authorization).is_none());
}

#[test]
fn credentials_never_go_to_another_realm_or_another_source() {
    let now = Instant::now();
    let mut reg = registration();
    let first = reg.begin();
    let other_realm = answer(
        &first,
        401,
        &[(HeaderName::WwwAuthenticate, &challenge("evil.example"))],
    );
    failed(reg.on_response(&other_realm, registrar(), now, "c1"));

    let mut reg = registration();
    let first = reg.begin();
    let ours = answer(
        &first,
        401,
        &[(HeaderName::WwwAuthenticate, &challenge("carrier.example"))],
    );
    let elsewhere: SocketAddr = "203.0.113.66:5060".parse().unwrap();
    failed(reg.on_response(&ours, elsewhere, now, "c1"));

    let mut no_account = spec();
    no_account.credentials = None;
    let mut reg = Registration::new(no_account, "reg-2".into(), "t");
    let first = reg.begin();
    let ours = answer(
        &first,
        401,
        &[(HeaderName::WwwAuthenticate, &challenge("carrier.example"))],
    );
    failed(reg.on_response(&ours, registrar(), now, "c1"));
}

#[test]
fn a_200_is_refreshed_at_80_percent_of_our_contacts_granted_expiry() {
    let mut reg = registration();
    let first = reg.begin();
    let now = Instant::now();
    let ok = answer(
        &first,
        200,
        &[
            (HeaderName::Contact, "<sip:other@203.0.113.5>;expires=3600"),
            (HeaderName::Contact, "<sip:acct@192.0.2.1:5080>;expires=120"),
            (HeaderName::Expires, "900"),
        ],
    );
    match reg.on_response(&ok, registrar(), now, "c") {
        Step::Registered {
            expires,
            refresh_at,
        } => {
            assert_eq!(expires, Duration::from_secs(120));
            assert_eq!(refresh_at, now + Duration::from_secs(96));
        }
        other => panic!("expected Registered, got {other:?}"),
    }
    assert!(reg.is_bound(now + Duration::from_secs(119)));
    assert!(!reg.is_bound(now + Duration::from_secs(120)));
    // The refresh keeps the Call-ID and goes on counting.
    let refresh = reg.begin();
    assert_eq!(refresh.headers().call_id().unwrap(), "reg-1@192.0.2.1");
    assert_eq!(refresh.headers().cseq().unwrap().seq, 2);
}

#[test]
fn without_a_contact_expiry_the_expires_header_and_then_our_request_count() {
    let now = Instant::now();
    let mut reg = registration();
    let first = reg.begin();
    let ok = answer(&first, 200, &[(HeaderName::Expires, "300")]);
    assert!(matches!(
        reg.on_response(&ok, registrar(), now, "c"),
        Step::Registered { expires, .. } if expires == Duration::from_secs(300)
    ));
    let second = reg.begin();
    let bare = answer(&second, 200, &[]);
    assert!(matches!(
        reg.on_response(&bare, registrar(), now, "c"),
        Step::Registered { expires, .. } if expires == Duration::from_secs(600)
    ));
}

#[test]
fn a_short_grant_is_refreshed_at_least_five_seconds_before_it_expires() {
    assert_eq!(
        refresh_delay(Duration::from_secs(600)),
        Duration::from_secs(480)
    );
    assert_eq!(
        refresh_delay(Duration::from_secs(20)),
        Duration::from_secs(15)
    );
    assert_eq!(
        refresh_delay(Duration::from_secs(10)),
        Duration::from_secs(5)
    );
    assert_eq!(
        refresh_delay(Duration::from_secs(3)),
        Duration::from_secs(1)
    );
}

#[test]
fn a_423_raises_the_expiry_to_min_expires_and_sends_again() {
    let mut reg = registration();
    let first = reg.begin();
    let now = Instant::now();
    let brief = answer(&first, 423, &[(HeaderName::MinExpires, "1800")]);
    let second = sent(reg.on_response(&brief, registrar(), now, "c"));
    assert_eq!(second.headers().expires(), Some(1800));
    assert_eq!(second.headers().cseq().unwrap().seq, 2);
    // A 423 that asks for nothing longer ends the attempt.
    let same = answer(&second, 423, &[(HeaderName::MinExpires, "1800")]);
    let (failure, _) = failed(reg.on_response(&same, registrar(), now, "c"));
    assert_eq!(
        failure,
        RegistrationFailure::Rejected(sip_core::message::StatusCode::INTERVAL_TOO_BRIEF)
    );
    // Refreshes keep asking for the raised expiry.
    assert_eq!(reg.begin().headers().expires(), Some(1800));
}

#[test]
fn a_rejection_retries_after_the_retry_interval_or_a_longer_retry_after() {
    let now = Instant::now();
    let mut reg = registration();
    let first = reg.begin();
    let busy = answer(&first, 503, &[(HeaderName::RetryAfter, "120")]);
    let (_, retry_at) = failed(reg.on_response(&busy, registrar(), now, "c"));
    assert_eq!(retry_at, now + Duration::from_secs(120));
    let second = reg.begin();
    let soon = answer(&second, 503, &[(HeaderName::RetryAfter, "1")]);
    let (_, retry_at) = failed(reg.on_response(&soon, registrar(), now, "c"));
    assert_eq!(retry_at, now + Duration::from_secs(30));
    reg.begin();
    let (failure, retry_at) = failed(reg.on_error(RegistrationFailure::Timeout, now));
    assert_eq!(failure, RegistrationFailure::Timeout);
    assert_eq!(retry_at, now + Duration::from_secs(30));
}

#[test]
fn a_200_granting_nothing_is_not_a_registration() {
    let mut reg = registration();
    let first = reg.begin();
    let zero = answer(
        &first,
        200,
        &[(HeaderName::Contact, "<sip:acct@192.0.2.1:5080>;expires=0")],
    );
    let (failure, _) = failed(reg.on_response(&zero, registrar(), Instant::now(), "c"));
    assert_eq!(failure, RegistrationFailure::NotBound);
}

#[test]
fn unregistering_asks_for_expiry_zero_and_answers_its_challenge() {
    let now = Instant::now();
    let mut reg = registration();
    let first = reg.begin();
    let ok = answer(&first, 200, &[(HeaderName::Expires, "600")]);
    reg.on_response(&ok, registrar(), now, "c");
    let bye = reg.unregister();
    assert_eq!(bye.headers().expires(), Some(0));
    assert_eq!(bye.headers().cseq().unwrap().seq, 2);
    let challenged = answer(
        &bye,
        401,
        &[(HeaderName::WwwAuthenticate, &challenge("carrier.example"))],
    );
    let answered = sent(reg.on_response(&challenged, registrar(), now, "c1"));
    assert_eq!(answered.headers().expires(), Some(0));
    assert!(header(&answered, HeaderName::Authorization).is_some());
    let done = answer(&answered, 200, &[]);
    assert!(matches!(
        reg.on_response(&done, registrar(), now, "c"),
        Step::Unregistered
    ));
    assert!(!reg.is_bound(now));
}

mod over_udp {
    //! One registration against a registrar on a loopback socket: challenge, refresh,
    //! unregistration.

    use tokio::net::UdpSocket;
    use tokio::sync::mpsc;

    use super::*;
    use crate::sip::CallTable;
    use crate::sip::client::tests_support::ResponseRouter;
    use crate::transport::{ListenerSpec, Network, TransportSettings};

    /// Receives one REGISTER.
    async fn receive(socket: &UdpSocket) -> (Request, SocketAddr) {
        let mut buf = vec![0u8; 65535];
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
            .await
            .expect("no REGISTER within 5 s")
            .unwrap();
        match Message::parse(Bytes::copy_from_slice(&buf[..n])).unwrap() {
            Message::Request(r) => (r, from),
            Message::Response(_) => panic!("expected a request"),
        }
    }

    async fn reply(socket: &UdpSocket, to: SocketAddr, response: &Response) {
        socket.send_to(&response.encode(), to).await.unwrap();
    }

    #[tokio::test]
    async fn registers_with_a_challenge_refreshes_and_unregisters_on_shutdown() {
        let registrar = UdpSocket::bind("127.0.0.1:0").await.unwrap();
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
        let client = SipClient::new(network.clone(), Arc::clone(&calls), Default::default());
        let flow = Peer {
            transport: Transport::Udp,
            remote: registrar.local_addr().unwrap(),
            local: network.listeners()[0].local,
        };
        let mut spec = spec();
        spec.flow = flow;
        spec.registrar = Uri::parse(&format!("sip:{}", flow.remote)).unwrap();
        spec.contact = client::local_uri(&flow, Some("acct"));
        let (states_tx, mut states) = mpsc::channel(16);
        let report: RegistrationReport = Arc::new(move |state| {
            states_tx.try_send(state).unwrap();
        });
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_registration(client, spec, report, shutdown.clone()));

        let mut call_ids = Vec::new();
        let mut cseqs = Vec::new();
        // Two rounds: the registration, then its refresh (granted 6 s: due after 1 s).
        for _ in 0..2 {
            let (first, from) = receive(&registrar).await;
            assert!(first.headers().authorization().next().is_none());
            let challenge = answer(
                &first,
                401,
                &[(
                    HeaderName::WwwAuthenticate,
                    &super::challenge("carrier.example"),
                )],
            );
            reply(&registrar, from, &challenge).await;
            let (second, from) = receive(&registrar).await;
            assert!(second.headers().authorization().next().is_some());
            let ok = answer(&second, 200, &[(HeaderName::Expires, "6")]);
            reply(&registrar, from, &ok).await;
            let state = tokio::time::timeout(Duration::from_secs(5), states.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                state,
                RegistrationState::Registered {
                    expires: Duration::from_secs(6)
                }
            );
            for request in [&first, &second] {
                call_ids.push(request.headers().call_id().unwrap().to_owned());
                cseqs.push(request.headers().cseq().unwrap().seq);
            }
        }
        assert!(call_ids.iter().all(|id| *id == call_ids[0]));
        assert_eq!(cseqs, [1, 2, 3, 4]);

        shutdown.cancel();
        let (unregister, from) = receive(&registrar).await;
        assert_eq!(unregister.headers().expires(), Some(0));
        assert_eq!(unregister.headers().cseq().unwrap().seq, 5);
        reply(&registrar, from, &answer(&unregister, 200, &[])).await;
        task.await.unwrap();
        assert_eq!(states.recv().await, Some(RegistrationState::Unregistered));
        assert!(calls.is_empty());
        network.close().await;
    }
}
