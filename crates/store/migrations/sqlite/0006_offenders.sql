-- What live log watching found per site and client address: the
-- offenders the playbook's block_offenders step blocks, and what an
-- incident's investigation starts from. One row per (site, address),
-- updated in batches, so a scan of a million requests is one row.
CREATE TABLE offenders (
    site            TEXT NOT NULL,
    ip              TEXT NOT NULL,
    first_seen_ms   INTEGER NOT NULL,
    last_seen_ms    INTEGER NOT NULL,
    attacks         INTEGER NOT NULL DEFAULT 0,
    classes         TEXT NOT NULL DEFAULT '',
    max_confidence  REAL NOT NULL DEFAULT 0,
    last_rule       TEXT NOT NULL DEFAULT '',
    last_request    TEXT NOT NULL DEFAULT '',
    flood_requests  INTEGER NOT NULL DEFAULT 0,
    decision        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site, ip)
);
CREATE INDEX offenders_last_seen ON offenders (site, last_seen_ms);
