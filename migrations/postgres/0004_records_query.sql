-- The API reads call records newest first, paged by (started_at_ms, call_id), optionally for one
-- hangup cause: an index for each order (the first replaces the start-time index).
CREATE INDEX calls_started_at_call_id ON calls (started_at_ms, call_id);
DROP INDEX calls_started_at;
CREATE INDEX calls_cause_started_at ON calls (hangup_cause, started_at_ms, call_id);
