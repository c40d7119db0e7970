-- The webhook outbox: one row per (event, target) to deliver. Rows are delivered in id order
-- per (target, ordering_key): the call id for call events, `registration:<aor>` for
-- registration events, the trunk name for trunk events. Times are Unix milliseconds.
CREATE TABLE webhook_outbox (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    target             TEXT    NOT NULL,
    event_seq          INTEGER NOT NULL,
    event_type         TEXT    NOT NULL,
    ordering_key       TEXT    NOT NULL,
    payload            TEXT    NOT NULL,
    state              TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts           INTEGER NOT NULL,
    next_attempt_at_ms INTEGER NOT NULL,
    last_status        INTEGER,
    last_error         TEXT,
    created_at_ms      INTEGER NOT NULL,
    delivered_at_ms    INTEGER
) STRICT;

-- The head of each key of a target (its earliest pending row), from the pending rows only.
CREATE INDEX webhook_outbox_pending_key ON webhook_outbox (target, ordering_key, id)
    WHERE state = 'pending';
-- Listing by state, newest first.
CREATE INDEX webhook_outbox_state ON webhook_outbox (state, id);
