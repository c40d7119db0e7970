//! Registrar behaviour as a phone sees it, driven with explicit clocks: the test rig and
//! softphone shared by the RFC 3261 §10.3 rule tests and the authentication tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod events;
mod rules;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::auth::{Challenge, Credentials, Secret};
use sip_core::message::{HeaderName, Message, Request, Response, StatusCode};

use super::Registrar;
use crate::cluster::{Aor, LocationStore, MemoryLocationStore, UnixMillis};
use crate::config::{Profile, parse_sources};
use crate::sip::auth_guard::{AuthDecision, AuthGuard, ChallengeKind, Now};
use crate::transport::{Peer, Transport};

const PROFILE: &str = r#"
[profile]
name = "t"
domain = "example.com"
listen = ["udp:127.0.0.1:5060"]

[auth]
realm = "example.com"
algorithms = ["SHA-256", "MD5"]
nonce_lifetime_secs = 300
nonce_key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

[ban]
max_failures = 3
window_secs = 60
ban_secs = 300

[registrar]
default_expires = 3600
min_expires = 60
max_expires = 7200
max_contacts = 3

[[users]]
name = "1000"
password = "pw-1000"

[[users]]
name = "1001"
password = "pw-1001"
"#;

fn profile() -> Profile {
    let config = parse_sources([("sip-profiles/t.toml", PROFILE)]).unwrap();
    config.profiles()[0].clone()
}

/// A registrar over a fresh memory store, with a test clock.
struct Rig {
    registrar: Registrar,
    store: Arc<dyn LocationStore>,
    guard: Arc<AuthGuard>,
    start: Instant,
}

const T0_MS: u64 = 1_800_000_000_000;

impl Rig {
    fn new() -> Self {
        let profile = profile();
        let store: Arc<dyn LocationStore> = Arc::new(MemoryLocationStore::new());
        let guard = Arc::new(AuthGuard::new(&profile, &[7; 32]).unwrap());
        Self {
            registrar: Registrar::new(&profile, Arc::clone(&store), Arc::clone(&guard)),
            store,
            guard,
            start: Instant::now(),
        }
    }

    fn at(&self, secs: u64) -> Now {
        Now {
            instant: self.start + Duration::from_secs(secs),
            wall: UnixMillis(T0_MS + secs * 1000),
        }
    }

    async fn send(&self, req: &Request, from: SocketAddr, secs: u64) -> Response {
        let peer = Peer {
            transport: Transport::Udp,
            remote: from,
            local: "127.0.0.1:5060".parse().unwrap(),
        };
        self.registrar
            .handle_register_at(req, &peer, self.at(secs))
            .await
    }

    async fn bindings(&self, user: &str, secs: u64) -> Vec<String> {
        let aor = Aor::new(user, "example.com");
        let now = UnixMillis(T0_MS + secs * 1000);
        self.store
            .bindings(&aor, now)
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.contact.as_str().to_owned())
            .collect()
    }
}

/// A softphone: builds REGISTERs and answers challenges.
struct Phone {
    user: String,
    password: String,
    call_id: String,
    cseq: u32,
    source: SocketAddr,
    request_uri: String,
    to_user: String,
    nc: u32,
}

impl Phone {
    fn new(user: &str, password: &str) -> Self {
        Self {
            user: user.to_owned(),
            password: password.to_owned(),
            call_id: format!("call-{user}@192.0.2.10"),
            cseq: 0,
            source: "192.0.2.10:5070".parse().unwrap(),
            request_uri: "sip:example.com".to_owned(),
            to_user: user.to_owned(),
            nc: 0,
        }
    }

    fn from(mut self, source: &str) -> Self {
        self.source = source.parse().unwrap();
        self
    }

    /// A REGISTER with `extra` header lines (each ending in CRLF) and optional credentials.
    fn request(&mut self, extra: &str, credentials: Option<&str>) -> Request {
        self.cseq += 1;
        let auth = credentials
            .map(|c| format!("Authorization: {c}\r\n"))
            .unwrap_or_default();
        let text = format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-{cseq}-{user}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@example.com>;tag=ft{user}\r\n\
             To: <sip:{to}@example.com>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             User-Agent: test-phone/1.0\r\n\
             {extra}{auth}Content-Length: 0\r\n\r\n",
            uri = self.request_uri,
            cseq = self.cseq,
            user = self.user,
            to = self.to_user,
            call_id = self.call_id,
        );
        match Message::parse(Bytes::from(text)).unwrap() {
            Message::Request(req) => req,
            Message::Response(_) => panic!("built a response"),
        }
    }

    /// Credentials answering the first challenge of `challenge_response`.
    fn answer(&mut self, challenge_response: &Response) -> String {
        let value = challenge_response
            .headers()
            .get(HeaderName::WwwAuthenticate)
            .expect("a challenge")
            .to_str()
            .unwrap()
            .to_owned();
        let challenge = Challenge::parse(&value).unwrap();
        self.nc += 1;
        Credentials::answer(
            &challenge,
            "REGISTER",
            &self.request_uri,
            &self.user,
            &Secret::Password(self.password.clone()),
            "0a4f113b",
            self.nc,
        )
        .unwrap()
        .to_string()
    }

    /// Challenge, then the answered REGISTER; returns the final response.
    async fn register(&mut self, rig: &Rig, extra: &str, secs: u64) -> Response {
        let first = self.request(extra, None);
        let challenge = rig.send(&first, self.source, secs).await;
        if challenge.status() != StatusCode::UNAUTHORIZED {
            return challenge;
        }
        self.nc = 0;
        let credentials = self.answer(&challenge);
        let second = self.request(extra, Some(&credentials));
        rig.send(&second, self.source, secs).await
    }
}

fn contacts_of(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(HeaderName::Contact)
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn header(response: &Response, name: HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Status, reason and every header, without what names the user or differs per response
/// (addresses, tags, nonces).
fn shape(response: &Response) -> (u16, String, Vec<String>) {
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let text = value.to_str().unwrap();
            match name {
                HeaderName::To => format!("To, tagged: {}", text.contains(";tag=")),
                HeaderName::WwwAuthenticate => {
                    let c = Challenge::parse(text).unwrap();
                    format!(
                        "{} {} {:?} {}",
                        c.realm(),
                        c.algorithm(),
                        c.qop_options(),
                        c.is_stale()
                    )
                }
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    name.as_str().to_owned()
                }
                _ => format!("{}: {text}", name.as_str()),
            }
        })
        .collect();
    (
        response.status().as_u16(),
        response.reason().to_owned(),
        headers,
    )
}

const CONTACT_A: &str = "Contact: <sip:1000@192.0.2.10:5070>\r\n";
