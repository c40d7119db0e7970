//! Configuration errors and warnings: each names the file, the place in it and the reason.

use std::fmt;
use std::path::{Path, PathBuf};

use super::listen::ListenAddrError;

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The file (or directory) as a whole.
    File,
    /// A line and column (1-based), for TOML syntax errors.
    Line {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A key path such as `registrar.min_expires` or `users[3].password` (array indices from 0).
    Key(String),
}

/// One problem found in the configuration.
#[derive(Debug)]
pub struct ConfigError {
    file: PathBuf,
    location: Location,
    kind: ConfigErrorKind,
}

impl ConfigError {
    /// An error about `file` at `location`.
    pub fn new(file: impl Into<PathBuf>, location: Location, kind: ConfigErrorKind) -> Self {
        Self {
            file: file.into(),
            location,
            kind,
        }
    }

    /// The file (or directory) the error is about, as the loader reached it: the config
    /// directory joined with the file, without a leading `./` (`sip-profiles/default.toml`).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Where in the file.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The key path, when the error is about one key.
    pub fn key(&self) -> Option<&str> {
        match &self.location {
            Location::Key(k) => Some(k),
            _ => None,
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.kind
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.file, &self.location, &self.kind)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

fn write_located(
    f: &mut fmt::Formatter<'_>,
    file: &Path,
    location: &Location,
    what: &dyn fmt::Display,
) -> fmt::Result {
    match location {
        Location::File => write!(f, "{}: {what}", file.display()),
        Location::Line { line, column } => write!(f, "{}:{line}:{column}: {what}", file.display()),
        Location::Key(key) => write!(f, "{}: {key}: {what}", file.display()),
    }
}

/// The reason a configuration value (or file) is rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigErrorKind {
    /// A file or directory could not be read.
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    /// A file is not valid UTF-8.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// A path that must be a directory is something else.
    #[error("not a directory")]
    NotADirectory,
    /// `sip-profiles/` holds no `*.toml` file.
    #[error("no profile files: add at least one *.toml file")]
    NoProfiles,
    /// The file is not valid TOML.
    #[error("TOML syntax: {message}")]
    Syntax {
        /// The parser's explanation.
        message: String,
    },
    /// A top-level key that is not a known section.
    #[error("unknown section (expected one of: {expected})")]
    UnknownSection {
        /// The known sections, comma-separated.
        expected: &'static str,
    },
    /// A section that must be a table (or an array of tables) is something else.
    #[error("must be {expected}")]
    NotATable {
        /// What was expected, e.g. "a table ([ban])".
        expected: &'static str,
    },
    /// The deserializer rejected a key: unknown key or wrong type (its message).
    #[error("{message}")]
    Schema {
        /// The deserializer's explanation, e.g. ``unknown field `foo`, expected one of …``.
        message: String,
    },
    /// A required key is missing.
    #[error("missing (required)")]
    Missing,
    /// A string or list that must not be empty is empty.
    #[error("must not be empty")]
    Empty,
    /// A number outside its allowed range.
    #[error("must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The value given.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// A number larger than another key it must not exceed.
    #[error("must be <= {other_key} ({other_value})")]
    ExceedsOther {
        /// The key it is compared with, e.g. `default_expires`.
        other_key: &'static str,
        /// That key's value.
        other_value: u64,
    },
    /// A string with characters not allowed for this key.
    #[error("invalid {what} {value:?}: {allowed}")]
    InvalidText {
        /// What the value is, e.g. "user name".
        what: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A listen address that does not parse.
    #[error("invalid listen address {value:?}: {reason}")]
    BadListen {
        /// The value given.
        value: String,
        /// Why it does not parse.
        #[source]
        reason: ListenAddrError,
    },
    /// The same listen address twice (in this or another profile).
    #[error("{addr} is already listed in {other}")]
    DuplicateListen {
        /// The address, as written back (`udp:127.0.0.1:5060`).
        addr: String,
        /// Where it was first listed (file and key).
        other: String,
    },
    /// Two listen addresses that cannot both be bound: a wildcard and a specific address of
    /// the same family, transport and port.
    #[error(
        "{addr} overlaps {other_addr} in {other}: a wildcard and a specific address cannot share a port"
    )]
    OverlappingListen {
        /// This address.
        addr: String,
        /// The address it overlaps.
        other_addr: String,
        /// Where that one is listed (file and key).
        other: String,
    },
    /// Two profiles with the same name.
    #[error("duplicate profile name {name:?} (also in {other_file})")]
    DuplicateProfile {
        /// The name.
        name: String,
        /// The other file.
        other_file: String,
    },
    /// Two users with the same name in one profile.
    #[error("duplicate user name {name:?} (first at users[{first_index}])")]
    DuplicateUser {
        /// The name.
        name: String,
        /// Index of the first entry with that name.
        first_index: usize,
    },
    /// An algorithm name that is not supported.
    #[error("unknown algorithm {name:?} (supported: SHA-256, MD5)")]
    UnknownAlgorithm {
        /// The name given.
        name: String,
    },
    /// The same algorithm twice.
    #[error("algorithm {name:?} listed twice")]
    DuplicateAlgorithm {
        /// The name given.
        name: String,
    },
    /// A hex string of the wrong form or length.
    #[error("must be {expected}")]
    BadHex {
        /// The expected form, e.g. "exactly 32 hex digits".
        expected: &'static str,
    },
    /// The relay address must be given because the first listen address is a wildcard.
    #[error("required when the profile's first listen address is a wildcard (0.0.0.0 or ::)")]
    MediaAddressRequired,
    /// A user with neither a password nor an HA1.
    #[error("no secret: set password, or ha1_md5 and/or ha1_sha256")]
    NoSecret,
    /// A user with both a password and an HA1.
    #[error("two secrets: set either password or ha1_md5/ha1_sha256, not both")]
    TwoSecrets,
    /// A user whose HA1 values cover none of the offered algorithms.
    #[error("has no HA1 for any offered algorithm ({offered})")]
    NoUsableHa1 {
        /// The offered algorithms, comma-separated.
        offered: String,
    },
    /// A name (context, route group, trunk, profile) that nothing defines.
    #[error("unknown {what} {name:?}")]
    UnknownReference {
        /// What kind of thing is named: "context", "route group", "trunk", "profile".
        what: &'static str,
        /// The name given.
        name: String,
    },
    /// A name defined twice (context, trunk, route group).
    #[error("duplicate {what} name {name:?} (also in {other})")]
    DuplicateName {
        /// What kind of thing: "context", "trunk", "route group".
        what: &'static str,
        /// The name.
        name: String,
        /// Where the other definition is (file and key).
        other: String,
    },
    // Dialplan variants (owned by the dialplan work) go below this line.
    /// A regular expression that does not compile.
    #[error("invalid regex: {reason}")]
    BadRegex {
        /// The regex compiler's explanation.
        reason: String,
    },
    /// A text template (`"+1$1"`) that does not parse.
    #[error("invalid template {value:?}: {reason}")]
    BadTemplate {
        /// The template given.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A template naming a capture group that the rule's `destination_regex` lacks.
    #[error("{group} names no capture group of this rule's destination_regex")]
    UnknownCaptureGroup {
        /// The reference as written: `$2`, `${name}`.
        group: String,
    },
    /// A dialplan rule with no action.
    #[error("no action: set exactly one of {expected}")]
    NoAction {
        /// The action keys.
        expected: &'static str,
    },
    /// A dialplan rule with more than one action.
    #[error("more than one action ({actions}): set exactly one")]
    SeveralActions {
        /// The action keys given, comma-separated.
        actions: String,
    },
    /// A key that only means something together with another key.
    #[error("only allowed together with {other_key}")]
    OnlyWith {
        /// The key it needs.
        other_key: &'static str,
    },
    /// A time window whose start equals its end.
    #[error("from and to are equal: the window would be empty")]
    EmptyWindow,
    // Trunk variants (owned by the trunk work) go below this line.
    /// A gateway URI that cannot be used.
    #[error("invalid gateway URI {value:?}: {reason}")]
    BadGatewayUri {
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An IP address or CIDR block that does not parse.
    #[error("invalid IP address or CIDR block {value:?}")]
    BadCidr {
        /// The value given.
        value: String,
    },
    /// `[trunk.register]` without `[trunk.auth]`: a carrier registrar challenges.
    #[error("registering needs credentials: add [trunk.auth]")]
    RegisterWithoutAuth,
    /// The same trunk twice in one route group.
    #[error("trunk {name:?} listed twice (first at trunks[{first_index}])")]
    DuplicateMember {
        /// The trunk name.
        name: String,
        /// Index of its first entry.
        first_index: usize,
    },
    /// A rate table line that is not `prefix,rate`.
    #[error("invalid rate line {text:?}: {reason}")]
    BadRateLine {
        /// The line as written.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A prefix listed twice in one rate table.
    #[error("prefix {prefix:?} listed twice (first on line {first_line})")]
    DuplicatePrefix {
        /// The prefix.
        prefix: String,
        /// The line of its first entry.
        first_line: usize,
    },
    /// A gateway reached over a transport its trunk's profile does not listen on: requests
    /// to it go out from the profile's listener of that transport (RFC 3261 §18.1.1), so
    /// there would be none to send from.
    #[error("transport={transport} needs a {transport} listen address on profile {profile:?}")]
    GatewayTransportNotListened {
        /// The gateway's transport.
        transport: super::Transport,
        /// The trunk's profile.
        profile: String,
    },
    /// An IVR prompt file that is missing, outside `sounds/`, or not a playable WAV file.
    #[error("prompt {path:?}: {reason}")]
    BadPrompt {
        /// The path as written (relative to `sounds/`).
        path: String,
        /// Why it cannot be played.
        reason: String,
    },
}

/// Every problem found in one load, in file order. Display lists one per line.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The individual errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never true for a value returned by `load`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Something legal but probably not what the operator wants; logged at startup and printed by
/// `check-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    file: PathBuf,
    location: Location,
    kind: ConfigWarningKind,
}

impl ConfigWarning {
    /// A warning about `file` at `location`.
    pub fn new(file: impl Into<PathBuf>, location: Location, kind: ConfigWarningKind) -> Self {
        Self {
            file: file.into(),
            location,
            kind,
        }
    }

    /// The file the warning is about.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Where in the file.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// What it is about.
    pub fn kind(&self) -> &ConfigWarningKind {
        &self.kind
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.file, &self.location, &self.kind)
    }
}

/// The kinds of warnings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigWarningKind {
    /// `auth.nonce_key` is absent: each process draws a random key, so nonces issued by one
    /// node (or before a restart) are not accepted by another.
    #[error(
        "not set: a random key is drawn per process, so nonces do not survive a restart or move between cluster nodes"
    )]
    RandomNonceKey,
    /// A user stored as HA1 lacks the hash for an offered algorithm: that user cannot
    /// authenticate with it.
    #[error("user {user:?} has no HA1 for offered algorithm {algorithm}")]
    Ha1MissingForAlgorithm {
        /// The user.
        user: String,
        /// The algorithm name.
        algorithm: &'static str,
    },
    /// A route-group member's weight in a group whose strategy is not `weighted`.
    #[error("weight is only used by the weighted strategy; this group is {strategy}")]
    WeightIgnored {
        /// The group's strategy.
        strategy: &'static str,
    },
}
