//! What the trunk tests run against: a switch with a phones profile (the test users, context
//! `phones`) and a trunks profile `carriers` on a port of its own, trunk files and a dialplan in
//! its config directory; SIPp carriers and a silent UDP gateway on ports of their own; and
//! readers for what they saw (SIPp message traces, the call legs the switch recorded).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::call_peers::{call_profile, caller};
use crate::harness::{DOMAIN, Switch, free_port};
use crate::sipp_peer::{RunningSipp, SippPeer};

/// The public number the phone tests dial; the `phones` context sends `+1555...` to route
/// group `pstn`.
pub const PSTN_NUMBER: &str = "+15551234567";

/// The number carriers present as the caller of inbound calls.
pub const CARRIER_CALLER: &str = "+15559876543";

/// A DID of the inbound trunk, mapped to context `sales`, which rings extension 1001.
pub const SALES_DID: &str = "+15551230001";

/// A number the `from-carriers` context sends back out to route group `pstn` without
/// `allow_trunk_origin`: toll fraud, refused.
pub const TRANSIT_REFUSED: &str = "+15559990001";

/// A number the `from-carriers` context sends back out to `pstn` with
/// `allow_trunk_origin = true`.
pub const TRANSIT_ALLOWED: &str = "+15559990002";

/// The dialplan of every trunk test (`dialplans/it.toml`). Phones dial extensions (`1xxx`)
/// and `+1555...` numbers (route group `pstn`); carrier calls to a DID land in the DID's
/// context, other carrier calls in `from-carriers`.
pub const DIALPLAN: &str = r#"[[context]]
name = "phones"

[[context.rule]]
name = "extensions"
destination_regex = "^(1\\d{3})$"
ring = ["$1"]

[[context.rule]]
name = "public-network"
destination_prefix = "+1555"
route_group = "pstn"

[[context]]
name = "sales"

[[context.rule]]
name = "agents"
ring = ["1001"]

[[context]]
name = "from-carriers"

[[context.rule]]
name = "transit-allowed"
destination = "+15559990002"
route_group = "pstn"
allow_trunk_origin = true

[[context.rule]]
name = "transit"
destination_prefix = "+1"
route_group = "pstn"
"#;

/// One `[[trunk]]` of the trunk file: profile `carriers`, one UDP gateway on 127.0.0.1 (TCP
/// with [`Trunk::over_tcp`]), no inbound sources and OPTIONS probing off unless set.
#[derive(Debug, Clone)]
pub struct Trunk {
    name: String,
    gateway: u16,
    tcp: bool,
    keys: Vec<String>,
    tables: Vec<String>,
    probe: Option<String>,
}

impl Trunk {
    /// Trunk `name` whose one gateway is `sip:127.0.0.1:<gateway>`.
    pub fn new(name: &str, gateway: u16) -> Trunk {
        Trunk {
            name: name.to_owned(),
            gateway,
            tcp: false,
            keys: Vec::new(),
            tables: Vec::new(),
            probe: None,
        }
    }

    /// The gateway is `sip:127.0.0.1:<gateway>;transport=tcp` (the carriers profile then
    /// listens on TCP too, on its UDP port).
    pub fn over_tcp(mut self) -> Trunk {
        self.tcp = true;
        self
    }

    /// A `key = value` line of the trunk, e.g. `max_cps = 2`.
    pub fn key(mut self, line: &str) -> Trunk {
        self.keys.push(line.to_owned());
        self
    }

    /// Calls from 127.0.0.1 are this trunk's (`inbound = ["127.0.0.1/32"]`).
    pub fn inbound_from_loopback(self) -> Trunk {
        self.key(r#"inbound = ["127.0.0.1/32"]"#)
    }

    /// A sub-table of the trunk, e.g. `[trunk.register]` with its keys.
    pub fn table(mut self, text: &str) -> Trunk {
        self.tables.push(text.to_owned());
        self
    }

    /// OPTIONS probing every `interval_secs`, down after `down_after` failures, up after
    /// `up_after` successes.
    pub fn probe(mut self, interval_secs: u32, down_after: u32, up_after: u32) -> Trunk {
        self.probe = Some(format!(
            "[trunk.probe]\nenabled = true\ninterval_secs = {interval_secs}\n\
             down_after = {down_after}\nup_after = {up_after}\n"
        ));
        self
    }

    fn to_toml(&self) -> String {
        let transport = if self.tcp { ";transport=tcp" } else { "" };
        let mut text = format!(
            "[[trunk]]\nname = \"{}\"\nprofile = \"carriers\"\n\
             gateways = [\"sip:127.0.0.1:{}{transport}\"]\n",
            self.name, self.gateway
        );
        for key in &self.keys {
            let _ = writeln!(text, "{key}");
        }
        text.push_str(
            self.probe
                .as_deref()
                .unwrap_or("[trunk.probe]\nenabled = false\n"),
        );
        for table in &self.tables {
            let _ = writeln!(text, "{table}");
        }
        text.push('\n');
        text
    }
}

/// The switch of a trunk test and the address of its trunks profile.
pub struct TrunkSwitch {
    /// The running switch; its `addr()` is the phones profile.
    pub switch: Switch,
    /// Where the `carriers` profile listens (UDP).
    pub carriers: SocketAddr,
}

impl TrunkSwitch {
    /// Starts a switch with `trunks`, route group `pstn` = `group` (the TOML after
    /// `[[route_group]]`), the trunk test dialplan, and `carriers_extra` appended to the
    /// carriers profile.
    pub fn start(trunks: &[Trunk], group: &str, carriers_extra: &str) -> TrunkSwitch {
        let phones = call_profile();
        let carrier_ports = loop {
            let other = call_profile()
                .rtp_ports
                .expect("call profiles have a port block");
            if Some(other) != phones.rtp_ports {
                break other;
            }
        };
        let carriers_port = free_port();
        let mut trunk_file: String = trunks.iter().map(Trunk::to_toml).collect();
        let _ = write!(trunk_file, "[[route_group]]\nname = \"pstn\"\n{group}\n");
        // A TCP gateway goes out from the profile's TCP listener.
        let tcp_listen = if trunks.iter().any(|t| t.tcp) {
            format!(", \"tcp:127.0.0.1:{carriers_port}\"")
        } else {
            String::new()
        };
        let carriers_profile = format!(
            "[profile]\nname = \"carriers\"\ndomain = \"{DOMAIN}\"\n\
             listen = [\"udp:127.0.0.1:{carriers_port}\"{tcp_listen}]\nkind = \"trunks\"\n\
             context = \"from-carriers\"\n\n[media]\nrtp_port_min = {}\nrtp_port_max = {}\n{carriers_extra}\n",
            carrier_ports.0, carrier_ports.1
        );
        let switch = Switch::start_with_config(|port| {
            vec![
                (
                    "sip-profiles/it.toml".to_owned(),
                    phones.to_toml(port).replacen(
                        "[profile]\n",
                        "[profile]\ncontext = \"phones\"\n",
                        1,
                    ),
                ),
                (
                    "sip-profiles/carriers.toml".to_owned(),
                    carriers_profile.clone(),
                ),
                ("sip-profiles/trunks/it.toml".to_owned(), trunk_file.clone()),
                ("dialplans/it.toml".to_owned(), DIALPLAN.to_owned()),
            ]
        });
        TrunkSwitch {
            switch,
            carriers: SocketAddr::from(([127, 0, 0, 1], carriers_port)),
        }
    }

    /// The database file of the switch's call records.
    pub fn database(&self) -> std::path::PathBuf {
        crate::cdr::database_file(self.switch.config_dir())
    }

    /// Waits (bounded) until the switch has logged a line that mentions `trunk` and, as a
    /// word, `state` (`down`, `up`): the health state change of one of its gateways.
    pub fn wait_for_gateway_state(&self, trunk: &str, state: &str, within: Duration) {
        let word = regex::Regex::new(&format!(r"(?i)\b{state}\b")).expect("state regex");
        let deadline = Instant::now() + within;
        loop {
            let log = self.switch.log();
            if log.lines().any(|l| l.contains(trunk) && word.is_match(l)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the switch logged no line naming trunk {trunk} as {state} within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A SIPp phone (user 1000 of the phones profile) calling `number` through `switch` with
/// `scenario` (`call_uac_load` or `carrier_phone_call_or_503`).
pub fn phone_call(switch: &TrunkSwitch, scenario: &str, number: &str) -> SippPeer {
    caller(scenario, switch.switch.addr(), number)
}

/// A SIPp carrier running `scenario` on 127.0.0.1:`port` for up to `calls` calls (every
/// OPTIONS probe counts as one), started and listening.
pub fn carrier(scenario: &str, port: u16, calls: u32) -> RunningSipp {
    let running = SippPeer::uas(scenario, port)
        .calls(calls)
        .timeout(Duration::from_secs(60))
        .spawn();
    wait_bound(port);
    running
}

/// Waits (bounded) until something holds UDP `port` on 127.0.0.1.
pub fn wait_bound(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "nothing bound 127.0.0.1:{port} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One SIP message of a SIPp `-trace_msg` log.
#[derive(Debug, Clone)]
pub struct Traced {
    /// Received by SIPp (else sent).
    pub received: bool,
    /// Seconds since midnight of the trace line's time stamp.
    pub at: f64,
    /// The start line.
    pub first_line: String,
    /// The Call-ID header's value.
    pub call_id: String,
    /// The whole message.
    pub text: String,
}

/// The messages of a `-trace_msg` log: entries are a line of dashes with a time stamp,
/// `UDP message received [N] bytes :` or `UDP message sent (N bytes):`, and the message.
pub fn traced(log: &str) -> Vec<Traced> {
    let mut out = Vec::new();
    for entry in log
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = entry.lines();
        let stamp = lines.next().unwrap_or_default();
        let direction = lines.next().unwrap_or_default();
        let received = direction.contains("received");
        if !received && !direction.contains("sent") {
            continue;
        }
        let text: Vec<&str> = lines.collect();
        let first_line = text
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
            .unwrap_or_default()
            .to_owned();
        let call_id = text
            .iter()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                let name = name.trim();
                (name.eq_ignore_ascii_case("call-id") || name == "i").then(|| value.trim())
            })
            .unwrap_or_default()
            .to_owned();
        out.push(Traced {
            received,
            at: seconds_of_day(stamp),
            first_line,
            call_id,
            text: text.join("\n"),
        });
    }
    out
}

/// `2026-11-23 15:28:43.704232` -> seconds since midnight.
fn seconds_of_day(stamp: &str) -> f64 {
    let time = stamp.split_whitespace().nth(1).unwrap_or_default();
    let mut parts = time.split(':');
    let mut field = || -> f64 { parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0) };
    let (h, m, s) = (field(), field(), field());
    h * 3600.0 + m * 60.0 + s
}

/// The requests with `method` a SIPp received, the first of each Call-ID (retransmissions
/// and in-dialog repeats left out), in arrival order.
pub fn received_requests(log: &str, method: &str) -> Vec<Traced> {
    let prefix = format!("{method} ");
    let mut seen: Vec<Traced> = Vec::new();
    for m in traced(log) {
        if m.received
            && m.first_line.starts_with(&prefix)
            && !seen.iter().any(|s| s.call_id == m.call_id)
        {
            seen.push(m);
        }
    }
    seen
}

/// Every request with `method` a SIPp received, retransmissions and repeats included.
pub fn all_received_requests(log: &str, method: &str) -> Vec<Traced> {
    let prefix = format!("{method} ");
    traced(log)
        .into_iter()
        .filter(|m| m.received && m.first_line.starts_with(&prefix))
        .collect()
}

/// The status of the final response to the INVITE each Call-ID of a caller's trace got, by
/// Call-ID (a 407 challenge is not final for the call: the last final response counts).
pub fn final_statuses(log: &str) -> BTreeMap<String, u16> {
    let mut finals = BTreeMap::new();
    for m in traced(log).into_iter().filter(|m| m.received) {
        let Some(status) = m
            .first_line
            .strip_prefix("SIP/2.0 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse::<u16>().ok())
        else {
            continue;
        };
        let invite = m
            .text
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("cseq:") && l.contains("INVITE"));
        if invite && status >= 200 && status != 407 {
            finals.insert(m.call_id.clone(), status);
        }
    }
    finals
}

/// A UDP gateway that answers nothing: it records the start line and Call-ID of every
/// datagram it receives until dropped.
pub struct SilentGateway {
    port: u16,
    seen: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentGateway {
    /// Binds a free 127.0.0.1 port.
    pub fn start() -> SilentGateway {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind silent gateway");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("set timeout");
        let port = socket.local_addr().expect("gateway addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((len, _)) = socket.recv_from(&mut buf) {
                        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
                        let first = text.lines().next().unwrap_or_default().to_owned();
                        let call_id = text
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                let name = name.trim();
                                (name.eq_ignore_ascii_case("call-id") || name == "i")
                                    .then(|| value.trim().to_owned())
                            })
                            .unwrap_or_default();
                        seen.lock().expect("gateway log").push((first, call_id));
                    }
                }
            })
        };
        SilentGateway {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// The gateway's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Distinct Call-IDs of the `method` requests received so far.
    pub fn requests(&self, method: &str) -> usize {
        let prefix = format!("{method} ");
        let seen = self.seen.lock().expect("gateway log");
        let mut ids: Vec<&str> = seen
            .iter()
            .filter(|(first, _)| first.starts_with(&prefix))
            .map(|(_, id)| id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Stops listening and frees the port.
    pub fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SilentGateway {
    fn drop(&mut self) {
        self.shut();
    }
}

/// One B leg of a recorded call: an attempt towards a callee or a carrier.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attempt {
    /// The call it belongs to.
    pub call_id: String,
    /// The URI the switch dialled.
    pub target: String,
    /// Where its INVITE went, `ip:port`.
    pub signalling_addr: Option<String>,
    /// The final status of its INVITE.
    pub final_status: Option<i64>,
    /// The carrier trunk it went out on.
    pub trunk: Option<String>,
    /// Its stage (1 for the first thing rung, 2 after one failover, ...).
    pub stage: i64,
}

impl Attempt {
    /// The attempt went to 127.0.0.1:`port`.
    pub fn went_to(&self, port: u16) -> bool {
        let addr = format!("127.0.0.1:{port}");
        self.signalling_addr.as_deref() == Some(addr.as_str()) || self.target.contains(&addr)
    }
}

/// The B legs of every recorded call in `db`, by call, in leg order.
pub fn attempts(db: &Path) -> BTreeMap<String, Vec<Attempt>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rows: Vec<Attempt> = runtime.block_on(async {
        let options = SqliteConnectOptions::new().filename(db).read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("open call records");
        let rows = sqlx::query_as::<_, Attempt>(
            "SELECT call_id, target, signalling_addr, final_status, trunk, stage FROM call_legs \
             WHERE side = 'b' ORDER BY call_id, leg_index",
        )
        .fetch_all(&pool)
        .await
        .expect("read call legs");
        pool.close().await;
        rows
    });
    let mut by_call: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    for row in rows {
        by_call.entry(row.call_id.clone()).or_default().push(row);
    }
    by_call
}
