//! `switchyard ctl`: the operator's command-line client of the control API. It talks to a
//! running switch over HTTP (and the events WebSocket) only; it never reads the config
//! directory. Exit status: 0 done, 1 the API refused, 2 bad usage, 3 the API is unreachable.

mod client;
mod commands;
mod error;
mod events;
mod render;
mod table;
mod token;

use clap::{Args, Subcommand};

pub use client::ApiClient;
pub use error::CtlError;
pub use table::Table;
pub use token::{GeneratedToken, generate_token};

/// Where the API is when neither `--api` nor `SWITCHYARD_API_URL` says.
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8080";

/// Exit status: done.
pub const EXIT_OK: u8 = 0;
/// Exit status: the API refused the request (or answered something unusable).
pub const EXIT_REFUSED: u8 = 1;
/// Exit status: bad command line (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the API could not be reached.
pub const EXIT_UNREACHABLE: u8 = 3;

/// The token roles, least privileged last (as `api.toml` names them).
const ROLES: [&str; 4] = ["admin", "supervisor", "agent", "readonly"];

/// `switchyard ctl [--api URL] [--token T] [--json] <command>`.
#[derive(Debug, Clone, Args)]
pub struct CtlArgs {
    /// Base URL of the switch's control API.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_API_URL",
        default_value = DEFAULT_API_URL,
        value_name = "URL",
        help_heading = "API"
    )]
    pub api: String,

    /// Bearer token for the API (see `ctl token` to make one).
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = "API"
    )]
    pub token: Option<String>,

    /// Print the API's JSON answer as is (pretty-printed) instead of a table.
    #[arg(long, global = true, help_heading = "API")]
    pub json: bool,

    /// What to ask the switch.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// The `ctl` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum CtlCommand {
    /// Whether the switch answers, its version and uptime (no token needed).
    Health,
    /// The calls in progress.
    Calls,
    /// One call in progress, every field.
    Call {
        /// The call's id (as `ctl calls` shows it).
        id: String,
    },
    /// Hangs up a call in progress (supervisor).
    Hangup {
        /// The call's id.
        id: String,
    },
    /// Click-to-call: rings extension FROM, then connects it to TO (agent).
    Originate(OriginateArgs),
    /// Registered phones.
    Registrations(RegistrationsArgs),
    /// Call records (CDRs), newest first, one page at a time.
    Records(RecordsArgs),
    /// Re-reads the config directory: validated, then swapped in (admin).
    Reload,
    /// Webhook deliveries from the outbox.
    Deliveries(DeliveriesArgs),
    /// Puts a webhook delivery (a dead one, typically) back in the queue (admin).
    Retry {
        /// The delivery's id (as `ctl deliveries` shows it).
        id: String,
    },
    /// Streams live events, one line each, until Ctrl-C.
    Events(EventsArgs),
    /// Makes a new random API token locally (no API call) and prints it with the
    /// `[[api.token]]` block for api.toml.
    Token(TokenArgs),
}

/// `ctl originate`.
#[derive(Debug, Clone, Args)]
pub struct OriginateArgs {
    /// The extension rung first.
    pub from: String,
    /// Where it is connected once it answers: an extension or a number (routed by the
    /// dialplan).
    pub to: String,
    /// The phones profile FROM belongs to.
    #[arg(long)]
    pub profile: Option<String>,
    /// The dialplan context TO is routed in.
    #[arg(long)]
    pub context: Option<String>,
    /// Caller number shown to TO.
    #[arg(long, value_name = "NUMBER")]
    pub caller_id_number: Option<String>,
    /// Caller name shown to TO.
    #[arg(long, value_name = "NAME")]
    pub caller_id_name: Option<String>,
    /// Seconds FROM may ring before the originate gives up.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u32>,
}

/// `ctl registrations`.
#[derive(Debug, Clone, Args)]
pub struct RegistrationsArgs {
    /// Only this user (extension).
    #[arg(long)]
    pub user: Option<String>,
    /// Only this profile.
    #[arg(long)]
    pub profile: Option<String>,
    /// At most this many (the API's default is 100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after a previous page (its `next:` hint).
    #[arg(long)]
    pub cursor: Option<String>,
}

/// `ctl records`.
#[derive(Debug, Clone, Args)]
pub struct RecordsArgs {
    /// Calls that started at or after this time (RFC 3339 or unix milliseconds).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Calls that started before this time (RFC 3339 or unix milliseconds).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Calls whose caller, From or To has this number.
    #[arg(long)]
    pub number: Option<String>,
    /// Calls that ended with this hangup cause code (`normal_clearing`, `user_busy`, …).
    #[arg(long)]
    pub cause: Option<String>,
    /// At most this many (the API's default is 100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after a previous page (its `next:` hint).
    #[arg(long)]
    pub cursor: Option<String>,
}

/// `ctl deliveries`.
#[derive(Debug, Clone, Args)]
pub struct DeliveriesArgs {
    /// Only deliveries in this state.
    #[arg(long, value_parser = ["pending", "delivered", "dead"])]
    pub state: Option<String>,
    /// At most this many (the API's default is 100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after a previous page (its `next:` hint).
    #[arg(long)]
    pub cursor: Option<String>,
}

/// `ctl events`.
#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// Only these event types (comma-separated or repeated: `call.created,call.hungup`).
    #[arg(long, value_delimiter = ',', value_name = "TYPE")]
    pub types: Vec<String>,
    /// Resume after this sequence number (replays what the switch still holds).
    #[arg(long, value_name = "SEQ")]
    pub since: Option<u64>,
}

/// `ctl token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The role the token gets.
    #[arg(long, default_value = "readonly", value_parser = ROLES)]
    pub role: String,
    /// The token's name in api.toml (shown in logs); default: `<role>-<random>`.
    #[arg(long)]
    pub name: Option<String>,
}

/// Runs one `ctl` command to the end and returns the process exit status.
pub fn run(args: &CtlArgs) -> u8 {
    match commands::execute(args) {
        Ok(()) => EXIT_OK,
        Err(CtlError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(error) => {
            eprintln!("{}", error.report());
            error.exit_code()
        }
    }
}
