-- Call detail records: one row per call, one per leg. Times are Unix milliseconds.
CREATE TABLE calls (
    call_id        TEXT    NOT NULL PRIMARY KEY,
    profile        TEXT    NOT NULL,
    from_uri       TEXT    NOT NULL,
    caller         TEXT,
    to_uri         TEXT    NOT NULL,
    started_at_ms  BIGINT  NOT NULL,
    answered_at_ms BIGINT,
    ended_at_ms    BIGINT  NOT NULL,
    duration_secs  BIGINT  NOT NULL,
    billable_secs  BIGINT  NOT NULL,
    hangup_cause   TEXT    NOT NULL,
    sip_status     INTEGER NOT NULL,
    q850           INTEGER NOT NULL,
    hangup_side    TEXT    NOT NULL CHECK (hangup_side IN ('caller', 'callee', 'switch'))
);

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
    started_at_ms   BIGINT  NOT NULL,
    answered_at_ms  BIGINT,
    ended_at_ms     BIGINT  NOT NULL,
    final_status    INTEGER,
    packets_in      BIGINT,
    bytes_in        BIGINT,
    packets_out     BIGINT,
    bytes_out       BIGINT,
    packets_lost    BIGINT,
    jitter_ms       DOUBLE PRECISION,
    rtcp_in         BIGINT,
    rejected        BIGINT,
    PRIMARY KEY (call_id, leg_index)
);

CREATE INDEX call_legs_started_at ON call_legs (started_at_ms);
CREATE INDEX call_legs_sip_call_id ON call_legs (sip_call_id);
