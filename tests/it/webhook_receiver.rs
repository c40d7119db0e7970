//! A webhook receiver for the tests: a std `TcpListener` on 127.0.0.1 answering HTTP/1.1,
//! one request per connection. It checks every POST as a real receiver should (signature,
//! timestamp, headers) and records it; it can fail the first attempts at each delivery, or all
//! of them while told to.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::harness::Switch;

/// The targets' shared secret.
pub const SECRET: &str = "it-webhook-secret-0123456789";

/// How long deliveries may take (retries with backoff included) on a busy machine.
pub const DELIVERED_WITHIN: Duration = Duration::from_secs(30);

/// Signatures older or newer than this are refused by the receiver.
const TIMESTAMP_TOLERANCE_SECS: u64 = 300;

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Post {
    /// `X-Switchyard-Delivery`.
    pub delivery: i64,
    /// The body.
    pub event: Value,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Debug, Default)]
struct Log {
    posts: Vec<Post>,
    /// Requests that failed the receiver's checks, with why.
    refused: Vec<String>,
}

/// A webhook receiver on 127.0.0.1: verifies each POST's signature, timestamp and headers,
/// answers 500 to the first `fail_first` attempts at each delivery (and to every attempt
/// while `failing`), 200 otherwise.
pub struct Receiver {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    failing: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start(fail_first: usize) -> Receiver {
        Receiver::on(
            TcpListener::bind("127.0.0.1:0").expect("bind receiver"),
            fail_first,
        )
    }

    pub fn on(listener: TcpListener, fail_first: usize) -> Receiver {
        let addr = listener.local_addr().expect("receiver addr");
        let log = Arc::new(Mutex::new(Log::default()));
        let failing = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, failing2, stop2) = (Arc::clone(&log), Arc::clone(&failing), Arc::clone(&stop));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (log, failing) = (Arc::clone(&log2), Arc::clone(&failing2));
                thread::spawn(move || serve(stream, &log, &failing, fail_first));
            }
        });
        Receiver {
            addr,
            log,
            failing,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn posts(&self) -> Vec<Post> {
        let log = self.log.lock().expect("receiver log");
        assert!(
            log.refused.is_empty(),
            "the receiver refused requests: {:#?}",
            log.refused
        );
        log.posts.clone()
    }

    /// Deliveries accepted (answered 200), each once (the first acceptance), in the order
    /// they were accepted.
    pub fn accepted(&self) -> Vec<Post> {
        let mut seen = BTreeSet::new();
        self.posts()
            .into_iter()
            .filter(|p| p.status == 200 && seen.insert(p.delivery))
            .collect()
    }

    /// Waits (bounded) until `count` distinct deliveries were accepted.
    pub fn wait_accepted(&self, count: usize, switch: &Switch) -> Vec<Post> {
        let deadline = Instant::now() + DELIVERED_WITHIN;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= count {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} deliveries accepted within {DELIVERED_WITHIN:?}; posts: {:#?}\nlog:\n{}",
                accepted.len(),
                self.posts(),
                switch.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn serve(mut stream: TcpStream, log: &Mutex<Log>, failing: &AtomicBool, fail_first: usize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((head, body)) = read_request(&mut stream) else {
        return;
    };
    let status = match check(&head, &body) {
        Err(why) => {
            log.lock().expect("receiver log").refused.push(why);
            400
        }
        Ok((delivery, event)) => {
            let mut log = log.lock().expect("receiver log");
            let earlier = log.posts.iter().filter(|p| p.delivery == delivery).count();
            let status = if failing.load(Ordering::SeqCst) || earlier < fail_first {
                500
            } else {
                200
            };
            log.posts.push(Post {
                delivery,
                event,
                status,
            });
            status
        }
    };
    let reason = if status == 200 { "OK" } else { "Error" };
    let _ = stream.write_all(
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
}

/// The request head (lines) and body; None when the connection closed early.
fn read_request(stream: &mut TcpStream) -> Option<(Vec<String>, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let split = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head: Vec<String> = String::from_utf8_lossy(&raw[..split])
        .split("\r\n")
        .map(str::to_owned)
        .collect();
    let length: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = raw[split + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some((head, body))
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Checks a POST as a receiver should; the delivery id and the event.
fn check(head: &[String], body: &[u8]) -> Result<(i64, Value), String> {
    let start = head.first().cloned().unwrap_or_default();
    if !start.starts_with("POST /hook ") {
        return Err(format!("unexpected request line {start:?}"));
    }
    let get = |name: &str| header(head, name).ok_or_else(|| format!("no {name} header"));
    if get("content-type")? != "application/json" {
        return Err(format!("content type {:?}", get("content-type")?));
    }
    let timestamp: u64 = get("x-switchyard-timestamp")?
        .parse()
        .map_err(|_| "timestamp is not a number".to_owned())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    if now.abs_diff(timestamp) > TIMESTAMP_TOLERANCE_SECS {
        return Err(format!("timestamp {timestamp} too far from now {now}"));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("hmac key");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let signature = get("x-switchyard-signature")?;
    if signature != format!("v1={expected}") {
        return Err(format!("bad signature {signature:?}"));
    }
    let event: Value = serde_json::from_slice(body).map_err(|e| format!("body not JSON: {e}"))?;
    if event["type"].as_str() != Some(get("x-switchyard-event")?) {
        return Err(format!(
            "event header differs from the body's type: {event}"
        ));
    }
    let delivery: i64 = get("x-switchyard-delivery")?
        .parse()
        .map_err(|_| "delivery id is not a number".to_owned())?;
    Ok((delivery, event))
}
