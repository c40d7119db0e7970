-- Voice notifications (POST /api/v1/notifications) and their call attempts, so pending ones
-- survive a restart. `spec` is the validated request as JSON (prompts, confirmation, retry
-- policy, calling window). `attempts` counts the attempts with a result that counts against
-- the retry policy (an attempt cut by a shutdown or a crash does not). Times are Unix
-- milliseconds.
CREATE TABLE notifications (
    id                 TEXT    PRIMARY KEY,
    number             TEXT    NOT NULL,
    caller_id          TEXT    NOT NULL,
    spec               TEXT    NOT NULL,
    status             TEXT    NOT NULL
        CHECK (status IN ('pending', 'scheduled', 'calling', 'completed', 'cancelled')),
    outcome            TEXT,
    attempts           INTEGER NOT NULL,
    next_attempt_at_ms BIGINT,
    created_at_ms      BIGINT  NOT NULL,
    completed_at_ms    BIGINT
);

-- The scheduler's question: which waiting notifications are due.
CREATE INDEX notifications_due ON notifications (status, next_attempt_at_ms);
-- The API lists newest first, paged by (created_at_ms, id).
CREATE INDEX notifications_created ON notifications (created_at_ms, id);

-- One row per call attempt; `result` is NULL while the call is under way.
CREATE TABLE notification_attempts (
    notification_id TEXT    NOT NULL REFERENCES notifications (id),
    n               INTEGER NOT NULL,
    call_id         TEXT,
    started_at_ms   BIGINT  NOT NULL,
    ended_at_ms     BIGINT,
    result          TEXT,
    digit           TEXT,
    reason          TEXT,
    PRIMARY KEY (notification_id, n)
);
