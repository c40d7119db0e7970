//! An originated call's A leg (click-to-call): the switch, as UAC, rings every registered
//! contact of the originating phone at once with an offer of its own naming the relay. The
//! first 2xx wins and is acknowledged at once (RFC 3261 §13.2.2.4); the other forks get
//! CANCEL (§9.1), or ACK and BYE for a late 2xx. A's answer then stands in for a caller's
//! offer: B's branches are offered it (rewritten to the relay) and the call goes on through
//! `stage` and `branch`. What the machine would tell a caller's INVITE is not sent (A's INVITE
//! is answered already); a failure on B's side is a BYE to A (see `ending`).
//!
//! Pure: no I/O, no clock.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;
use sip_core::dialog::Dialog;
use sip_core::message::{HeaderName, Method, NameAddr, Request, Response, StatusCode, Uri};
use sip_core::sdp::SessionDescription;
use sip_core::transaction::TransactionKey;

use super::api::{CallEvent, MediaPlan, OriginateSetup, Target};
use super::branch::Cancel;
use super::branch_invite::MAX_FORWARDS;
use super::caller::Caller;
use super::outgoing::{self, ALLOW, SUPPORTED};
use super::sdp_rewrite::{Sdp, phone_media, read_sdp};
use super::session_timer::{self, LegTimer, Refresher};
use super::stage::failure_rank;
use super::transactions::{Role, Transactions};
use super::{CallMachine, Leg, Phase, Start};
use crate::call::cause::HangupCause;
use crate::call::record::{HangupSide, LegRecord, LegSide};
use crate::sip::response_route::ResponseRoute;
use crate::transport::{Peer, Transport};

/// CSeq number of A's INVITE (each fork is a new transaction of the same request, RFC 3261
/// §8.1.1.5).
const ORIGIN_SEQ: u32 = 1;

/// The A leg of an originated call.
#[derive(Debug)]
pub(super) struct Originated {
    /// One INVITE per registered contact of A.
    forks: Vec<Fork>,
    /// The fork that answered.
    winner: Option<usize>,
    /// When A answered.
    answered: Option<Instant>,
    /// A's ringing was reported (`CallEvent::Ringing`).
    rang: bool,
}

/// A's INVITE to one of its contacts.
#[derive(Debug)]
struct Fork {
    target: Target,
    invite: Request,
    key: TransactionKey,
    provisional: bool,
    cancel: Cancel,
    final_status: Option<u16>,
    final_reason: String,
    remote_tag: Option<String>,
    ended: Option<Instant>,
    /// It failed without any response (Timer B, transport failure).
    silent: bool,
}

/// `CallMachine::originate`: sends A's INVITEs.
pub(super) fn start(setup: OriginateSetup, now: Instant) -> CallMachine {
    let OriginateSetup {
        id,
        profile,
        user,
        a_call_id,
        a_uri,
        a_targets,
        shown_to_a,
        shown_to_b,
        destination,
        ring_timeout,
        settings,
        relay_a,
        relay_b,
        wall,
    } = setup;
    let tag = outgoing::new_tag();
    let flow = a_targets.first().map_or(
        Peer {
            transport: Transport::Udp,
            remote: relay_a,
            local: relay_a,
        },
        |t| t.flow,
    );
    let dialled = dialled(&destination, &shown_to_b, &tag, &a_call_id);
    let caller = Caller {
        invite: dialled,
        key: None,
        peer: flow,
        route: ResponseRoute::Datagram(flow),
        tag,
        remote_tag: String::new(),
        offer: None,
        final_status: None,
        last_provisional: None,
        session: None,
    };
    let mut machine = CallMachine::assemble(
        Start {
            id,
            a_call_id,
            profile,
            caller_user: Some(user),
            settings,
            media: MediaPlan::Anchored {
                a: relay_a,
                b: relay_b,
            },
            wall,
            phase: Phase::Originating,
            caller,
            a_leg: None,
            txs: Transactions::default(),
            originated: Some(Box::new(Originated {
                forks: Vec::new(),
                winner: None,
                answered: None,
                rang: false,
            })),
        },
        now,
    );
    machine.ring_deadline = Some(now + ring_timeout);
    match offer_template(relay_a) {
        Some(template) => {
            let body = machine.sdp_a.render(Some(relay_a), &template);
            machine.ring_origin(now, a_targets, &a_uri, &shown_to_a, &body);
        }
        None => {
            let cause = HangupCause::TemporaryFailure;
            machine.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Switch);
        }
    }
    machine.pump(now);
    machine
}

/// The call as A would have dialled it: From is who B is shown, To and Request-URI the
/// destination. Never sent: B's branches take their identity from it, the record its URIs.
fn dialled(destination: &Uri, shown_to_b: &NameAddr, tag: &str, call_id: &str) -> Request {
    let mut request = Request::new(Method::Invite, destination.clone());
    let mut from = shown_to_b.clone();
    from.set_tag(tag);
    let headers = request.headers_mut();
    headers.push(HeaderName::From, from.to_string());
    headers.push(
        HeaderName::To,
        NameAddr::new(destination.clone()).to_string(),
    );
    headers.push(HeaderName::CallId, call_id);
    headers.push(HeaderName::CSeq, format!("{ORIGIN_SEQ} INVITE"));
    request
}

/// The switch's offer to A before the relay address goes in: G.711 both laws and RFC 4733
/// telephone events, the codecs every phone has.
fn offer_template(relay: SocketAddr) -> Option<Sdp> {
    let (family, ip) = match relay.ip() {
        IpAddr::V4(ip) => ("IP4", ip.to_string()),
        IpAddr::V6(ip) => ("IP6", ip.to_string()),
    };
    let port = relay.port();
    let text = format!(
        "v=0\r\no=switchyard 0 0 IN {family} {ip}\r\ns=switchyard\r\nc=IN {family} {ip}\r\n\
         t=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
         a=ptime:20\r\na=sendrecv\r\n"
    );
    let parsed = SessionDescription::parse(&text).ok()?;
    Some(Sdp {
        parsed,
        body: Bytes::from(text),
    })
}

impl CallMachine {
    /// An originated call's A leg, while there is one.
    fn origin(&self) -> Option<&Originated> {
        self.originated.as_deref()
    }

    fn fork_mut(&mut self, n: usize) -> Option<&mut Fork> {
        self.originated.as_mut()?.forks.get_mut(n)
    }

    /// Sends A's INVITE to every contact; ends the call when none could be sent.
    fn ring_origin(
        &mut self,
        now: Instant,
        targets: Vec<Target>,
        a_uri: &Uri,
        shown_to_a: &NameAddr,
        body: &Bytes,
    ) {
        let mut forks = Vec::with_capacity(targets.len());
        for target in targets {
            let invite = self.origin_invite(&target, a_uri, shown_to_a, body);
            let Ok(key) = TransactionKey::for_client_request(&invite) else {
                continue;
            };
            forks.push(Fork {
                target,
                invite,
                key,
                provisional: false,
                cancel: Cancel::No,
                final_status: None,
                final_reason: String::new(),
                remote_tag: None,
                ended: None,
                silent: false,
            });
        }
        let requests: Vec<(Request, Peer)> = forks
            .iter()
            .map(|f| (f.invite.clone(), f.target.flow))
            .collect();
        if let Some(origin) = self.originated.as_mut() {
            origin.forks = forks;
        }
        if requests.is_empty() {
            let cause = HangupCause::UserNotRegistered;
            self.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Switch);
            return;
        }
        for (n, (invite, flow)) in requests.into_iter().enumerate() {
            if !self.send_request(now, invite, flow, Role::Origin(n)) {
                let status = StatusCode::SERVICE_UNAVAILABLE;
                self.fork_failed(now, n, status.as_u16(), status.canonical_reason(), true);
            }
        }
    }

    /// A's INVITE to one contact (RFC 3261 §8.1.1): the switch's own headers only.
    fn origin_invite(
        &self,
        target: &Target,
        a_uri: &Uri,
        shown_to_a: &NameAddr,
        body: &Bytes,
    ) -> Request {
        let mut invite = Request::new(Method::Invite, target.uri.clone());
        let mut from = shown_to_a.clone();
        from.set_tag(&self.caller.tag);
        let headers = invite.headers_mut();
        headers.push(HeaderName::Via, outgoing::via(&target.flow).to_string());
        headers.push(HeaderName::MaxForwards, MAX_FORWARDS);
        headers.push(HeaderName::From, from.to_string());
        headers.push(HeaderName::To, NameAddr::new(a_uri.clone()).to_string());
        headers.push(HeaderName::CallId, self.a_call_id.as_str());
        headers.push(HeaderName::CSeq, format!("{ORIGIN_SEQ} INVITE"));
        headers.push(HeaderName::Contact, outgoing::contact(&target.flow));
        headers.push(HeaderName::Allow, ALLOW);
        headers.push(HeaderName::Supported, SUPPORTED);
        headers.push(HeaderName::UserAgent, self.settings.user_agent.as_str());
        self.push_session_timer(headers);
        outgoing::request_with_sdp(invite, Some(body))
    }

    /// A response on fork `n` of A's INVITE.
    pub(super) fn on_origin_response(
        &mut self,
        now: Instant,
        n: usize,
        key: &TransactionKey,
        response: Response,
    ) {
        let status = response.status();
        let ringing = self.phase == Phase::Originating;
        let Some(origin) = self.originated.as_mut() else {
            return;
        };
        let Some(fork) = origin.forks.get_mut(n) else {
            return;
        };
        if let Some(tag) = response
            .headers()
            .to()
            .ok()
            .and_then(|to| to.tag().map(str::to_owned))
        {
            fork.remote_tag = Some(tag);
        }
        if status.is_provisional() {
            fork.provisional = true;
            if fork.cancel == Cancel::Waiting {
                self.send_fork_cancel(now, n);
                return;
            }
            if ringing && fork.cancel == Cancel::No && status != StatusCode::TRYING && !origin.rang
            {
                origin.rang = true;
                self.events.push_back(CallEvent::Ringing);
            }
        } else if status.is_success() {
            self.on_origin_2xx(now, n, key, response);
        } else {
            self.fork_failed(now, n, status.as_u16(), response.reason(), false);
        }
    }

    /// Fork `n` can no longer answer: Timer B (408) or a transport failure (503,
    /// RFC 3261 §8.1.3.1).
    pub(super) fn on_origin_gone(&mut self, now: Instant, n: usize, status: StatusCode) {
        self.fork_failed(now, n, status.as_u16(), status.canonical_reason(), true);
    }

    /// Fork `n` ended without an answer. A 6xx ends A's ringing at once (RFC 3261 §16.7 step
    /// 5 applies to the switch's own forking as well); otherwise it ends once every fork has
    /// failed, with the best failure (§16.7 step 6 ranking).
    fn fork_failed(&mut self, now: Instant, n: usize, status: u16, reason: &str, silent: bool) {
        let Some(fork) = self.fork_mut(n) else {
            return;
        };
        if fork.final_status.is_some() {
            return;
        }
        fork.final_status = Some(status);
        fork.final_reason = reason.to_owned();
        fork.ended = Some(now);
        fork.silent = silent;
        let counts = fork.cancel == Cancel::No;
        if !counts || self.phase != Phase::Originating {
            return;
        }
        let Some(origin) = self.origin() else {
            return;
        };
        let all_failed = origin.forks.iter().all(|f| f.final_status.is_some());
        let global = (600..700).contains(&status);
        if !(global || all_failed) {
            return;
        }
        let best = if global {
            Some(n)
        } else {
            (0..origin.forks.len()).min_by_key(|&i| {
                let fork = &origin.forks[i];
                (failure_rank(fork.final_status.unwrap_or(500)), fork.silent)
            })
        };
        let Some(best) = best.and_then(|i| origin.forks.get(i)) else {
            return;
        };
        let status = best.final_status.unwrap_or(status);
        let reason = best.final_reason.clone();
        let side = if best.silent {
            HangupSide::Switch
        } else {
            HangupSide::Caller
        };
        let cause = HangupCause::from_sip_status(status);
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
        self.fail_unanswered(now, code, Some(&reason), cause, side);
    }

    /// A 2xx on fork `n`: the first one while A rings wins; any other is acknowledged and
    /// hung up (RFC 3261 §13.2.2.4).
    fn on_origin_2xx(&mut self, now: Instant, n: usize, key: &TransactionKey, response: Response) {
        let wins = self.phase == Phase::Originating
            && self
                .origin()
                .and_then(|o| o.forks.get(n))
                .is_some_and(|f| f.cancel == Cancel::No && f.final_status.is_none());
        let Some(fork) = self.origin().and_then(|o| o.forks.get(n)) else {
            return;
        };
        let invite = fork.invite.clone();
        let flow = fork.target.flow;
        if !wins {
            self.ack_and_bye_dialog(now, &invite, flow, key, &response);
            if let Some(fork) = self.fork_mut(n)
                && fork.final_status.is_none()
            {
                fork.final_status = Some(response.status().as_u16());
                fork.ended = Some(now);
            }
            return;
        }
        // RFC 3264 §4: the 2xx to the switch's offer carries A's answer; without one (or
        // without a dialog) A cannot be connected.
        let sdp = read_sdp(response.headers(), response.body()).ok().flatten();
        match (Dialog::new_uac(&invite, &response), sdp) {
            (Ok(dialog), Some(sdp)) => self.origin_answered(now, n, key, dialog, &response, sdp),
            _ => {
                tracing::debug!(fork = n, "A's 2xx without SDP or dialog: hung up");
                self.ack_and_bye_dialog(now, &invite, flow, key, &response);
                let status = StatusCode::NOT_ACCEPTABLE_HERE;
                self.fork_failed(now, n, status.as_u16(), status.canonical_reason(), false);
            }
        }
    }

    /// Fork `n` answered: A's dialog becomes the A leg, the other forks are cancelled, and
    /// the actor is asked for B's first stage.
    fn origin_answered(
        &mut self,
        now: Instant,
        n: usize,
        key: &TransactionKey,
        dialog: Dialog,
        response: &Response,
        sdp: Sdp,
    ) {
        let tag = CallMachine::tag_of(response);
        let Some(origin) = self.originated.as_mut() else {
            return;
        };
        origin.winner = Some(n);
        origin.answered = Some(now);
        let Some(fork) = origin.forks.get_mut(n) else {
            return;
        };
        fork.final_status = Some(response.status().as_u16());
        let flow = fork.target.flow;
        let count = origin.forks.len();
        self.phase = Phase::Routing;
        self.ring_deadline = None;
        for other in (0..count).filter(|&i| i != n) {
            self.cancel_fork(now, other);
        }
        let headers = response.headers();
        let timer = session_timer::negotiate_as_uac(headers, self.settings.session_expires)
            .map(|(interval, refresher)| LegTimer::new(now, interval, refresher == Refresher::Uac));
        self.a_leg = Some(Leg {
            dialog,
            flow,
            timer,
            allows_update: outgoing::allows_update(headers),
            supports_timer: outgoing::supports_timer(headers),
            refreshing: None,
        });
        self.caller.remote_tag.clone_from(&tag);
        self.caller.final_status = Some(response.status().as_u16());
        // A's answer completes the exchange the switch's offer started: ACK at once.
        self.ack_leg(LegSide::A, ORIGIN_SEQ, key.clone(), tag, None);
        self.sdp_a.heard(&sdp.parsed);
        self.remote_media(LegSide::A, phone_media(&sdp.parsed));
        self.caller.offer = Some(sdp);
        self.events.push_back(CallEvent::OriginAnswered);
    }

    /// Cancels fork `n` unless it has a final response; before its first provisional
    /// response the CANCEL waits (RFC 3261 §9.1).
    fn cancel_fork(&mut self, now: Instant, n: usize) {
        let Some(fork) = self.fork_mut(n) else {
            return;
        };
        if fork.cancel.ask(fork.provisional, fork.final_status) {
            self.send_fork_cancel(now, n);
        }
    }

    fn send_fork_cancel(&mut self, now: Instant, n: usize) {
        let Some(fork) = self.fork_mut(n) else {
            return;
        };
        fork.cancel = Cancel::Sent;
        let key = fork.key.clone();
        let cancel = outgoing::cancel_for(&fork.invite);
        let flow = fork.target.flow;
        if self.txs.invite_pending(&key) {
            self.send_request(now, cancel, flow, Role::Detached);
        }
    }

    /// An originated call ends unanswered: A's forks still ringing are cancelled, and A
    /// gets a BYE once it answered (its dialog is confirmed, RFC 3261 §15).
    /// A leg the switch answered for an app gets its BYE the same way.
    pub(super) fn hang_up_origin(&mut self, now: Instant) {
        let forks = self.origin().map_or(0, |origin| origin.forks.len());
        for n in 0..forks {
            self.cancel_fork(now, n);
        }
        if self.a_answered_by_switch() && !self.caller_unanswered() && self.a_leg.is_some() {
            self.send_bye(now, LegSide::A);
        }
    }

    /// The A leg of the record of an originated call: the fork that answered, else the one
    /// whose failure ended the call.
    pub(super) fn origin_leg_record(&self, ended_at: Instant) -> Option<LegRecord> {
        let origin = self.origin()?;
        let index = origin.winner.or_else(|| {
            (0..origin.forks.len())
                .min_by_key(|&i| failure_rank(origin.forks[i].final_status.unwrap_or(487)))
        })?;
        let fork = origin.forks.get(index)?;
        Some(LegRecord {
            side: LegSide::A,
            sip_call_id: self.a_call_id.clone(),
            local_tag: self.caller.tag.clone(),
            remote_tag: fork.remote_tag.clone(),
            target: fork.target.uri.to_string(),
            signalling_addr: Some(fork.target.flow.remote),
            started_at: self.wall,
            answered_at: origin.answered.map(|at| self.wall_at(at)),
            ended_at: self.wall_at(fork.ended.unwrap_or(ended_at)),
            final_status: fork.final_status.or(match fork.cancel {
                Cancel::No => None,
                Cancel::Waiting | Cancel::Sent => Some(487),
            }),
            media: None,
            trunk: None,
            stage: 0,
        })
    }
}
