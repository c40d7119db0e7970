-- A recorded call's recording: the WAV file, its length, the SHA-256 of the finished file (NULL
-- when the recording failed), `complete` or `failed`, and why it failed. All NULL for calls
-- that were not recorded.
ALTER TABLE calls ADD COLUMN recording_path TEXT;
ALTER TABLE calls ADD COLUMN recording_duration_ms BIGINT;
ALTER TABLE calls ADD COLUMN recording_sha256 TEXT;
ALTER TABLE calls ADD COLUMN recording_status TEXT;
ALTER TABLE calls ADD COLUMN recording_error TEXT;

-- GET /api/v1/recordings lists recorded calls newest first by (started_at_ms, call_id).
CREATE INDEX calls_recorded_started_at ON calls (started_at_ms, call_id)
    WHERE recording_path IS NOT NULL;
