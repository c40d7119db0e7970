//! `switchyard ctl` as an operator runs it: the real binary against a live test switch's API,
//! checking what it prints and its exit status (0 done, 1 refused, 2 usage, 3 unreachable).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::Digest as _;

use crate::call_peers::{CALLEE, call_profile, callee_with, caller, register, registered_callee};
use crate::harness::{BIN, Switch, free_port, password_of, token};
use crate::phone::Phone;
use crate::rtp_peer::RtpPeer;
use crate::sipp_peer::{RunningSipp, SippPeer};

/// How long an asynchronous effect (a registration, a record) may take to show in the API.
const SHOWS_WITHIN: Duration = Duration::from_secs(10);

/// What one `ctl` run printed and how it exited.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_code(&self, code: i32, what: &str) -> &Self {
        assert_eq!(self.code, Some(code), "{what}: {self:#?}");
        self
    }
}

/// Runs `switchyard ctl --api <url> [--token <token>] <args>` with no API settings from the
/// environment.
fn ctl_at(api: &str, token: Option<&str>, args: &[&str]) -> Run {
    let mut command = Command::new(BIN);
    command
        .arg("ctl")
        .args(["--api", api])
        .env_remove("SWITCHYARD_API_URL")
        .env_remove("SWITCHYARD_API_TOKEN");
    if let Some(token) = token {
        command.args(["--token", token]);
    }
    let out = command.args(args).output().expect("run switchyard ctl");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `ctl` against `switch` with the test token of `role`.
fn ctl(switch: &Switch, role: &str, args: &[&str]) -> Run {
    ctl_at(&switch.api_url(""), Some(token(role)), args)
}

/// Runs `ctl` until `done` holds for its result (bounded by [`SHOWS_WITHIN`]).
fn ctl_until(switch: &Switch, role: &str, args: &[&str], done: impl Fn(&Run) -> bool) -> Run {
    let deadline = Instant::now() + SHOWS_WITHIN;
    loop {
        let run = ctl(switch, role, args);
        if done(&run) || Instant::now() >= deadline {
            return run;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn ctl_health_prints_the_version_without_a_token() {
    let switch = Switch::start();
    let run = ctl_at(&switch.api_url(""), None, &["health"]);
    run.assert_code(0, "health");
    assert!(
        run.stdout.starts_with(&format!(
            "ok: switchyard {}, up ",
            env!("CARGO_PKG_VERSION")
        )),
        "{run:#?}"
    );
    let json = ctl_at(&switch.api_url(""), None, &["--json", "health"]);
    json.assert_code(0, "health --json");
    let answer: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(answer["status"], "ok");
}

#[test]
fn ctl_registrations_shows_a_registered_phone_as_a_table_and_as_json() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1000", &password_of(1000));
    let ok = phone.register(&["<sip:1000@192.0.2.10:5060>"], Some(300));
    assert_eq!(ok.status().as_u16(), 200);

    let run = ctl_until(&switch, "readonly", &["registrations"], |r| {
        r.stdout.contains("192.0.2.10")
    });
    run.assert_code(0, "registrations");
    let mut lines = run.stdout.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("USER") && header.contains("CONTACT") && header.contains("EXPIRES"),
        "{run:#?}"
    );
    let row = lines.next().unwrap_or_default();
    assert!(row.contains("1000"), "{run:#?}");
    assert!(row.contains("sip:1000@192.0.2.10:5060"), "{run:#?}");
    // Columns line up: the contact starts where its header does.
    assert_eq!(header.find("CONTACT"), row.find("sip:1000@"), "{run:#?}");

    let filtered = ctl(&switch, "readonly", &["registrations", "--user", "1001"]);
    filtered.assert_code(0, "registrations --user 1001");
    assert!(!filtered.stdout.contains("192.0.2.10"), "{filtered:#?}");

    let json = ctl(
        &switch,
        "readonly",
        &["registrations", "--json", "--user", "1000"],
    );
    json.assert_code(0, "registrations --json");
    let answer: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let items = answer["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{answer:#}");
    assert!(
        items[0].to_string().contains("sip:1000@192.0.2.10:5060"),
        "{answer:#}"
    );
    assert!(answer.get("next_cursor").is_some(), "{answer:#}");
}

#[test]
fn ctl_calls_says_so_when_no_call_is_up_and_call_of_an_unknown_id_is_refused() {
    let switch = Switch::start();
    ctl(&switch, "readonly", &["calls"])
        .assert_code(0, "calls")
        .stdout
        .contains("no calls in progress")
        .then_some(())
        .expect("the empty list says so");
    let json = ctl(&switch, "readonly", &["calls", "--json"]);
    json.assert_code(0, "calls --json");
    let answer: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(answer["items"], serde_json::json!([]));

    let unknown = "00000000-0000-4000-8000-000000000000";
    let run = ctl(&switch, "readonly", &["call", unknown]);
    run.assert_code(1, "call <unknown id>");
    assert!(run.stderr.starts_with("error: not_found: "), "{run:#?}");
    let run = ctl(&switch, "supervisor", &["hangup", unknown]);
    run.assert_code(1, "hangup <unknown id>");
    assert!(run.stderr.starts_with("error: not_found: "), "{run:#?}");
}

#[test]
fn ctl_calls_shows_an_answered_call_and_ctl_hangup_ends_it() {
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas", &media);
    let uac = caller("call_uac_wait_bye", switch.addr(), &CALLEE.to_string())
        .args(&["-recv_timeout", "30000"])
        .spawn();
    let run = ctl_until(&switch, "readonly", &["calls"], |r| {
        r.stdout.contains("answered")
    });
    run.assert_code(0, "calls");
    let mut lines = run.stdout.lines();
    let header = lines.next().unwrap_or_default();
    let row = lines.next().unwrap_or_default();
    for column in [
        "ID",
        "DIRECTION",
        "STATE",
        "FROM",
        "TO",
        "AGE",
        "TALK",
        "TRUNK",
    ] {
        assert!(header.contains(column), "{column}: {run:#?}");
    }
    assert!(
        row.contains("outbound") && row.contains("answered"),
        "{run:#?}"
    );
    assert_eq!(header.find("STATE"), row.find("answered"), "{run:#?}");
    let id = row.split_whitespace().next().expect("an id").to_owned();

    let detail = ctl(&switch, "readonly", &["call", &id]);
    detail.assert_code(0, "call <id>");
    assert!(
        detail
            .stdout
            .lines()
            .any(|l| l.starts_with("id ") && l.ends_with(&id)),
        "{detail:#?}"
    );
    assert!(
        detail.stdout.contains(" ago)"),
        "times read as times: {detail:#?}"
    );

    let refused = ctl(&switch, "agent", &["hangup", &id]);
    refused.assert_code(1, "hangup as agent");
    assert!(
        refused.stderr.starts_with("error: forbidden: "),
        "{refused:#?}"
    );
    let run = ctl(&switch, "supervisor", &["hangup", &id]);
    run.assert_code(0, "hangup as supervisor");
    assert_eq!(run.stdout, format!("hangup requested: call {id}\n"));
    uac.wait().assert_success("the caller got the switch's BYE");
    callee
        .wait()
        .assert_success("the callee got the switch's BYE");
    let run = ctl_until(&switch, "readonly", &["calls"], |r| {
        r.stdout.contains("no calls in progress")
    });
    assert!(run.stdout.contains("no calls in progress"), "{run:#?}");
    let run = ctl_until(
        &switch,
        "readonly",
        &["records", "--cause", "manager_request"],
        |r| r.stdout.contains(&id),
    );
    assert!(run.stdout.contains("manager_request"), "{run:#?}");
}

#[test]
fn ctl_reload_prints_the_summary_and_a_broken_dialplan_exits_1_with_its_errors() {
    let switch = Switch::start();
    let run = ctl(&switch, "admin", &["reload"]);
    run.assert_code(0, "reload");
    assert!(run.stdout.starts_with("reloaded: "), "{run:#?}");

    let dialplans = switch.config_dir().join("dialplans");
    std::fs::create_dir_all(&dialplans).expect("dialplans dir");
    std::fs::write(
        dialplans.join("broken.toml"),
        "[[context]]\nname = \"broken\"\n\n[[context.rule]]\nname = \"r\"\ngoto = \"nowhere\"\n",
    )
    .expect("write the broken dialplan");
    let run = ctl(&switch, "admin", &["reload"]);
    run.assert_code(1, "reload of a broken dialplan");
    assert!(
        run.stderr.starts_with("error: invalid_config: "),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("  - ") && l.contains("nowhere")),
        "each config error on its own line: {run:#?}"
    );
    assert!(run.stdout.is_empty(), "{run:#?}");

    let weaker = ctl(&switch, "supervisor", &["reload"]);
    weaker.assert_code(1, "reload as supervisor");
    assert!(
        weaker.stderr.starts_with("error: forbidden: "),
        "{weaker:#?}"
    );
}

#[test]
fn ctl_token_prints_a_token_whose_block_a_switch_accepts() {
    let run = ctl_at(
        "http://127.0.0.1:9",
        None,
        &["token", "--role", "supervisor", "--name", "ops"],
    );
    run.assert_code(0, "token (no API needed)");
    let generated = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("a token line")
        .to_owned();
    let block_start = run
        .stdout
        .find("[[api.token]]")
        .expect("an [[api.token]] block");
    let block = &run.stdout[block_start..];
    let printed_hash = block
        .lines()
        .find_map(|l| l.strip_prefix("sha256 = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a sha256 line");
    let hash: String = sha2::Sha256::digest(generated.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(printed_hash, hash, "{run:#?}");
    assert!(
        block.contains("name = \"ops\"\nrole = \"supervisor\"\n"),
        "{run:#?}"
    );

    let switch = Switch::start_with_config_api(
        |port| {
            vec![(
                "sip-profiles/it.toml".to_owned(),
                crate::harness::Profile::default().to_toml(port),
            )]
        },
        block,
    );
    ctl_at(&switch.api_url(""), Some(&generated), &["calls"])
        .assert_code(0, "the new token lists calls");
    let run = ctl_at(&switch.api_url(""), Some(&generated), &["reload"]);
    run.assert_code(1, "a supervisor token may not reload");
    assert!(run.stderr.starts_with("error: forbidden: "), "{run:#?}");
}

#[test]
fn ctl_with_a_wrong_or_missing_token_exits_1_unauthorized() {
    let switch = Switch::start();
    let run = ctl_at(&switch.api_url(""), Some("not-a-token"), &["calls"]);
    run.assert_code(1, "wrong token");
    assert!(run.stderr.starts_with("error: unauthorized: "), "{run:#?}");
    let run = ctl_at(&switch.api_url(""), None, &["registrations"]);
    run.assert_code(1, "no token");
    assert!(run.stderr.starts_with("error: unauthorized: "), "{run:#?}");
}

#[test]
fn ctl_exits_3_naming_the_url_when_the_api_is_unreachable() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let run = ctl_at(&url, Some("t"), &["calls"]);
    run.assert_code(3, "unreachable API");
    assert!(
        run.stderr
            .starts_with("error: cannot reach the switchyard API at "),
        "{run:#?}"
    );
    assert!(run.stderr.contains(&url), "{run:#?}");
    let run = ctl_at(&url, Some("t"), &["events"]);
    run.assert_code(3, "unreachable event stream");
    assert!(run.stderr.contains(&url), "{run:#?}");
}

#[test]
fn ctl_usage_mistakes_exit_2() {
    ctl_at("127.0.0.1:8080", None, &["health"]).assert_code(2, "an API URL without scheme");
    ctl_at("http://127.0.0.1:9", None, &["frobnicate"]).assert_code(2, "unknown subcommand");
    ctl_at("http://127.0.0.1:9", None, &["token", "--role", "boss"]).assert_code(2, "unknown role");
    ctl_at("http://127.0.0.1:9", None, &["hangup"]).assert_code(2, "missing call id");
}

#[test]
fn ctl_records_pages_through_call_records_with_a_cursor_hint() {
    let switch = Switch::start();
    for _ in 0..2 {
        // Nobody is registered as 1002: each call ends 480 and leaves a record.
        caller("call_uac_480", switch.addr(), "1002")
            .run()
            .assert_success("a call to an unregistered user");
    }
    let run = ctl_until(&switch, "readonly", &["records", "--limit", "1"], |r| {
        r.stdout.contains("next: --cursor ")
    });
    run.assert_code(0, "records --limit 1");
    assert!(run.stdout.starts_with("START (UTC)"), "{run:#?}");
    assert_eq!(
        run.stdout.lines().count(),
        3,
        "header, one record, hint: {run:#?}"
    );
    let cursor = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("next: --cursor "))
        .expect("cursor hint");
    let first_id = run
        .stdout
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().last());

    let next = ctl(
        &switch,
        "readonly",
        &["records", "--limit", "1", "--cursor", cursor],
    );
    next.assert_code(0, "records --cursor");
    let second_id = next
        .stdout
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().last());
    assert!(second_id.is_some(), "{next:#?}");
    assert_ne!(
        first_id, second_id,
        "the next page has the other record: {next:#?}"
    );

    // Both calls ended unanswered: none was busy.
    let by_cause = ctl(&switch, "readonly", &["records", "--cause", "user_busy"]);
    by_cause.assert_code(0, "records --cause user_busy");
    assert_eq!(by_cause.stdout, "no call records\n", "{by_cause:#?}");
}

#[test]
fn ctl_events_streams_a_registration_as_one_line() {
    let switch = Switch::start();
    let mut child = Command::new(BIN)
        .arg("ctl")
        .args(["--api", &switch.api_url("")])
        .args(["--token", token("readonly")])
        .args(["events", "--types", "registration.added"])
        .env_remove("SWITCHYARD_API_URL")
        .env_remove("SWITCHYARD_API_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ctl events");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let stderr = child.stderr.take().expect("stderr");
    let (ready_tx, ready) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = ready_tx.send(line);
        }
    });
    // The subscription is live once ctl says it follows the stream.
    let notice = ready.recv_timeout(SHOWS_WITHIN).unwrap_or_default();
    assert!(
        notice.starts_with("following events from ws://"),
        "{notice}"
    );

    let mut phone = Phone::new(&switch, "1003", &password_of(1003));
    assert_eq!(
        phone
            .register(&["<sip:1003@192.0.2.13:5060>"], Some(300))
            .status()
            .as_u16(),
        200
    );
    let line = lines.recv_timeout(SHOWS_WITHIN);
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("an event line");
    assert!(line.contains("registration.added"), "{line}");
    let seq: u64 = line
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("the line starts with the sequence number");
    assert!(seq >= 1, "{line}");
}

/// Registers `user` on a free port and starts a SIPp UAS there that answers one call and
/// waits for the BYE.
fn answering_phone(switch: &Switch, user: u32, media: &RtpPeer) -> RunningSipp {
    let port = free_port();
    register(switch, user, port);
    callee_with(
        port,
        SippPeer::uas("call_uas", port).service(&user.to_string()),
        media,
        1,
    )
}

#[test]
fn ctl_originate_connects_two_extensions_and_the_call_is_listed_as_originate() {
    let switch = Switch::start_with(&call_profile());
    let (media_a, media_b) = (RtpPeer::listen(), RtpPeer::listen());
    let a = answering_phone(&switch, 1001, &media_a);
    let b = answering_phone(&switch, 1002, &media_b);
    let run = ctl(
        &switch,
        "agent",
        &[
            "originate",
            "1001",
            "1002",
            "--caller-id-name",
            "Sales",
            "--timeout",
            "20",
        ],
    );
    run.assert_code(0, "originate");
    let id = run
        .stdout
        .strip_prefix("originating: call ")
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the new call's id")
        .to_owned();
    let listed = ctl_until(&switch, "readonly", &["calls"], |r| {
        r.stdout
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("answered"))
    });
    let row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_default();
    assert!(
        row.contains("originate") && row.contains("answered"),
        "{listed:#?}"
    );
    ctl(&switch, "supervisor", &["hangup", &id]).assert_code(0, "hangup");
    a.wait().assert_success("A gets the BYE");
    b.wait().assert_success("B gets the BYE");
    let _ = (media_a.finish(), media_b.finish());
}

#[test]
fn ctl_originate_of_an_unknown_extension_and_deliveries_answer_like_the_api() {
    let switch = Switch::start();
    let run = ctl(&switch, "agent", &["originate", "1999", "1001"]);
    run.assert_code(1, "originate from an unknown extension");
    assert!(run.stderr.starts_with("error: "), "{run:#?}");
    let run = ctl(&switch, "readonly", &["originate", "1000", "1001"]);
    run.assert_code(1, "originate as readonly");
    assert!(run.stderr.starts_with("error: forbidden: "), "{run:#?}");

    let run = ctl(&switch, "readonly", &["deliveries", "--state", "dead"]);
    run.assert_code(0, "deliveries");
    assert!(run.stdout.contains("no deliveries"), "{run:#?}");
    let run = ctl(&switch, "admin", &["retry", "999999"]);
    run.assert_code(1, "retry of an unknown delivery");
    assert!(run.stderr.starts_with("error: not_found: "), "{run:#?}");
}

/// Copies the repository's notification reminder prompt into `switch`'s `sounds/notify/`.
fn install_reminder(switch: &Switch) {
    let to = switch.config_dir().join("sounds/notify");
    std::fs::create_dir_all(&to).expect("sounds dir");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/notify/reminder.wav"),
        to.join("reminder.wav"),
    )
    .expect("copy the prompt");
}

#[test]
fn ctl_notify_schedules_a_notification_in_its_window_lists_it_and_cancels_it() {
    let switch = Switch::start();
    install_reminder(&switch);
    // A window that opens two hours from now (UTC): the notification waits, no call is made.
    let now = chrono::Utc::now();
    let window = format!(
        "{}-{}",
        (now + chrono::Duration::hours(2)).format("%H:%M"),
        (now + chrono::Duration::hours(3)).format("%H:%M")
    );
    let run = ctl(
        &switch,
        "supervisor",
        &[
            "notify",
            "1001",
            "--caller-id",
            "15550001111",
            "--prompt",
            "notify/reminder.wav",
            "--attempts",
            "2",
            "--window",
            &window,
            "--timezone",
            "UTC",
        ],
    );
    run.assert_code(0, "notify");
    let id = run
        .stdout
        .strip_prefix("notification ")
        .and_then(|rest| rest.split(':').next())
        .expect("the new notification's id")
        .to_owned();
    assert!(
        run.stdout.contains(": scheduled, next attempt ") && run.stdout.contains(" UTC (in "),
        "{run:#?}"
    );

    let listed = ctl(&switch, "readonly", &["notifications"]);
    listed.assert_code(0, "notifications");
    let header = listed.stdout.lines().next().unwrap_or_default();
    let row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_default();
    assert!(
        header.starts_with("ID") && header.contains("NEXT ATTEMPT"),
        "{listed:#?}"
    );
    assert_eq!(header.find("STATUS"), row.find("scheduled"), "{listed:#?}");

    let detail = ctl(&switch, "readonly", &["notification", &id]);
    detail.assert_code(0, "notification <id>");
    assert!(detail.stdout.contains("attempts: none yet"), "{detail:#?}");
    assert!(
        detail
            .stdout
            .lines()
            .any(|l| l.starts_with("number") && l.ends_with("1001")),
        "{detail:#?}"
    );

    let weaker = ctl(&switch, "readonly", &["notification-cancel", &id]);
    weaker.assert_code(1, "cancel as readonly");
    assert!(
        weaker.stderr.starts_with("error: forbidden: "),
        "{weaker:#?}"
    );
    let run = ctl(&switch, "supervisor", &["notification-cancel", &id]);
    run.assert_code(0, "notification-cancel");
    assert_eq!(
        run.stdout,
        format!("cancelled: notification {id} (outcome cancelled)\n")
    );
    let again = ctl(&switch, "supervisor", &["notification-cancel", &id]);
    again.assert_code(1, "a second cancel");
    assert!(
        again.stderr.starts_with("error: not_waiting: "),
        "{again:#?}"
    );

    let bad = ctl(
        &switch,
        "supervisor",
        &[
            "notify",
            "1001",
            "--caller-id",
            "1000",
            "--prompt",
            "notify/none.wav",
        ],
    );
    bad.assert_code(1, "a prompt that does not exist");
    assert!(
        bad.stderr.starts_with("error: invalid_field: prompts[0]"),
        "{bad:#?}"
    );
}

#[test]
fn ctl_recordings_of_a_switch_without_recordings_and_of_unknown_calls_are_refused_cleanly() {
    let switch = Switch::start();
    let run = ctl(&switch, "supervisor", &["recordings"]);
    run.assert_code(0, "recordings");
    assert_eq!(run.stdout, "no recordings\n", "{run:#?}");

    let unknown = "00000000-0000-4000-8000-000000000000";
    let run = ctl(&switch, "supervisor", &["recording", unknown, "start"]);
    run.assert_code(1, "recording of an unknown call");
    assert!(run.stderr.starts_with("error: not_found: "), "{run:#?}");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("x.wav");
    let file_arg = file.to_str().expect("utf-8 path");
    let run = ctl(
        &switch,
        "supervisor",
        &["recording-download", unknown, "-o", file_arg],
    );
    run.assert_code(1, "download of an unknown call");
    assert!(run.stderr.starts_with("error: not_found: "), "{run:#?}");
    assert!(!file.exists(), "no file is left behind");

    std::fs::write(&file, b"mine").expect("write");
    let run = ctl(
        &switch,
        "supervisor",
        &["recording-download", unknown, "-o", file_arg],
    );
    run.assert_code(1, "download onto an existing file");
    assert!(run.stderr.contains("--force"), "{run:#?}");
    assert_eq!(std::fs::read(&file).expect("read"), b"mine");
}

#[test]
fn ctl_records_a_call_on_command_lists_the_recording_and_downloads_its_wav() {
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::answering(400);
    let port = free_port();
    register(&switch, CALLEE, port);
    let callee = SippPeer::uas("call_uas", port)
        .key("rtp_port", media.addr().port())
        .spawn();
    let uac = caller("call_uac", switch.addr(), &CALLEE.to_string())
        .with_audio(400)
        .pause(Duration::from_millis(6000))
        .spawn();
    let listed = ctl_until(&switch, "readonly", &["calls"], |r| {
        r.stdout.contains("answered")
    });
    let call = listed
        .stdout
        .lines()
        .find(|l| l.contains("answered"))
        .and_then(|l| l.split_whitespace().next())
        .expect("an answered call")
        .to_owned();

    for (action, done) in [
        ("start", "started"),
        ("pause", "paused"),
        ("resume", "resumed"),
        ("stop", "stopped"),
    ] {
        let run = ctl(&switch, "supervisor", &["recording", &call, action]);
        run.assert_code(0, action);
        assert!(
            run.stdout
                .starts_with(&format!("recording {done}: call {call}, file ")),
            "{run:#?}"
        );
        // Some audio between the commands, so the file has each part.
        std::thread::sleep(Duration::from_millis(300));
    }
    let run = ctl(&switch, "supervisor", &["recording", &call, "pause"]);
    run.assert_code(1, "pause after stop");
    assert!(run.stderr.starts_with("error: conflict: "), "{run:#?}");
    uac.wait().assert_success("caller of the recorded call");
    callee.wait().assert_success("callee of the recorded call");

    let run = ctl_until(&switch, "supervisor", &["recordings"], |r| {
        r.stdout.contains(&call)
    });
    run.assert_code(0, "recordings");
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains(&call))
        .unwrap_or_default();
    assert!(row.contains("complete"), "{run:#?}");
    let json = ctl(&switch, "supervisor", &["recordings", "--json"]);
    let answer: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let sha256 = answer["items"][0]["sha256"]
        .as_str()
        .expect("a complete recording's hash")
        .to_owned();

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("call.wav");
    let file_arg = file.to_str().expect("utf-8 path");
    let run = ctl(
        &switch,
        "supervisor",
        &["recording-download", &call, "-o", file_arg],
    );
    run.assert_code(0, "recording-download");
    assert!(
        run.stdout.ends_with(&format!("sha256 {sha256})\n")),
        "the saved file is the recorded one: {run:#?}"
    );
    let bytes = std::fs::read(&file).expect("the saved file");
    assert_eq!(&bytes[..4], b"RIFF");
    let hash: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hash, sha256);
    ctl(
        &switch,
        "supervisor",
        &["recording-download", &call, "-o", file_arg],
    )
    .assert_code(1, "the file exists");
    ctl(
        &switch,
        "supervisor",
        &["recording-download", &call, "-o", file_arg, "--force"],
    )
    .assert_code(0, "--force replaces it");
    let _ = media.finish();
}
