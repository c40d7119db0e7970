//! `ctl recordings`, `recording`, `recording-download`: how recorded calls and recording
//! commands are shown, and the download of a recording into a local file. A download is
//! written to `<file>.part` beside the target and renamed only once it is complete and is a
//! WAV file, so a failed download never leaves a half file under the name asked for (nor
//! destroys the file `--force` would replace).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::RecordingAction;
use super::client::ApiClient;
use super::error::CtlError;
use super::render::{Column, NONE, duration, field, first, list, millis, text, timestamp};

/// Media types a WAV file is served as (`audio/wav` is what the switch sends).
const WAV_TYPES: [&str; 3] = ["audio/wav", "audio/x-wav", "audio/wave"];

/// `GET /api/v1/recordings`: start of the call (UTC), call id, audio length, status (with the
/// error of a failed one), the start of the SHA-256, the file on the switch.
pub fn recordings(answer: &Value, now: u64) -> String {
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
            header: "CALL ID",
            cell: |r, _| field(r, &["call_id"]),
        },
        Column {
            header: "DURATION",
            cell: |r, _| {
                first(r, &["duration_ms"])
                    .and_then(Value::as_u64)
                    .map_or_else(|| NONE.to_owned(), |ms| duration(ms / 1000))
            },
        },
        Column {
            header: "STATUS",
            cell: |r, _| match first(r, &["error"]) {
                Some(error) => format!("{}: {}", field(r, &["status"]), text(Some(error))),
                None => field(r, &["status"]),
            },
        },
        Column {
            header: "SHA256",
            cell: |r, _| {
                first(r, &["sha256"]).and_then(Value::as_str).map_or_else(
                    || NONE.to_owned(),
                    |h| format!("{}…", h.chars().take(12).collect::<String>()),
                )
            },
        },
        Column {
            header: "PATH",
            cell: |r, _| field(r, &["path"]),
        },
    ];
    list(answer, COLUMNS, "no recordings", now)
}

/// The answer of `ctl recording <call-id> <action>`: `recording started: call <id>, file
/// <path>`.
pub fn controlled(call_id: &str, action: RecordingAction, answer: &Value) -> String {
    let done = match action {
        RecordingAction::Start => "started",
        RecordingAction::Pause => "paused",
        RecordingAction::Resume => "resumed",
        RecordingAction::Stop => "stopped",
    };
    format!(
        "recording {done}: call {call_id}, file {}\n",
        field(answer, &["path"])
    )
}

/// A saved download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The file written.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

impl Saved {
    /// What `ctl` prints: one line, or with `--json` an object.
    pub fn render(&self, call_id: &str, json: bool) -> String {
        if json {
            let answer = json!({
                "call_id": call_id,
                "file": self.path.display().to_string(),
                "bytes": self.bytes,
                "sha256": self.sha256,
            });
            let mut text =
                serde_json::to_string_pretty(&answer).unwrap_or_else(|_| answer.to_string());
            text.push('\n');
            text
        } else {
            format!(
                "saved: recording of call {call_id} to {} ({} bytes, sha256 {})\n",
                self.path.display(),
                self.bytes,
                self.sha256
            )
        }
    }
}

/// Where `ctl recording-download` saves when no `-o` is given.
pub fn default_file(call_id: &str) -> PathBuf {
    PathBuf::from(format!("{call_id}.wav"))
}

/// Whether a `Content-Type` value names a WAV file (parameters ignored).
fn is_wav(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    WAV_TYPES.iter().any(|t| t.eq_ignore_ascii_case(media_type))
}

/// Whether `head` (the first 12 bytes) is a RIFF WAVE header.
fn is_riff_wave(head: &[u8]) -> bool {
    head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE"
}

/// `<file>.part` beside `file`.
fn part_file(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    file.with_file_name(name)
}

/// Removes the partial file unless the download completed.
struct PartGuard {
    path: PathBuf,
    keep: bool,
}

impl Drop for PartGuard {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Downloads the recording of `call_id` into `file`, refusing to replace an existing file
/// unless `force`; the answer must be `audio/wav` and start with a RIFF WAVE header.
pub async fn download(
    client: &ApiClient,
    call_id: &str,
    file: &Path,
    force: bool,
) -> Result<Saved, CtlError> {
    let exists = || CtlError::FileExists {
        path: file.to_path_buf(),
    };
    let save = |source: std::io::Error| CtlError::Save {
        path: file.to_path_buf(),
        source,
    };
    if !force && file.exists() {
        return Err(exists());
    }
    let url = client.url(&["api", "v1", "recordings", call_id], &[]);
    let mut response = client.get_file(url.clone()).await?;
    let bad = |reason: String| CtlError::BadAnswer {
        url: url.to_string(),
        status: 200,
        reason,
    };
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !is_wav(&content_type) {
        return Err(bad(format!(
            "expected Content-Type audio/wav, got {:?}",
            if content_type.is_empty() {
                "none"
            } else {
                &content_type
            }
        )));
    }

    let part = part_file(file);
    let mut guard = PartGuard {
        path: part.clone(),
        keep: false,
    };
    let mut out = File::create(&part).map_err(save)?;
    let mut hash = Sha256::new();
    let mut head = Vec::with_capacity(12);
    let mut bytes: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(|e| client.unreachable(&e))? {
        if head.len() < 12 {
            let take = (12 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hash.update(&chunk);
        out.write_all(&chunk).map_err(save)?;
        bytes += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
    }
    if !is_riff_wave(&head) {
        return Err(bad(format!(
            "the {bytes} bytes received are not a WAV file (no RIFF WAVE header)"
        )));
    }
    out.sync_all().map_err(save)?;
    drop(out);
    if !force && file.exists() {
        return Err(exists());
    }
    std::fs::rename(&part, file).map_err(save)?;
    guard.keep = true;
    Ok(Saved {
        path: file.to_path_buf(),
        bytes,
        sha256: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    })
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

    fn parse(args: &[&str]) -> Result<CtlCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once(&"ctl").chain(args)).map(|c| c.ctl.command)
    }

    #[test]
    fn recording_takes_a_call_id_and_one_of_four_actions() {
        let id = "3f6c2a9e-5d7b-4e0f-9a61-0c8d2b7e4f10";
        match parse(&["recording", id, "pause"]).unwrap() {
            CtlCommand::Recording { call_id, action } => {
                assert_eq!(call_id, id);
                assert_eq!(action, RecordingAction::Pause);
                assert_eq!(action.as_str(), "pause");
            }
            other => panic!("{other:?}"),
        }
        for bad in [&["recording", id, "rewind"][..], &["recording", id]] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn recording_download_saves_to_the_call_id_by_default_or_to_o() {
        match parse(&["recording-download", "c1"]).unwrap() {
            CtlCommand::RecordingDownload(d) => {
                assert_eq!(d.output, None);
                assert!(!d.force);
                assert_eq!(default_file(&d.call_id), PathBuf::from("c1.wav"));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["recording-download", "c1", "-o", "/tmp/x.wav", "--force"]).unwrap() {
            CtlCommand::RecordingDownload(d) => {
                assert_eq!(d.output, Some(PathBuf::from("/tmp/x.wav")));
                assert!(d.force);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn recordings_list_with_length_status_and_short_hash() {
        let hash = "ab".repeat(32);
        let answer = json!({"items": [
            {"call_id": "c1", "path": "2027/01/15/c1.wav", "duration_ms": 65_400,
             "sha256": hash, "status": "complete", "error": null, "started_at": NOW - 70_000},
            {"call_id": "c2", "path": "2027/01/15/c2.wav", "duration_ms": 0, "sha256": null,
             "status": "failed", "error": "disk full", "started_at": NOW - 10_000}
        ], "next_cursor": null});
        let text = recordings(&answer, NOW);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("START (UTC)          CALL ID  DURATION"),
            "{text}"
        );
        assert!(
            lines[1]
                .contains("c1       1m05s     complete           abababababab…  2027/01/15/c1.wav"),
            "{text}"
        );
        assert!(lines[2].contains("failed: disk full  -"), "{text}");
        assert_eq!(recordings(&json!({"items": []}), NOW), "no recordings\n");
    }

    #[test]
    fn a_recording_command_prints_what_was_done_and_the_file() {
        let answer = json!({"active": false, "path": "2027/01/15/c1.wav"});
        assert_eq!(
            controlled("c1", RecordingAction::Pause, &answer),
            "recording paused: call c1, file 2027/01/15/c1.wav\n"
        );
        assert_eq!(
            controlled(
                "c1",
                RecordingAction::Start,
                &json!({"active": true, "path": "p"})
            ),
            "recording started: call c1, file p\n"
        );
    }

    #[test]
    fn only_wav_media_types_and_riff_wave_headers_pass() {
        assert!(is_wav("audio/wav"));
        assert!(is_wav("Audio/WAV; charset=binary"));
        assert!(is_wav("audio/x-wav"));
        assert!(!is_wav("application/json"));
        assert!(!is_wav(""));
        assert!(is_riff_wave(b"RIFF\x24\0\0\0WAVEfmt "));
        assert!(!is_riff_wave(b"RIFF\x24\0\0\0AVI "));
        assert!(!is_riff_wave(b"RIFF"));
    }

    #[test]
    fn the_partial_file_sits_beside_the_target() {
        assert_eq!(
            part_file(Path::new("/tmp/rec/c1.wav")),
            PathBuf::from("/tmp/rec/c1.wav.part")
        );
        assert_eq!(part_file(Path::new("c1.wav")), PathBuf::from("c1.wav.part"));
    }

    /// Serves one canned HTTP answer per connection, `answers` times, on 127.0.0.1.
    fn canned(answers: usize, status: &str, content_type: &str, body: &[u8]) -> ApiClient {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(body);
        std::thread::spawn(move || {
            for stream in listener.incoming().take(answers) {
                let mut stream = stream.unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                stream.write_all(&answer).unwrap();
            }
        });
        ApiClient::new(&format!("http://{addr}"), Some("t".into())).unwrap()
    }

    fn wav() -> Vec<u8> {
        let mut file = b"RIFF\x24\0\0\0WAVEfmt ".to_vec();
        file.extend_from_slice(&[0u8; 32]);
        file
    }

    #[tokio::test]
    async fn a_download_is_saved_whole_and_an_existing_file_is_kept_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c1.wav");
        let client = canned(2, "200 OK", "audio/wav", &wav());
        let saved = download(&client, "c1", &file, false).await.unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), wav());
        assert_eq!(saved.bytes, 48);
        assert_eq!(saved.sha256.len(), 64);
        assert!(!part_file(&file).exists());

        std::fs::write(&file, b"mine").unwrap();
        let error = download(&client, "c1", &file, false).await.unwrap_err();
        assert!(matches!(error, CtlError::FileExists { .. }), "{error}");
        assert!(error.to_string().contains("--force"), "{error}");
        assert_eq!(std::fs::read(&file).unwrap(), b"mine");
        download(&client, "c1", &file, true).await.unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), wav());
    }

    #[tokio::test]
    async fn a_download_that_is_not_a_wav_file_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c1.wav");
        let client = canned(1, "200 OK", "text/html", b"<html>");
        let error = download(&client, "c1", &file, false).await.unwrap_err();
        assert!(error.to_string().contains("audio/wav"), "{error}");
        let client = canned(1, "200 OK", "audio/wav", b"not a wav file at all");
        let error = download(&client, "c1", &file, false).await.unwrap_err();
        assert!(error.to_string().contains("RIFF WAVE"), "{error}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_refused_download_reports_the_api_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c1.wav");
        let body = br#"{"code":"not_found","message":"call c1 was not recorded"}"#;
        let client = canned(1, "404 Not Found", "application/json", body);
        let error = download(&client, "c1", &file, false).await.unwrap_err();
        assert_eq!(error.report(), "error: not_found: call c1 was not recorded");
        assert_eq!(error.exit_code(), crate::ctl::EXIT_REFUSED);
        assert!(!file.exists());
    }

    #[test]
    fn a_saved_download_prints_its_size_and_hash() {
        let saved = Saved {
            path: PathBuf::from("c1.wav"),
            bytes: 44,
            sha256: "00ff".into(),
        };
        assert_eq!(
            saved.render("c1", false),
            "saved: recording of call c1 to c1.wav (44 bytes, sha256 00ff)\n"
        );
        let json: Value = serde_json::from_str(&saved.render("c1", true)).unwrap();
        assert_eq!(
            json,
            json!({"call_id": "c1", "file": "c1.wav", "bytes": 44, "sha256": "00ff"})
        );
    }
}
