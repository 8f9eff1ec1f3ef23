-- The containment switch of each site (serving / maintenance) as last set,
-- every switch with its backend outcome, and the gateway's blocklist.
CREATE TABLE site_switches (
    site      TEXT PRIMARY KEY,
    mode      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    by_actor  TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);

CREATE TABLE switch_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    site      TEXT NOT NULL,
    mode      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    by_actor  TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    backend   TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX switch_events_site ON switch_events (site, id);

CREATE TABLE blocklist (
    net          TEXT PRIMARY KEY,
    until_ms     INTEGER,
    reason       TEXT NOT NULL,
    source       TEXT NOT NULL,
    offences     INTEGER NOT NULL DEFAULT 1,
    added_at_ms  INTEGER NOT NULL
);
