//! The IVR action grammar, shared by menu files and webhook answers: a TOML (or JSON) table
//! with one action key, or a list of them run in order, validated into [`IvrAction`]s with
//! every problem named by its key path.

use std::time::Duration;

use toml::{Table, Value};

use super::super::error::ConfigErrorKind;
use super::values::{
    digit, int, name, prompt, schema, template, template_allow_empty, unknown_keys,
};
use super::vars::{VarTemplate, Variables, is_variable_name};
use crate::media::Audio;

/// Keys an action table may hold.
const KEYS: &[&str] = &[
    "menu",
    "transfer",
    "context",
    "route_group",
    "number",
    "play",
    "hangup",
    "set",
    "collect",
    "then",
    "webhook",
];
/// Keys of which exactly one says what the action is.
const ACTIONS: &str = "menu, transfer, route_group, play, hangup, set, collect, webhook";
const COLLECT_KEYS: &[&str] = &[
    "variable",
    "min",
    "max",
    "terminator",
    "timeout_secs",
    "inter_digit_timeout_secs",
    "prompt",
];
const WEBHOOK_KEYS: &[&str] = &["url", "timeout_ms", "fallback"];
const DEFAULT_WEBHOOK_TIMEOUT_MS: u32 = 2000;
/// The hard cap of a webhook step's timeout.
pub const MAX_WEBHOOK_TIMEOUT_MS: u32 = 10_000;

/// A prompt: the file as written (relative to `sounds/`) and its decoded audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub(super) path: String,
    pub(super) audio: Audio,
}

impl Prompt {
    /// A prompt from decoded audio (tests, tools).
    pub fn new(path: impl Into<String>, audio: Audio) -> Self {
        Self {
            path: path.into(),
            audio,
        }
    }

    /// The file, relative to `sounds/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The decoded audio.
    pub fn audio(&self) -> &Audio {
        &self.audio
    }
}

/// One step an IVR carries out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrAction {
    /// `menu`: go to this menu.
    Menu(String),
    /// `transfer` (+ `context`): route this number through the dialplan, like a dialled call.
    Transfer {
        /// The number or extension.
        target: VarTemplate,
        /// The context to route it in; the call's when absent.
        context: Option<String>,
    },
    /// `route_group` + `number`: send the call out through a group of trunks.
    RouteGroup {
        /// The route group.
        group: String,
        /// The number to dial at the carrier.
        number: VarTemplate,
    },
    /// `play`: play a prompt to its end.
    Play(Prompt),
    /// `hangup = true`: end the call.
    Hangup,
    /// `set`: set call variables.
    Set(Vec<(String, VarTemplate)>),
    /// `collect` (+ `then`): gather digits into a variable, then run `then`.
    Collect {
        /// The rules of the collection.
        collect: Collect,
        /// What runs once the digits are in (nothing: back to the menu).
        then: Vec<IvrAction>,
    },
    /// `webhook`: ask an HTTP service for the next actions.
    Webhook(IvrWebhook),
}

/// `collect = { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    /// The variable the digits go into.
    pub variable: String,
    /// Fewest digits accepted.
    pub min: usize,
    /// Most digits; collection ends when reached.
    pub max: usize,
    /// Ends the collection early (not part of the digits).
    pub terminator: Option<char>,
    /// Wait for the first digit after the prompt.
    pub first_digit_timeout: Duration,
    /// Wait for each further digit.
    pub inter_digit_timeout: Duration,
    /// Played first (a digit interrupts it).
    pub prompt: Option<Prompt>,
}

/// `webhook = { url, timeout_ms, fallback }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrWebhook {
    /// Where the call's state is POSTed (may hold `${var}`).
    pub url: VarTemplate,
    /// How long the answer may take (at most [`MAX_WEBHOOK_TIMEOUT_MS`]).
    pub timeout: Duration,
    /// The menu to go to when the service fails or answers badly.
    pub fallback: String,
}

/// Validation state: errors by key, menu references to check, the prompt loader.
pub(super) struct Cx<'a> {
    pub(super) errors: Vec<(String, ConfigErrorKind)>,
    /// (key, menu name) of every menu reference.
    pub(super) menu_refs: Vec<(String, String)>,
    pub(super) load_prompt: &'a mut dyn FnMut(&str) -> Result<Audio, String>,
}

impl Cx<'_> {
    pub(super) fn error(&mut self, key: impl Into<String>, kind: ConfigErrorKind) {
        self.errors.push((key.into(), kind));
    }
}

/// An action or a non-empty list of actions at `key`.
pub(super) fn actions(cx: &mut Cx<'_>, key: &str, value: &Value) -> Option<Vec<IvrAction>> {
    match value {
        Value::Table(t) => action(cx, key, t),
        Value::Array(items) if items.is_empty() => {
            cx.error(key, ConfigErrorKind::Empty);
            None
        }
        Value::Array(items) => {
            let before = cx.errors.len();
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let k = format!("{key}[{i}]");
                match item {
                    Value::Table(t) => out.extend(action(cx, &k, t).unwrap_or_default()),
                    _ => cx.error(k, not_table()),
                }
            }
            (cx.errors.len() == before).then_some(out)
        }
        _ => {
            cx.error(key, not_table());
            None
        }
    }
}

fn not_table() -> ConfigErrorKind {
    ConfigErrorKind::NotATable {
        expected: "an action table ({ transfer = \"1001\" }) or a list of them",
    }
}

/// One action table; `play` + `hangup = true` gives two steps.
fn action(cx: &mut Cx<'_>, prefix: &str, t: &Table) -> Option<Vec<IvrAction>> {
    let before = cx.errors.len();
    let key = |k: &str| format!("{prefix}.{k}");
    unknown_keys(cx, prefix, t, KEYS);
    let hangup = match t.get("hangup") {
        None => false,
        Some(Value::Boolean(true)) => true,
        Some(_) => {
            cx.error(key("hangup"), schema("must be true"));
            false
        }
    };
    let primary: Vec<&str> = ACTIONS
        .split(", ")
        .filter(|k| t.contains_key(*k) && !(*k == "hangup" && t.contains_key("play")))
        .collect();
    for (companion, needs) in [
        ("context", "transfer"),
        ("number", "route_group"),
        ("then", "collect"),
    ] {
        if t.contains_key(companion) && !t.contains_key(needs) {
            cx.error(
                key(companion),
                ConfigErrorKind::OnlyWith { other_key: needs },
            );
        }
    }
    let Some(&which) = primary.first() else {
        cx.error(prefix, ConfigErrorKind::NoAction { expected: ACTIONS });
        return None;
    };
    if primary.len() > 1 {
        cx.error(
            prefix,
            ConfigErrorKind::SeveralActions {
                actions: primary.join(", "),
            },
        );
        return None;
    }
    let mut out = Vec::new();
    match which {
        "menu" => {
            if let Some(name) = name(cx, &key("menu"), t.get("menu"), "menu name") {
                cx.menu_refs.push((key("menu"), name.clone()));
                out.push(IvrAction::Menu(name));
            }
        }
        "transfer" => {
            let target = template(cx, &key("transfer"), t.get("transfer"));
            let context = t
                .get("context")
                .and_then(|c| name(cx, &key("context"), Some(c), "context name"));
            if let Some(target) = target {
                out.push(IvrAction::Transfer { target, context });
            }
        }
        "route_group" => {
            let group = name(cx, &key("route_group"), t.get("route_group"), "route group");
            let number = match t.get("number") {
                None => {
                    cx.error(key("number"), ConfigErrorKind::Missing);
                    None
                }
                Some(n) => template(cx, &key("number"), Some(n)),
            };
            if let (Some(group), Some(number)) = (group, number) {
                out.push(IvrAction::RouteGroup { group, number });
            }
        }
        "play" => {
            if let Some(p) = prompt(cx, &key("play"), t.get("play")) {
                out.push(IvrAction::Play(p));
            }
            if hangup {
                out.push(IvrAction::Hangup);
            }
        }
        "hangup" => {
            if hangup {
                out.push(IvrAction::Hangup);
            }
        }
        "set" => match t.get("set") {
            Some(Value::Table(vars)) if !vars.is_empty() => {
                let mut set = Vec::new();
                for (var, value) in vars {
                    let k = format!("{}.{var}", key("set"));
                    if !is_variable_name(var) {
                        cx.error(
                            k.clone(),
                            ConfigErrorKind::InvalidText {
                                what: "variable name",
                                value: var.clone(),
                                allowed: "1 to 32 letters, digits or '_'",
                            },
                        );
                    }
                    if let Some(v) = template_allow_empty(cx, &k, value) {
                        set.push((var.clone(), v));
                    }
                }
                out.push(IvrAction::Set(set));
            }
            Some(Value::Table(_)) => cx.error(key("set"), ConfigErrorKind::Empty),
            _ => cx.error(
                key("set"),
                schema("must be a table of variable = \"value\""),
            ),
        },
        "collect" => {
            let collect = match t.get("collect") {
                Some(Value::Table(c)) => collect(cx, &key("collect"), c),
                _ => {
                    cx.error(key("collect"), schema("must be a table"));
                    None
                }
            };
            let then = match t.get("then") {
                None => Some(Vec::new()),
                Some(v) => actions(cx, &key("then"), v),
            };
            if let (Some(collect), Some(then)) = (collect, then) {
                out.push(IvrAction::Collect { collect, then });
            }
        }
        _ => match t.get("webhook") {
            Some(Value::Table(w)) => {
                if let Some(w) = webhook(cx, &key("webhook"), w) {
                    out.push(IvrAction::Webhook(w));
                }
            }
            _ => cx.error(key("webhook"), schema("must be a table")),
        },
    }
    (cx.errors.len() == before).then_some(out)
}

fn collect(cx: &mut Cx<'_>, prefix: &str, t: &Table) -> Option<Collect> {
    let before = cx.errors.len();
    let key = |k: &str| format!("{prefix}.{k}");
    unknown_keys(cx, prefix, t, COLLECT_KEYS);
    let variable = match t.get("variable") {
        None => {
            cx.error(key("variable"), ConfigErrorKind::Missing);
            None
        }
        Some(Value::String(v)) if is_variable_name(v) => Some(v.clone()),
        Some(Value::String(v)) => {
            cx.error(
                key("variable"),
                ConfigErrorKind::InvalidText {
                    what: "variable name",
                    value: v.clone(),
                    allowed: "1 to 32 letters, digits or '_'",
                },
            );
            None
        }
        Some(_) => {
            cx.error(key("variable"), schema("must be a string"));
            None
        }
    };
    let min = int(cx, &key("min"), t.get("min"), 1, 1, 64);
    let max = int(cx, &key("max"), t.get("max"), 16, 1, 64);
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        cx.error(
            key("min"),
            ConfigErrorKind::ExceedsOther {
                other_key: "max",
                other_value: max,
            },
        );
    }
    let terminator = match t.get("terminator") {
        None => Some('#'),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(v) => digit(cx, &key("terminator"), v),
    };
    let first = int(cx, &key("timeout_secs"), t.get("timeout_secs"), 5, 1, 60);
    let inter = int(
        cx,
        &key("inter_digit_timeout_secs"),
        t.get("inter_digit_timeout_secs"),
        3,
        1,
        60,
    );
    let prompt = t
        .get("prompt")
        .and_then(|p| prompt(cx, &key("prompt"), Some(p)));
    if cx.errors.len() != before {
        return None;
    }
    Some(Collect {
        variable: variable?,
        min: usize::try_from(min?).ok()?,
        max: usize::try_from(max?).ok()?,
        terminator,
        first_digit_timeout: Duration::from_secs(first?),
        inter_digit_timeout: Duration::from_secs(inter?),
        prompt,
    })
}

fn webhook(cx: &mut Cx<'_>, prefix: &str, t: &Table) -> Option<IvrWebhook> {
    let before = cx.errors.len();
    let key = |k: &str| format!("{prefix}.{k}");
    unknown_keys(cx, prefix, t, WEBHOOK_KEYS);
    let url = match t.get("url") {
        None => {
            cx.error(key("url"), ConfigErrorKind::Missing);
            None
        }
        Some(v) => template(cx, &key("url"), Some(v)),
    };
    if let Some(url) = &url {
        let sample = url.expand(&Variables::new());
        let ok = reqwest::Url::parse(&sample)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            cx.error(
                key("url"),
                ConfigErrorKind::InvalidText {
                    what: "URL",
                    value: sample,
                    allowed: "use an http:// or https:// URL with a host",
                },
            );
        }
    }
    let timeout = int(
        cx,
        &key("timeout_ms"),
        t.get("timeout_ms"),
        u64::from(DEFAULT_WEBHOOK_TIMEOUT_MS),
        1,
        u64::from(MAX_WEBHOOK_TIMEOUT_MS),
    );
    let fallback = match t.get("fallback") {
        None => {
            cx.error(key("fallback"), ConfigErrorKind::Missing);
            None
        }
        f => name(cx, &key("fallback"), f, "menu name"),
    };
    if let Some(f) = &fallback {
        cx.menu_refs.push((key("fallback"), f.clone()));
    }
    if cx.errors.len() != before {
        return None;
    }
    Some(IvrWebhook {
        url: url?,
        timeout: Duration::from_millis(timeout?),
        fallback: fallback?,
    })
}
