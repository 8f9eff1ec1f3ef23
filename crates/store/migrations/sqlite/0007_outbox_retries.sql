-- A dead letter a person sent back to the outbox (`sitewarden outbox
-- retry`): how many times, when last and by whom. The attempts start
-- again from zero, so these columns keep the record of the retry.
ALTER TABLE outbox ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN retried_at INTEGER;
ALTER TABLE outbox ADD COLUMN retried_by TEXT;
