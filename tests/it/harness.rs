//! Starts the real `switchyard` binary on a free 127.0.0.1 port with a generated profile, waits
//! until it answers OPTIONS, and stops it on drop (printing its log when the test failed).

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test, built by cargo for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// The SIP domain (and digest realm) of the test profile.
pub const DOMAIN: &str = "switchyard.test";

/// How long the switch may take to answer its first OPTIONS (a debug build on a busy machine).
const READY_WITHIN: Duration = Duration::from_secs(30);

/// How long a SIGTERMed switch may take to exit.
const EXIT_WITHIN: Duration = Duration::from_secs(15);

/// The profile a test switch runs with; `Default` is a small, strict profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `(name, password)` of every user.
    pub users: Vec<(String, String)>,
    /// `auth.algorithms`, preferred first.
    pub algorithms: Vec<&'static str>,
    /// `ban.max_failures`.
    pub max_failures: u32,
    /// `ban.window_secs`.
    pub window_secs: u32,
    /// `ban.ban_secs` (0 disables bans).
    pub ban_secs: u32,
    /// `registrar.default_expires`.
    pub default_expires: u32,
    /// `registrar.min_expires`.
    pub min_expires: u32,
    /// `registrar.max_expires`.
    pub max_expires: u32,
    /// `registrar.max_contacts`.
    pub max_contacts: u32,
    /// `calls.ring_timeout_secs` (the `[calls]` section is written only when set).
    pub ring_timeout_secs: Option<u32>,
    /// `media.media_timeout_secs` (the `[media]` section is written only when a media key is
    /// set).
    pub media_timeout_secs: Option<u32>,
    /// `media.direct_media`.
    pub direct_media: Option<bool>,
    /// `media.rtp_port_min` and `media.rtp_port_max`.
    pub rtp_ports: Option<(u16, u16)>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            users: (1000..1005)
                .map(|n| (n.to_string(), password_of(n)))
                .collect(),
            // SIPp 3.6 (Debian's sip-tester) answers MD5 challenges only, and reads the first
            // `algorithm=` of all WWW-Authenticate headers: the test profile offers MD5 alone.
            algorithms: vec!["MD5"],
            max_failures: 3,
            window_secs: 60,
            ban_secs: 300,
            default_expires: 600,
            min_expires: 60,
            max_expires: 3600,
            max_contacts: 10,
            ring_timeout_secs: None,
            media_timeout_secs: None,
            direct_media: None,
            rtp_ports: None,
        }
    }
}

/// The password of test user `n` in the default test profile.
pub fn password_of(n: u32) -> String {
    format!("pw-{n}-secret")
}

impl Profile {
    /// The profile file for a switch listening on `port` (UDP and TCP).
    pub fn to_toml(&self, port: u16) -> String {
        let algorithms: Vec<String> = self.algorithms.iter().map(|a| format!("\"{a}\"")).collect();
        let mut text = format!(
            r#"[profile]
name = "it"
domain = "{DOMAIN}"
listen = ["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]

[auth]
realm = "{DOMAIN}"
algorithms = [{algorithms}]
nonce_key = "{nonce_key}"

[ban]
max_failures = {max_failures}
window_secs = {window_secs}
ban_secs = {ban_secs}

[registrar]
default_expires = {default_expires}
min_expires = {min_expires}
max_expires = {max_expires}
max_contacts = {max_contacts}
"#,
            algorithms = algorithms.join(", "),
            nonce_key = "5a".repeat(32),
            max_failures = self.max_failures,
            window_secs = self.window_secs,
            ban_secs = self.ban_secs,
            default_expires = self.default_expires,
            min_expires = self.min_expires,
            max_expires = self.max_expires,
            max_contacts = self.max_contacts,
        );
        if let Some(secs) = self.ring_timeout_secs {
            let _ = write!(text, "\n[calls]\nring_timeout_secs = {secs}\n");
        }
        if self.media_timeout_secs.is_some()
            || self.direct_media.is_some()
            || self.rtp_ports.is_some()
        {
            text.push_str("\n[media]\n");
            if let Some(secs) = self.media_timeout_secs {
                let _ = writeln!(text, "media_timeout_secs = {secs}");
            }
            if let Some(direct) = self.direct_media {
                let _ = writeln!(text, "direct_media = {direct}");
            }
            if let Some((min, max)) = self.rtp_ports {
                let _ = writeln!(text, "rtp_port_min = {min}\nrtp_port_max = {max}");
            }
        }
        for (name, password) in &self.users {
            let _ = write!(
                text,
                "\n[[users]]\nname = \"{name}\"\npassword = \"{password}\"\n"
            );
        }
        text
    }
}

/// Writes `files` (`(relative path, text)`) under a fresh temporary config directory, with a
/// copy of the repository's `sounds/` (prompts are checked when the config loads).
pub fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_sounds(dir.path());
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().expect("file in a dir")).expect("create config dir");
        fs::write(&path, text).expect("write config file");
    }
    dir
}

/// Copies the repository's `sounds/` (one level of subdirectories) into `dir/sounds/`.
pub fn copy_sounds(dir: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds");
    for sub in fs::read_dir(&from).expect("repository sounds/") {
        let sub = sub.expect("sounds/ entry").path();
        if !sub.is_dir() {
            continue;
        }
        let to = dir.join("sounds").join(sub.file_name().expect("a name"));
        fs::create_dir_all(&to).expect("create sounds dir");
        for file in fs::read_dir(&sub).expect("sounds subdirectory") {
            let file = file.expect("sounds file").path();
            if file.is_file() {
                fs::copy(&file, to.join(file.file_name().expect("a name"))).expect("copy sound");
            }
        }
    }
}

/// The test API tokens, one per role: `(role, token)`; `api.toml` stores their SHA-256.
pub const TOKENS: [(&str, &str); 4] = [
    ("admin", "test-admin-token"),
    ("supervisor", "test-supervisor-token"),
    ("agent", "test-agent-token"),
    ("readonly", "test-readonly-token"),
];

/// The test token of `role` (`admin`, `supervisor`, `agent`, `readonly`).
pub fn token(role: &str) -> &'static str {
    TOKENS
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, t)| *t)
        .expect("a test role")
}

/// The `api.toml` of a test switch: the API on 127.0.0.1:`port` with the [`TOKENS`], then
/// `extra` (more sections: `[webhooks]`, `[events]`, …).
pub fn api_toml(port: u16, extra: &str) -> String {
    use sha2::Digest as _;
    let mut text = format!("[api]\nlisten = \"127.0.0.1:{port}\"\n");
    for (role, token) in TOKENS {
        let hash: String = sha2::Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let _ = write!(
            text,
            "\n[[api.token]]\nname = \"test-{role}\"\nrole = \"{role}\"\nsha256 = \"{hash}\"\n"
        );
    }
    text.push('\n');
    text.push_str(extra);
    text
}

/// A running switch. Killed on drop; [`Switch::terminate`] stops it the way an operator does.
pub struct Switch {
    child: Option<Child>,
    port: u16,
    api_port: u16,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Switch {
    /// Starts a switch with the default test profile.
    pub fn start() -> Switch {
        Switch::start_with(&Profile::default())
    }

    /// Starts a switch with `profile` and waits until it answers OPTIONS over UDP and accepts
    /// TCP connections. Retries on another port if the chosen one was taken in the meantime.
    pub fn start_with(profile: &Profile) -> Switch {
        Switch::start_with_args(profile, &[])
    }

    /// Like [`Switch::start_with`], with extra command-line arguments for `switchyard run`
    /// (e.g. `--database-url`).
    pub fn start_with_args(profile: &Profile, args: &[&str]) -> Switch {
        Switch::start_with_config_args(
            |port| vec![("sip-profiles/it.toml".to_owned(), profile.to_toml(port))],
            args,
        )
    }

    /// Starts a switch whose config directory holds the files `config(port)` returns
    /// (`(relative path, text)`: profiles, trunk files, dialplans), `port` being a free port
    /// for the profile the readiness probe asks (its OPTIONS go to 127.0.0.1:`port`).
    pub fn start_with_config(config: impl Fn(u16) -> Vec<(String, String)>) -> Switch {
        Switch::start_with_config_args(config, &[])
    }

    /// Like [`Switch::start_with_config`], with `api_extra` appended to the test `api.toml`
    /// (see [`api_toml`]).
    pub fn start_with_config_api(
        config: impl Fn(u16) -> Vec<(String, String)>,
        api_extra: &str,
    ) -> Switch {
        Switch::start_with_config_api_args(config, api_extra, &[])
    }

    fn start_with_config_args(
        config: impl Fn(u16) -> Vec<(String, String)>,
        args: &[&str],
    ) -> Switch {
        Switch::start_with_config_api_args(config, "", args)
    }

    /// Starts a switch in an existing config directory (a restart: same database, same
    /// files), its profile on `port` and its API on `api_port` as written there before.
    pub fn restart_in(dir: tempfile::TempDir, port: u16, api_port: u16) -> Switch {
        let log = dir.path().join("switchyard.log");
        let child = spawn(dir.path(), &log, &[]);
        let mut switch = Switch {
            child: Some(child),
            port,
            api_port,
            log,
            dir,
        };
        if let Err(exit) = switch.wait_ready() {
            panic!(
                "switchyard did not become ready again (exit: {exit:?}); log:\n{}",
                switch.log()
            );
        }
        switch
    }

    /// Stops the switch (SIGTERM) and hands over its config directory and ports, for
    /// [`Switch::restart_in`].
    pub fn stop_keeping_dir(mut self) -> (tempfile::TempDir, u16, u16) {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        (dir, self.port, self.api_port)
    }

    fn start_with_config_api_args(
        config: impl Fn(u16) -> Vec<(String, String)>,
        api_extra: &str,
        args: &[&str],
    ) -> Switch {
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let api_port = free_port();
            let mut files = config(port);
            if !files.iter().any(|(path, _)| path == "api.toml") {
                files.push(("api.toml".to_owned(), api_toml(api_port, api_extra)));
            }
            let files: Vec<(&str, &str)> = files
                .iter()
                .map(|(path, text)| (path.as_str(), text.as_str()))
                .collect();
            let dir = config_dir(&files);
            let log = dir.path().join("switchyard.log");
            let child = spawn(dir.path(), &log, args);
            let mut switch = Switch {
                child: Some(child),
                port,
                api_port,
                log,
                dir,
            };
            match switch.wait_ready() {
                Ok(()) => return switch,
                Err(exit) => {
                    last_log = switch.log();
                    // The port may have been taken between probing and binding: try another.
                    if exit.is_some() && last_log.to_ascii_lowercase().contains("in use") {
                        continue;
                    }
                    panic!("switchyard did not become ready (exit: {exit:?}); log:\n{last_log}");
                }
            }
        }
        panic!("switchyard could not bind a free port in 3 tries; last log:\n{last_log}");
    }

    /// The UDP (and TCP) address the switch listens on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The control API's address (`http://` + this + `/api/v1/...`).
    pub fn api_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.api_port))
    }

    /// `http://127.0.0.1:<api port>` + `path`.
    pub fn api_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api_addr())
    }

    /// Everything the switch has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The switch's config directory (its `var/` holds the call records database).
    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends SIGHUP: the switch reloads its dialplans and trunks.
    pub fn hang_up_signal(&self) {
        let child = self.child.as_ref().expect("switch still running");
        let status = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -HUP failed");
    }

    /// Waits (bounded) until the log has `count` lines containing `text`.
    pub fn wait_for_log(&self, text: &str, count: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log();
            if log.lines().filter(|l| l.contains(text)).count() >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {count} log line(s) with {text:?} within {within:?}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit; returns its exit status.
    pub fn terminate(mut self) -> ExitStatus {
        self.stop()
    }

    /// Like [`Switch::terminate`], keeping the config directory (and what the switch wrote
    /// there) until the `Switch` is dropped.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("switch still running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + EXIT_WITHIN;
        loop {
            if let Some(status) = child.try_wait().expect("wait for switch") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "switchyard did not exit within {EXIT_WITHIN:?} of SIGTERM; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Probes until the switch answers; `Err(Some(status))` when it exited, `Err(None)` on
    /// timeout.
    fn wait_ready(&mut self) -> Result<(), Option<ExitStatus>> {
        let probe = UdpSocket::bind("127.0.0.1:0").expect("bind probe socket");
        probe
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set timeout");
        let local = probe.local_addr().expect("probe addr");
        let deadline = Instant::now() + READY_WITHIN;
        let mut n = 0u32;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().expect("poll switch")
            {
                return Err(Some(status));
            }
            n += 1;
            let options = format!(
                "OPTIONS sip:{DOMAIN} SIP/2.0\r\n\
                 Via: SIP/2.0/UDP {local};branch=z9hG4bK-ready-{n}\r\n\
                 Max-Forwards: 70\r\n\
                 From: <sip:probe@{DOMAIN}>;tag=ready\r\n\
                 To: <sip:{DOMAIN}>\r\n\
                 Call-ID: ready-{n}@127.0.0.1\r\n\
                 CSeq: {n} OPTIONS\r\n\
                 Content-Length: 0\r\n\r\n"
            );
            let _ = probe.send_to(options.as_bytes(), self.addr());
            let mut buf = [0u8; 4096];
            if let Ok((len, _)) = probe.recv_from(&mut buf)
                && buf[..len].starts_with(b"SIP/2.0 ")
                && TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1)).is_ok()
                && TcpStream::connect_timeout(&self.api_addr(), Duration::from_secs(1)).is_ok()
            {
                return Ok(());
            }
        }
        Err(None)
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- switchyard log ({}) ----\n{}",
                self.log.display(),
                self.log()
            );
        }
    }
}

fn spawn(config_dir: &Path, log: &Path, args: &[&str]) -> Child {
    let out = fs::File::create(log).expect("create log file");
    let err = out.try_clone().expect("clone log file");
    Command::new(BIN)
        .args(["run", "--config-dir"])
        .arg(config_dir)
        .args(args)
        .env("SWITCHYARD_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn switchyard")
}

/// A port free for both UDP and TCP on 127.0.0.1 right now (released before returning).
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp :0");
        let port = udp.local_addr().expect("udp addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
