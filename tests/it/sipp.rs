//! Runs a SIPp scenario from tests/sipp/ against a test switch and reports SIPp's verdict.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::harness::{DOMAIN, Switch};

/// SIPp's transport mode.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    /// `-t u1`: UDP, one socket.
    Udp,
    /// `-t t1`: TCP, one connection.
    Tcp,
}

/// One SIPp run: a scenario, credentials and how many calls.
pub struct Sipp<'a> {
    scenario: &'a str,
    transport: Transport,
    user: String,
    password: String,
    expires: u32,
    calls: u32,
}

/// What SIPp did: its exit code (0 = every call succeeded) and its output, for messages.
pub struct SippRun {
    /// SIPp's exit status code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Screen output, stderr and the unexpected-message log.
    pub output: String,
}

impl<'a> Sipp<'a> {
    /// Scenario `tests/sipp/<scenario>.xml` over UDP, one call, as `user` with `password`.
    pub fn new(scenario: &'a str, user: &str, password: &str) -> Sipp<'a> {
        Sipp {
            scenario,
            transport: Transport::Udp,
            user: user.to_owned(),
            password: password.to_owned(),
            expires: 300,
            calls: 1,
        }
    }

    /// Uses `transport` instead of UDP.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Runs `calls` calls (sequentially, one at a time) instead of one.
    pub fn calls(mut self, calls: u32) -> Self {
        self.calls = calls;
        self
    }

    /// Runs the scenario against `switch` and waits for SIPp to finish (SIPp's own global
    /// timeout bounds the run).
    pub fn run(&self, switch: &Switch) -> SippRun {
        let work = tempfile::tempdir().expect("temp dir");
        let scenario: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "sipp"]
            .iter()
            .collect::<PathBuf>()
            .join(format!("{}.xml", self.scenario));
        let timeout_secs = 20 + 5 * self.calls;
        let transport = match self.transport {
            Transport::Udp => "u1",
            Transport::Tcp => "t1",
        };
        let result = Command::new("sipp")
            .current_dir(work.path())
            .arg(switch.addr().to_string())
            .arg("-sf")
            .arg(&scenario)
            .args([
                "-t",
                transport,
                "-i",
                "127.0.0.1",
                "-ci",
                "127.0.0.1",
                "-nostdin",
            ])
            .args(["-m", &self.calls.to_string(), "-l", "1"])
            .args(["-key", "domain", DOMAIN, "-auth_uri", DOMAIN])
            .args(["-key", "expires", &self.expires.to_string()])
            .args(["-s", &self.user, "-au", &self.user, "-ap", &self.password])
            .args(["-timeout", &format!("{timeout_secs}s"), "-timeout_error"])
            .args(["-trace_err", "-error_file", "errors.log"])
            .stdin(Stdio::null())
            .output();
        let out: Output = match result {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "sipp is not installed: run scripts/test, which installs it (Debian package \
                 sip-tester), or `apt-get install sip-tester`"
            ),
            Err(e) => panic!("could not run sipp: {e}"),
        };
        let errors = std::fs::read_to_string(work.path().join("errors.log")).unwrap_or_default();
        SippRun {
            code: out.status.code(),
            output: format!(
                "{}\n{}\n--- unexpected messages ---\n{errors}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

impl SippRun {
    /// Panics with SIPp's output unless every call succeeded.
    pub fn assert_success(&self, what: &str) {
        assert_eq!(
            self.code,
            Some(0),
            "{what}: SIPp reported failed calls (exit {:?}):\n{}",
            self.code,
            self.output
        );
    }
}
