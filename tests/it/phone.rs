//! A small SIP phone for what SIPp cannot express: builds requests with sip-core's message
//! types, parses the switch's responses with sip-core, and answers digest challenges with
//! sip-core's client side. UDP only, retransmitting like a UAC (RFC 3261 §17.1.2.2).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::auth::{Challenge, Credentials, Secret};
use sip_core::message::{HeaderName, Message, Method, Request, Response, Uri};

use crate::harness::{DOMAIN, Switch};

/// RFC 3261 §17.1.2.2 timer E starts at T1 and doubles up to T2.
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
/// Timer F: a non-INVITE transaction gives up after 64*T1.
const TIMER_F: Duration = Duration::from_secs(32);

/// One user agent with its own socket, Call-ID and CSeq counter.
pub struct Phone {
    sock: UdpSocket,
    server: SocketAddr,
    user: String,
    password: String,
    call_id: String,
    from_tag: String,
    cseq: u32,
    branches: u32,
}

impl Phone {
    /// A phone for `user` with `password`, talking to `switch` over UDP.
    pub fn new(switch: &Switch, user: &str, password: &str) -> Phone {
        Phone::from_source(switch, [127, 0, 0, 1], user, password)
    }

    /// Like [`Phone::new`], sending from another loopback address (`127.x.y.z`), so the switch
    /// sees a different source.
    pub fn from_source(switch: &Switch, ip: [u8; 4], user: &str, password: &str) -> Phone {
        let sock = UdpSocket::bind(SocketAddr::from((ip, 0))).expect("bind phone socket");
        let port = sock.local_addr().expect("phone addr").port();
        Phone {
            sock,
            server: switch.addr(),
            user: user.to_owned(),
            password: password.to_owned(),
            call_id: format!("it-{port}-{}@127.0.0.1", ip[3]),
            from_tag: format!("tag{port}"),
            cseq: 1,
            branches: 0,
        }
    }

    /// The phone's socket address (what the switch sees as the source).
    pub fn local_addr(&self) -> SocketAddr {
        self.sock.local_addr().expect("phone addr")
    }

    /// Starts a new registration dialog: a fresh Call-ID, CSeq from 1 (RFC 3261 §10.2: a UA
    /// keeps one Call-ID for its registrations; a new one looks like a different UA).
    pub fn new_call_id(&mut self, call_id: &str) {
        call_id.clone_into(&mut self.call_id);
        self.cseq = 1;
    }

    /// Sets the CSeq number the next request will carry.
    pub fn set_cseq(&mut self, cseq: u32) {
        self.cseq = cseq;
    }

    /// REGISTER `contacts` (raw Contact header values such as `<sip:a@192.0.2.1>;expires=60`,
    /// or `*`; none makes a query) with an optional Expires header. Answers one 401 challenge
    /// and returns the final response.
    pub fn register(&mut self, contacts: &[&str], expires: Option<u32>) -> Response {
        let first = self.register_once(contacts, expires, None);
        if first.status().as_u16() != 401 {
            return first;
        }
        self.register_once(contacts, expires, Some(&first))
    }

    /// One REGISTER transaction: with credentials answering `challenge` when given.
    pub fn register_once(
        &mut self,
        contacts: &[&str],
        expires: Option<u32>,
        challenge: Option<&Response>,
    ) -> Response {
        let mut request = self.request(Method::Register, &format!("sip:{DOMAIN}"));
        let headers = request.headers_mut();
        for contact in contacts {
            headers.push(HeaderName::Contact, *contact);
        }
        if let Some(expires) = expires {
            headers.push(HeaderName::Expires, expires);
        }
        if let Some(challenge) = challenge {
            let authorization = self.answer(challenge, "REGISTER", &format!("sip:{DOMAIN}"));
            request
                .headers_mut()
                .push(HeaderName::Authorization, authorization.as_str());
        }
        self.transact(&request)
    }

    /// The contacts bound to this phone's AOR, from a query REGISTER (no Contact).
    pub fn bindings(&mut self) -> Vec<(String, Option<u32>)> {
        let response = self.register(&[], None);
        assert_eq!(response.status().as_u16(), 200, "query REGISTER");
        contacts_of(&response)
    }

    /// Sends a request of `method` to the switch and returns the final response.
    pub fn send(&mut self, method: Method, uri: &str) -> Response {
        let request = self.request(method, uri);
        self.transact(&request)
    }

    /// Sends `text` as one datagram and returns the first response, if one comes within
    /// `wait`.
    pub fn send_raw(&self, text: &str, wait: Duration) -> Option<Response> {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .expect("send datagram");
        self.receive_until(Instant::now() + wait, None)
    }

    /// A Via value with a fresh RFC 3261 branch, as this phone writes it.
    pub fn via(&mut self) -> String {
        self.branches += 1;
        let local = self.local_addr();
        format!(
            "SIP/2.0/UDP {local};rport;branch=z9hG4bK-it-{}-{}",
            local.port(),
            self.branches
        )
    }

    /// A request with the headers every request carries; the CSeq counter advances.
    fn request(&mut self, method: Method, uri: &str) -> Request {
        let uri = Uri::parse(uri).expect("valid request URI");
        let via = self.via();
        let aor = format!("<sip:{}@{DOMAIN}>", self.user);
        let cseq = format!("{} {}", self.cseq, method.as_str());
        self.cseq += 1;
        let mut request = Request::new(method, uri);
        let headers = request.headers_mut();
        headers.push(HeaderName::Via, via.as_str());
        headers.push(HeaderName::MaxForwards, 70u32);
        headers.push(HeaderName::From, format!("{aor};tag={}", self.from_tag));
        headers.push(HeaderName::To, aor.as_str());
        headers.push(HeaderName::CallId, self.call_id.as_str());
        headers.push(HeaderName::CSeq, cseq.as_str());
        headers.push(HeaderName::UserAgent, "switchyard-it-phone");
        request
    }

    /// The Authorization value answering the first (preferred) challenge of `response`.
    fn answer(&self, response: &Response, method: &str, uri: &str) -> String {
        let challenge = response
            .headers()
            .www_authenticate()
            .filter_map(|v| Challenge::parse(v.to_str().ok()?).ok())
            .next()
            .expect("401 carries a digest challenge we can parse");
        let credentials = Credentials::answer(
            &challenge,
            method,
            uri,
            &self.user,
            &Secret::Password(self.password.clone()),
            // Unique per phone and request, which is all a cnonce needs here.
            &format!("{:04x}{:08x}", self.local_addr().port(), self.cseq),
            1,
        )
        .expect("answer the challenge");
        credentials.to_string()
    }

    /// Sends `request` and retransmits it until a final response arrives (bounded by timer F).
    fn transact(&self, request: &Request) -> Response {
        let bytes = request.encode();
        let branch = request
            .headers()
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned));
        let deadline = Instant::now() + TIMER_F;
        let mut interval = T1;
        loop {
            self.sock
                .send_to(&bytes, self.server)
                .expect("send request");
            let wait_until = (Instant::now() + interval).min(deadline);
            if let Some(response) = self.receive_until(wait_until, branch.as_deref()) {
                return response;
            }
            assert!(
                Instant::now() < deadline,
                "no final response within {TIMER_F:?} to:\n{}",
                String::from_utf8_lossy(&bytes)
            );
            interval = (interval * 2).min(T2);
        }
    }

    /// Reads datagrams until a final response (for `branch`, when given) or `deadline`.
    fn receive_until(&self, deadline: Instant, branch: Option<&str>) -> Option<Response> {
        let mut buf = vec![0u8; 65_535];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("set timeout");
            let Ok((len, _)) = self.sock.recv_from(&mut buf) else {
                return None;
            };
            let message = Message::parse(Bytes::copy_from_slice(&buf[..len]))
                .unwrap_or_else(|e| panic!("switch sent an unparsable message ({e:?})"));
            let Message::Response(response) = message else {
                continue;
            };
            if response.status().is_provisional() {
                continue;
            }
            let matches = branch.is_none_or(|b| {
                response
                    .headers()
                    .top_via()
                    .ok()
                    .and_then(|v| v.branch().map(|x| x == b))
                    .unwrap_or(false)
            });
            if matches {
                return Some(response);
            }
        }
    }
}

/// `(contact URI, expires param)` of every Contact in `response`, in order.
pub fn contacts_of(response: &Response) -> Vec<(String, Option<u32>)> {
    response
        .headers()
        .contact()
        .expect("Contact headers parse")
        .contacts()
        .iter()
        .map(|c| (c.uri().to_string(), c.expires()))
        .collect()
}
