//! Call recordings: control of a call's recording (`POST /api/v1/calls/{id}/recording`), the
//! list of recorded calls (`GET /api/v1/recordings`) and the download of one file
//! (`GET /api/v1/recordings/{call_id}`); supervisor and above. The control only posts a
//! message to the call's own task and waits briefly for its answer; a download never reads a
//! file outside the configured recordings directories.

use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::calls::{busy, call_id, unknown_call};
use super::error::{ApiError, ErrorBody};
use super::json::{ApiJson, ApiQuery, encode_cursor, page_limit};
use super::records::{RecordParams, record_query};
use crate::call::CallId;
use crate::call::registry::HangUpResult;
use crate::config::Config;
use crate::config::api::Role;
use crate::sip::call_table::{RecordingCommand, RecordingReply};

/// How long the API waits for a call to answer a recording command.
const REPLY_WITHIN: Duration = Duration::from_secs(5);

/// Each profile's recordings directory: where relative paths in records are resolved, and
/// the only places files are served from.
#[derive(Debug, Clone, Default)]
pub struct RecordingDirs(Vec<(String, PathBuf)>);

impl RecordingDirs {
    /// The directories of `config`'s profiles.
    pub fn from_config(config: &Config) -> Self {
        Self(
            config
                .profiles()
                .iter()
                .map(|p| (p.name().to_owned(), p.recording().directory().to_path_buf()))
                .collect(),
        )
    }

    /// From `(profile, directory)` pairs.
    pub fn new(dirs: Vec<(String, PathBuf)>) -> Self {
        Self(dirs)
    }

    /// The file a record's `path` names, when it lies inside one of the directories (after
    /// resolving links and `..`) and exists; a relative `path` is taken relative to
    /// `profile`'s directory.
    fn resolve(&self, profile: &str, path: &str) -> Option<PathBuf> {
        let path = FsPath::new(path);
        let file = if path.is_absolute() {
            path.to_path_buf()
        } else {
            let (_, dir) = self.0.iter().find(|(name, _)| name == profile)?;
            dir.join(path)
        };
        let file = file.canonicalize().ok()?;
        let inside = self
            .0
            .iter()
            .filter_map(|(_, dir)| dir.canonicalize().ok())
            .any(|dir| file.starts_with(dir));
        (inside && file.is_file()).then_some(file)
    }
}

/// What to do with a call's recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordingAction {
    /// Start recording now (the file starts at this moment).
    Start,
    /// Pause: the file keeps silence until resumed.
    Pause,
    /// Resume a paused recording.
    Resume,
    /// Stop and finish the file (its details go into the call's record).
    Stop,
}

/// Body of `POST /api/v1/calls/{id}/recording`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingRequest {
    /// `start`, `pause`, `resume` or `stop`.
    pub action: RecordingAction,
}

/// A call's recording after a command.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingState {
    /// Recording now (false: paused, or stopped).
    pub active: bool,
    /// The recording's file.
    pub path: String,
}

/// Query of `GET /api/v1/recordings`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordingParams {
    /// Calls that started at or after this time: RFC 3339 (`2026-11-23T18:00:00Z`) or Unix
    /// milliseconds.
    pub from: Option<String>,
    /// Calls that started before this time: RFC 3339 or Unix milliseconds.
    pub to: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One recorded call.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingItem {
    /// The call.
    pub call_id: CallId,
    /// The WAV file on the switch.
    pub path: String,
    /// Audio length in milliseconds.
    pub duration_ms: u64,
    /// SHA-256 of the file (hex); null when the recording failed.
    pub sha256: Option<String>,
    /// `complete` or `failed`.
    pub status: String,
    /// Why it failed; null otherwise.
    pub error: Option<String>,
    /// When the call started (Unix milliseconds).
    pub started_at: u64,
}

/// A page of recorded calls.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingList {
    /// Newest first (by the call's start time).
    pub items: Vec<RecordingItem>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The answer of a call to a recording command, as the API gives it.
fn reply_answer(id: CallId, reply: RecordingReply) -> Result<RecordingState, ApiError> {
    match reply {
        RecordingReply::Done { active, path } => Ok(RecordingState { active, path }),
        RecordingReply::NotAnswered => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_answered",
            format!("call {id} has no answered media to record"),
        )),
        RecordingReply::Conflict(why) => Err(ApiError::new(StatusCode::CONFLICT, "conflict", why)),
        RecordingReply::Disabled => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "recording_disabled",
            format!("recording is disabled for call {id}'s profile"),
        )),
    }
}

/// Starts, pauses, resumes or stops a call's recording.
#[utoipa::path(post, path = "/api/v1/calls/{id}/recording", tag = "recordings",
    operation_id = "control_recording",
    params(("id" = uuid::Uuid, Path, description = "The call's id")),
    request_body = RecordingRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Done; the recording's state now", body = RecordingState),
        (status = 400, description = "`invalid_path`: the id is not a UUID; `invalid_body`: \
            malformed JSON, an unknown action or field", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token's role is below supervisor", body = ErrorBody),
        (status = 404, description = "`not_found`: no call with this id is in progress",
            body = ErrorBody),
        (status = 409, description = "`not_answered`: the call has no answered media yet; \
            `conflict`: start while recording, or pause/resume/stop without a recording",
            body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON",
            body = ErrorBody),
        (status = 422, description = "`recording_disabled`: the call's profile cannot record \
            (direct media)", body = ErrorBody),
        (status = 503, description = "`busy`: the call cannot take the request now; try again",
            body = ErrorBody),
    ))]
async fn control(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<ApiJson<RecordingRequest>, ApiError>,
) -> Result<Json<RecordingState>, ApiError> {
    caller.require(Role::Supervisor)?;
    let id = call_id(path)?;
    let ApiJson(request) = body?;
    let command = match request.action {
        RecordingAction::Start => RecordingCommand::Start,
        RecordingAction::Pause => RecordingCommand::Pause,
        RecordingAction::Resume => RecordingCommand::Resume,
        RecordingAction::Stop => RecordingCommand::Stop,
    };
    let answer = match state.calls.recording(id, command) {
        Ok(answer) => answer,
        Err(HangUpResult::Busy) => return Err(busy(id)),
        Err(_) => return Err(unknown_call(id)),
    };
    let reply = match tokio::time::timeout(REPLY_WITHIN, answer).await {
        Ok(Ok(reply)) => reply,
        // The call ended before it answered.
        Ok(Err(_)) => return Err(unknown_call(id)),
        Err(_) => return Err(busy(id)),
    };
    let done = reply_answer(id, reply)?;
    tracing::info!(
        call_id = %id,
        token = %caller.name,
        action = ?request.action,
        "recording control through the API"
    );
    Ok(Json(done))
}

/// Recorded calls, newest first.
#[utoipa::path(get, path = "/api/v1/recordings", tag = "recordings",
    operation_id = "list_recordings",
    params(RecordingParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of recorded calls", body = RecordingList),
        (status = 400, description = "`invalid_query`: an unknown parameter, a bad time, a bad \
            limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token's role is below supervisor", body = ErrorBody),
    ))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    params: Result<ApiQuery<RecordingParams>, ApiError>,
) -> Result<Json<RecordingList>, ApiError> {
    caller.require(Role::Supervisor)?;
    let ApiQuery(params) = params?;
    let limit = page_limit(params.limit)?;
    let mut query = record_query(&RecordParams {
        from: params.from,
        to: params.to,
        number: None,
        cause: None,
        limit: params.limit,
        cursor: params.cursor,
    })?;
    query.recorded = true;
    let mut records = state
        .store
        .query_calls(&query)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let next_cursor = if records.len() > limit {
        records.truncate(limit);
        records
            .last()
            .map(|last| encode_cursor(&[&last.started_at.0.to_string(), &last.call_id.to_string()]))
    } else {
        None
    };
    let items = records
        .into_iter()
        .filter_map(|record| {
            let recording = record.recording?;
            Some(RecordingItem {
                call_id: record.call_id,
                path: recording.path,
                duration_ms: recording.duration_ms,
                sha256: recording.sha256,
                status: recording.status,
                error: recording.error,
                started_at: record.started_at.0,
            })
        })
        .collect();
    Ok(Json(RecordingList { items, next_cursor }))
}

/// A call's recording: the stereo WAV file (the caller's side left, the callee's right).
#[utoipa::path(get, path = "/api/v1/recordings/{call_id}", tag = "recordings",
    operation_id = "download_recording",
    params(("call_id" = uuid::Uuid, Path, description = "The recorded call's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The WAV file", body = [u8], content_type = "audio/wav"),
        (status = 400, description = "`invalid_path`: the id is not a UUID", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token's role is below supervisor", body = ErrorBody),
        (status = 404, description = "`not_found`: no record of this call, the call was not \
            recorded, its recording failed, or the file is gone", body = ErrorBody),
    ))]
async fn download(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Supervisor)?;
    let id = call_id(path)?;
    let record = state
        .store
        .call_record(&id.to_string())
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found(format!("no record of call {id}")))?;
    let recording = record
        .recording
        .ok_or_else(|| ApiError::not_found(format!("call {id} was not recorded")))?;
    if recording.status != "complete" {
        return Err(ApiError::not_found(format!(
            "the recording of call {id} failed; there is no file to download"
        )));
    }
    let gone = || ApiError::not_found(format!("the recording file of call {id} is gone"));
    let dirs = std::sync::Arc::clone(&state.recordings);
    let (profile, name) = (record.profile, recording.path);
    let file = tokio::task::spawn_blocking(move || dirs.resolve(&profile, &name))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| {
            tracing::warn!(call_id = %id, "recording file missing or outside the recordings directories");
            gone()
        })?;
    let bytes = tokio::fs::read(&file).await.map_err(|_| gone())?;
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.wav\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The recordings routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(control))
        .routes(routes!(list))
        .routes(routes!(download))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn each_call_answer_has_its_status_and_code() {
        let id = CallId::new_random();
        let done = reply_answer(
            id,
            RecordingReply::Done {
                active: true,
                path: "2026/11/23/x.wav".into(),
            },
        )
        .unwrap();
        assert!(done.active);
        assert_eq!(done.path, "2026/11/23/x.wav");
        for (reply, status, code) in [
            (RecordingReply::NotAnswered, 409, "not_answered"),
            (
                RecordingReply::Conflict("already recording"),
                409,
                "conflict",
            ),
            (RecordingReply::Disabled, 422, "recording_disabled"),
        ] {
            let error = reply_answer(id, reply).unwrap_err();
            assert_eq!((error.status.as_u16(), error.code), (status, code));
        }
    }

    #[test]
    fn actions_are_lower_case_and_nothing_else_is_accepted() {
        let request: RecordingRequest = serde_json::from_str(r#"{"action":"pause"}"#).unwrap();
        assert_eq!(request.action, RecordingAction::Pause);
        for bad in [
            r#"{"action":"Pause"}"#,
            r#"{"action":"rewind"}"#,
            r#"{"action":"stop","x":1}"#,
            "{}",
        ] {
            assert!(
                serde_json::from_str::<RecordingRequest>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_existing_files_inside_a_recordings_directory_are_served() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("rec");
        std::fs::create_dir_all(dir.join("2026/11/23")).unwrap();
        std::fs::write(dir.join("2026/11/23/a.wav"), b"RIFF").unwrap();
        std::fs::write(root.path().join("secret.wav"), b"RIFF").unwrap();
        let dirs = RecordingDirs::new(vec![("default".into(), dir.clone())]);
        let inside = dir.join("2026/11/23/a.wav").canonicalize().unwrap();

        assert_eq!(
            dirs.resolve("default", "2026/11/23/a.wav"),
            Some(inside.clone())
        );
        assert_eq!(
            dirs.resolve("other", inside.to_str().unwrap()),
            Some(inside.clone()),
            "an absolute path inside any recordings directory"
        );
        assert_eq!(dirs.resolve("default", "../secret.wav"), None);
        let outside = root.path().join("secret.wav");
        assert_eq!(dirs.resolve("default", outside.to_str().unwrap()), None);
        assert_eq!(dirs.resolve("default", "2026/11/23/gone.wav"), None);
        assert_eq!(dirs.resolve("default", "2026/11/23"), None, "not a file");
        std::os::unix::fs::symlink(&outside, dir.join("link.wav")).unwrap();
        assert_eq!(
            dirs.resolve("default", "link.wav"),
            None,
            "a link out of the directory"
        );
    }
}
