-- The first schema: baselines, page states and check history, incidents with
-- their signals and timeline, and the evidence register.
-- Times are Unix milliseconds (INTEGER); JSON columns are TEXT. The same
-- shapes map one to one onto PostgreSQL (BIGINT, JSONB) for scale-out.

CREATE TABLE baselines (
    id            INTEGER PRIMARY KEY,
    site          TEXT    NOT NULL,
    page          TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    approved_at   INTEGER NOT NULL,
    approved_by   TEXT    NOT NULL,
    body_sha256   TEXT    NOT NULL,
    baseline_json TEXT    NOT NULL,
    UNIQUE (site, page, version)
);

-- The latest state of every page: one row per page, overwritten by each check.
CREATE TABLE page_states (
    site                 TEXT    NOT NULL,
    page                 TEXT    NOT NULL,
    url                  TEXT    NOT NULL,
    verdict              TEXT    NOT NULL,
    score                INTEGER NOT NULL,
    reasons_json         TEXT    NOT NULL,
    checked_at           INTEGER NOT NULL,
    http_status          INTEGER,
    response_ms          INTEGER,
    tls_expires_at       INTEGER,
    consecutive_failures INTEGER NOT NULL,
    up                   INTEGER NOT NULL,
    PRIMARY KEY (site, page)
);

-- Check history, kept for every check whose verdict is not clean or differs
-- from the page's previous verdict (a clean page checked every minute does
-- not fill the disk).
CREATE TABLE checks (
    id             INTEGER PRIMARY KEY,
    site           TEXT    NOT NULL,
    page           TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    checked_at     INTEGER NOT NULL,
    verdict        TEXT    NOT NULL,
    score          INTEGER NOT NULL,
    reasons_json   TEXT    NOT NULL,
    http_status    INTEGER,
    response_ms    INTEGER,
    tls_expires_at INTEGER,
    redirects_json TEXT    NOT NULL,
    body_sha256    TEXT,
    error          TEXT
);
CREATE INDEX checks_by_page ON checks (site, page, checked_at);

CREATE TABLE incidents (
    id             INTEGER PRIMARY KEY,
    site           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    title          TEXT    NOT NULL,
    category       TEXT    NOT NULL,
    subcategory    TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    drill          INTEGER NOT NULL,
    false_alarm    INTEGER NOT NULL DEFAULT 0,
    discovered_at  INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    closed_at      INTEGER
);
CREATE INDEX incidents_by_site ON incidents (site, state);

CREATE TABLE signals (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    site         TEXT    NOT NULL,
    page         TEXT,
    kind         TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    score        INTEGER NOT NULL,
    reasons_json TEXT    NOT NULL,
    observed_at  INTEGER NOT NULL
);
CREATE INDEX signals_by_incident ON signals (incident_id);

-- The incident's timeline: append-only, every event and action with its actor.
CREATE TABLE incident_events (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    detail_json TEXT    NOT NULL
);
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, at);

-- The evidence register. Each record names its content by SHA-256 (the bytes
-- live in the blob directory) and is chained to the record before it, so a
-- record changed or removed afterwards breaks the chain.
CREATE TABLE evidence (
    id               INTEGER PRIMARY KEY,
    incident_id      INTEGER REFERENCES incidents (id),
    signal_id        INTEGER REFERENCES signals (id),
    kind             TEXT    NOT NULL,
    content_sha256   TEXT    NOT NULL,
    size             INTEGER NOT NULL,
    media_type       TEXT    NOT NULL,
    captured_at      INTEGER NOT NULL,
    metadata_json    TEXT    NOT NULL,
    prev_record_hash TEXT    NOT NULL,
    record_hash      TEXT    NOT NULL
);
CREATE INDEX evidence_by_incident ON evidence (incident_id);
