//! The switchboard's routing decisions, and calls it starts over real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use sip_core::message::{Message, Request};
use sip_core::transaction::{ServerInviteTransaction, TimerConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::call::CallRecord;
use crate::call::actor::CallStats;
use crate::cluster::{
    Aor, ContactChanges, ContactUpdate, ContactUri, Flow, FlowTransport, MemoryLocationStore,
    RegisterChange, UnixMillis,
};
use crate::sip::CallTable;
use crate::sip::response_route::ResponseRoute;
use crate::transport::{InboundHandler, ListenerSpec, Network, Peer, Transport, TransportSettings};

const LOCAL: &str = "127.0.0.1:5060";

/// Profile "t" of domain example.com with users 1000 and 1001.
fn config(nat: bool) -> crate::config::Config {
    let text = format!(
        "[profile]\nname = \"t\"\ndomain = \"example.com\"\nlisten = [\"udp:127.0.0.1:5060\"]\n\
         [media]\nnat = {nat}\n\
         [[users]]\nname = \"1000\"\npassword = \"pw-1000\"\n\
         [[users]]\nname = \"1001\"\npassword = \"pw-1001\"\n"
    );
    crate::config::parse_sources([("sip-profiles/t.toml", text)]).unwrap()
}

/// The routing of [`config`], without trunks.
fn routing(nat: bool) -> SharedRouting {
    let config = config(nat);
    Arc::new(arc_swap::ArcSwap::from_pointee(Routing::new(
        &config,
        crate::trunk::Trunks::default(),
    )))
}

/// Binds `contact` for `user`, registered over `transport` from `source`.
async fn register(
    store: &MemoryLocationStore,
    user: &str,
    contact: &str,
    transport: FlowTransport,
    source: &str,
) {
    register_at(store, user, contact, transport, source, LOCAL).await;
}

/// [`register`] on the listener at `local`.
async fn register_at(
    store: &MemoryLocationStore,
    user: &str,
    contact: &str,
    transport: FlowTransport,
    source: &str,
    local: &str,
) {
    let change = RegisterChange {
        call_id: format!("reg-{contact}"),
        cseq: 1,
        flow: Flow {
            transport,
            remote: source.parse().unwrap(),
            local: local.parse().unwrap(),
        },
        user_agent: None,
        contacts: ContactChanges::Update(vec![ContactUpdate {
            contact: ContactUri::parse(contact).unwrap(),
            expires_secs: 600,
            q: None,
            instance: None,
            reg_id: None,
        }]),
        max_contacts: None,
    };
    let aor = Aor::new(user, "example.com");
    store.apply(&aor, change, UnixMillis::now()).await.unwrap();
}

/// The route the shipped default dialplan gives a phone of profile "t" calling `uri`.
async fn decide(store: &Arc<MemoryLocationStore>, nat: bool, uri: &str) -> RouteDecision {
    let destination = match Uri::parse(uri).unwrap() {
        Uri::Sip(uri) => uri.user().unwrap_or_default().to_owned(),
        other => panic!("{other}"),
    };
    let store: Arc<dyn LocationStore> = store.clone();
    execute(Execution {
        routing: routing(nat).load_full(),
        router: Router::new(reqwest::Client::new()),
        store,
        profile: "t".into(),
        request: RouteRequest {
            context: "default".into(),
            destination,
            caller: Some("1000".into()),
            caller_name: None,
            headers: Vec::new(),
            from_trunk: None,
            profile: "t".into(),
        },
        from_host: "example.com".into(),
        origin: Origin::Phone,
        ring_timeout: Duration::from_secs(60),
    })
    .await
}

fn flows(decision: RouteDecision) -> Vec<(String, Peer)> {
    match decision {
        RouteDecision::Dial(mut route) => route
            .next_stage(None)
            .unwrap()
            .targets
            .into_iter()
            .map(|t| (t.uri.to_string(), t.flow))
            .collect(),
        RouteDecision::Reject(cause) => panic!("rejected: {cause:?}"),
        RouteDecision::App(_) => panic!("an app, not a dial"),
    }
}

#[tokio::test]
async fn a_callee_that_is_no_user_of_the_profile_is_rejected_as_unallocated() {
    let store = Arc::new(MemoryLocationStore::new());
    let decision = decide(&store, false, "sip:2000@example.com").await;
    assert!(matches!(
        decision,
        RouteDecision::Reject(HangupCause::UnallocatedNumber)
    ));
    let decision = decide(&store, false, "sip:example.com").await;
    assert!(matches!(
        decision,
        RouteDecision::Reject(HangupCause::UnallocatedNumber)
    ));
}

#[tokio::test]
async fn a_user_without_a_live_binding_is_rejected_as_not_registered() {
    let store = Arc::new(MemoryLocationStore::new());
    register(
        &store,
        "1000",
        "sip:1000@192.0.2.1",
        FlowTransport::Udp,
        "192.0.2.1:5060",
    )
    .await;
    let decision = decide(&store, false, "sip:1001@example.com").await;
    assert!(matches!(
        decision,
        RouteDecision::Reject(HangupCause::UserNotRegistered)
    ));
}

#[tokio::test]
async fn sequential_ring_steps_without_a_timeout_ring_for_the_profile_timeout_except_the_last() {
    let store = Arc::new(MemoryLocationStore::new());
    for user in ["1000", "1001"] {
        register(
            &store,
            user,
            &format!("sip:{user}@192.0.2.7:5070"),
            FlowTransport::Udp,
            "198.51.100.1:40000",
        )
        .await;
    }
    let routing = routing(false).load_full();
    let lookup = super::execute::Lookup {
        routing: &routing,
        store: store.as_ref(),
        profile: "t",
        ring_timeout: Duration::from_secs(30),
    };
    let step = |extensions: &[&str], timeout_secs| crate::dialplan::RingStep {
        extensions: extensions.iter().map(|e| (*e).to_owned()).collect(),
        timeout_secs,
    };
    let steps = [
        step(&["1000"], None),
        step(&["9999"], Some(5)),
        step(&["1001"], Some(10)),
        step(&["1000", "1001"], None),
    ];
    let decision =
        super::execute::ring(&lookup, &steps, &crate::call::BranchIdentity::default()).await;
    let RouteDecision::Dial(mut route) = decision else {
        panic!("{decision:?}");
    };
    let mut timeouts = Vec::new();
    let mut sizes = Vec::new();
    while let Some(stage) = route.next_stage(None) {
        timeouts.push(stage.ring_timeout.map(|t| t.as_secs()));
        sizes.push(stage.targets.len());
    }
    // The step with no phone (9999) is skipped.
    assert_eq!(timeouts, [Some(30), Some(10), None]);
    assert_eq!(sizes, [1, 1, 2]);
}

#[tokio::test]
async fn a_udp_binding_is_rung_at_its_contact_address_from_the_listener_it_registered_on() {
    let store = Arc::new(MemoryLocationStore::new());
    register(
        &store,
        "1001",
        "sip:1001@192.0.2.7:5070;transport=udp",
        FlowTransport::Udp,
        "198.51.100.1:40000",
    )
    .await;
    register(
        &store,
        "1001",
        "sip:1001@phone.example.com",
        FlowTransport::Udp,
        "198.51.100.2:40000",
    )
    .await;
    let targets = flows(decide(&store, false, "sip:1001@example.com").await);
    let local: SocketAddr = LOCAL.parse().unwrap();
    let expected = vec![
        (
            "sip:1001@192.0.2.7:5070;transport=udp".to_owned(),
            Peer {
                transport: Transport::Udp,
                remote: "192.0.2.7:5070".parse().unwrap(),
                local,
            },
        ),
        // A host name would need DNS: the flow it registered from.
        (
            "sip:1001@phone.example.com".to_owned(),
            Peer {
                transport: Transport::Udp,
                remote: "198.51.100.2:40000".parse().unwrap(),
                local,
            },
        ),
    ];
    assert_eq!(targets, expected);
}

#[tokio::test]
async fn behind_nat_and_over_tcp_a_binding_is_rung_on_the_flow_it_registered_from() {
    let store = Arc::new(MemoryLocationStore::new());
    register(
        &store,
        "1001",
        "sip:1001@10.0.0.5:5060",
        FlowTransport::Udp,
        "198.51.100.1:40000",
    )
    .await;
    let targets = flows(decide(&store, true, "sip:1001@example.com").await);
    assert_eq!(targets[0].1.remote, "198.51.100.1:40000".parse().unwrap());

    let store = Arc::new(MemoryLocationStore::new());
    register(
        &store,
        "1001",
        "sip:1001@10.0.0.5:5060;transport=tcp",
        FlowTransport::Tcp,
        "198.51.100.1:40001",
    )
    .await;
    let targets = flows(decide(&store, false, "sip:1001@example.com").await);
    assert_eq!(targets[0].1.transport, Transport::Tcp);
    assert_eq!(targets[0].1.remote, "198.51.100.1:40001".parse().unwrap());
}

fn invite(call_id: &str, callee: &str) -> Request {
    let text = format!(
        "INVITE sip:{callee}@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@example.com>;tag=a\r\n\
         To: <sip:{callee}@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:1000@127.0.0.1:9>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match Message::parse(Bytes::from(text)).unwrap() {
        Message::Request(request) => request,
        Message::Response(_) => panic!("not a request"),
    }
}

/// T1 of 10 ms: an unacknowledged final response gives up (Timer H) after 640 ms.
fn short_timers() -> TimerConfig {
    TimerConfig {
        t1: Duration::from_millis(10),
        t2: Duration::from_millis(40),
        t4: Duration::from_millis(50),
    }
}

/// The receive path of the rig: responses go to the call owning their Call-ID.
struct ResponsesToCalls(Arc<CallTable>);

impl InboundHandler for ResponsesToCalls {
    fn on_message(&self, peer: Peer, data: Bytes) {
        let Ok(Message::Response(response)) = Message::parse(data) else {
            return;
        };
        let call_id = response.headers().call_id().unwrap().to_owned();
        if let Some(mailbox) = self.0.get(&call_id) {
            mailbox
                .try_send(Box::new(crate::sip::CallMessage::Response {
                    response,
                    peer,
                }))
                .unwrap();
        }
    }
}

/// A switchboard over real sockets, with a phone that sends it INVITEs.
struct Rig {
    network: Network,
    calls: Arc<CallTable>,
    services: CallServices,
    records: mpsc::Receiver<CallRecord>,
    store: Arc<MemoryLocationStore>,
    switchboard: Switchboard,
    phone: tokio::net::UdpSocket,
}

impl Rig {
    async fn new() -> Rig {
        let specs = [ListenerSpec {
            kind: Transport::Udp,
            addr: "127.0.0.1:0".parse().unwrap(),
            max_message_size: 4096,
        }];
        let network = Network::bind(
            &specs,
            TransportSettings::default(),
            CancellationToken::new(),
        )
        .unwrap();
        let calls = Arc::new(CallTable::new());
        network.start(Arc::new(ResponsesToCalls(Arc::clone(&calls))));
        let (records_tx, records) = mpsc::channel(4);
        let services = CallServices {
            network: network.clone(),
            calls: Arc::clone(&calls),
            records: records_tx,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            stats: Arc::new(CallStats::default()),
            registry: Arc::new(crate::call::registry::ActiveCalls::new()),
            events: crate::telemetry::events::EventBus::default(),
        };
        let settings = SwitchboardSettings {
            profile: "t".into(),
            kind: crate::config::ProfileKind::Phones,
            context: "default".into(),
            calls: CallSettings {
                timers: short_timers(),
                ring_timeout: Duration::from_secs(60),
                max_duration: None,
                session_expires: None,
                min_se: Duration::from_secs(90),
                user_agent: SERVER.into(),
            },
            nat: false,
            media_timeout: None,
            dtmf: crate::call::app::DtmfMode::Auto,
            music_on_hold: None,
            recordings_dir: None,
            record: false,
        };
        let store = Arc::new(MemoryLocationStore::new());
        let locations: Arc<dyn LocationStore> = store.clone();
        let switchboard = Switchboard::new(
            settings,
            locations,
            None,
            services.clone(),
            routing(false),
            Router::new(reqwest::Client::new()),
        );
        let phone = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Rig {
            network,
            calls,
            services,
            records,
            store,
            switchboard,
            phone,
        }
    }

    /// What the driver hands over for a new INVITE from the phone to `callee`.
    fn new_invite(&self, call_id: &str, callee: &str) -> NewInvite {
        let peer = Peer {
            transport: Transport::Udp,
            remote: self.phone.local_addr().unwrap(),
            local: self.network.listeners()[0].local,
        };
        let request = invite(call_id, callee);
        let transaction =
            ServerInviteTransaction::new(request, Instant::now(), false, short_timers()).unwrap();
        NewInvite {
            transaction,
            peer,
            route: ResponseRoute::Datagram(peer),
            caller: Some("1000".into()),
        }
    }

    /// The status of the next response the phone receives.
    async fn phone_receives(&self) -> u16 {
        match receive(&self.phone).await {
            Message::Response(response) => response.status().as_u16(),
            Message::Request(request) => panic!("unexpected request {request:?}"),
        }
    }
}

#[tokio::test]
async fn the_call_id_of_a_taken_invite_is_routed_before_handle_invite_returns() {
    let rig = Rig::new().await;
    rig.switchboard
        .handle_invite(rig.new_invite("sb-1", "1001"));
    assert!(rig.calls.get("sb-1").is_some());
    assert_eq!(rig.services.stats.started(), 1);
    // A second new INVITE with the same Call-ID starts no second call.
    rig.switchboard
        .handle_invite(rig.new_invite("sb-1", "1001"));
    assert_eq!(rig.services.stats.started(), 1);
    rig.services.shutdown.cancel();
    rig.network.close().await;
}

#[tokio::test]
async fn a_call_to_an_unknown_user_gets_404_leaves_a_record_and_forgets_its_call_ids() {
    let mut rig = Rig::new().await;
    rig.switchboard
        .handle_invite(rig.new_invite("sb-404", "2000"));
    let mut statuses = vec![rig.phone_receives().await];
    if statuses[0] == 100 {
        statuses.push(rig.phone_receives().await);
    }
    assert_eq!(statuses.last(), Some(&404), "{statuses:?}");
    let record = rig.records.recv().await.unwrap();
    assert_eq!(record.hangup.cause, "unallocated_number");
    assert_eq!(record.hangup.sip_status, 404);
    assert_eq!(record.caller.as_deref(), Some("1000"));
    assert_eq!(rig.services.stats.active(), 0);
    // Unacknowledged, the 404's transaction ends with Timer H; then the call is gone.
    rig.services.tracker.close();
    rig.services.tracker.wait().await;
    assert!(rig.calls.is_empty());
    rig.network.close().await;
}

/// The next SIP message on `socket`.
async fn receive(socket: &tokio::net::UdpSocket) -> Message {
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
        .await
        .expect("nothing received within 5 s")
        .unwrap();
    Message::parse(Bytes::copy_from_slice(&buf[..n])).unwrap()
}

/// The method of the next request on `socket` other than `skip` (retransmissions).
async fn next_request_other_than(socket: &tokio::net::UdpSocket, skip: &str) -> String {
    loop {
        if let Message::Request(request) = receive(socket).await {
            let method = request.method().as_str().to_owned();
            if method != skip {
                return method;
            }
        }
    }
}

#[tokio::test]
async fn on_shutdown_a_ringing_call_is_cancelled_and_the_caller_gets_503() {
    let mut rig = Rig::new().await;
    let callee = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let callee_addr = callee.local_addr().unwrap().to_string();
    let local = rig.network.listeners()[0].local.to_string();
    register_at(
        &rig.store,
        "1001",
        &format!("sip:1001@{callee_addr}"),
        FlowTransport::Udp,
        &callee_addr,
        &local,
    )
    .await;
    rig.switchboard
        .handle_invite(rig.new_invite("sb-shutdown", "1001"));
    // The callee's phone rings, and never answers.
    let Message::Request(invite) = receive(&callee).await else {
        panic!("expected the INVITE");
    };
    let mut ringing =
        sip_core::message::Response::for_request(&invite, sip_core::message::StatusCode::RINGING);
    ringing.set_to_tag("callee");
    callee.send_to(&ringing.encode(), &local).await.unwrap();
    let mut status = rig.phone_receives().await;
    while status < 180 {
        status = rig.phone_receives().await;
    }
    // RFC 3261 §9.1: a CANCEL goes out only once the branch got a provisional response.
    rig.services.shutdown.cancel();
    while status < 200 {
        status = rig.phone_receives().await;
    }
    assert_eq!(status, 503);
    assert_eq!(next_request_other_than(&callee, "INVITE").await, "CANCEL");
    let record = tokio::time::timeout(Duration::from_secs(5), rig.records.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.hangup.cause, "system_shutdown");
    assert_eq!(record.hangup.side, crate::call::HangupSide::Switch);
    assert_eq!(record.legs.len(), 2);
    rig.network.close().await;
}

#[test]
fn a_profiles_dtmf_music_on_hold_and_recording_become_each_calls_options() {
    let head =
        "[profile]\nname = \"t\"\ndomain = \"example.com\"\nlisten = [\"udp:127.0.0.1:5060\"]\n";
    let relayed = format!(
        "{head}[media]\ndtmf = \"info\"\nmusic_on_hold = \"moh/default.wav\"\n\
         [recording]\npolicy = \"all\"\n"
    );
    let config = crate::config::parse_sources([("sip-profiles/t.toml", relayed)]).unwrap();
    let options = SwitchboardSettings::from_profile(&config.profiles()[0]).call_options();
    assert_eq!(options.dtmf, DtmfMode::Info);
    assert!(
        options
            .music_on_hold
            .as_ref()
            .is_some_and(|moh| !moh.samples().is_empty())
    );
    assert!(options.record);
    let dir = options.recordings_dir.expect("a recordings directory");
    assert!(
        dir.is_absolute() && dir.ends_with("var/recordings"),
        "{dir:?}"
    );

    // With direct media there is no relay to tap: no recording, whatever the policy.
    let direct = format!("{head}[media]\ndirect_media = true\n[recording]\npolicy = \"all\"\n");
    let config = crate::config::parse_sources([("sip-profiles/t.toml", direct)]).unwrap();
    let options = SwitchboardSettings::from_profile(&config.profiles()[0]).call_options();
    assert!(!options.record && options.recordings_dir.is_none());
    assert_eq!(options.dtmf, DtmfMode::Auto);
    assert!(options.music_on_hold.is_none());
}
