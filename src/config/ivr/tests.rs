//! Tests of IVR menu files and webhook answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::config::load;

fn fake_load(path: &str) -> Result<Audio, String> {
    if path.starts_with("missing") {
        Err(format!(
            "cannot read sounds/{path}: No such file or directory"
        ))
    } else {
        Ok(Audio::from_samples(vec![0; 160 * (1 + path.len())]))
    }
}

fn parse(files: &[(&str, &str)]) -> Result<IvrMenus, Vec<String>> {
    let mut load = fake_load;
    IvrMenus::parse_with(
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned())),
        &mut load,
    )
    .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

const DEMO: &str = r##"
[[menu]]
name = "demo"
prompt = ["demo/welcome.wav"]
timeout_secs = 5
retries = 3
invalid_prompt = "demo/invalid.wav"
on_failure = { play = "demo/goodbye.wav", hangup = true }
[menu.keys]
"1" = { transfer = "1001" }
"2" = { collect = { variable = "ext", min = 4, max = 4, terminator = "#", inter_digit_timeout_secs = 3, prompt = "demo/enter-extension.wav" }, then = { transfer = "${ext}" } }
"3" = { play = "demo/goodbye.wav", hangup = true }
"4" = [{ set = { lang = "en" } }, { menu = "demo" }]
"0" = { webhook = { url = "http://127.0.0.1:9/ivr", timeout_ms = 2000, fallback = "demo" } }
"*" = { route_group = "pstn", number = "+1${ext}" }
"#" = { transfer = "2000", context = "internal" }
"##;

#[test]
fn the_documented_menu_parses_with_its_defaults() {
    let menus = parse(&[("ivr/demo.toml", DEMO)]).unwrap();
    let demo = menus.menu("demo").unwrap();
    assert_eq!(demo.prompt().len(), 1);
    assert_eq!(demo.prompt()[0].path(), "demo/welcome.wav");
    assert_eq!(demo.timeout(), Duration::from_secs(5));
    assert_eq!(demo.retries(), 3);
    assert_eq!(
        demo.timeout_prompt().unwrap().path(),
        "demo/invalid.wav",
        "the timeout prompt defaults to the invalid prompt"
    );
    assert!(matches!(
        demo.on_failure(),
        [IvrAction::Play(p), IvrAction::Hangup] if p.path() == "demo/goodbye.wav"
    ));
    let Some([IvrAction::Collect { collect, then }]) = demo.key('2') else {
        panic!("{:?}", demo.key('2'));
    };
    assert_eq!((collect.min, collect.max), (4, 4));
    assert_eq!(collect.terminator, Some('#'));
    assert_eq!(collect.inter_digit_timeout, Duration::from_secs(3));
    assert_eq!(collect.first_digit_timeout, Duration::from_secs(5));
    assert!(matches!(then.as_slice(), [IvrAction::Transfer { .. }]));
    assert!(matches!(
        demo.key('4'),
        Some([IvrAction::Set(_), IvrAction::Menu(m)]) if m == "demo"
    ));
    assert!(matches!(
        demo.key('0'),
        Some([IvrAction::Webhook(w)]) if w.fallback == "demo" && w.timeout == Duration::from_secs(2)
    ));
    assert!(matches!(
        demo.key('#'),
        Some([IvrAction::Transfer { context: Some(c), .. }]) if c == "internal"
    ));
    assert!(demo.key('9').is_none());
}

#[test]
fn a_menu_without_on_failure_hangs_up_and_a_single_prompt_may_be_a_string() {
    let menus = parse(&[("a.toml", "[[menu]]\nname = \"m\"\nprompt = \"p.wav\"\n")]).unwrap();
    let m = menus.menu("m").unwrap();
    assert_eq!(m.on_failure(), [IvrAction::Hangup]);
    assert_eq!(m.prompt()[0].path(), "p.wav");
    assert!(m.timeout_prompt().is_none());
}

#[test]
fn every_error_is_reported_with_file_and_key() {
    let text = r#"
[[menu]]
name = "m"
prompt = ["missing.wav"]
timeout_secs = 0
colour = "red"
on_failure = { menu = "nowhere" }
[menu.keys]
"12" = { hangup = true }
"1" = { transfer = "1001", play = "x.wav" }
"2" = { context = "x" }
"3" = { collect = { variable = "v", min = 5, max = 2, extra = 1 } }
"4" = { webhook = { url = "ftp://x" } }
"5" = { transfer = "${unclosed" }
"6" = { hangup = false }
"7" = "1001"
"8" = { play = "../etc/passwd" }
"#;
    let errors = parse(&[("dialplans/ivr/bad.toml", text)]).unwrap_err();
    let expected = [
        "dialplans/ivr/bad.toml: menu[0].colour: unknown key `colour`",
        "dialplans/ivr/bad.toml: menu[0].prompt[0]: prompt \"missing.wav\": cannot read",
        "dialplans/ivr/bad.toml: menu[0].timeout_secs: must be between 1 and 60, got 0",
        "dialplans/ivr/bad.toml: menu[0].keys.\"12\": invalid DTMF key",
        "dialplans/ivr/bad.toml: menu[0].keys.\"1\": more than one action (transfer, play)",
        "dialplans/ivr/bad.toml: menu[0].keys.\"2\".context: only allowed together with transfer",
        "dialplans/ivr/bad.toml: menu[0].keys.\"3\".collect.extra: unknown key `extra`",
        "dialplans/ivr/bad.toml: menu[0].keys.\"3\".collect.min: must be <= max (2)",
        "dialplans/ivr/bad.toml: menu[0].keys.\"4\".webhook.url: invalid URL",
        "dialplans/ivr/bad.toml: menu[0].keys.\"4\".webhook.fallback: missing (required)",
        "dialplans/ivr/bad.toml: menu[0].keys.\"5\".transfer: invalid template",
        "dialplans/ivr/bad.toml: menu[0].keys.\"6\".hangup: must be true",
        "dialplans/ivr/bad.toml: menu[0].keys.\"7\": must be an action table",
        "dialplans/ivr/bad.toml: menu[0].keys.\"8\".play: prompt \"../etc/passwd\": must be a relative path inside sounds/",
    ];
    for want in expected {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing {want:?} in:\n{}",
            errors.join("\n")
        );
    }
}

#[test]
fn menu_references_must_exist_across_files_and_names_are_unique() {
    let a = "[[menu]]\nname = \"a\"\nprompt = \"p.wav\"\n[menu.keys]\n\"1\" = { menu = \"b\" }\n\"2\" = { menu = \"c\" }\n";
    let b =
        "[[menu]]\nname = \"b\"\nprompt = \"p.wav\"\n[[menu]]\nname = \"a\"\nprompt = \"p.wav\"\n";
    let errors = parse(&[("a.toml", a), ("b.toml", b)]).unwrap_err();
    assert_eq!(
        errors,
        [
            "b.toml: menu[1].name: duplicate IVR menu name \"a\" (also in a.toml menu[0].name)",
            "a.toml: menu[0].keys.\"2\".menu: unknown IVR menu \"c\"",
        ]
    );
}

#[test]
fn a_syntax_error_names_the_line() {
    let errors = parse(&[("a.toml", "[[menu]\n")]).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("a.toml:1:"), "{errors:?}");
}

#[test]
fn webhook_answers_use_the_same_grammar_and_loaded_prompts() {
    let menus = parse(&[("ivr/demo.toml", DEMO)]).unwrap();
    let answer =
        serde_json::json!({"actions": [{"play": "demo/goodbye.wav"}, {"transfer": "1001"}]});
    let actions = menus.actions_from_json(&answer).unwrap();
    assert!(matches!(
        actions.as_slice(),
        [IvrAction::Play(p), IvrAction::Transfer { .. }] if p.path() == "demo/goodbye.wav"
    ));
    let single = serde_json::json!({"actions": {"menu": "demo"}});
    assert_eq!(
        menus.actions_from_json(&single).unwrap(),
        [IvrAction::Menu("demo".into())]
    );
    for (bad, why) in [
        (
            serde_json::json!({"actions": [{"menu": "nope"}]}),
            "unknown IVR menu",
        ),
        (
            serde_json::json!({"actions": [{"transfer": "1", "x": 1}]}),
            "unknown key `x`",
        ),
        (
            serde_json::json!({"actions": [{"play": "other.wav"}]}),
            "no sounds directory",
        ),
        (serde_json::json!({"route": "1001"}), "unknown key `route`"),
        (
            serde_json::json!([{"menu": "demo"}]),
            "must be a JSON object",
        ),
        (serde_json::json!({"actions": []}), "must not be empty"),
    ] {
        let error = menus.actions_from_json(&bad).unwrap_err();
        assert!(error.contains(why), "{bad}: {error}");
    }
}

fn profile() -> &'static str {
    "[profile]\nname = \"p\"\ndomain = \"a.b\"\nlisten = [\"udp:127.0.0.1:5999\"]\n"
}

fn config_dir(menu: &str, dialplan: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("sip-profiles")).unwrap();
    fs::write(dir.path().join("sip-profiles/p.toml"), profile()).unwrap();
    fs::create_dir_all(dir.path().join(IVR_DIR)).unwrap();
    fs::write(dir.path().join(IVR_DIR).join("m.toml"), menu).unwrap();
    if let Some(plan) = dialplan {
        fs::write(dir.path().join("dialplans/default.toml"), plan).unwrap();
    }
    let repo_sounds = Path::new(env!("CARGO_MANIFEST_DIR")).join(SOUNDS_DIR);
    for sub in ["demo", "notify", "moh"] {
        fs::create_dir_all(dir.path().join(SOUNDS_DIR).join(sub)).unwrap();
        for entry in fs::read_dir(repo_sounds.join(sub)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(
                entry.path(),
                dir.path()
                    .join(SOUNDS_DIR)
                    .join(sub)
                    .join(entry.file_name()),
            )
            .unwrap();
        }
    }
    dir
}

#[test]
fn the_shipped_demo_menu_loads_with_its_prompts_decoded() {
    let menu =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/ivr/demo.toml"))
            .unwrap();
    let dir = config_dir(&menu, None);
    let config = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let demo = config.ivr().menu("demo").unwrap();
    assert!(demo.prompt()[0].audio().duration() > Duration::from_secs(1));
    assert_eq!(
        config.ivr().sounds_dir(),
        Some(dir.path().join(SOUNDS_DIR).as_path())
    );
}

#[test]
fn a_missing_prompt_file_and_an_unknown_dialplan_menu_fail_the_load() {
    let menu = "[[menu]]\nname = \"m\"\nprompt = \"demo/nope.wav\"\n";
    let plan = "[[context]]\nname = \"default\"\n[[context.rule]]\ndestination = \"5000\"\nivr = \"demo\"\n";
    let dir = config_dir(menu, Some(plan));
    let error = load(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains(
            "dialplans/ivr/m.toml: menu[0].prompt: prompt \"demo/nope.wav\": cannot read"
        ),
        "{error}"
    );
    assert!(
        error.contains("dialplans/default.toml: context[0].rule[0].ivr: unknown IVR menu \"demo\""),
        "{error}"
    );
}

#[test]
fn without_menu_files_the_built_in_dialplans_demo_rule_is_tolerated() {
    let config = crate::config::parse_sources([("sip-profiles/p.toml", profile())]).unwrap();
    assert!(config.ivr().is_empty());
}
