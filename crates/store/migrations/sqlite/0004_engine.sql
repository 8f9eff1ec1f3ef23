-- The incident engine's state. `engine_json` is the whole incident as the
-- engine models it (exposures, level decisions, reports, acknowledgements,
-- approvals, actions done, timeline); the other columns mirror what lists
-- and queries need. `timeline_len` counts the engine's timeline events
-- already copied into incident_events.
ALTER TABLE incidents ADD COLUMN engine_json TEXT;
ALTER TABLE incidents ADD COLUMN level TEXT;
ALTER TABLE incidents ADD COLUMN timeline_len INTEGER NOT NULL DEFAULT 0;
