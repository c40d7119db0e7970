//! Engine tests: the menus over a fake player and digit source, in paused time (webhook
//! tests in real time: they talk to a local HTTP server).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::*;
use crate::call::HangupCause;
use crate::call::actor::{CallRoute, FixedStages};
use crate::call::app::AppOutcome;
use crate::call::record::CallId;
use crate::cluster::BoxFuture;
use crate::config::ivr::IvrMenus;
use crate::media::Audio;

/// Prompt names and their lengths in 20 ms packets: each prompt is told by its length.
const PROMPTS: &[(&str, usize)] = &[
    ("welcome.wav", 150),
    ("invalid.wav", 60),
    ("timeout.wav", 70),
    ("goodbye.wav", 80),
    ("enter.wav", 90),
    ("transferring.wav", 100),
    ("tiny.wav", 1),
    ("after.wav", 2),
];

fn audio_of(name: &str) -> Result<Audio, String> {
    PROMPTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, packets)| Audio::from_samples(vec![0; packets * 160]))
        .ok_or_else(|| format!("no such file {name}"))
}

fn name_of(audio: &Audio) -> &'static str {
    PROMPTS
        .iter()
        .find(|(_, packets)| packets * 160 == audio.samples().len())
        .map_or("?", |(n, _)| n.trim_end_matches(".wav"))
}

fn menus(text: &str) -> Arc<IvrMenus> {
    let mut load = |p: &str| audio_of(p);
    let menus = IvrMenus::parse_with(
        [(PathBuf::from("ivr/test.toml"), text.to_owned())],
        &mut load,
    )
    .unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter().map(|e| e.to_string() + "\n").collect::<String>()
        )
    });
    Arc::new(menus)
}

const DEMO: &str = r##"
[[menu]]
name = "demo"
prompt = ["welcome.wav"]
timeout_secs = 5
retries = 3
invalid_prompt = "invalid.wav"
timeout_prompt = "timeout.wav"
on_failure = { play = "goodbye.wav", hangup = true }
[menu.keys]
"1" = { transfer = "1001" }
"2" = { collect = { variable = "ext", min = 4, max = 4, terminator = "#", inter_digit_timeout_secs = 3, prompt = "enter.wav" }, then = { transfer = "${ext}" } }
"3" = { play = "goodbye.wav", hangup = true }
"4" = [{ set = { lang = "en", dest = "10${x}" } }, { set = { x = "02" } }, { transfer = "${dest}-${x}-${lang}" }]
"5" = { transfer = "9999" }
"6" = { collect = { variable = "pin", min = 2, max = 6, timeout_secs = 2, inter_digit_timeout_secs = 2 }, then = { transfer = "${pin}" } }
"7" = { menu = "demo" }
"8" = { set = { a = "b" } }
"#" = { route_group = "pstn", number = "+1${lang}" }
"##;

/// What the player did: each prompt with whether it played to its end.
type Played = Arc<Mutex<Vec<(String, bool)>>>;

struct FakePlayer(Played);

impl IvrPlayer for FakePlayer {
    async fn play(&mut self, audio: &Audio) {
        struct Guard(Played, usize, bool);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.lock().unwrap()[self.1].1 = self.2;
            }
        }
        let index = {
            let mut played = self.0.lock().unwrap();
            played.push((name_of(audio).to_owned(), false));
            played.len() - 1
        };
        let mut guard = Guard(Arc::clone(&self.0), index, false);
        tokio::time::sleep(audio.duration()).await;
        guard.2 = true;
    }
}

struct FakeDigits(mpsc::Receiver<char>);

impl IvrDigits for FakeDigits {
    async fn next(&mut self) -> Option<char> {
        self.0.recv().await
    }

    fn clear(&mut self) {
        while self.0.try_recv().is_ok() {}
    }
}

/// Transfers asked for; numbers starting with 1 are reachable, others are not.
type Asked = Arc<Mutex<Vec<TransferTarget>>>;

fn resolver() -> (TransferResolver, Asked) {
    let asked: Asked = Arc::default();
    let seen = Arc::clone(&asked);
    let resolver: TransferResolver = Arc::new(move |request: TransferRequest| {
        seen.lock().unwrap().push(request.target.clone());
        let reachable = match &request.target {
            TransferTarget::Number { number, .. } => number.starts_with('1'),
            TransferTarget::RouteGroup { .. } => true,
        };
        let future: BoxFuture<'static, Result<Box<dyn CallRoute>, HangupCause>> =
            Box::pin(async move {
                if reachable {
                    Ok(Box::new(FixedStages::default()) as Box<dyn CallRoute>)
                } else {
                    Err(HangupCause::UnallocatedNumber)
                }
            });
        future
    });
    (resolver, asked)
}

struct Run {
    outcome: AppOutcome,
    played: Vec<(String, bool)>,
    asked: Vec<TransferTarget>,
    elapsed: Duration,
}

impl Run {
    fn names(&self) -> Vec<&str> {
        self.played.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn hung_up(&self) -> bool {
        matches!(
            self.outcome,
            AppOutcome::HangUp(HangupCause::NormalClearing)
        )
    }

    fn transferred(&self) -> bool {
        matches!(self.outcome, AppOutcome::Transfer(_))
    }
}

fn number(target: &TransferTarget) -> &str {
    match target {
        TransferTarget::Number { number, .. } | TransferTarget::RouteGroup { number, .. } => number,
    }
}

/// Runs `start` of `menus`; `presses` are (ms after start, digit); the digit source stays
/// open (the caller stays) unless `hang_up_at` says when the caller goes.
async fn run(
    menus: Arc<IvrMenus>,
    start: &str,
    presses: &[(u64, char)],
    hang_up_at: Option<u64>,
) -> Run {
    let (tx, rx) = mpsc::channel(64);
    let begin = Instant::now();
    let presses = presses.to_vec();
    let keep = tx.clone();
    tokio::spawn(async move {
        for (at, digit) in presses {
            tokio::time::sleep_until(begin + Duration::from_millis(at)).await;
            let _ = tx.send(digit).await;
        }
        if let Some(at) = hang_up_at {
            tokio::time::sleep_until(begin + Duration::from_millis(at)).await;
        } else {
            std::future::pending::<()>().await;
        }
    });
    if hang_up_at.is_some() {
        drop(keep);
    } else {
        std::mem::forget(keep);
    }
    let (resolver, asked) = resolver();
    let played: Played = Arc::default();
    let app = IvrApp::new(menus, start, resolver, reqwest::Client::new());
    let call = IvrCall {
        call_id: CallId::new_random(),
        caller: "1000".into(),
        dialled: "5000".into(),
    };
    let outcome = app
        .run_with(
            &call,
            &mut FakePlayer(Arc::clone(&played)),
            &mut FakeDigits(rx),
        )
        .await;
    let played = played.lock().unwrap().clone();
    let asked = asked.lock().unwrap().clone();
    Run {
        outcome,
        played,
        asked,
        elapsed: begin.elapsed(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_digit_during_the_welcome_interrupts_it_and_transfers() {
    let run = run(menus(DEMO), "demo", &[(1000, '1')], None).await;
    assert!(run.transferred());
    assert_eq!(run.played, vec![("welcome".to_owned(), false)]);
    assert_eq!(run.asked.len(), 1);
    assert_eq!(number(&run.asked[0]), "1001");
    assert_eq!(run.elapsed, Duration::from_millis(1000));
}

#[tokio::test(start_paused = true)]
async fn silence_plays_the_timeout_prompt_each_try_then_goodbye_and_hangs_up() {
    let run = run(menus(DEMO), "demo", &[], None).await;
    assert!(run.hung_up(), "{:?}", run.outcome);
    assert_eq!(
        run.names(),
        [
            "welcome", "timeout", "welcome", "timeout", "welcome", "timeout", "goodbye"
        ]
    );
    assert!(run.played.iter().all(|(_, full)| *full));
    // 3 × (welcome 3 s + wait 5 s) + 3 × timeout 1.4 s + goodbye 1.6 s.
    assert_eq!(
        run.elapsed,
        Duration::from_millis(3 * 8000 + 3 * 1400 + 1600)
    );
}

#[tokio::test(start_paused = true)]
async fn an_unknown_key_plays_the_invalid_prompt_and_the_menu_again() {
    let run = run(menus(DEMO), "demo", &[(3500, '9'), (6000, '3')], None).await;
    assert!(run.hung_up());
    assert_eq!(run.names(), ["welcome", "invalid", "welcome", "goodbye"]);
    assert!(run.asked.is_empty());
}

#[tokio::test(start_paused = true)]
async fn invalid_keys_use_up_the_tries_like_timeouts() {
    let run = run(
        menus(DEMO),
        "demo",
        &[(100, '9'), (2000, '9'), (4000, '9')],
        None,
    )
    .await;
    assert!(run.hung_up());
    assert_eq!(
        run.names(),
        [
            "welcome", "invalid", "welcome", "invalid", "welcome", "invalid", "goodbye"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_transfer_that_cannot_be_reached_plays_invalid_and_returns_to_the_menu() {
    let run = run(menus(DEMO), "demo", &[(100, '5'), (2000, '1')], None).await;
    assert!(run.transferred());
    assert_eq!(run.names(), ["welcome", "invalid", "welcome"]);
    let numbers: Vec<&str> = run.asked.iter().map(number).collect();
    assert_eq!(numbers, ["9999", "1001"]);
}

#[tokio::test(start_paused = true)]
async fn collect_stops_at_max_digits_and_the_variable_feeds_the_transfer() {
    let presses = [(100, '2'), (500, '1'), (900, '2'), (1300, '3'), (1700, '4')];
    let run = run(menus(DEMO), "demo", &presses, None).await;
    assert!(run.transferred());
    assert_eq!(
        run.played,
        vec![("welcome".into(), false), ("enter".into(), false)]
    );
    assert_eq!(number(&run.asked[0]), "1234");
    assert_eq!(run.elapsed, Duration::from_millis(1700));
}

#[tokio::test(start_paused = true)]
async fn the_terminator_ends_a_collection_and_too_few_digits_return_to_the_menu() {
    let presses = [(100, '2'), (500, '1'), (900, '#'), (5000, '3')];
    let run = run(menus(DEMO), "demo", &presses, None).await;
    assert!(run.hung_up());
    assert_eq!(
        run.names(),
        ["welcome", "enter", "invalid", "welcome", "goodbye"]
    );
    assert!(run.asked.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_inter_digit_timeout_ends_a_collection_with_what_came() {
    let presses = [(100, '6'), (500, '1'), (900, '7')];
    let run = run(menus(DEMO), "demo", &presses, None).await;
    assert!(run.transferred());
    assert_eq!(number(&run.asked[0]), "17");
    // The last digit at 0.9 s, then 2 s of silence.
    assert_eq!(run.elapsed, Duration::from_millis(2900));
}

#[tokio::test(start_paused = true)]
async fn set_variables_expand_in_later_actions_in_order() {
    let run = run(menus(DEMO), "demo", &[(100, '4')], None).await;
    assert!(run.transferred());
    // dest was set while x was unset; x set afterwards.
    assert_eq!(number(&run.asked[0]), "10-02-en");
}

#[tokio::test(start_paused = true)]
async fn route_group_transfers_name_the_group_and_expanded_number() {
    let run = run(menus(DEMO), "demo", &[(100, '4'), (200, '#')], None).await;
    // '4' transfers at once (number starting with 1): the '#' is never read.
    assert!(run.transferred());
    let menus = menus(DEMO);
    let run = self::run(menus, "demo", &[(100, '#')], None).await;
    assert_eq!(
        run.asked,
        [TransferTarget::RouteGroup {
            group: "pstn".into(),
            number: "+1".into()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn an_action_list_that_runs_out_starts_the_menu_again() {
    let run = run(menus(DEMO), "demo", &[(100, '8'), (500, '3')], None).await;
    assert!(run.hung_up());
    assert_eq!(run.names(), ["welcome", "welcome", "goodbye"]);
}

#[tokio::test(start_paused = true)]
async fn a_menu_loop_hangs_up_after_the_transition_limit() {
    let presses: Vec<(u64, char)> = (1..=200).map(|i| (i * 100, '7')).collect();
    let run = run(menus(DEMO), "demo", &presses, None).await;
    assert!(run.hung_up());
    assert_eq!(run.played.len(), MAX_MENU_TRANSITIONS as usize);
}

#[tokio::test(start_paused = true)]
async fn the_caller_hanging_up_ends_the_ivr() {
    let run = run(menus(DEMO), "demo", &[], Some(1000)).await;
    assert!(run.hung_up());
    assert_eq!(run.played, vec![("welcome".to_owned(), false)]);
    assert_eq!(run.elapsed, Duration::from_millis(1000));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_start_menu_fails_the_call() {
    let run = run(menus(DEMO), "nope", &[], None).await;
    assert!(matches!(
        run.outcome,
        AppOutcome::HangUp(HangupCause::TemporaryFailure)
    ));
}

// Webhook step (real time: a local HTTP server).

fn hook_menus(url: &str, timeout_ms: u32) -> Arc<IvrMenus> {
    menus(&format!(
        r#"
[[menu]]
name = "hook"
prompt = "tiny.wav"
timeout_secs = 1
retries = 1
[menu.keys]
"0" = [{{ set = {{ ext = "1001" }} }}, {{ webhook = {{ url = "{url}", timeout_ms = {timeout_ms}, fallback = "after" }} }}]

[[menu]]
name = "after"
prompt = "after.wav"
timeout_secs = 1
retries = 1
"#
    ))
}

/// A server answering one request with `response` (None: never answers); gives the body.
async fn server(response: Option<String>) -> (String, oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ivr", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let body = read_request(&mut socket).await;
        let _ = tx.send(body);
        match response {
            Some(r) => {
                socket.write_all(r.as_bytes()).await.unwrap();
                let _ = socket.shutdown().await;
            }
            None => while socket.read(&mut [0; 64]).await.is_ok_and(|n| n > 0) {},
        }
    });
    (url, rx)
}

async fn read_request(socket: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "client closed before sending a request");
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return String::from_utf8(data[end + 4..end + 4 + length].to_vec()).unwrap();
            }
        }
    }
}

fn http(status: &str, body: &str) -> Option<String> {
    Some(format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    ))
}

#[tokio::test]
async fn the_webhooks_actions_run_and_it_receives_the_calls_state() {
    let (url, body) = server(http(
        "200 OK",
        r#"{"actions":[{"play":"tiny.wav"},{"transfer":"${ext}"}]}"#,
    ))
    .await;
    let run = run(hook_menus(&url, 2000), "hook", &[(0, '0')], None).await;
    assert!(run.transferred(), "{:?}", run.outcome);
    assert_eq!(number(&run.asked[0]), "1001");
    let sent: serde_json::Value = serde_json::from_str(&body.await.unwrap()).unwrap();
    assert_eq!(sent["caller"], "1000");
    assert_eq!(sent["dialled"], "5000");
    assert_eq!(sent["menu"], "hook");
    assert_eq!(sent["digits"], "0");
    assert_eq!(sent["variables"], serde_json::json!({"ext": "1001"}));
    assert!(sent["call_id"].as_str().is_some_and(|s| !s.is_empty()));
}

async fn falls_back(response: Option<String>, timeout_ms: u32) {
    let (url, _body) = server(response).await;
    let run = run(hook_menus(&url, timeout_ms), "hook", &[(0, '0')], None).await;
    assert!(run.hung_up(), "{:?}", run.outcome);
    assert!(run.asked.is_empty());
    assert_eq!(run.names().last(), Some(&"after"), "{:?}", run.played);
}

#[tokio::test]
async fn a_webhook_error_status_goes_to_the_fallback_menu() {
    falls_back(http("500 Internal Server Error", "{}"), 2000).await;
}

#[tokio::test]
async fn a_webhook_answer_that_is_not_json_goes_to_the_fallback_menu() {
    falls_back(http("200 OK", "transfer 1001"), 2000).await;
}

#[tokio::test]
async fn a_webhook_answer_with_unknown_keys_or_menus_goes_to_the_fallback_menu() {
    falls_back(
        http("200 OK", r#"{"actions":[{"transfer":"1001","x":1}]}"#),
        2000,
    )
    .await;
    falls_back(http("200 OK", r#"{"actions":[{"menu":"nope"}]}"#), 2000).await;
    falls_back(
        http("200 OK", r#"{"actions":[{"play":"missing.wav"}]}"#),
        2000,
    )
    .await;
}

#[tokio::test]
async fn a_webhook_that_does_not_answer_in_time_goes_to_the_fallback_menu() {
    let started = std::time::Instant::now();
    falls_back(None, 300).await;
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_unreachable_webhook_goes_to_the_fallback_menu() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ivr", listener.local_addr().unwrap());
    drop(listener);
    let run = run(hook_menus(&url, 2000), "hook", &[(0, '0')], None).await;
    assert!(run.hung_up());
    assert_eq!(run.names().last(), Some(&"after"));
}
