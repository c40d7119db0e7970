//! `/metrics` against the real binary: after a SIPp call with audio, a REGISTER and some API
//! requests, the scrape passes `promtool check metrics` (Debian's prometheus package; the test
//! fails when it is missing, `scripts/test` installs it) and the families moved.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::call_peers::{CALLEE, call_profile, caller, registered_callee};
use crate::harness::{Switch, token};
use crate::http;
use crate::rtp_peer::RtpPeer;

/// One sample of an exposition: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// The samples of a Prometheus text exposition (comments skipped).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, HashMap::new()),
            };
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// `a="x",b="y"` (no escapes in our label values).
fn parse_labels(text: &str) -> HashMap<String, String> {
    let mut labels = HashMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let (value, after) = after.split_once('"').expect("a closing quote");
        labels.insert(key.trim_start_matches(',').to_owned(), value.to_owned());
        rest = after;
    }
    labels
}

/// The value of `name` with (at least) `labels`; 0 when no such series is exposed.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// `promtool check metrics` over `text`: panics with its findings unless it exits 0.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed to check /metrics ({e}); install Debian's 'prometheus' \
                 package (scripts/test does)"
            )
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- exposition ---\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

/// Scrapes until `ready` holds for the samples (bounded), returning the last scrape.
fn scrape_until(switch: &Switch, ready: impl Fn(&[Sample]) -> bool) -> (http::Answer, Vec<Sample>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = http::get(switch.api_addr(), "/metrics", None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let parsed = samples(&answer.body);
        if ready(&parsed) || Instant::now() > deadline {
            return (answer, parsed);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metrics_after_a_call_a_registration_and_api_requests_pass_promtool_and_show_them() {
    let profile = call_profile();
    let switch = Switch::start_with(&profile);
    let media = RtpPeer::answering(50);
    let callee = registered_callee(&switch, "call_uas", &media);
    let uac = caller("call_uac", switch.addr(), &CALLEE.to_string())
        .with_audio(50)
        .rtp_echo()
        .pause(Duration::from_millis(1500))
        .run();
    let uas = callee.wait();
    media.finish();
    uac.assert_success("call (caller)");
    uas.assert_success("call (callee)");

    assert_eq!(
        http::get(switch.api_addr(), "/api/v1/health", None).status,
        200
    );
    let missing = "/api/v1/calls/00000000-0000-0000-0000-000000000000";
    assert_eq!(
        http::get(switch.api_addr(), missing, Some(token("readonly"))).status,
        404
    );
    assert_eq!(
        http::get(switch.api_addr(), "/no/such/route", None).status,
        404
    );

    let answered = [("direction", "outbound"), ("outcome", "answered")];
    let (answer, s) = scrape_until(&switch, |s| {
        value(s, "switchyard_calls_total", &answered) >= 1.0
    });
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    promtool_check(&answer.body);

    let at_least = [
        ("switchyard_calls_total", &answered[..], 1.0),
        (
            "switchyard_call_setups_total",
            &[("direction", "outbound")][..],
            1.0,
        ),
        (
            "switchyard_call_post_dial_delay_seconds_count",
            &[("direction", "outbound")],
            1.0,
        ),
        (
            "switchyard_sip_requests_total",
            &[("direction", "received"), ("method", "INVITE")],
            1.0,
        ),
        (
            "switchyard_sip_requests_total",
            &[("direction", "sent"), ("method", "INVITE")],
            1.0,
        ),
        (
            "switchyard_sip_requests_total",
            &[("direction", "received"), ("method", "REGISTER")],
            1.0,
        ),
        (
            "switchyard_sip_responses_total",
            &[("direction", "sent"), ("code", "200")],
            1.0,
        ),
        (
            "switchyard_sip_responses_total",
            &[("direction", "received"), ("code", "200")],
            1.0,
        ),
        (
            "switchyard_registration_requests_total",
            &[("result", "ok")],
            1.0,
        ),
        ("switchyard_registrations", &[], 1.0),
        ("switchyard_rtp_packets_relayed_total", &[], 1.0),
        ("switchyard_relay_ports", &[("profile", "it")], 4.0),
        (
            "switchyard_api_requests_total",
            &[
                ("route", "/api/v1/health"),
                ("method", "GET"),
                ("status", "200"),
            ],
            1.0,
        ),
        (
            "switchyard_api_requests_total",
            &[
                ("route", "/api/v1/calls/{id}"),
                ("method", "GET"),
                ("status", "404"),
            ],
            1.0,
        ),
        (
            "switchyard_api_requests_total",
            &[("route", "unmatched"), ("status", "404")],
            1.0,
        ),
        ("switchyard_build_info", &[], 1.0),
        ("switchyard_process_start_time_seconds", &[], 1.0),
    ];
    let mut failures = Vec::new();
    for (name, labels, min) in at_least {
        let v = value(&s, name, labels);
        if v < min {
            failures.push(format!("{name}{labels:?} = {v}, expected >= {min}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n--- exposition ---\n{}",
        failures.join("\n"),
        answer.body
    );
    assert_eq!(
        value(&s, "switchyard_calls_active", &[]),
        0.0,
        "the call is over"
    );
    assert!(
        !answer.body.contains("00000000-0000"),
        "no call id becomes a label"
    );
}

#[test]
fn prometheus_asking_for_openmetrics_gets_openmetrics() {
    let switch = Switch::start();
    let answer = http::request_with(
        switch.api_addr(),
        "GET",
        "/metrics",
        None,
        None,
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    );
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(answer.body.contains("# TYPE switchyard_calls counter"));
    assert!(answer.body.ends_with("# EOF\n"), "{}", answer.body);
}

#[test]
fn the_grafana_dashboard_charts_every_family_with_queries_promtool_accepts() {
    let switch = Switch::start();
    let exposition = http::get(switch.api_addr(), "/metrics", None).body;
    // Every family the switch exposes (some only once they have a sample) …
    let families = switchyard::telemetry::metrics::FAMILIES;
    // … and the list above is complete.
    for exposed in exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
    {
        assert!(
            families.contains(&exposed),
            "{exposed} is exposed but not in this test's list"
        );
    }

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dashboards/grafana-switchyard.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard file"))
            .expect("the dashboard is JSON");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("template variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(variables.contains(&"datasource") && variables.contains(&"instance"));
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    for family in &families {
        assert!(
            exprs.iter().any(|e| e.contains(family)),
            "no dashboard panel charts {family}"
        );
    }

    // Each query, with Grafana's variables filled in, as a recording rule promtool parses.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*");
        let quoted = serde_json::to_string(&expr).expect("a JSON string is a YAML string");
        rules.push_str(&format!(
            "      - record: dashboard:query{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&file, rules).expect("write the rules");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool is needed (Debian's 'prometheus' package; scripts/test installs it)");
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_retransmitted_register_counts_as_an_absorbed_retransmission() {
    let switch = Switch::start();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let local = socket.local_addr().expect("local address");
    let register = format!(
        "REGISTER sip:{domain} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-metrics-retransmit\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@{domain}>;tag=m1\r\n\
         To: <sip:1000@{domain}>\r\n\
         Call-ID: metrics-retransmit@127.0.0.1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:1000@{local}>\r\n\
         Content-Length: 0\r\n\r\n",
        domain = crate::harness::DOMAIN,
    );
    let mut buf = [0u8; 4096];
    // RFC 3261 §17.2.2: the copy with the same branch goes to the same server transaction,
    // which answers it with its last response again.
    for _ in 0..2 {
        socket
            .send_to(register.as_bytes(), switch.addr())
            .expect("send the REGISTER");
        let (n, _) = socket.recv_from(&mut buf).expect("an answer");
        assert!(
            buf[..n].starts_with(b"SIP/2.0 401"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    let kind = [("kind", "request_received")];
    let (answer, s) = scrape_until(&switch, |s| {
        value(s, "switchyard_sip_retransmissions_total", &kind) >= 1.0
    });
    assert_eq!(
        value(&s, "switchyard_sip_retransmissions_total", &kind),
        1.0,
        "{}",
        answer.body
    );
    assert_eq!(
        value(
            &s,
            "switchyard_registration_requests_total",
            &[("result", "challenged")]
        ),
        1.0,
        "one REGISTER reached the registrar: {}",
        answer.body
    );
    assert_eq!(
        value(
            &s,
            "switchyard_sip_responses_total",
            &[("direction", "sent"), ("code", "401")]
        ),
        2.0,
        "{}",
        answer.body
    );
    promtool_check(&answer.body);
}
