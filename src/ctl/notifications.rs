//! `ctl notify`, `notifications`, `notification`, `notification-cancel`: the request body made
//! from `ctl notify`'s options, and how voice notifications are shown without `--json`. Pure:
//! the current time comes in as an argument.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::NotifyArgs;
use super::render::{
    Column, NONE, duration, field, first, list, millis, object, relative, text, timestamp,
};
use super::table::Table;

/// The `POST /api/v1/notifications` body: only the options given; `confirm`, `retry` and
/// `window` only when one of their options is.
pub fn body(args: &NotifyArgs) -> Value {
    let mut body = Map::new();
    body.insert("number".into(), json!(args.number));
    body.insert("caller_id".into(), json!(args.caller_id));
    body.insert("prompts".into(), json!(args.prompts));
    insert_some(
        &mut body,
        "caller_id_name",
        args.caller_id_name.clone().map(Value::from),
    );
    if let (Some(prompt), Some(digit)) = (&args.confirm_prompt, &args.confirm_digit) {
        let mut confirm = Map::new();
        confirm.insert("prompt".into(), json!(prompt));
        confirm.insert("digit".into(), json!(digit));
        insert_some(
            &mut confirm,
            "timeout_secs",
            args.confirm_timeout.map(Value::from),
        );
        insert_some(
            &mut confirm,
            "retries",
            args.confirm_retries.map(Value::from),
        );
        insert_some(&mut confirm, "thanks", args.thanks.clone().map(Value::from));
        body.insert("confirm".into(), Value::Object(confirm));
    }
    if args.attempts.is_some() || args.interval_secs.is_some() || !args.retry_on.is_empty() {
        let mut retry = Map::new();
        insert_some(&mut retry, "max_attempts", args.attempts.map(Value::from));
        insert_some(
            &mut retry,
            "interval_secs",
            args.interval_secs.map(Value::from),
        );
        if !args.retry_on.is_empty() {
            retry.insert("on".into(), json!(args.retry_on));
        }
        body.insert("retry".into(), Value::Object(retry));
    }
    if let (Some((start, end)), Some(timezone)) = (&args.window, &args.timezone) {
        let mut window = Map::new();
        window.insert("start".into(), json!(start));
        window.insert("end".into(), json!(end));
        window.insert("timezone".into(), json!(timezone));
        if !args.days.is_empty() {
            window.insert("days".into(), json!(args.days));
        }
        body.insert("window".into(), Value::Object(window));
    }
    insert_some(&mut body, "context", args.context.clone().map(Value::from));
    insert_some(
        &mut body,
        "ring_timeout_secs",
        args.ring_timeout.map(Value::from),
    );
    Value::Object(body)
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.into(), value);
    }
}

/// A time field as `2026-11-23 21:40:00 UTC (in 2h00m)`, or `-`.
fn when(item: &Value, path: &str, now: u64) -> String {
    first(item, &[path]).and_then(millis).map_or_else(
        || NONE.to_owned(),
        |ms| format!("{} UTC ({})", timestamp(ms), relative(ms, now)),
    )
}

/// A time field as `2026-11-23 21:40:00`, or `-`.
fn utc(item: &Value, path: &str) -> String {
    first(item, &[path])
        .and_then(millis)
        .map_or_else(|| NONE.to_owned(), timestamp)
}

/// The answer of `ctl notify` (and of a cancel): `notification <id>: <status>`, with the next
/// attempt's time while it waits.
pub fn accepted(answer: &Value, now: u64) -> String {
    let id = field(answer, &["id"]);
    let status = field(answer, &["status"]);
    match first(answer, &["next_attempt_at"]).and_then(millis) {
        Some(_) => format!(
            "notification {id}: {status}, next attempt {}\n",
            when(answer, "next_attempt_at", now)
        ),
        None => format!("notification {id}: {status}\n"),
    }
}

/// The answer of `ctl notification-cancel`.
pub fn cancelled(answer: &Value) -> String {
    format!(
        "cancelled: notification {} (outcome {})\n",
        field(answer, &["id"]),
        field(answer, &["outcome"])
    )
}

/// `GET /api/v1/notifications`: id, status, outcome, number, caller ID, attempts made, next
/// attempt, creation time.
pub fn notifications(answer: &Value, now: u64) -> String {
    const COLUMNS: &[Column] = &[
        Column {
            header: "ID",
            cell: |n, _| field(n, &["id"]),
        },
        Column {
            header: "STATUS",
            cell: |n, _| field(n, &["status"]),
        },
        Column {
            header: "OUTCOME",
            cell: |n, _| field(n, &["outcome"]),
        },
        Column {
            header: "NUMBER",
            cell: |n, _| field(n, &["number"]),
        },
        Column {
            header: "CALLER ID",
            cell: |n, _| field(n, &["caller_id"]),
        },
        Column {
            header: "ATTEMPTS",
            cell: |n, _| {
                first(n, &["attempts"])
                    .and_then(Value::as_array)
                    .map_or_else(|| NONE.to_owned(), |a| a.len().to_string())
            },
        },
        Column {
            header: "NEXT ATTEMPT (UTC)",
            cell: |n, _| utc(n, "next_attempt_at"),
        },
        Column {
            header: "CREATED (UTC)",
            cell: |n, _| utc(n, "created_at"),
        },
    ];
    list(answer, COLUMNS, "no notifications", now)
}

/// `GET /api/v1/notifications/{id}`: its fields as `key  value` lines, then its attempts as a
/// table.
pub fn notification(answer: &Value, now: u64) -> String {
    let mut fields = answer.clone();
    let attempts = fields
        .as_object_mut()
        .and_then(|o| o.remove("attempts"))
        .and_then(|a| a.as_array().cloned())
        .unwrap_or_default();
    let mut out = object(&fields, now);
    if attempts.is_empty() {
        out.push_str("attempts: none yet\n");
        return out;
    }
    let _ = writeln!(out, "attempts: {}", attempts.len());
    let mut table = Table::new(&[
        "N",
        "CALL ID",
        "STARTED (UTC)",
        "DURATION",
        "RESULT",
        "DIGIT",
        "REASON",
    ]);
    for attempt in &attempts {
        let started = first(attempt, &["started_at"]).and_then(millis);
        let ended = first(attempt, &["ended_at"]).and_then(millis);
        let length = match (started, ended) {
            (Some(s), Some(e)) => duration(e.saturating_sub(s) / 1000),
            _ => NONE.to_owned(),
        };
        let result = match (first(attempt, &["result"]), ended) {
            (None, None) => "calling".to_owned(),
            (result, _) => text(result),
        };
        table.push(vec![
            field(attempt, &["n"]),
            field(attempt, &["call_id"]),
            utc(attempt, "started_at"),
            length,
            result,
            field(attempt, &["digit"]),
            field(attempt, &["reason"]),
        ]);
    }
    out.push_str(&table.to_string());
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use clap::Parser;

    use super::super::{CtlArgs, CtlCommand};
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        ctl: CtlArgs,
    }

    fn notify(args: &[&str]) -> Result<NotifyArgs, clap::Error> {
        let cli = Cli::try_parse_from(["ctl", "notify"].iter().chain(args))?;
        match cli.ctl.command {
            CtlCommand::Notify(n) => Ok(n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_notify_body_has_only_the_options_given() {
        let args = notify(&[
            "+15551234567",
            "--caller-id",
            "15550001111",
            "--prompt",
            "a.wav",
        ])
        .unwrap();
        assert_eq!(
            body(&args),
            json!({"number": "+15551234567", "caller_id": "15550001111", "prompts": ["a.wav"]})
        );
    }

    #[test]
    fn every_notify_option_lands_in_its_place_in_the_body() {
        let args = notify(&[
            "15551234567",
            "--caller-id",
            "15550001111",
            "--caller-id-name",
            "Acme",
            "--prompt",
            "notify/reminder.wav",
            "--prompt",
            "notify/more.wav",
            "--confirm-prompt",
            "notify/press1.wav",
            "--confirm-digit",
            "1",
            "--confirm-timeout",
            "7",
            "--confirm-retries",
            "1",
            "--thanks",
            "notify/thanks.wav",
            "--attempts",
            "3",
            "--interval-secs",
            "120",
            "--retry-on",
            "busy,no_answer",
            "--window",
            "09:00-20:00",
            "--timezone",
            "Europe/Berlin",
            "--days",
            "mon,fri",
            "--context",
            "default",
            "--ring-timeout",
            "25",
        ])
        .unwrap();
        assert_eq!(
            body(&args),
            json!({
                "number": "15551234567", "caller_id": "15550001111", "caller_id_name": "Acme",
                "prompts": ["notify/reminder.wav", "notify/more.wav"],
                "confirm": {"prompt": "notify/press1.wav", "digit": "1", "timeout_secs": 7,
                            "retries": 1, "thanks": "notify/thanks.wav"},
                "retry": {"max_attempts": 3, "interval_secs": 120, "on": ["busy", "no_answer"]},
                "window": {"start": "09:00", "end": "20:00", "timezone": "Europe/Berlin",
                           "days": ["mon", "fri"]},
                "context": "default", "ring_timeout_secs": 25
            })
        );
    }

    #[test]
    fn notify_refuses_incomplete_or_malformed_options_as_usage_errors() {
        let base = ["1", "--caller-id", "2"];
        let with = |extra: &[&str]| {
            let args: Vec<&str> = base.iter().chain(extra).copied().collect();
            notify(&args)
        };
        for (extra, why) in [
            (&[][..], "no prompt"),
            (&["--prompt", "a", "--confirm-prompt", "p"][..], "no digit"),
            (&["--prompt", "a", "--confirm-digit", "1"][..], "no prompt"),
            (&["--prompt", "a", "--window", "09:00-17:00"][..], "no zone"),
            (
                &["--prompt", "a", "--window", "0900", "--timezone", "UTC"][..],
                "form",
            ),
            (&["--prompt", "a", "--timezone", "UTC"][..], "no window"),
            (&["--prompt", "a", "--retry-on", "sometimes"][..], "result"),
            (&["--prompt", "a", "--attempts", "many"][..], "number"),
        ] {
            let error = with(extra).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{why}: {error}");
        }
        assert!(notify(&["1", "--prompt", "a"]).is_err(), "no caller id");
    }

    #[test]
    fn a_created_notification_prints_its_id_status_and_next_attempt() {
        let scheduled = json!({"id": "n1", "status": "scheduled",
            "next_attempt_at": "2027-01-15T10:00:00.000Z"});
        assert_eq!(
            accepted(&scheduled, NOW),
            "notification n1: scheduled, next attempt 2027-01-15 10:00:00 UTC (in 2h00m)\n"
        );
        assert_eq!(
            accepted(&json!({"id": "n2", "status": "calling"}), NOW),
            "notification n2: calling\n"
        );
        assert_eq!(
            cancelled(&json!({"id": "n1", "status": "cancelled", "outcome": "cancelled"})),
            "cancelled: notification n1 (outcome cancelled)\n"
        );
    }

    #[test]
    fn notifications_list_as_a_table_with_attempt_counts() {
        let answer = json!({"items": [
            {"id": "n1", "number": "15551234567", "caller_id": "15550001111",
             "status": "completed", "outcome": "confirmed",
             "attempts": [{"n": 1}, {"n": 2}], "next_attempt_at": null,
             "created_at": "2027-01-15T07:00:00.000Z"},
            {"id": "n2", "number": "1001", "caller_id": "1000", "status": "scheduled",
             "outcome": null, "attempts": [], "next_attempt_at": "2027-01-15T10:00:00.000Z",
             "created_at": "2027-01-15T07:59:00.000Z"}
        ], "next_cursor": "xyz"});
        let text = notifications(&answer, NOW);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("ID  STATUS     OUTCOME    NUMBER"),
            "{text}"
        );
        assert!(
            lines[1].contains("confirmed") && lines[1].contains(" 2 "),
            "{text}"
        );
        assert!(lines[2].contains("2027-01-15 10:00:00"), "{text}");
        assert_eq!(lines[3], "next: --cursor xyz");
        assert_eq!(
            notifications(&json!({"items": [], "next_cursor": null}), NOW),
            "no notifications\n"
        );
    }

    #[test]
    fn one_notification_prints_its_fields_then_its_attempts() {
        let answer = json!({"id": "n1", "status": "completed", "outcome": "answered",
            "attempts": [
                {"n": 1, "call_id": "c1", "started_at": "2027-01-15T07:50:00.000Z",
                 "ended_at": "2027-01-15T07:50:31.000Z", "result": "no_answer",
                 "digit": null, "reason": null},
                {"n": 2, "call_id": null, "started_at": "2027-01-15T07:55:00.000Z",
                 "ended_at": null, "result": null, "digit": null, "reason": null}
            ],
            "completed_at": "2027-01-15T07:59:00.000Z"});
        let text = notification(&answer, NOW);
        assert!(
            text.contains("completed_at  2027-01-15 07:59:00 (1m00s ago)\n"),
            "{text}"
        );
        assert!(
            !text.contains("\"n\""),
            "attempts are not dumped as JSON: {text}"
        );
        assert!(text.contains("attempts: 2\nN  CALL ID"), "{text}");
        assert!(
            text.contains("1  c1       2027-01-15 07:50:00  31s"),
            "{text}"
        );
        assert!(text.contains("no_answer"), "{text}");
        assert!(text.contains("calling"), "the attempt under way: {text}");

        let waiting = notification(&json!({"id": "n2", "attempts": []}), NOW);
        assert_eq!(waiting, "id  n2\nattempts: none yet\n");
    }
}
