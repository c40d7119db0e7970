//! `switchyard ctl`: the operator's command-line client of the control API. It talks to a
//! running switch over HTTP (and the events WebSocket) only; it never reads the config
//! directory. Exit status: 0 done, 1 the API refused, 2 bad usage, 3 the API is unreachable.

mod client;
mod commands;
mod error;
mod events;
mod notifications;
mod recordings;
mod render;
mod table;
mod token;

use clap::{Args, Subcommand, ValueEnum};

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
    /// Places a voice notification: calls NUMBER, plays the prompts, optionally asks for a
    /// confirmation digit (supervisor).
    Notify(NotifyArgs),
    /// Voice notifications, newest first.
    Notifications(PageArgs),
    /// One voice notification with its attempts.
    Notification {
        /// The notification's id (as `ctl notifications` shows it).
        id: String,
    },
    /// Cancels a voice notification that is still waiting (supervisor).
    NotificationCancel {
        /// The notification's id.
        id: String,
    },
    /// Recorded calls, newest first (supervisor).
    Recordings(RecordingsArgs),
    /// Starts, pauses, resumes or stops the recording of a call in progress (supervisor).
    Recording {
        /// The call's id (as `ctl calls` shows it).
        call_id: String,
        /// What to do.
        action: RecordingAction,
    },
    /// Saves a recorded call's WAV file (supervisor).
    RecordingDownload(DownloadArgs),
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

/// `ctl notify`: the options become the `POST /api/v1/notifications` body.
#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    /// The number called: an optional `+` and digits, routed by the dialplan.
    pub number: String,
    /// The caller number shown.
    #[arg(long, value_name = "NUMBER")]
    pub caller_id: String,
    /// The caller name shown.
    #[arg(long, value_name = "NAME")]
    pub caller_id_name: Option<String>,
    /// A prompt file under the switch's `sounds/`; repeat for more, played in order.
    #[arg(long = "prompt", value_name = "FILE", required = true)]
    pub prompts: Vec<String>,
    /// Asks for a confirmation digit after the prompts with this prompt file.
    #[arg(long, value_name = "FILE", requires = "confirm_digit")]
    pub confirm_prompt: Option<String>,
    /// The digit that confirms (`0`-`9`, `*`, `#`).
    #[arg(long, value_name = "DIGIT", requires = "confirm_prompt")]
    pub confirm_digit: Option<String>,
    /// Seconds to wait for the digit after the confirmation prompt.
    #[arg(long, value_name = "SECS", requires = "confirm_prompt")]
    pub confirm_timeout: Option<u32>,
    /// Repeats of the confirmation prompt after a timeout or a wrong digit.
    #[arg(long, value_name = "N", requires = "confirm_prompt")]
    pub confirm_retries: Option<u32>,
    /// Prompt file played after the right digit.
    #[arg(long, value_name = "FILE", requires = "confirm_prompt")]
    pub thanks: Option<String>,
    /// Attempts in all (the API's default with a retry option: 3; without: 1).
    #[arg(long, value_name = "N")]
    pub attempts: Option<u32>,
    /// Seconds from the end of an attempt to the next.
    #[arg(long, value_name = "SECS")]
    pub interval_secs: Option<u32>,
    /// Attempt results tried again (comma-separated: `no_answer,busy,failed,answered`).
    #[arg(long, value_delimiter = ',', value_name = "RESULT",
          value_parser = ["no_answer", "busy", "failed", "answered"])]
    pub retry_on: Vec<String>,
    /// Calling window, local time `HH:MM-HH:MM` (an end before the start crosses midnight).
    #[arg(long, value_name = "HH:MM-HH:MM", value_parser = parse_window, requires = "timezone")]
    pub window: Option<(String, String)>,
    /// IANA time zone of the window (`Europe/Berlin`).
    #[arg(long, value_name = "TZ", requires = "window")]
    pub timezone: Option<String>,
    /// Weekdays the window opens on (comma-separated `mon`…`sun`; default every day).
    #[arg(long, value_delimiter = ',', value_name = "DAY", requires = "window",
          value_parser = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])]
    pub days: Vec<String>,
    /// The dialplan context the number is routed in.
    #[arg(long)]
    pub context: Option<String>,
    /// Seconds an attempt rings.
    #[arg(long, value_name = "SECS")]
    pub ring_timeout: Option<u32>,
}

/// `--window HH:MM-HH:MM`: the start and end as given (the API checks the times).
fn parse_window(text: &str) -> Result<(String, String), String> {
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?} is not HH:MM-HH:MM"))?;
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() || end.is_empty() {
        return Err(format!("{text:?} is not HH:MM-HH:MM"));
    }
    Ok((start.to_owned(), end.to_owned()))
}

/// `--limit` and `--cursor` of a paged list.
#[derive(Debug, Clone, Args)]
pub struct PageArgs {
    /// At most this many (the API's default is 100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after a previous page (its `next:` hint).
    #[arg(long)]
    pub cursor: Option<String>,
}

/// `ctl recordings`.
#[derive(Debug, Clone, Args)]
pub struct RecordingsArgs {
    /// Calls that started at or after this time (RFC 3339 or unix milliseconds).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Calls that started before this time (RFC 3339 or unix milliseconds).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// At most this many (the API's default is 100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after a previous page (its `next:` hint).
    #[arg(long)]
    pub cursor: Option<String>,
}

/// What `ctl recording` does with a call's recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordingAction {
    /// Start recording now.
    Start,
    /// Pause (the file keeps silence until resumed).
    Pause,
    /// Resume a paused recording.
    Resume,
    /// Stop and finish the file.
    Stop,
}

impl RecordingAction {
    /// The API's name of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingAction::Start => "start",
            RecordingAction::Pause => "pause",
            RecordingAction::Resume => "resume",
            RecordingAction::Stop => "stop",
        }
    }
}

/// `ctl recording-download`.
#[derive(Debug, Clone, Args)]
pub struct DownloadArgs {
    /// The recorded call's id (as `ctl recordings` shows it).
    pub call_id: String,
    /// Where to save the WAV file (default: `<call-id>.wav` in the current directory).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Replace FILE when it exists.
    #[arg(long)]
    pub force: bool,
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
