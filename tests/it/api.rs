//! The REST API against the real switch: who may call what (every endpoint × every role),
//! registrations of a real phone, a real SIPp call listed and hung up through the API, call
//! records filtered and paged, config reload good and bad, and bad input answered with JSON
//! errors that say what was wrong.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::call_peers::{CALLEE, call_profile, caller, registered_callee};
use crate::cdr;
use crate::harness::{DOMAIN, Switch, password_of, token};
use crate::http::{self, Answer};
use crate::phone::Phone;
use crate::rtp_peer::RtpPeer;
use crate::trunk_peers::{DIALPLAN, Trunk, TrunkSwitch, phone_call};
use crate::trunks::{ports, priority};

/// The callers of the role matrix: no token, an unknown token, then each role, least first.
const CALLERS: [(&str, Option<&str>); 6] = [
    ("no token", None),
    ("bad token", Some("not-a-configured-token")),
    ("readonly", Some("test-readonly-token")),
    ("agent", Some("test-agent-token")),
    ("supervisor", Some("test-supervisor-token")),
    ("admin", Some("test-admin-token")),
];

/// A call id no call has.
const NO_CALL: &str = "00000000-0000-4000-8000-000000000000";

fn code(answer: &Answer) -> String {
    answer.json()["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// One row of the matrix: the least role allowed (None: no token needed) and the status an
/// allowed caller gets.
struct Endpoint {
    method: &'static str,
    path: String,
    body: Option<&'static str>,
    least: Option<&'static str>,
    allowed: u16,
}

fn endpoint(
    method: &'static str,
    path: &str,
    body: Option<&'static str>,
    least: Option<&'static str>,
    allowed: u16,
) -> Endpoint {
    Endpoint {
        method,
        path: path.to_owned(),
        body,
        least,
        allowed,
    }
}

/// The status of a WebSocket upgrade request for `path` (101 when it is accepted).
fn upgrade_status(addr: SocketAddr, path: &str, token: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{auth}\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send upgrade");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

#[test]
fn every_endpoint_answers_each_role_as_documented() {
    let switch = Switch::start();
    let addr = switch.api_addr();
    let mut endpoints = vec![
        endpoint("GET", "/api/v1/health", None, None, 200),
        endpoint("GET", "/api/v1/ready", None, None, 200),
        endpoint("GET", "/api/v1/openapi.json", None, None, 200),
        endpoint("GET", "/metrics", None, None, 200),
        endpoint("GET", "/api/v1/registrations", None, Some("readonly"), 200),
        endpoint("GET", "/api/v1/calls", None, Some("readonly"), 200),
        endpoint(
            "GET",
            &format!("/api/v1/calls/{NO_CALL}"),
            None,
            Some("readonly"),
            404,
        ),
        endpoint(
            "POST",
            &format!("/api/v1/calls/{NO_CALL}/hangup"),
            None,
            Some("supervisor"),
            404,
        ),
        // 1000 exists but has no registered phone.
        endpoint(
            "POST",
            "/api/v1/calls",
            Some(r#"{"from":"1000","to":"1001"}"#),
            Some("agent"),
            409,
        ),
        endpoint("GET", "/api/v1/records", None, Some("readonly"), 200),
        endpoint("POST", "/api/v1/config/reload", None, Some("admin"), 200),
        endpoint(
            "POST",
            &format!("/api/v1/calls/{NO_CALL}/recording"),
            Some(r#"{"action":"start"}"#),
            Some("supervisor"),
            404,
        ),
        endpoint("GET", "/api/v1/recordings", None, Some("supervisor"), 200),
        endpoint(
            "GET",
            &format!("/api/v1/recordings/{NO_CALL}"),
            None,
            Some("supervisor"),
            404,
        ),
        endpoint("GET", "/api/v1/notifications", None, Some("readonly"), 200),
        endpoint(
            "GET",
            "/api/v1/notifications/no-such-notification",
            None,
            Some("readonly"),
            404,
        ),
        // Well-formed, but the prompt is not under sounds/: refused after the role check.
        endpoint(
            "POST",
            "/api/v1/notifications",
            Some(r#"{"number":"1001","caller_id":"1000","prompts":["none.wav"]}"#),
            Some("supervisor"),
            422,
        ),
        endpoint(
            "DELETE",
            "/api/v1/notifications/no-such-notification",
            None,
            Some("supervisor"),
            404,
        ),
    ];
    let openapi = http::get(addr, "/api/v1/openapi.json", None).json();
    let paths = &openapi["paths"];
    if paths.get("/api/v1/webhooks/deliveries").is_some() {
        endpoints.push(endpoint(
            "GET",
            "/api/v1/webhooks/deliveries",
            None,
            Some("readonly"),
            200,
        ));
    }
    if paths
        .get("/api/v1/webhooks/deliveries/{id}/retry")
        .is_some()
    {
        endpoints.push(endpoint(
            "POST",
            "/api/v1/webhooks/deliveries/999999/retry",
            None,
            Some("admin"),
            404,
        ));
    }
    let ranks = ["readonly", "agent", "supervisor", "admin"];
    let rank = |role: &str| ranks.iter().position(|r| *r == role);
    let mut wrong = Vec::new();
    for e in &endpoints {
        for (who, token) in CALLERS {
            let expected = match (e.least, token) {
                (None, _) => e.allowed,
                (Some(_), None) => 401,
                (Some(_), Some(_)) if rank(who).is_none() => 401,
                (Some(least), Some(_)) if rank(who) < rank(least) => 403,
                (Some(_), Some(_)) => e.allowed,
            };
            let answer = http::request(addr, e.method, &e.path, token, e.body);
            let json_error = answer.status < 400 || !code(&answer).is_empty();
            if answer.status != expected || !json_error {
                wrong.push(format!(
                    "{} {} as {who}: {} (expected {expected}) {}",
                    e.method, e.path, answer.status, answer.body
                ));
            }
        }
    }
    // The live events: a WebSocket upgrade, readonly and above.
    if paths.get("/api/v1/events").is_some() {
        for (who, token) in CALLERS {
            let expected = if rank(who).is_some() { 101 } else { 401 };
            let status = upgrade_status(addr, "/api/v1/events", token);
            if status != expected {
                wrong.push(format!(
                    "GET /api/v1/events as {who}: {status} (expected {expected})"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
}

#[test]
fn a_registered_phone_is_listed_and_filtered_by_user_and_profile() {
    let switch = Switch::start();
    let addr = switch.api_addr();
    let readonly = Some(token("readonly"));
    let mut desk = Phone::new(&switch, "1002", &password_of(1002));
    let ok = desk.register(&["<sip:1002@192.0.2.10:5062>;q=0.5"], Some(300));
    assert_eq!(ok.status().as_u16(), 200, "{ok:?}");
    let mut other = Phone::new(&switch, "1003", &password_of(1003));
    assert_eq!(
        other
            .register(&["<sip:1003@192.0.2.11:5063>"], Some(300))
            .status()
            .as_u16(),
        200
    );

    let all = http::get(addr, "/api/v1/registrations", readonly);
    assert_eq!(all.status, 200, "{}", all.body);
    let items = all.json()["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{}", all.body);

    let mine = http::get(addr, "/api/v1/registrations?user=1002&profile=it", readonly).json();
    let item = &mine["items"][0];
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1), "{mine}");
    assert_eq!(item["user"], "1002");
    assert_eq!(item["aor"], format!("1002@{DOMAIN}"));
    assert_eq!(item["profile"], "it");
    assert_eq!(item["contact"], "sip:1002@192.0.2.10:5062");
    assert_eq!(item["source"], desk.local_addr().to_string());
    assert_eq!(item["transport"], "udp");
    assert_eq!(item["q"], 0.5);
    let expires = item["expires_in_secs"].as_u64().unwrap_or(0);
    assert!((290..=300).contains(&expires), "{item}");

    let page = http::get(addr, "/api/v1/registrations?limit=1", readonly).json();
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let next = http::get(
        addr,
        &format!("/api/v1/registrations?limit=1&cursor={cursor}"),
        readonly,
    )
    .json();
    assert_eq!(next["items"][0]["user"], "1003", "{next}");
    assert_eq!(next["next_cursor"], Value::Null);

    let unknown = http::get(addr, "/api/v1/registrations?profile=nope", readonly);
    assert_eq!(
        (unknown.status, code(&unknown).as_str()),
        (400, "invalid_query")
    );
    let nobody = http::get(addr, "/api/v1/registrations?user=1004", readonly).json();
    assert_eq!(nobody["items"], serde_json::json!([]));
}

/// Polls `path` until `done` holds for its JSON (bounded).
fn wait_json(addr: SocketAddr, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = http::get(addr, path, Some(token("readonly")));
        if answer.status == 200 && done(&answer.json()) {
            return answer.json();
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed what was expected; last: {} {}",
            answer.status,
            answer.body
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_supervisor_hangs_up_an_answered_call_and_both_sides_get_a_bye() {
    let switch = Switch::start_with(&call_profile());
    let addr = switch.api_addr();
    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas", &media);
    let uac = caller("call_uac_wait_bye", switch.addr(), &CALLEE.to_string())
        .args(&["-recv_timeout", "30000"])
        .spawn();
    let calls = wait_json(addr, "/api/v1/calls", |v| {
        v["items"][0]["state"] == "answered"
    });
    let call = &calls["items"][0];
    let id = call["id"].as_str().expect("call id").to_owned();
    assert_eq!(call["direction"], "outbound", "{call}");
    assert_eq!(call["caller"], "1000", "{call}");
    let detail = http::get(
        addr,
        &format!("/api/v1/calls/{id}"),
        Some(token("readonly")),
    );
    assert_eq!(detail.json()["id"], id.as_str(), "{}", detail.body);

    let path = format!("/api/v1/calls/{id}/hangup");
    let refused = http::post(addr, &path, Some(token("agent")), "");
    assert_eq!(
        refused.status, 403,
        "an agent may not hang up: {}",
        refused.body
    );
    let hangup = http::post(addr, &path, Some(token("supervisor")), "");
    assert_eq!(hangup.status, 202, "{}", hangup.body);
    assert_eq!(hangup.json()["status"], "hanging_up");

    let uac = uac.wait();
    let uas = callee.wait();
    uac.assert_success("the caller got the switch's BYE");
    uas.assert_success("the callee got the switch's BYE");
    wait_json(addr, "/api/v1/calls", |v| {
        v["items"] == serde_json::json!([])
    });
    let gone = http::get(
        addr,
        &format!("/api/v1/calls/{id}"),
        Some(token("readonly")),
    );
    assert_eq!((gone.status, code(&gone).as_str()), (404, "not_found"));
    let records = wait_json(addr, "/api/v1/records?cause=manager_request", |v| {
        v["items"].as_array().is_some_and(|i| !i.is_empty())
    });
    let record = &records["items"][0];
    assert_eq!(record["call_id"], id.as_str(), "{record}");
    assert_eq!(record["hangup"]["side"], "switch", "{record}");
    assert_eq!(record["legs"].as_array().map(Vec::len), Some(2), "{record}");
}

/// Writes call records straight into the switch's database: `(started_at_ms, caller,
/// dialled user, cause)` each.
fn insert_records(switch: &Switch, records: &[(i64, &str, &str, &str)]) {
    let db = cdr::database_file(switch.config_dir());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("open the switch's database");
        for (i, (started, from, to, cause)) in records.iter().enumerate() {
            let id = format!("00000000-0000-4000-8000-{i:012}");
            sqlx::query(
                "INSERT INTO calls (call_id, profile, from_uri, caller, to_uri, started_at_ms, \
                 ended_at_ms, duration_secs, billable_secs, hangup_cause, sip_status, q850, \
                 hangup_side) VALUES ($1, 'it', $2, $3, $4, $5, $6, 1, 0, $7, 486, 17, 'callee')",
            )
            .bind(&id)
            .bind(format!("sip:{from}@{DOMAIN}"))
            .bind(*from)
            .bind(format!("sip:{to}@{DOMAIN}"))
            .bind(*started)
            .bind(started + 1000)
            .bind(*cause)
            .execute(&pool)
            .await
            .expect("insert a call");
            sqlx::query(
                "INSERT INTO call_legs (call_id, leg_index, side, sip_call_id, local_tag, \
                 target, started_at_ms, ended_at_ms, final_status) \
                 VALUES ($1, 0, 'a', $2, 't', $3, $4, $5, 486)",
            )
            .bind(&id)
            .bind(format!("sip-{i}"))
            .bind(format!("sip:{to}@{DOMAIN}"))
            .bind(*started)
            .bind(started + 1000)
            .execute(&pool)
            .await
            .expect("insert a leg");
        }
        pool.close().await;
    });
}

fn started_of(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["started_at"].as_i64())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn records_are_queried_by_time_number_and_cause_and_paged_newest_first() {
    let switch = Switch::start();
    let addr = switch.api_addr();
    let t0: i64 = 1_795_456_800_000; // 2026-11-23T18:00:00Z
    insert_records(
        &switch,
        &[
            (t0, "1000", "1001", "normal_clearing"),
            (t0 + 60_000, "1002", "1001", "user_busy"),
            (t0 + 120_000, "1000", "2000", "no_answer"),
            (t0 + 180_000, "1003", "10010", "user_busy"),
            (t0 + 240_000, "1000", "1001", "normal_clearing"),
        ],
    );
    let get = |query: &str| {
        let answer = http::get(
            addr,
            &format!("/api/v1/records{query}"),
            Some(token("readonly")),
        );
        assert_eq!(answer.status, 200, "{query}: {}", answer.body);
        answer.json()
    };
    let all = get("");
    assert_eq!(
        started_of(&all),
        [t0 + 240_000, t0 + 180_000, t0 + 120_000, t0 + 60_000, t0]
    );
    assert_eq!(
        all["items"][0]["legs"][0]["side"], "a",
        "records carry their legs"
    );
    assert_eq!(all["next_cursor"], Value::Null);

    let range = get("?from=2026-11-23T18:01:00Z&to=1795456980000");
    assert_eq!(started_of(&range), [t0 + 120_000, t0 + 60_000]);
    assert_eq!(
        started_of(&get("?number=1001")),
        [t0 + 240_000, t0 + 60_000, t0]
    );
    assert_eq!(
        started_of(&get("?number=1000")),
        [t0 + 240_000, t0 + 120_000, t0]
    );
    assert_eq!(
        started_of(&get("?cause=user_busy")),
        [t0 + 180_000, t0 + 60_000]
    );
    assert_eq!(
        started_of(&get("?cause=user_busy&number=1002")),
        [t0 + 60_000]
    );

    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    for _ in 0..5 {
        let page = get(&query);
        seen.extend(started_of(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        started_of(&all),
        "pages of two cover every record once"
    );
}

#[test]
fn a_bad_reload_is_refused_with_its_errors_and_the_running_routing_stays() {
    let [gateway] = ports();
    let sw = TrunkSwitch::start(
        &[Trunk::new("carrier-a", gateway)],
        &priority(&["carrier-a"]),
        "",
    );
    let addr = sw.switch.api_addr();
    let admin = Some(token("admin"));
    let good = http::post(addr, "/api/v1/config/reload", admin, "");
    assert_eq!(good.status, 200, "{}", good.body);
    assert_eq!(good.json()["trunks"], 1, "{}", good.body);

    let file = sw.switch.config_dir().join("dialplans/it.toml");
    let broken = DIALPLAN.replace("route_group = \"pstn\"", "goto = \"nowhere\"");
    std::fs::write(&file, broken).expect("write the broken dialplan");
    let refused = http::post(addr, "/api/v1/config/reload", admin, "");
    assert_eq!(refused.status, 422, "{}", refused.body);
    let body = refused.json();
    assert_eq!(body["code"], "invalid_config");
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors.iter().any(|e| e
            .as_str()
            .is_some_and(|e| e.contains("unknown context \"nowhere\""))),
        "the errors name the problem: {body}"
    );
    phone_call(&sw, "call_uac_404", "1999")
        .run()
        .assert_success("the running dialplan stayed");

    let busy = DIALPLAN.replacen(
        "[[context.rule]]\nname = \"extensions\"",
        "[[context.rule]]\nname = \"closed\"\ndestination = \"1999\"\nhangup = 486\n\n\
         [[context.rule]]\nname = \"extensions\"",
        1,
    );
    std::fs::write(&file, busy).expect("write the new dialplan");
    let swapped = http::post(addr, "/api/v1/config/reload", admin, "");
    assert_eq!(swapped.status, 200, "{}", swapped.body);
    phone_call(&sw, "call_uac_486", "1999")
        .run()
        .assert_success("the new rule answers 486");
}

#[test]
fn bad_input_gets_a_json_error_that_names_the_problem() {
    let switch = Switch::start();
    let addr = switch.api_addr();
    let agent = Some(token("agent"));
    let readonly = Some(token("readonly"));
    let check = |answer: Answer, status: u16, code_: &str, mentions: &str| {
        assert_eq!(
            (answer.status, code(&answer).as_str()),
            (status, code_),
            "{}",
            answer.body
        );
        let message = answer.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(mentions), "{mentions:?} in {message:?}");
    };
    let originate = |body: &str| http::post(addr, "/api/v1/calls", agent, body);
    check(
        originate(r#"{"from":"1000","to":"1001","callerid":"x"}"#),
        400,
        "invalid_body",
        "`callerid`",
    );
    check(originate(r#"{"from":"1000","#), 400, "invalid_body", "");
    check(
        originate(r#"{"from":1000,"to":"1001"}"#),
        400,
        "invalid_body",
        "from",
    );
    check(originate(r#"{"to":"1001"}"#), 400, "invalid_body", "`from`");
    check(originate(""), 400, "invalid_body", "empty");
    let big = format!(r#"{{"from":"{}","to":"1"}}"#, "1".repeat(70 * 1024));
    check(originate(&big), 413, "body_too_large", "");
    let plain = http::request_with(
        addr,
        "POST",
        "/api/v1/calls",
        agent,
        Some("from=1000"),
        &[("Content-Type", "text/plain")],
    );
    assert_eq!(plain.status, 415, "{}", plain.body);

    let bad_gets = [
        ("/api/v1/records?limit=ten", 400, "invalid_query", "limit"),
        ("/api/v1/records?limit=5000", 400, "invalid_query", "limit"),
        (
            "/api/v1/records?colour=red",
            400,
            "invalid_query",
            "`colour`",
        ),
        (
            "/api/v1/records?cause=hung_up",
            400,
            "invalid_query",
            "cause",
        ),
        (
            "/api/v1/records?from=yesterday",
            400,
            "invalid_query",
            "from",
        ),
        (
            "/api/v1/records?cursor=not-a-cursor",
            400,
            "invalid_query",
            "cursor",
        ),
        (
            "/api/v1/calls/not-a-uuid",
            400,
            "invalid_path",
            "not-a-uuid",
        ),
        (
            &format!("/api/v1/calls/{NO_CALL}"),
            404,
            "not_found",
            NO_CALL,
        ),
        (
            "/api/v1/nothing-here",
            404,
            "not_found",
            "/api/v1/nothing-here",
        ),
    ];
    for (path, status, code_, mentions) in bad_gets {
        check(http::get(addr, path, readonly), status, code_, mentions);
    }
    check(
        http::request(addr, "DELETE", "/api/v1/calls", readonly, None),
        405,
        "method_not_allowed",
        "DELETE",
    );
}
