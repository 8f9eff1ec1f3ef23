-- The notification outbox: a message is written here before it is sent and
-- stays until its channel confirms it. The id is the caller's deduplication
-- key: enqueueing the same id twice stores it once.

CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY,
    incident_id     INTEGER REFERENCES incidents (id),
    channel         TEXT    NOT NULL,
    recipient       TEXT,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    -- pending → sending → sent, or back to pending with a later
    -- next_attempt_at, or dead after the last attempt.
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- While a sender holds a message; a lease that ran out (the process
    -- died mid-send) makes the message due again: at least once.
    lease_until     INTEGER,
    last_error      TEXT,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_incident ON outbox (incident_id);
