//! SIPp as a call peer: a UAC or UAS process started in the background with its own working
//! directory, keys, media options and bounded run time, and its verdict read back afterwards
//! (exit code, successful/failed call counts, Call-IDs, unexpected messages, message trace).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pcap;

/// How long after its own `-timeout` a SIPp process is killed.
const KILL_GRACE: Duration = Duration::from_secs(15);

/// Which end of the scenario SIPp plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Sends the first request to `remote`.
    Uac(SocketAddr),
    /// Waits for requests on its `-p` port.
    Uas,
}

/// A SIPp run to be started; see [`SippPeer::spawn`].
pub struct SippPeer {
    scenario: String,
    scenario_file: PathBuf,
    role: Role,
    port: Option<u16>,
    args: Vec<String>,
    calls: u32,
    timeout: Duration,
    trace_msg: bool,
    pcap_packets: Option<usize>,
}

/// A SIPp process running in the background.
pub struct RunningSipp {
    child: Option<Child>,
    work: tempfile::TempDir,
    label: String,
    kill_at: Instant,
}

/// What a SIPp run did.
#[derive(Debug)]
pub struct SippOutcome {
    /// The scenario and role, for messages.
    pub label: String,
    /// SIPp's exit code (0 = every call succeeded); `None` when killed.
    pub code: Option<i32>,
    /// Calls SIPp counted as successful.
    pub successful: u64,
    /// Calls SIPp counted as failed.
    pub failed: u64,
    /// SIP Call-IDs of the calls SIPp handled, in first-seen order.
    pub call_ids: Vec<String>,
    /// Stdout/stderr, the final screen and the unexpected-message log.
    pub output: String,
    /// The message trace (`-trace_msg`), possibly empty.
    pub messages: String,
}

impl SippPeer {
    /// A UAC running `tests/sipp/<scenario>.xml` against `remote`.
    pub fn uac(scenario: &str, remote: SocketAddr) -> SippPeer {
        SippPeer::new(scenario, Role::Uac(remote))
    }

    /// A UAS running `tests/sipp/<scenario>.xml` on 127.0.0.1:`port`.
    pub fn uas(scenario: &str, port: u16) -> SippPeer {
        let mut peer = SippPeer::new(scenario, Role::Uas);
        peer.port = Some(port);
        peer
    }

    fn new(scenario: &str, role: Role) -> SippPeer {
        SippPeer {
            scenario: scenario.to_owned(),
            scenario_file: scenario_path(scenario),
            role,
            port: None,
            args: Vec::new(),
            calls: 1,
            timeout: Duration::from_secs(30),
            trace_msg: true,
            pcap_packets: None,
        }
    }

    /// Runs the scenario in `file` instead of `tests/sipp/<scenario>.xml`.
    pub fn scenario_file(mut self, file: PathBuf) -> Self {
        self.scenario_file = file;
        self
    }

    /// `-key name value`: a `[name]` keyword of the scenario.
    pub fn key(self, name: &str, value: impl ToString) -> Self {
        self.args(&["-key", name, &value.to_string()])
    }

    /// Extra command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Binds the SIP socket to `port` (`-p`).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// `-s`: the `[service]` user (the callee of a UAC's INVITE).
    pub fn service(self, user: &str) -> Self {
        self.args(&["-s", user])
    }

    /// `-au`/`-ap`: the digest credentials SIPp answers challenges with.
    pub fn credentials(self, user: &str, password: &str) -> Self {
        self.args(&["-au", user, "-ap", password])
    }

    /// Number of calls (`-m`), after which SIPp exits.
    pub fn calls(mut self, calls: u32) -> Self {
        self.calls = calls;
        self
    }

    /// Calls per second (`-r`) and at most `limit` at once (`-l`).
    pub fn rate(self, per_second: u32, limit: u32) -> Self {
        self.args(&["-r", &per_second.to_string(), "-l", &limit.to_string()])
    }

    /// `-d`: the length of the scenario's `<pause/>`.
    pub fn pause(self, pause: Duration) -> Self {
        self.args(&["-d", &pause.as_millis().to_string()])
    }

    /// SIPp's own global timeout (`-timeout`, failing the run); the process is killed a little
    /// later if it still runs.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `-rtp_echo`: echo RTP received on the media port back to its sender.
    pub fn rtp_echo(self) -> Self {
        self.args(&["-rtp_echo"])
    }

    /// Writes `packets` tone packets as [`pcap::CALL_AUDIO`] into SIPp's working directory.
    pub fn with_audio(mut self, packets: usize) -> Self {
        self.pcap_packets = Some(packets);
        self
    }

    /// No message trace (for runs with many calls).
    pub fn without_message_trace(mut self) -> Self {
        self.trace_msg = false;
        self
    }

    /// Starts SIPp; panics (with install advice) when it is missing.
    pub fn spawn(self) -> RunningSipp {
        let work = tempfile::tempdir().expect("temp dir");
        if let Some(packets) = self.pcap_packets {
            pcap::write_tone_pcap(&work.path().join(pcap::CALL_AUDIO), packets)
                .expect("write pcap");
        }
        let label = match self.role {
            Role::Uac(remote) => format!("{} (UAC -> {remote})", self.scenario),
            Role::Uas => format!("{} (UAS on {:?})", self.scenario, self.port),
        };
        let mut cmd = Command::new("sipp");
        cmd.current_dir(work.path());
        if let Role::Uac(remote) = self.role {
            cmd.arg(remote.to_string());
        }
        cmd.arg("-sf").arg(&self.scenario_file);
        if let Some(port) = self.port {
            cmd.args(["-p", &port.to_string()]);
        }
        cmd.args([
            "-t",
            "u1",
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-nostdin",
        ])
        .args(["-m", &self.calls.to_string()])
        .args([
            "-timeout",
            &format!("{}s", self.timeout.as_secs().max(1)),
            "-timeout_error",
        ])
        .args(["-trace_err", "-error_file", "errors.log"])
        .args(["-trace_screen", "-screen_file", "screen.log"])
        .args(["-trace_shortmsg", "-shortmessage_file", "short.log"])
        .args(&self.args);
        if self.trace_msg {
            cmd.args(["-trace_msg", "-message_file", "messages.log"]);
        }
        let stdout = fs::File::create(work.path().join("stdout.log")).expect("stdout file");
        let stderr = fs::File::create(work.path().join("stderr.log")).expect("stderr file");
        let child = match cmd
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "sipp is not installed: run scripts/test, which installs it (Debian package \
                 sip-tester), or `apt-get install sip-tester`"
            ),
            Err(e) => panic!("could not run sipp: {e}"),
        };
        RunningSipp {
            child: Some(child),
            work,
            label,
            kill_at: Instant::now() + self.timeout + KILL_GRACE,
        }
    }

    /// Starts SIPp and waits for it to finish.
    pub fn run(self) -> SippOutcome {
        self.spawn().wait()
    }
}

impl RunningSipp {
    /// The message trace written so far (`-trace_msg`).
    pub fn messages_so_far(&self) -> String {
        fs::read_to_string(self.work.path().join("messages.log")).unwrap_or_default()
    }

    /// Calls SIPp reports as currently open, from its short message trace: Call-IDs with an
    /// INVITE answered by 200 and no BYE yet.
    pub fn established_calls(&self) -> usize {
        let short = fs::read_to_string(self.work.path().join("short.log")).unwrap_or_default();
        established(&short)
    }

    /// Waits for SIPp to exit (killing it once its time is well past) and reads its verdict.
    pub fn wait(mut self) -> SippOutcome {
        let mut child = self.child.take().expect("running");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for sipp") {
                break Some(status);
            }
            if Instant::now() > self.kill_at {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        read_outcome(self.work.path(), &self.label, status.and_then(|s| s.code()))
    }
}

impl Drop for RunningSipp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl SippOutcome {
    /// Panics with SIPp's output unless every call succeeded.
    pub fn assert_success(&self, what: &str) {
        assert!(
            self.code == Some(0) && self.failed == 0,
            "{what}: {} reported failed calls (exit {:?}, {} ok, {} failed):\n{}\n\
             --- message trace (tail) ---\n{}",
            self.label,
            self.code,
            self.successful,
            self.failed,
            self.output,
            tail(&self.messages, 12_000)
        );
    }
}

/// `tests/sipp/<scenario>.xml`.
pub fn scenario_path(scenario: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "sipp"]
        .iter()
        .collect::<PathBuf>()
        .join(format!("{scenario}.xml"))
}

fn read_outcome(work: &Path, label: &str, code: Option<i32>) -> SippOutcome {
    let read = |name: &str| fs::read_to_string(work.join(name)).unwrap_or_default();
    let screen = read("screen.log");
    let short = read("short.log");
    SippOutcome {
        label: label.to_owned(),
        code,
        successful: screen_counter(&screen, "Successful call"),
        failed: screen_counter(&screen, "Failed call"),
        call_ids: call_ids(&short),
        output: format!(
            "--- stdout (tail) ---\n{}\n--- stderr ---\n{}\n--- screen ---\n{screen}\n\
             --- unexpected messages ---\n{}",
            tail(&read("stdout.log"), 3000),
            read("stderr.log"),
            read("errors.log")
        ),
        messages: read("messages.log"),
    }
}

/// The cumulative column of a counter row of SIPp's final screen, e.g.
/// `  Successful call   |        0                  | 200`.
fn screen_counter(screen: &str, name: &str) -> u64 {
    screen
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with(name))
        .and_then(|l| l.split('|').nth(2))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Call-IDs in a `-trace_shortmsg` log, in first-seen order.
fn call_ids(short: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for entry in short.lines().filter_map(ShortEntry::parse) {
        if !ids.iter().any(|x| x == entry.call_id) {
            ids.push(entry.call_id.to_owned());
        }
    }
    ids
}

/// One line of SIPp's `-trace_shortmsg` log: tab-separated date, time, epoch, `S` (sent) or
/// `R` (received), Call-ID, `CSeq:N METHOD`, and the message's first line.
struct ShortEntry<'a> {
    call_id: &'a str,
    cseq: &'a str,
    first_line: &'a str,
}

impl<'a> ShortEntry<'a> {
    fn parse(line: &'a str) -> Option<ShortEntry<'a>> {
        let fields: Vec<&str> = line.split('\t').collect();
        let direction = fields.iter().position(|f| *f == "S" || *f == "R")?;
        Some(ShortEntry {
            call_id: fields.get(direction + 1)?.trim(),
            cseq: fields.get(direction + 2)?.trim(),
            first_line: fields.get(direction + 3)?.trim(),
        })
    }
}

/// Calls that got a 200 to INVITE and have seen no BYE, from a short message trace.
fn established(short: &str) -> usize {
    let mut up: Vec<&str> = Vec::new();
    for entry in short.lines().filter_map(ShortEntry::parse) {
        if entry.first_line.starts_with("SIP/2.0 200") && entry.cseq.ends_with("INVITE") {
            if !up.contains(&entry.call_id) {
                up.push(entry.call_id);
            }
        } else if entry.first_line.starts_with("BYE ") {
            up.retain(|x| *x != entry.call_id);
        }
    }
    up.len()
}

/// The last `max` bytes of `text` (on a char boundary).
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
