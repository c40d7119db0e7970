//! A PostgreSQL server for tests: a throwaway cluster started by the test itself (`initdb`
//! into a temporary directory, trust authentication, listening on 127.0.0.1 only), or the
//! server named by `SWITCHYARD_TEST_POSTGRES_URL` when that is set.
//!
//! The store's unit tests use it as `crate::store::test_postgres`; the integration tests
//! include this same file with `#[path]`, so it depends on std, tempfile, sqlx and uuid only.
//! Without PostgreSQL installed the tests fail with install advice; they never skip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection as _;

/// Names an existing server the tests may create databases on (an admin URL, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`) instead of starting a cluster.
const EXTERNAL_URL_VAR: &str = "SWITCHYARD_TEST_POSTGRES_URL";

/// The tools a cluster needs, all from the same installation.
const TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Where Debian and Ubuntu install each PostgreSQL major version (`<version>/bin`): not on
/// PATH.
const DEBIAN_VERSIONS_DIR: &str = "/usr/lib/postgresql";

/// The cluster's superuser (trust authentication: no password).
const SUPERUSER: &str = "postgres";

/// How long `initdb` may take (a debug test run on a busy machine).
const INITDB_WITHIN: Duration = Duration::from_secs(120);

/// How long the server may take from start to accepting connections.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// How long `pg_ctl stop -m immediate` and the server's exit may take.
const STOP_WITHIN: Duration = Duration::from_secs(20);

/// A PostgreSQL server the test may create databases on; a throwaway cluster is stopped and
/// deleted on drop.
pub struct TestPostgres {
    admin_url: String,
    _cluster: Option<PgCluster>,
}

impl TestPostgres {
    /// The server named by `SWITCHYARD_TEST_POSTGRES_URL`, else a fresh throwaway cluster
    /// (panics with install advice when PostgreSQL is not installed).
    pub fn start() -> TestPostgres {
        match std::env::var(EXTERNAL_URL_VAR) {
            Ok(url) if !url.is_empty() => TestPostgres {
                admin_url: url,
                _cluster: None,
            },
            _ => {
                let cluster = PgCluster::start();
                TestPostgres {
                    admin_url: cluster.url(),
                    _cluster: Some(cluster),
                }
            }
        }
    }

    /// Creates a new, empty database on the server and returns its URL.
    pub async fn fresh_database(&self) -> String {
        let name = format!("switchyard_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL server: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        admin.close().await.expect("close admin connection");
        with_database(&self.admin_url, &name)
    }
}

/// `url` naming database `name` instead of its own (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let server = base[authority..]
        .find('/')
        .map_or(base, |slash| &base[..authority + slash]);
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// A throwaway PostgreSQL cluster: data, unix socket and logs in a temporary directory, TCP
/// on 127.0.0.1 only, trust authentication. Stopped (`pg_ctl stop -m immediate`) and deleted
/// on drop; the server also gets SIGKILL when the thread that started it dies first.
struct PgCluster {
    bin: PathBuf,
    runner: Runner,
    port: u16,
    server: Option<Child>,
    dir: tempfile::TempDir,
}

impl PgCluster {
    /// Creates the cluster and starts it on a free port; waits (bounded) until it accepts
    /// connections. Panics with the reason (and install advice when PostgreSQL is missing).
    fn start() -> PgCluster {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed (no initdb, pg_ctl and postgres on PATH or in \
                 {DEBIAN_VERSIONS_DIR}/*/bin): the PostgreSQL tests start a throwaway server \
                 of their own. Run scripts/test, which installs it, or install the Debian \
                 package `postgresql` (apt-get install postgresql)."
            )
        });
        let runner = Runner::for_this_process();
        let dir = tempfile::Builder::new()
            .prefix("switchyard-pg-")
            .tempdir()
            .expect("temp dir for the PostgreSQL cluster");
        let socket_dir = dir.path().join("socket");
        fs::create_dir(&socket_dir).expect("create socket dir");
        runner.hand_over(dir.path());
        runner.hand_over(&socket_dir);
        let mut cluster = PgCluster {
            bin,
            runner,
            port: 0,
            server: None,
            dir,
        };
        cluster.initdb();
        let mut last_log = String::new();
        for _ in 0..3 {
            cluster.port = free_tcp_port();
            match cluster.start_server() {
                Ok(()) => return cluster,
                Err(log) if log.contains("could not bind") || log.contains("in use") => {
                    // The port was taken between probing and binding: try another.
                    last_log = log;
                }
                Err(log) => panic!("PostgreSQL did not start; its log:\n{log}"),
            }
        }
        panic!("PostgreSQL could not bind a free port in 3 tries; its log:\n{last_log}");
    }

    /// The superuser's URL for the `postgres` database.
    fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn initdb(&self) {
        let mut initdb = self.runner.command(&self.bin.join("initdb"));
        initdb
            .current_dir(self.dir.path())
            .arg("--pgdata")
            .arg(self.data_dir())
            .args(["--username", SUPERUSER])
            .args(["--auth-local", "trust", "--auth-host", "trust"])
            .args(["--encoding", "UTF8", "--locale", "C", "--no-sync"]);
        let log = self.dir.path().join("initdb.log");
        if let Err(problem) = run_bounded(initdb, &log, INITDB_WITHIN) {
            panic!(
                "initdb failed: {problem}; its output:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        // Only the unix socket and 127.0.0.1 may connect (the server listens nowhere else).
        fs::write(
            self.data_dir().join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        )
        .expect("write pg_hba.conf");
    }

    /// Starts the server on `self.port`; `Err(log)` when it exits or does not get ready.
    fn start_server(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_file())
            .expect("open postgres log");
        let mut postgres = self.runner.command(&self.bin.join("postgres"));
        postgres
            .current_dir(self.dir.path())
            .arg("-D")
            .arg(self.data_dir())
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(self.dir.path().join("socket"))
            .args(["-c", "listen_addresses=127.0.0.1"])
            // A throwaway cluster: no fsync, small memory.
            .args([
                "-F",
                "-c",
                "shared_buffers=16MB",
                "-c",
                "max_connections=50",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log);
        let child = postgres
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run postgres: {e}"));
        self.server = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if let Some(child) = self.server.as_mut()
                && let Some(status) = child.try_wait().expect("poll postgres")
            {
                self.server = None;
                return Err(format!("(exited: {status})\n{}", self.log()));
            }
            if self.pid_file_says_ready()
                && TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "(not ready within {READY_WITHIN:?})\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Line 8 of `postmaster.pid` is the server's state; `ready` once it accepts connections
    /// (what `pg_ctl start -w` waits for).
    fn pid_file_says_ready(&self) -> bool {
        fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .is_ok_and(|pid| pid.lines().nth(7).is_some_and(|l| l.trim() == "ready"))
    }

    fn log(&self) -> String {
        fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// `pg_ctl stop -m immediate`, then waits for the server (killing it when it lingers).
    /// Never panics: it runs in `drop`.
    fn stop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        let mut pg_ctl = self.runner.command(&self.bin.join("pg_ctl"));
        pg_ctl
            .current_dir(self.dir.path())
            .arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "-t"])
            .arg(STOP_WITHIN.as_secs().to_string());
        if let Err(problem) = run_bounded(pg_ctl, &self.dir.path().join("pg_ctl.log"), STOP_WITHIN)
        {
            eprintln!("pg_ctl stop failed ({problem}); killing the server");
        }
        let deadline = Instant::now() + STOP_WITHIN;
        while matches!(server.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.kill();
        let _ = server.wait();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "---- PostgreSQL log ({}) ----\n{}",
                self.log_file().display(),
                self.log()
            );
        }
    }
}

/// How the PostgreSQL tools are started: `initdb`, `pg_ctl` and `postgres` refuse to run as
/// root, so as root they run as the `postgres` system user; through `setpriv` (util-linux)
/// each also gets SIGKILL when the thread that started it dies, so a killed test leaves no
/// server behind.
#[derive(Debug, Clone, Copy)]
struct Runner {
    /// User and group id of the `postgres` system user, when we are root.
    user: Option<(u32, u32)>,
    /// Whether `setpriv` is installed.
    setpriv: bool,
}

impl Runner {
    fn for_this_process() -> Runner {
        let setpriv = Command::new("setpriv")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if effective_uid() != 0 {
            return Runner {
                user: None,
                setpriv,
            };
        }
        assert!(
            setpriv,
            "running as root, the PostgreSQL tests start their server as the `postgres` user \
             with `setpriv`, which is missing: install the Debian package `util-linux`"
        );
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, SUPERUSER]).output().ok()?;
            if !out.status.success() {
                return None;
            }
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        match (id("-u"), id("-g")) {
            (Some(uid), Some(gid)) => Runner {
                user: Some((uid, gid)),
                setpriv,
            },
            _ => panic!(
                "running as root, the PostgreSQL tests start their server as the `postgres` \
                 system user, which does not exist: install the Debian package `postgresql` \
                 (it creates the user) or run the tests as another user"
            ),
        }
    }

    /// Gives `dir` to the user the tools run as.
    fn hand_over(self, dir: &Path) {
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {} to postgres: {e}", dir.display()));
        }
    }

    /// A command running `program` the way this runner starts the tools.
    fn command(self, program: &Path) -> Command {
        let mut command = if self.setpriv {
            let mut setpriv = Command::new("setpriv");
            if let Some((uid, gid)) = self.user {
                setpriv.args([
                    format!("--reuid={uid}"),
                    format!("--regid={gid}"),
                    "--clear-groups".to_owned(),
                ]);
            }
            setpriv.arg("--pdeathsig=KILL").arg("--").arg(program);
            setpriv
        } else {
            Command::new(program)
        };
        // The cluster's locale is set explicitly; a locale in the environment that is not
        // installed must not make initdb fail.
        command.env("LC_ALL", "C").env_remove("PGDATA");
        command
    }
}

/// Our effective user id, from `/proc/self/status` (`Uid: real effective saved fs`), else
/// from `id -u`.
fn effective_uid() -> u32 {
    let from_proc = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                .and_then(|euid| euid.parse().ok())
        });
    from_proc
        .or_else(|| {
            let out = Command::new("id").arg("-u").output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        })
        .expect("cannot tell our effective user id")
}

/// The directory holding all of [`TOOLS`]: the first on PATH, else the newest version under
/// [`DEBIAN_VERSIONS_DIR`].
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| TOOLS.iter().all(|tool| dir.join(tool).is_file());
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir))
    {
        return Some(dir);
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(DEBIAN_VERSIONS_DIR)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name();
            let version = name
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|(_, bin)| bin)
        .find(|bin| has_tools(bin))
}

/// A free TCP port on 127.0.0.1 right now (released before returning).
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("probe a free port")
        .port()
}

/// Runs `command` with its output in `log`, killing it after `within`; `Err` says why it did
/// not succeed.
fn run_bounded(mut command: Command, log: &Path, within: Duration) -> Result<(), String> {
    let out = File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| format!("clone log: {e}"))?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{command:?} exited with {status}")),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{command:?} did not finish within {within:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("wait for {command:?}: {e}")),
        }
    }
}
