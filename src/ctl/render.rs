//! Turns the API's JSON answers into what `ctl` prints without `--json`: tables for lists,
//! aligned `key  value` lines for one object, one line per event. Pure: the current time
//! comes in as an argument. Fields are looked up by name and shown as `-` when absent, so
//! an answer with more (or fewer) fields still prints.

use std::fmt::Write as _;

use serde_json::Value;

use super::table::Table;

/// Shown for a field the answer does not have.
pub(super) const NONE: &str = "-";

/// A column: its header and how a cell is made from one item.
pub(super) struct Column {
    /// The column's header.
    pub(super) header: &'static str,
    /// The cell of one item (the current time in unix ms as the second argument).
    pub(super) cell: fn(&Value, u64) -> String,
}

/// The items of a list answer (`{"items": [...]}`, or a bare array).
pub fn items(answer: &Value) -> &[Value] {
    answer
        .get("items")
        .unwrap_or(answer)
        .as_array()
        .map_or(&[], Vec::as_slice)
}

/// The `next_cursor` of a list answer, when there is a next page.
pub fn next_cursor(answer: &Value) -> Option<&str> {
    answer
        .get("next_cursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
}

/// The value at a dotted path (`hangup.cause`).
fn at<'a>(item: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(item, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// The first of `paths` that `item` has.
pub(super) fn first<'a>(item: &'a Value, paths: &[&str]) -> Option<&'a Value> {
    paths.iter().find_map(|p| at(item, p))
}

/// A value as a cell: strings as they are, other JSON compact.
pub(super) fn text(value: Option<&Value>) -> String {
    match value {
        None => NONE.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub(super) fn field(item: &Value, paths: &[&str]) -> String {
    text(first(item, paths))
}

/// A timestamp in unix milliseconds, from a number or an RFC 3339 string.
pub(super) fn millis(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .and_then(|t| u64::try_from(t.timestamp_millis()).ok()),
        _ => None,
    }
}

/// `42s`, `3m05s`, `1h02m`, `2d03h`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// `2026-11-23 18:02:11` (UTC).
pub(super) fn timestamp(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || ms.to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
        )
}

/// Time from the timestamp at `paths` until `now` (ms).
fn since(item: &Value, paths: &[&str], now: u64) -> String {
    first(item, paths).and_then(millis).map_or_else(
        || NONE.to_owned(),
        |t| duration(now.saturating_sub(t) / 1000),
    )
}

fn table(list: &[Value], columns: &[Column], now: u64) -> Table {
    let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
    let mut table = Table::new(&headers);
    for item in list {
        table.push(columns.iter().map(|c| (c.cell)(item, now)).collect());
    }
    table
}

/// A list answer as a table, `empty` when it has no items, and the hint for the next page.
pub(super) fn list(answer: &Value, columns: &[Column], empty: &str, now: u64) -> String {
    let list = items(answer);
    let mut out = if list.is_empty() {
        format!("{empty}\n")
    } else {
        table(list, columns, now).to_string()
    };
    if let Some(cursor) = next_cursor(answer) {
        let _ = writeln!(out, "next: --cursor {cursor}");
    }
    out
}

/// `GET /api/v1/calls`: id, direction, state, from, to, age (since the call started), talk
/// time (since it was answered), trunk.
pub fn calls(answer: &Value, now: u64) -> String {
    const COLUMNS: &[Column] = &[
        Column {
            header: "ID",
            cell: |c, _| field(c, &["id", "call_id"]),
        },
        Column {
            header: "DIRECTION",
            cell: |c, _| field(c, &["direction"]),
        },
        Column {
            header: "STATE",
            cell: |c, _| field(c, &["state"]),
        },
        Column {
            header: "FROM",
            cell: |c, _| field(c, &["from_uri", "from"]),
        },
        Column {
            header: "TO",
            cell: |c, _| field(c, &["to_uri", "to"]),
        },
        Column {
            header: "AGE",
            cell: |c, now| since(c, &["started_at"], now),
        },
        Column {
            header: "TALK",
            cell: |c, now| since(c, &["answered_at"], now),
        },
        Column {
            header: "TRUNK",
            cell: |c, _| field(c, &["trunk"]),
        },
    ];
    list(answer, COLUMNS, "no calls in progress", now)
}

/// `GET /api/v1/registrations`: user, profile, contact, source, time left, user agent.
pub fn registrations(answer: &Value, now: u64) -> String {
    const COLUMNS: &[Column] = &[
        Column {
            header: "USER",
            cell: |r, _| field(r, &["user", "aor"]),
        },
        Column {
            header: "PROFILE",
            cell: |r, _| field(r, &["profile"]),
        },
        Column {
            header: "CONTACT",
            cell: |r, _| field(r, &["contact", "contact_uri"]),
        },
        Column {
            header: "SOURCE",
            cell: |r, _| {
                let transport = first(r, &["transport", "flow.transport"]).map(|t| text(Some(t)));
                let source = field(r, &["source", "received", "flow.remote", "flow.source"]);
                match transport {
                    Some(t) if source != NONE => format!("{} {source}", t.to_ascii_lowercase()),
                    _ => source,
                }
            },
        },
        Column {
            header: "EXPIRES",
            cell: |r, now| {
                if let Some(at) = first(r, &["expires_at"]).and_then(millis) {
                    duration(at.saturating_sub(now) / 1000)
                } else {
                    first(r, &["expires_in_secs", "expires_in", "expires"])
                        .and_then(Value::as_u64)
                        .map_or_else(|| NONE.to_owned(), duration)
                }
            },
        },
        Column {
            header: "USER AGENT",
            cell: |r, _| field(r, &["user_agent"]),
        },
    ];
    list(answer, COLUMNS, "no registrations", now)
}

/// `GET /api/v1/records`: start (UTC), from, to, duration, hangup cause, call id.
pub fn records(answer: &Value, now: u64) -> String {
    const COLUMNS: &[Column] = &[
        Column {
            header: "START (UTC)",
            cell: |r, _| {
                first(r, &["started_at"])
                    .and_then(millis)
                    .map_or_else(|| NONE.to_owned(), timestamp)
            },
        },
        Column {
            header: "FROM",
            cell: |r, _| field(r, &["from_uri", "from", "caller"]),
        },
        Column {
            header: "TO",
            cell: |r, _| field(r, &["to_uri", "to"]),
        },
        Column {
            header: "DURATION",
            cell: |r, _| {
                if let Some(secs) = first(r, &["duration_secs"]).and_then(Value::as_u64) {
                    return duration(secs);
                }
                let start = first(r, &["started_at"]).and_then(millis);
                let end = first(r, &["ended_at"]).and_then(millis);
                match (start, end) {
                    (Some(s), Some(e)) => duration(e.saturating_sub(s) / 1000),
                    _ => NONE.to_owned(),
                }
            },
        },
        Column {
            header: "CAUSE",
            cell: |r, _| field(r, &["hangup.cause", "cause"]),
        },
        Column {
            header: "ID",
            cell: |r, _| field(r, &["call_id", "id"]),
        },
    ];
    list(answer, COLUMNS, "no call records", now)
}

/// `GET /api/v1/webhooks/deliveries`: id, state, target, event, attempts, next attempt or
/// last error.
pub fn deliveries(answer: &Value, now: u64) -> String {
    const COLUMNS: &[Column] = &[
        Column {
            header: "ID",
            cell: |d, _| field(d, &["id"]),
        },
        Column {
            header: "STATE",
            cell: |d, _| field(d, &["state"]),
        },
        Column {
            header: "TARGET",
            cell: |d, _| field(d, &["target"]),
        },
        Column {
            header: "EVENT",
            cell: |d, _| field(d, &["event_type", "event.type", "type"]),
        },
        Column {
            header: "SEQ",
            cell: |d, _| field(d, &["event_seq", "seq", "event.seq"]),
        },
        Column {
            header: "ATTEMPTS",
            cell: |d, _| field(d, &["attempts"]),
        },
        Column {
            header: "LAST ERROR",
            cell: |d, _| field(d, &["last_error", "error"]),
        },
    ];
    list(answer, COLUMNS, "no deliveries", now)
}

/// `5s ago` for a past time, `in 2h00m` for a future one (unix ms).
pub(super) fn relative(ms: u64, now: u64) -> String {
    if ms > now {
        format!("in {}", duration((ms - now).div_ceil(1000)))
    } else {
        format!("{} ago", duration((now - ms) / 1000))
    }
}

/// One object as aligned `key  value` lines; timestamps (`*_at`, unix ms or RFC 3339) also
/// as UTC time and how long ago (or how soon) they are.
pub fn object(answer: &Value, now: u64) -> String {
    let Some(fields) = answer.as_object() else {
        return format!("{}\n", text(Some(answer)));
    };
    let width = fields.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in fields {
        let shown = match (key.ends_with("_at"), millis(value)) {
            (true, Some(ms)) => format!("{} ({})", timestamp(ms), relative(ms, now)),
            _ => text(if value.is_null() { None } else { Some(value) }),
        };
        let _ = writeln!(out, "{key:width$}  {shown}");
    }
    out
}

/// `GET /api/v1/health`: `ok: switchyard 0.1.0, up 1h02m`.
pub fn health(answer: &Value) -> String {
    let status = field(answer, &["status"]);
    let version = field(answer, &["version"]);
    let uptime = first(answer, &["uptime_secs"])
        .and_then(Value::as_u64)
        .map_or_else(|| NONE.to_owned(), duration);
    format!("{status}: switchyard {version}, up {uptime}\n")
}

/// `POST /api/v1/config/reload`: what is now in force, then each warning.
pub fn reload(answer: &Value) -> String {
    let count = |key: &str| field(answer, &[key]);
    let mut out = format!(
        "reloaded: {} dialplan contexts, {} trunks, {} route groups\n",
        count("contexts"),
        count("trunks"),
        count("route_groups")
    );
    for warning in answer
        .get("warnings")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let _ = writeln!(out, "warning: {}", text(Some(warning)));
    }
    out
}

/// Whether a stream message is about the stream itself (`stream.hello`, `stream.gap`) rather
/// than an event.
pub fn is_stream_notice(message: &Value) -> bool {
    message
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("stream."))
}

/// A stream notice for people: where the stream starts, or which events are lost.
pub fn stream_notice(message: &Value) -> String {
    let number = |key: &str| field(message, &[key]);
    match message.get("type").and_then(Value::as_str) {
        Some("stream.hello") => format!("connected; last event so far: {}", number("last_seq")),
        Some("stream.gap") => format!(
            "gap: events after {} are no longer kept; resuming from {}",
            number("since"),
            number("oldest")
        ),
        _ => message.to_string(),
    }
}

/// One live event as a line: sequence number, time (UTC, milliseconds), type, call id, then
/// its data (compact JSON). Other messages print as compact JSON.
pub fn event(message: &Value) -> String {
    let Some(seq) = message.get("seq").and_then(Value::as_u64) else {
        return message.to_string();
    };
    let time = first(message, &["time"])
        .and_then(millis)
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || NONE.to_owned(),
            |t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        );
    let kind = field(message, &["type"]);
    let mut line = format!("{seq}  {time}  {kind}");
    if let Some(call) = first(message, &["call_id"]) {
        let _ = write!(line, "  call={}", text(Some(call)));
    }
    if let Some(data) =
        first(message, &["data"]).filter(|d| d.as_object().is_none_or(|o| !o.is_empty()))
    {
        let _ = write!(line, "  {data}");
    }
    line
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn calls_show_age_talk_time_and_trunk_in_aligned_columns() {
        let answer = json!({"items": [
            {"id": "c1", "direction": "outbound", "state": "answered",
             "from_uri": "sip:1000@x", "to_uri": "sip:1001@x",
             "started_at": NOW - 65_000, "answered_at": NOW - 40_000, "trunk": null},
            {"id": "c2", "direction": "inbound", "state": "ringing",
             "from_uri": "sip:+4930123@carrier", "to_uri": "sip:1002@x",
             "started_at": NOW - 3_000, "answered_at": null, "trunk": "carrier-a"}
        ], "next_cursor": null});
        let text = calls(&answer, NOW);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("ID  DIRECTION  STATE"), "{text}");
        assert!(lines[1].contains("1m05s  40s"), "{text}");
        assert!(lines[2].ends_with("3s     -     carrier-a"), "{text}");
        let trunk_col = lines[0].find("TRUNK").unwrap();
        assert_eq!(lines[2].find("carrier-a"), Some(trunk_col));
        assert!(!text.contains("next:"));
    }

    #[test]
    fn an_empty_list_says_so_and_a_next_page_prints_the_cursor_hint() {
        assert_eq!(
            calls(&json!({"items": [], "next_cursor": null}), NOW),
            "no calls in progress\n"
        );
        let page = json!({"items": [{"call_id": "r1", "started_at": NOW, "ended_at": NOW + 61_000,
            "from_uri": "sip:1000@x", "to_uri": "sip:1001@x", "hangup": {"cause": "normal_clearing"}}],
            "next_cursor": "abc=="});
        let text = records(&page, NOW);
        assert!(text.contains("normal_clearing"), "{text}");
        assert!(text.contains("1m01s"), "{text}");
        assert!(text.ends_with("next: --cursor abc==\n"), "{text}");
    }

    #[test]
    fn registrations_show_source_and_time_left() {
        let answer = json!({"items": [{"user": "1000", "profile": "it",
            "contact": "sip:1000@127.0.0.1:5070", "expires_in_secs": 600,
            "transport": "UDP", "source": "127.0.0.1:5070", "user_agent": "it-phone"}]});
        let text = registrations(&answer, NOW);
        assert!(text.contains("udp 127.0.0.1:5070"), "{text}");
        assert!(text.contains("10m00s"), "{text}");
        assert!(text.contains("it-phone"), "{text}");
    }

    #[test]
    fn one_object_prints_key_value_lines_with_readable_times() {
        let text = object(
            &json!({"id": "c1", "started_at": NOW - 5_000, "trunk": null}),
            NOW,
        );
        assert_eq!(
            text,
            "id          c1\nstarted_at  2027-01-15 07:59:55 (5s ago)\ntrunk       -\n"
        );
    }

    #[test]
    fn durations_read_in_the_largest_two_units() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(60), "1m00s");
        assert_eq!(duration(3_725), "1h02m");
        assert_eq!(duration(2 * 86_400 + 3 * 3_600), "2d03h");
    }

    #[test]
    fn health_reload_and_events_print_one_readable_line_each() {
        assert_eq!(
            health(&json!({"status": "ok", "version": "0.1.0", "uptime_secs": 3725})),
            "ok: switchyard 0.1.0, up 1h02m\n"
        );
        assert_eq!(
            reload(&json!({"contexts": 2, "trunks": 1, "route_groups": 0, "warnings": ["w1"]})),
            "reloaded: 2 dialplan contexts, 1 trunks, 0 route groups\nwarning: w1\n"
        );
        let line = event(&json!({"seq": 7, "type": "call.hungup",
            "time": "2027-01-15T08:00:00.250Z", "call_id": "c1",
            "data": {"cause": "normal_clearing"}}));
        assert_eq!(
            line,
            "7  2027-01-15 08:00:00.250  call.hungup  call=c1  {\"cause\":\"normal_clearing\"}"
        );
        let gap = json!({"type": "stream.gap", "since": 2, "oldest": 6});
        assert!(is_stream_notice(&gap));
        assert_eq!(
            stream_notice(&gap),
            "gap: events after 2 are no longer kept; resuming from 6"
        );
        assert!(!is_stream_notice(
            &json!({"seq": 1, "type": "call.created"})
        ));
    }
}
