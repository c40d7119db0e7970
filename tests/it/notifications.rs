//! Voice notifications against the real switch: a notification routed (phones context ->
//! route group `pstn`) to a SIPp gateway that answers and presses 1 is reported confirmed,
//! over the API and as a signed `notification.completed` webhook; a busy and an unanswered
//! number are tried again per the retry policy and reported busy / no answer; bad requests
//! are refused naming the problem; a notification outside its calling window waits for the
//! window's opening, across a restart, and can be cancelled.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::call_peers::call_profile;
use crate::harness::{DOMAIN, Switch, free_port, token};
use crate::http;
use crate::sipp_peer::SippPeer;
use crate::trunk_peers::{DIALPLAN, PSTN_NUMBER, wait_bound};
use crate::webhook_receiver::Receiver;

/// How long a notification may take to reach its final outcome in these tests.
const COMPLETED_WITHIN: Duration = Duration::from_secs(40);

/// A switch whose phones profile (context `phones`) sends `+1555…` to route group `pstn`,
/// whose one trunk's gateway is SIPp on 127.0.0.1:`gateway`; `api_extra` goes into api.toml.
/// The shipped notification prompts are copied into its `sounds/`.
fn start_switch(gateway: u16, api_extra: &str) -> Switch {
    let phones = call_profile();
    let carrier_ports = loop {
        let other = call_profile()
            .rtp_ports
            .expect("call profiles have a port block");
        if Some(other) != phones.rtp_ports {
            break other;
        }
    };
    let carriers_port = free_port();
    let mut trunk_file = String::new();
    let _ = write!(
        trunk_file,
        "[[trunk]]\nname = \"carrier\"\nprofile = \"carriers\"\n\
         gateways = [\"sip:127.0.0.1:{gateway}\"]\n[trunk.probe]\nenabled = false\n\n\
         [[route_group]]\nname = \"pstn\"\nstrategy = \"priority\"\ntrunks = [\"carrier\"]\n"
    );
    let carriers_profile = format!(
        "[profile]\nname = \"carriers\"\ndomain = \"{DOMAIN}\"\n\
         listen = [\"udp:127.0.0.1:{carriers_port}\"]\nkind = \"trunks\"\n\
         context = \"from-carriers\"\n\n[media]\nrtp_port_min = {}\nrtp_port_max = {}\n",
        carrier_ports.0, carrier_ports.1
    );
    let switch = Switch::start_with_config_api(
        |port| {
            vec![
                (
                    "sip-profiles/it.toml".to_owned(),
                    phones.to_toml(port).replacen(
                        "[profile]\n",
                        "[profile]\ncontext = \"phones\"\n",
                        1,
                    ),
                ),
                (
                    "sip-profiles/carriers.toml".to_owned(),
                    carriers_profile.clone(),
                ),
                ("sip-profiles/trunks/it.toml".to_owned(), trunk_file.clone()),
                ("dialplans/it.toml".to_owned(), DIALPLAN.to_owned()),
            ]
        },
        api_extra,
    );
    install_prompts(switch.config_dir());
    switch
}

/// Copies the repository's `sounds/notify/*.wav` into `dir/sounds/notify/`.
fn install_prompts(dir: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/notify");
    let to = dir.join("sounds/notify");
    fs::create_dir_all(&to).expect("sounds dir");
    for name in ["reminder.wav", "press1.wav", "thanks.wav"] {
        fs::copy(from.join(name), to.join(name)).expect("copy prompt");
    }
}

fn create(api: SocketAddr, body: &Value) -> http::Answer {
    http::post(
        api,
        "/api/v1/notifications",
        Some(token("supervisor")),
        &body.to_string(),
    )
}

fn read(api: SocketAddr, id: &str) -> Value {
    let answer = http::get(
        api,
        &format!("/api/v1/notifications/{id}"),
        Some(token("readonly")),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

/// Polls the notification until it is completed (bounded).
fn wait_completed(switch: &Switch, id: &str) -> Value {
    let deadline = Instant::now() + COMPLETED_WITHIN;
    loop {
        let notification = read(switch.api_addr(), id);
        if notification["status"] == "completed" {
            return notification;
        }
        assert!(
            Instant::now() < deadline,
            "notification not completed within {COMPLETED_WITHIN:?}: {notification:#}\nlog:\n{}",
            switch.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_notification_answered_with_the_confirmation_digit_is_reported_confirmed() {
    let receiver = Receiver::start(0);
    let gateway = free_port();
    let switch = start_switch(
        gateway,
        &format!(
            "[webhooks]\n[[webhooks.target]]\nname = \"crm\"\nurl = \"{}\"\n\
             events = [\"notification.completed\"]\nsecret = \"{}\"\n",
            receiver.url(),
            crate::webhook_receiver::SECRET
        ),
    );
    let callee = SippPeer::uas("notify_answer_dtmf", gateway)
        .timeout(Duration::from_secs(60))
        .spawn();
    wait_bound(gateway);

    let answer = create(
        switch.api_addr(),
        &json!({
            "number": PSTN_NUMBER,
            "caller_id": "15550001111",
            "caller_id_name": "Acme",
            "prompts": ["notify/reminder.wav"],
            "confirm": {"prompt": "notify/press1.wav", "digit": "1", "timeout_secs": 5,
                        "retries": 2, "thanks": "notify/thanks.wav"},
        }),
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    let created = answer.json();
    assert_eq!(created["status"], "pending", "{created:#}");
    let id = created["id"].as_str().expect("an id").to_owned();

    let done = wait_completed(&switch, &id);
    assert_eq!(
        done["outcome"],
        "confirmed",
        "{done:#}\nlog:\n{}",
        switch.log()
    );
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{done:#}");
    assert_eq!(attempts[0]["result"], "confirmed");
    assert_eq!(attempts[0]["digit"], "1");
    assert!(attempts[0]["call_id"].is_string(), "{done:#}");
    callee
        .wait()
        .assert_success("the called party answered and heard the BYE");

    let posts = receiver.wait_accepted(1, &switch);
    let event = &posts[0].event;
    assert_eq!(event["type"], "notification.completed", "{event:#}");
    assert_eq!(event["data"]["id"], id.as_str());
    assert_eq!(event["data"]["outcome"], "confirmed");

    let list = http::get(
        switch.api_addr(),
        "/api/v1/notifications",
        Some(token("readonly")),
    )
    .json();
    assert_eq!(list["items"][0]["id"], id.as_str(), "{list:#}");
}

#[test]
fn a_busy_number_is_tried_again_per_the_retry_policy_and_reported_busy() {
    let gateway = free_port();
    let switch = start_switch(gateway, "");
    let callee = SippPeer::uas("call_uas_busy", gateway)
        .calls(2)
        .timeout(Duration::from_secs(60))
        .spawn();
    wait_bound(gateway);

    let answer = create(
        switch.api_addr(),
        &json!({
            "number": PSTN_NUMBER,
            "caller_id": "15550001111",
            "prompts": ["notify/reminder.wav"],
            "retry": {"max_attempts": 2, "interval_secs": 1, "on": ["busy"]},
        }),
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    let id = answer.json()["id"].as_str().expect("an id").to_owned();

    let done = wait_completed(&switch, &id);
    assert_eq!(done["outcome"], "busy", "{done:#}");
    let results: Vec<&Value> = done["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| &a["result"])
        .collect();
    assert_eq!(results, [&json!("busy"), &json!("busy")], "{done:#}");
    callee.wait().assert_success("two INVITEs answered 486");
}

#[test]
fn a_number_that_does_not_answer_in_time_is_reported_no_answer_after_its_retries() {
    let gateway = free_port();
    let switch = start_switch(gateway, "");
    let callee = SippPeer::uas("call_uas_no_answer", gateway)
        .calls(2)
        .timeout(Duration::from_secs(60))
        .spawn();
    wait_bound(gateway);

    let answer = create(
        switch.api_addr(),
        &json!({
            "number": PSTN_NUMBER,
            "caller_id": "15550001111",
            "prompts": ["notify/reminder.wav"],
            "ring_timeout_secs": 2,
            "retry": {"max_attempts": 2, "interval_secs": 1},
        }),
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    let id = answer.json()["id"].as_str().expect("an id").to_owned();

    let done = wait_completed(&switch, &id);
    assert_eq!(done["outcome"], "no_answer", "{done:#}");
    assert_eq!(
        done["attempts"].as_array().map(Vec::len),
        Some(2),
        "{done:#}"
    );
    callee
        .wait()
        .assert_success("two INVITEs rung and cancelled");
}

#[test]
fn bad_notification_requests_are_refused_naming_the_problem() {
    let switch = start_switch(free_port(), "");
    let api = switch.api_addr();
    let good = json!({
        "number": "15551234567",
        "caller_id": "15550001111",
        "prompts": ["notify/reminder.wav"],
    });
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("surprise", json!(1)), 400, "invalid_body", "surprise"),
        (
            with("number", json!(15551234567_u64)),
            400,
            "invalid_body",
            "number",
        ),
        (
            with("number", json!("555-1234")),
            422,
            "invalid_field",
            "number",
        ),
        (with("prompts", json!([])), 422, "invalid_field", "prompts"),
        (
            with("prompts", json!(["notify/missing.wav"])),
            422,
            "invalid_field",
            "prompts[0]",
        ),
        (
            with("prompts", json!(["../api.toml"])),
            422,
            "invalid_field",
            "prompts[0]",
        ),
        (
            with(
                "confirm",
                json!({"prompt": "notify/press1.wav", "digit": "12"}),
            ),
            422,
            "invalid_field",
            "confirm.digit",
        ),
        (
            with("retry", json!({"max_attempts": 0})),
            422,
            "invalid_field",
            "retry.max_attempts",
        ),
        (
            with(
                "window",
                json!({"start": "09:00", "end": "17:00", "timezone": "Mars/Olympus"}),
            ),
            422,
            "invalid_field",
            "window.timezone",
        ),
        (
            with("context", json!("nowhere")),
            422,
            "invalid_field",
            "context",
        ),
    ];
    for (body, status, code, named) in cases {
        let answer = create(api, &body);
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        let error = answer.json();
        assert_eq!(error["code"], code, "{body}: {error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap_or_default()
                .contains(named),
            "{body}: the message names {named}: {error}"
        );
    }
    let agent = http::post(
        api,
        "/api/v1/notifications",
        Some(token("agent")),
        &good.to_string(),
    );
    assert_eq!(agent.status, 403, "{}", agent.body);
    let unknown = http::get(
        api,
        "/api/v1/notifications/no-such-id",
        Some(token("readonly")),
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);
}

#[test]
fn a_notification_outside_its_window_waits_for_the_opening_across_a_restart_and_can_be_cancelled() {
    let switch = start_switch(free_port(), "");
    let api = switch.api_addr();
    // A window that opens two hours from now (UTC) and lasts an hour: closed now.
    let now = chrono::Utc::now();
    let start = now + chrono::Duration::hours(2);
    let end = now + chrono::Duration::hours(3);
    let answer = create(
        api,
        &json!({
            "number": PSTN_NUMBER,
            "caller_id": "15550001111",
            "prompts": ["notify/reminder.wav"],
            "window": {"start": start.format("%H:%M").to_string(),
                       "end": end.format("%H:%M").to_string(), "timezone": "UTC"},
        }),
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    let created = answer.json();
    assert_eq!(created["status"], "scheduled", "{created:#}");
    let next: chrono::DateTime<chrono::Utc> = created["next_attempt_at"]
        .as_str()
        .expect("next_attempt_at")
        .parse()
        .expect("RFC 3339");
    let expected = start
        .date_naive()
        .and_time(
            chrono::NaiveTime::parse_from_str(&start.format("%H:%M").to_string(), "%H:%M")
                .expect("time"),
        )
        .and_utc();
    assert_eq!(next, expected, "{created:#}");
    assert!(created["attempts"].as_array().is_some_and(Vec::is_empty));
    let id = created["id"].as_str().expect("an id");

    // Stored: a restart keeps it waiting for the same opening.
    let (dir, port, api_port) = switch.stop_keeping_dir();
    let switch = Switch::restart_in(dir, port, api_port);
    let api = switch.api_addr();
    let kept = read(api, id);
    assert_eq!(kept["status"], "scheduled", "{kept:#}");
    assert_eq!(
        kept["next_attempt_at"], created["next_attempt_at"],
        "{kept:#}"
    );

    let path = format!("/api/v1/notifications/{id}");
    let cancelled = http::request(api, "DELETE", &path, Some(token("supervisor")), None);
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert_eq!(cancelled.json()["outcome"], "cancelled");
    let again = http::request(api, "DELETE", &path, Some(token("supervisor")), None);
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.json()["code"], "not_waiting");
}
