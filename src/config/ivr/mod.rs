//! IVR menus: `dialplans/ivr/*.toml`, validated into [`IvrMenus`] with every prompt decoded
//! at load (a reload swaps them with the rest of the routing). The action grammar is shared
//! with the answers of IVR webhooks ([`IvrMenus::actions_from_json`]). Schema:
//! `dialplans/README.md`.

mod action;
mod values;
mod vars;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::{Table, Value};

use super::error::{ConfigError, ConfigErrorKind, Location};
use super::validate::{Diag, parse_toml};
use crate::media::Audio;
use action::{Cx, actions};
use values::{digit, int, name, prompt, schema, unknown_keys};

pub use action::{Collect, IvrAction, IvrWebhook, MAX_WEBHOOK_TIMEOUT_MS, Prompt};
pub use vars::{VarTemplate, Variables};

/// Directory of IVR menu files, relative to the config directory (optional).
pub const IVR_DIR: &str = "dialplans/ivr";
/// Directory of prompts and music on hold, relative to the config directory.
pub const SOUNDS_DIR: &str = "sounds";

const MENU_KEYS: &[&str] = &[
    "name",
    "prompt",
    "timeout_secs",
    "retries",
    "invalid_prompt",
    "timeout_prompt",
    "on_failure",
    "keys",
];

/// One `[[menu]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    name: String,
    prompt: Vec<Prompt>,
    timeout: Duration,
    retries: u32,
    invalid_prompt: Option<Prompt>,
    timeout_prompt: Option<Prompt>,
    on_failure: Vec<IvrAction>,
    keys: BTreeMap<char, Vec<IvrAction>>,
}

impl Menu {
    /// The menu's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Prompts played in order when the menu starts (a digit interrupts them).
    pub fn prompt(&self) -> &[Prompt] {
        &self.prompt
    }

    /// How long to wait for the first digit after the prompts.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Invalid or timed-out tries before `on_failure` (at least 1).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Played after a key the menu does not know.
    pub fn invalid_prompt(&self) -> Option<&Prompt> {
        self.invalid_prompt.as_ref()
    }

    /// Played when no digit came in time (the invalid prompt unless set).
    pub fn timeout_prompt(&self) -> Option<&Prompt> {
        self.timeout_prompt
            .as_ref()
            .or(self.invalid_prompt.as_ref())
    }

    /// What runs once the tries are used up (default: hang up).
    pub fn on_failure(&self) -> &[IvrAction] {
        &self.on_failure
    }

    /// The actions of a key.
    pub fn key(&self, digit: char) -> Option<&[IvrAction]> {
        self.keys.get(&digit).map(Vec::as_slice)
    }
}

/// Every IVR menu, by name, with the prompts they use. Cheap to share behind an `Arc`.
#[derive(Debug, Clone, Default)]
pub struct IvrMenus {
    menus: BTreeMap<String, Arc<Menu>>,
    sounds_dir: Option<PathBuf>,
    prompts: BTreeMap<String, Audio>,
}

impl IvrMenus {
    /// The menu with this name.
    pub fn menu(&self, name: &str) -> Option<&Arc<Menu>> {
        self.menus.get(name)
    }

    /// Whether a menu of this name exists.
    pub fn has_menu(&self, name: &str) -> bool {
        self.menus.contains_key(name)
    }

    /// Number of menus.
    pub fn len(&self) -> usize {
        self.menus.len()
    }

    /// Whether there are no menus.
    pub fn is_empty(&self) -> bool {
        self.menus.is_empty()
    }

    /// `<config-dir>/sounds`, where prompts named by webhook answers are read from.
    pub fn sounds_dir(&self) -> Option<&Path> {
        self.sounds_dir.as_deref()
    }

    /// Validates a webhook answer `{"actions": [...]}` in the menu action grammar: menus
    /// must exist; prompts are the loaded ones, or read from `sounds/` now (blocking file
    /// I/O: call it off the async runtime). The error lists every problem, `key: reason`.
    pub fn actions_from_json(&self, answer: &serde_json::Value) -> Result<Vec<IvrAction>, String> {
        let serde_json::Value::Object(map) = answer else {
            return Err("the answer must be a JSON object {\"actions\": [...]}".to_owned());
        };
        if let Some(other) = map.keys().find(|k| *k != "actions") {
            return Err(format!("unknown key `{other}`, expected `actions`"));
        }
        let Some(list) = map.get("actions") else {
            return Err("actions: missing (required)".to_owned());
        };
        let value = Value::try_from(list).map_err(|e| format!("actions: {e}"))?;
        let mut load = |path: &str| match self.prompts.get(path) {
            Some(audio) => Ok(audio.clone()),
            None => match &self.sounds_dir {
                Some(dir) => load_prompt(dir, path),
                None => Err("no sounds directory is configured".to_owned()),
            },
        };
        let mut cx = Cx {
            errors: Vec::new(),
            menu_refs: Vec::new(),
            load_prompt: &mut load,
        };
        let parsed = actions(&mut cx, "actions", &value);
        for (key, menu) in std::mem::take(&mut cx.menu_refs) {
            if !self.has_menu(&menu) {
                cx.error(key, unknown_menu(&menu));
            }
        }
        match parsed {
            Some(list) if cx.errors.is_empty() => Ok(list),
            _ => Err(cx
                .errors
                .iter()
                .map(|(k, e)| format!("{k}: {e}"))
                .collect::<Vec<_>>()
                .join("; ")),
        }
    }

    /// Menus built from TOML texts with prompts from `load` (tests, tools): every error,
    /// each with its file and key.
    pub fn parse_with<I>(
        files: I,
        load: &mut dyn FnMut(&str) -> Result<Audio, String>,
    ) -> Result<IvrMenus, Vec<ConfigError>>
    where
        I: IntoIterator<Item = (PathBuf, String)>,
    {
        let mut errors = Vec::new();
        let menus = build(files, None, load, &mut errors);
        if errors.is_empty() {
            Ok(menus)
        } else {
            Err(errors)
        }
    }
}

fn unknown_menu(name: &str) -> ConfigErrorKind {
    ConfigErrorKind::UnknownReference {
        what: "IVR menu",
        name: name.to_owned(),
    }
}

/// Reads and validates `dir/dialplans/ivr/*.toml` (absent: no menus), decoding each prompt
/// from `dir/sounds/`. Errors go to `errors`.
pub(crate) fn load_ivr(dir: &Path, errors: &mut Vec<ConfigError>) -> IvrMenus {
    let dialplans = dir.join(super::load::DIALPLANS_DIR);
    if dialplans.exists() && !dialplans.is_dir() {
        // Reported once, as `dialplans: not a directory`, by the dialplan loader.
        return IvrMenus::default();
    }
    let files = super::load::read_optional(dir, IVR_DIR, errors);
    let sounds = dir.join(SOUNDS_DIR);
    let mut load = |path: &str| load_prompt(&sounds, path);
    build(files, Some(sounds.clone()), &mut load, errors)
}

/// Dialplan `ivr` actions naming no menu. The built-in dialplan (used when no file defines
/// `default`) is exempt: its demo menu is only there when `dialplans/ivr/` defines it, and a
/// call to it otherwise fails at run time with a warning.
pub(crate) fn unknown_menus(
    dialplan: &super::dialplan::DialplanConfig,
    menus: &IvrMenus,
) -> Vec<ConfigError> {
    dialplan
        .ivr_refs()
        .into_iter()
        .filter(|(file, _, name)| !file.starts_with("<built-in>") && !menus.has_menu(name))
        .map(|(file, key, name)| ConfigError::new(file, Location::Key(key), unknown_menu(&name)))
        .collect()
}

/// `sounds/<path>`, decoded; the path must stay inside `sounds/`.
fn load_prompt(sounds: &Path, path: &str) -> Result<Audio, String> {
    let rel = Path::new(path);
    if !rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("must be a relative path inside sounds/ (no `..`, not absolute)".to_owned());
    }
    Audio::load(&sounds.join(rel)).map_err(|e| e.to_string())
}

fn build<I>(
    files: I,
    sounds_dir: Option<PathBuf>,
    load: &mut dyn FnMut(&str) -> Result<Audio, String>,
    errors: &mut Vec<ConfigError>,
) -> IvrMenus
where
    I: IntoIterator<Item = (PathBuf, String)>,
{
    let mut cache: BTreeMap<String, Result<Audio, String>> = BTreeMap::new();
    let mut cached = |path: &str| {
        cache
            .entry(path.to_owned())
            .or_insert_with(|| load(path))
            .clone()
    };
    let mut menus: BTreeMap<String, (PathBuf, usize, Arc<Menu>)> = BTreeMap::new();
    let mut refs: Vec<(PathBuf, String, String)> = Vec::new();
    for (path, text) in files {
        let mut diag = Diag::new(&path);
        let Some(table) = parse_toml(&mut diag, &text) else {
            errors.append(&mut diag.errors);
            continue;
        };
        let mut cx = Cx {
            errors: Vec::new(),
            menu_refs: Vec::new(),
            load_prompt: &mut cached,
        };
        let parsed = menus_of_file(&mut cx, &table);
        for (key, kind) in cx.errors {
            errors.push(ConfigError::new(&path, Location::Key(key), kind));
        }
        refs.extend(
            cx.menu_refs
                .into_iter()
                .map(|(key, name)| (path.clone(), key, name)),
        );
        for (index, menu) in parsed {
            if let Some((other, other_index, _)) = menus.get(&menu.name) {
                errors.push(ConfigError::new(
                    &path,
                    Location::Key(format!("menu[{index}].name")),
                    ConfigErrorKind::DuplicateName {
                        what: "IVR menu",
                        name: menu.name.clone(),
                        other: format!("{} menu[{other_index}].name", other.display()),
                    },
                ));
                continue;
            }
            menus.insert(menu.name.clone(), (path.clone(), index, Arc::new(menu)));
        }
    }
    for (path, key, name) in refs {
        if !menus.contains_key(&name) {
            errors.push(ConfigError::new(
                &path,
                Location::Key(key),
                unknown_menu(&name),
            ));
        }
    }
    let prompts = cache
        .into_iter()
        .filter_map(|(path, audio)| audio.ok().map(|a| (path, a)))
        .collect();
    IvrMenus {
        menus: menus
            .into_iter()
            .map(|(name, (_, _, menu))| (name, menu))
            .collect(),
        sounds_dir,
        prompts,
    }
}

/// The menus of one file that validated, with their index in `menu`.
fn menus_of_file(cx: &mut Cx<'_>, table: &Table) -> Vec<(usize, Menu)> {
    unknown_keys(cx, "", table, &["menu"]);
    // unknown_keys names top-level keys `.key`: strip the dot.
    for (key, _) in cx.errors.iter_mut() {
        if let Some(stripped) = key.strip_prefix('.') {
            *key = stripped.to_owned();
        }
    }
    let entries = match table.get("menu") {
        None => return Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            cx.error(
                "menu",
                ConfigErrorKind::NotATable {
                    expected: "an array of tables ([[menu]])",
                },
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let prefix = format!("menu[{index}]");
        match entry {
            Value::Table(t) => {
                if let Some(menu) = menu(cx, &prefix, t) {
                    out.push((index, menu));
                }
            }
            _ => cx.error(
                prefix,
                ConfigErrorKind::NotATable {
                    expected: "a table ([[menu]] entry)",
                },
            ),
        }
    }
    out
}

fn menu(cx: &mut Cx<'_>, prefix: &str, t: &Table) -> Option<Menu> {
    let before = cx.errors.len();
    let key = |k: &str| format!("{prefix}.{k}");
    unknown_keys(cx, prefix, t, MENU_KEYS);
    let name = name(cx, &key("name"), t.get("name"), "menu name");
    let prompts = match t.get("prompt") {
        None => {
            cx.error(key("prompt"), ConfigErrorKind::Missing);
            Vec::new()
        }
        Some(Value::Array(list)) if list.is_empty() => {
            cx.error(key("prompt"), ConfigErrorKind::Empty);
            Vec::new()
        }
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .filter_map(|(i, p)| prompt(cx, &format!("{}[{i}]", key("prompt")), Some(p)))
            .collect(),
        Some(p) => prompt(cx, &key("prompt"), Some(p)).into_iter().collect(),
    };
    let timeout = int(cx, &key("timeout_secs"), t.get("timeout_secs"), 5, 1, 60);
    let retries = int(cx, &key("retries"), t.get("retries"), 3, 1, 10);
    let invalid_prompt = t
        .get("invalid_prompt")
        .and_then(|p| prompt(cx, &key("invalid_prompt"), Some(p)));
    let timeout_prompt = t
        .get("timeout_prompt")
        .and_then(|p| prompt(cx, &key("timeout_prompt"), Some(p)));
    let on_failure = match t.get("on_failure") {
        None => Some(vec![IvrAction::Hangup]),
        Some(v) => actions(cx, &key("on_failure"), v),
    };
    let mut keys = BTreeMap::new();
    match t.get("keys") {
        None => {}
        Some(Value::Table(map)) => {
            for (k, v) in map {
                let kk = format!("{}.\"{k}\"", key("keys"));
                let d = digit(cx, &kk, &Value::String(k.clone()));
                if let (Some(d), Some(list)) = (d, actions(cx, &kk, v)) {
                    keys.insert(d, list);
                }
            }
        }
        Some(_) => cx.error(key("keys"), schema("must be a table of \"digit\" = action")),
    }
    if cx.errors.len() != before {
        return None;
    }
    Some(Menu {
        name: name?,
        prompt: prompts,
        timeout: Duration::from_secs(timeout?),
        retries: u32::try_from(retries?).ok()?,
        invalid_prompt,
        timeout_prompt,
        on_failure: on_failure?,
        keys,
    })
}
