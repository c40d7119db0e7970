//! Thin CLI entry point: `switchyard [run] | check-config | ctl`, logging setup, signals.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser, Subcommand};
use switchyard::config::{self, Config};
use switchyard::{app, telemetry};
use tokio_util::sync::CancellationToken;

/// Exit status for a bad command line or log filter (clap uses it too).
const EXIT_USAGE: u8 = 2;
/// Exit status after a second SIGINT/SIGTERM cut the drain short (128 + SIGINT).
const EXIT_FORCED: i32 = 130;

/// Switchyard: a SIP softswitch (registrar, B2BUA, IVR, ACD, dialer).
#[derive(Debug, Parser)]
#[command(name = "switchyard", version)]
struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    command: Option<Command>,

    /// Config directory holding sip-profiles/*.toml and dialplans/.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_CONFIG_DIR",
        default_value = ".",
        value_name = "DIR"
    )]
    config_dir: PathBuf,

    /// Log filter in EnvFilter syntax: a level (`debug`) or directives
    /// (`switchyard::sip=trace,info`). Default: info.
    #[arg(long, global = true, env = "SWITCHYARD_LOG", value_name = "FILTER")]
    log: Option<String>,

    /// Database of call records: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`.
    /// Default: `sqlite://<config-dir>/var/switchyard.db`.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_DATABASE_URL",
        value_name = "URL"
    )]
    database_url: Option<String>,

    /// Print personal data (user names, numbers) in logs instead of `<redacted>`.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_LOG_PII",
        action = ArgAction::SetTrue,
        value_parser = BoolishValueParser::new()
    )]
    log_pii: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the switch until SIGINT or SIGTERM (the default).
    Run,
    /// Validate the config directory: print every error and exit 1, or a summary and exit 0.
    CheckConfig,
    /// Talk to a running switch's control API: calls, registrations, records, reload, ….
    Ctl(Box<switchyard::ctl::CtlArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.as_ref().unwrap_or(&Command::Run) {
        Command::CheckConfig => check_config(&cli.config_dir),
        Command::Run => run(&cli),
        Command::Ctl(args) => ExitCode::from(switchyard::ctl::run(args)),
    }
}

fn check_config(dir: &Path) -> ExitCode {
    match config::load(dir) {
        Ok(config) => {
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            println!("ok: {}", config.summary());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in errors.errors() {
                eprintln!("error: {error}");
            }
            let n = errors.len();
            eprintln!(
                "{n} error{} in {}",
                if n == 1 { "" } else { "s" },
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> ExitCode {
    let settings = telemetry::LogSettings {
        filter: cli.log.clone(),
        show_pii: cli.log_pii,
    };
    if let Err(e) = telemetry::init(&settings) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let config = match config::load(&cli.config_dir) {
        Ok(config) => config,
        Err(errors) => {
            for error in errors.errors() {
                tracing::error!(%error, "invalid config");
            }
            return ExitCode::FAILURE;
        }
    };
    for warning in config.warnings() {
        tracing::warn!(%warning, "config");
    }
    tracing::info!(
        config_dir = %cli.config_dir.display(),
        summary = %config.summary(),
        "starting"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let storage = storage(cli);
    let code = runtime.block_on(serve(config, storage, cli.config_dir.clone()));
    runtime.shutdown_timeout(Duration::from_secs(5));
    code
}

/// Where the call records go: `--database-url`, else a SQLite file under the config
/// directory; the spool file beside it.
fn storage(cli: &Cli) -> app::Storage {
    let var = cli.config_dir.join("var");
    let database_url = cli
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", var.join("switchyard.db").display()));
    app::Storage {
        database_url,
        spool_path: var.join("cdr-spool.jsonl"),
    }
}

async fn serve(config: Config, storage: app::Storage, config_dir: PathBuf) -> ExitCode {
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let (reload_tx, requests) = tokio::sync::mpsc::channel(1);
    tokio::spawn(reload_on_hangup(reload_tx));
    let reloads = app::Reloads {
        config_dir,
        requests,
    };
    let result = app::run(config, storage, reloads, shutdown.clone()).await;
    shutdown.cancel();
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "stopped on error");
            ExitCode::FAILURE
        }
    }
}

/// Cancels `shutdown` on the first SIGINT/SIGTERM; a second one exits at once.
async fn cancel_on_signal(shutdown: CancellationToken) {
    match next_signal().await {
        Ok(signal) => tracing::info!(signal, "shutting down"),
        Err(error) => {
            // Without signal handlers the switch still runs; it just cannot be stopped cleanly.
            tracing::error!(%error, "cannot listen for signals");
            return;
        }
    }
    shutdown.cancel();
    if let Ok(signal) = next_signal().await {
        tracing::warn!(signal, "second signal, exiting without drain");
        std::process::exit(EXIT_FORCED);
    }
}

/// Asks for a reload of the routing on each SIGHUP (one waiting request is enough).
#[cfg(unix)]
async fn reload_on_hangup(requests: tokio::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => hangup,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP: reload by signal is off");
            return;
        }
    };
    while hangup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading dialplans and trunks");
        if let Err(tokio::sync::mpsc::error::TrySendError::Closed(())) = requests.try_send(()) {
            return;
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_hangup(_requests: tokio::sync::mpsc::Sender<()>) {}

#[cfg(unix)]
async fn next_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = int.recv() => Ok("SIGINT"),
        _ = term.recv() => Ok("SIGTERM"),
    }
}

#[cfg(not(unix))]
async fn next_signal() -> std::io::Result<&'static str> {
    tokio::signal::ctrl_c().await.map(|()| "SIGINT")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("switchyard").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn no_subcommand_runs_with_the_current_directory_as_config() {
        let cli = parse(&[]);
        assert!(cli.command.is_none());
        assert_eq!(cli.config_dir, PathBuf::from("."));
        assert_eq!(cli.log, None);
        assert!(!cli.log_pii);
        assert_eq!(cli.database_url, None);
    }

    #[test]
    fn call_records_default_to_a_sqlite_file_under_the_config_directory() {
        let default = storage(&parse(&["--config-dir", "/etc/sy"]));
        assert_eq!(default.database_url, "sqlite:///etc/sy/var/switchyard.db");
        assert_eq!(
            default.spool_path,
            PathBuf::from("/etc/sy/var/cdr-spool.jsonl")
        );
        let given = storage(&parse(&["run", "--database-url", "postgres://db/cdr"]));
        assert_eq!(given.database_url, "postgres://db/cdr");
        assert_eq!(given.spool_path, PathBuf::from("./var/cdr-spool.jsonl"));
    }

    #[test]
    fn options_are_accepted_before_or_after_the_subcommand() {
        let cli = parse(&[
            "run",
            "--config-dir",
            "/etc/sy",
            "--log",
            "debug",
            "--log-pii",
        ]);
        assert!(matches!(cli.command, Some(Command::Run)));
        assert_eq!(cli.config_dir, PathBuf::from("/etc/sy"));
        assert_eq!(cli.log.as_deref(), Some("debug"));
        assert!(cli.log_pii);
        let cli = parse(&["--config-dir", "cfg", "check-config"]);
        assert!(matches!(cli.command, Some(Command::CheckConfig)));
        assert_eq!(cli.config_dir, PathBuf::from("cfg"));
    }

    #[test]
    fn ctl_options_are_accepted_before_or_after_its_subcommand() {
        let cli = parse(&["ctl", "--json", "calls", "--api", "http://10.0.0.1:8080"]);
        let Some(Command::Ctl(args)) = cli.command else {
            panic!("not ctl: {cli:?}");
        };
        assert!(args.json);
        assert_eq!(args.api, "http://10.0.0.1:8080");
        assert!(matches!(args.command, switchyard::ctl::CtlCommand::Calls));
    }

    #[test]
    fn unknown_subcommands_are_usage_errors() {
        let err = Cli::try_parse_from(["switchyard", "chek-config"]).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(EXIT_USAGE));
    }
}
