//! Carries out one `ctl` command: the request it makes, and what it prints (a table or line
//! from [`super::render`], or the answer's JSON with `--json`).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::client::ApiClient;
use super::error::CtlError;
use super::{CtlArgs, CtlCommand, OriginateArgs, events, notifications, recordings, render, token};

/// Runs `args.command`.
pub fn execute(args: &CtlArgs) -> Result<(), CtlError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match &args.command {
        CtlCommand::Token(t) => print_token(&t.role, t.name.as_deref(), args.json, &mut out),
        CtlCommand::Events(e) => {
            let client = ApiClient::new(&args.api, args.token.clone())?;
            events::follow(&client, &e.types, e.since, args.json, &mut out)
        }
        CtlCommand::RecordingDownload(d) => {
            let client = ApiClient::new(&args.api, args.token.clone())?;
            let file = d
                .output
                .clone()
                .unwrap_or_else(|| recordings::default_file(&d.call_id));
            let saved =
                runtime()?.block_on(recordings::download(&client, &d.call_id, &file, d.force))?;
            out.write_all(saved.render(&d.call_id, args.json).as_bytes())?;
            out.flush()?;
            Ok(())
        }
        command => {
            let client = ApiClient::new(&args.api, args.token.clone())?;
            let text = runtime()?.block_on(request(&client, command, args.json))?;
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// A runtime for one command's requests.
fn runtime() -> Result<tokio::runtime::Runtime, CtlError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CtlError::Runtime)
}

/// The current time in unix milliseconds (for ages and time left).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn pretty(answer: &Value) -> String {
    let mut text = serde_json::to_string_pretty(answer).unwrap_or_else(|_| answer.to_string());
    text.push('\n');
    text
}

/// How an answer is shown without `--json`.
type Render = Box<dyn Fn(&Value) -> String>;

/// Makes the request of `command` and returns what to print.
async fn request(client: &ApiClient, command: &CtlCommand, json: bool) -> Result<String, CtlError> {
    let now = now_ms();
    let (answer, render): (Value, Render) = match command {
        CtlCommand::Health => (
            client
                .get(client.url(&["api", "v1", "health"], &[]))
                .await?,
            Box::new(render::health),
        ),
        CtlCommand::Calls => (
            client.get(client.url(&["api", "v1", "calls"], &[])).await?,
            Box::new(move |a| render::calls(a, now)),
        ),
        CtlCommand::Call { id } => (
            client
                .get(client.url(&["api", "v1", "calls", id], &[]))
                .await?,
            Box::new(move |a| render::object(a, now)),
        ),
        CtlCommand::Hangup { id } => {
            let url = client.url(&["api", "v1", "calls", id, "hangup"], &[]);
            let id = id.clone();
            (
                client.post(url, None).await?,
                Box::new(move |_| format!("hangup requested: call {id}\n")),
            )
        }
        CtlCommand::Originate(o) => {
            let url = client.url(&["api", "v1", "calls"], &[]);
            let (from, to) = (o.from.clone(), o.to.clone());
            (
                client.post(url, Some(&originate_body(o))).await?,
                Box::new(move |a| {
                    let id = a.get("id").and_then(Value::as_str).unwrap_or("-");
                    format!("originating: call {id} (ringing {from}, then connecting {to})\n")
                }),
            )
        }
        CtlCommand::Registrations(r) => {
            let url = client.url(
                &["api", "v1", "registrations"],
                &[
                    ("user", r.user.clone()),
                    ("profile", r.profile.clone()),
                    ("limit", r.limit.map(|l| l.to_string())),
                    ("cursor", r.cursor.clone()),
                ],
            );
            (
                client.get(url).await?,
                Box::new(move |a| render::registrations(a, now)),
            )
        }
        CtlCommand::Records(r) => {
            let url = client.url(
                &["api", "v1", "records"],
                &[
                    ("from", r.from.clone()),
                    ("to", r.to.clone()),
                    ("number", r.number.clone()),
                    ("cause", r.cause.clone()),
                    ("limit", r.limit.map(|l| l.to_string())),
                    ("cursor", r.cursor.clone()),
                ],
            );
            (
                client.get(url).await?,
                Box::new(move |a| render::records(a, now)),
            )
        }
        CtlCommand::Reload => (
            client
                .post(client.url(&["api", "v1", "config", "reload"], &[]), None)
                .await?,
            Box::new(render::reload),
        ),
        CtlCommand::Deliveries(d) => {
            let url = client.url(
                &["api", "v1", "webhooks", "deliveries"],
                &[
                    ("state", d.state.clone()),
                    ("limit", d.limit.map(|l| l.to_string())),
                    ("cursor", d.cursor.clone()),
                ],
            );
            (
                client.get(url).await?,
                Box::new(move |a| render::deliveries(a, now)),
            )
        }
        CtlCommand::Retry { id } => {
            let url = client.url(&["api", "v1", "webhooks", "deliveries", id, "retry"], &[]);
            let id = id.clone();
            (
                client.post(url, None).await?,
                Box::new(move |_| format!("retry queued: delivery {id}\n")),
            )
        }
        CtlCommand::Notify(n) => {
            let url = client.url(&["api", "v1", "notifications"], &[]);
            (
                client.post(url, Some(&notifications::body(n))).await?,
                Box::new(move |a| notifications::accepted(a, now)),
            )
        }
        CtlCommand::Notifications(p) => {
            let url = client.url(
                &["api", "v1", "notifications"],
                &[
                    ("limit", p.limit.map(|l| l.to_string())),
                    ("cursor", p.cursor.clone()),
                ],
            );
            (
                client.get(url).await?,
                Box::new(move |a| notifications::notifications(a, now)),
            )
        }
        CtlCommand::Notification { id } => (
            client
                .get(client.url(&["api", "v1", "notifications", id], &[]))
                .await?,
            Box::new(move |a| notifications::notification(a, now)),
        ),
        CtlCommand::NotificationCancel { id } => (
            client
                .delete(client.url(&["api", "v1", "notifications", id], &[]))
                .await?,
            Box::new(notifications::cancelled),
        ),
        CtlCommand::Recordings(r) => {
            let url = client.url(
                &["api", "v1", "recordings"],
                &[
                    ("from", r.from.clone()),
                    ("to", r.to.clone()),
                    ("limit", r.limit.map(|l| l.to_string())),
                    ("cursor", r.cursor.clone()),
                ],
            );
            (
                client.get(url).await?,
                Box::new(move |a| recordings::recordings(a, now)),
            )
        }
        CtlCommand::Recording { call_id, action } => {
            let url = client.url(&["api", "v1", "calls", call_id, "recording"], &[]);
            let body = json!({ "action": action.as_str() });
            let (call_id, action) = (call_id.clone(), *action);
            (
                client.post(url, Some(&body)).await?,
                Box::new(move |a| recordings::controlled(&call_id, action, a)),
            )
        }
        // Handled without a JSON request in `execute`.
        CtlCommand::Events(_) | CtlCommand::Token(_) | CtlCommand::RecordingDownload(_) => {
            (Value::Null, Box::new(|_| String::new()))
        }
    };
    Ok(if json {
        if answer.is_null() {
            String::new()
        } else {
            pretty(&answer)
        }
    } else {
        render(&answer)
    })
}

/// The `POST /api/v1/calls` body: only the options given.
fn originate_body(o: &OriginateArgs) -> Value {
    let mut body = Map::new();
    body.insert("from".into(), json!(o.from));
    body.insert("to".into(), json!(o.to));
    let optional = [
        ("profile", o.profile.clone().map(Value::from)),
        ("context", o.context.clone().map(Value::from)),
        (
            "caller_id_number",
            o.caller_id_number.clone().map(Value::from),
        ),
        ("caller_id_name", o.caller_id_name.clone().map(Value::from)),
        ("timeout_secs", o.timeout.map(Value::from)),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            body.insert(key.into(), value);
        }
    }
    Value::Object(body)
}

fn print_token(
    role: &str,
    name: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CtlError> {
    let generated = token::generate_token(role, name);
    if json {
        let answer = json!({
            "token": generated.token,
            "name": generated.name,
            "role": generated.role,
            "sha256": generated.sha256,
        });
        out.write_all(pretty(&answer).as_bytes())?;
    } else {
        writeln!(out, "token: {}", generated.token)?;
        writeln!(
            out,
            "\nThe token is shown only now; the switch keeps only its SHA-256. Add this block \
             to api.toml and restart the switch (api.toml is read at start):\n"
        )?;
        out.write_all(generated.toml_block().as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn an_originate_body_has_only_the_options_given() {
        let args = OriginateArgs {
            from: "1000".into(),
            to: "+4930123".into(),
            profile: None,
            context: Some("sales".into()),
            caller_id_number: None,
            caller_id_name: None,
            timeout: Some(20),
        };
        assert_eq!(
            originate_body(&args),
            json!({"from": "1000", "to": "+4930123", "context": "sales", "timeout_secs": 20})
        );
    }

    #[test]
    fn the_token_output_holds_the_token_and_its_api_toml_block() {
        let mut out = Vec::new();
        print_token("agent", Some("desk"), false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("token: syt_"), "{text}");
        assert!(text.contains("[[api.token]]\nname = \"desk\"\nrole = \"agent\"\nsha256 = \""));
    }
}
