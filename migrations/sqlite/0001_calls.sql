-- Call detail records: one row per call, one per leg. Times are Unix milliseconds.
CREATE TABLE calls (
    call_id        TEXT    NOT NULL PRIMARY KEY,
    profile        TEXT    NOT NULL,
    from_uri       TEXT    NOT NULL,
    caller         TEXT,
    to_uri         TEXT    NOT NULL,
    started_at_ms  INTEGER NOT NULL,
    answered_at_ms INTEGER,
    ended_at_ms    INTEGER NOT NULL,
    duration_secs  INTEGER NOT NULL,
    billable_secs  INTEGER NOT NULL,
    hangup_cause   TEXT    NOT NULL,
    sip_status     INTEGER NOT NULL,
    q850           INTEGER NOT NULL,
    hangup_side    TEXT    NOT NULL CHECK (hangup_side IN ('caller', 'callee', 'switch'))
) STRICT;

CREATE INDEX calls_started_at ON calls (started_at_ms);

-- Media counters are all NULL (direct media, or no media on the leg) or all set.
CREATE TABLE call_legs (
    call_id         TEXT    NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    leg_index       INTEGER NOT NULL,
    side            TEXT    NOT NULL CHECK (side IN ('a', 'b')),
    sip_call_id     TEXT    NOT NULL,
    local_tag       TEXT    NOT NULL,
    remote_tag      TEXT,
    target          TEXT    NOT NULL,
    signalling_addr TEXT,
    started_at_ms   INTEGER NOT NULL,
    answered_at_ms  INTEGER,
    ended_at_ms     INTEGER NOT NULL,
    final_status    INTEGER,
    packets_in      INTEGER,
    bytes_in        INTEGER,
    packets_out     INTEGER,
    bytes_out       INTEGER,
    packets_lost    INTEGER,
    jitter_ms       REAL,
    rtcp_in         INTEGER,
    rejected        INTEGER,
    PRIMARY KEY (call_id, leg_index)
) STRICT;

CREATE INDEX call_legs_started_at ON call_legs (started_at_ms);
CREATE INDEX call_legs_sip_call_id ON call_legs (sip_call_id);
