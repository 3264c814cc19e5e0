/**
 * The scheduler's tables in PostgreSQL. Applied under an advisory lock so two
 * schedulers starting at once do not race; every statement is idempotent.
 * The lease row always exists (holder "" = nobody), so acquiring is a plain
 * row lock rather than an insert race.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (seq bigint PRIMARY KEY, now bigint NOT NULL, body bytea NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq bigserial PRIMARY KEY, job_id text NOT NULL, body bytea NOT NULL);
CREATE TABLE IF NOT EXISTS lease (id int PRIMARY KEY CHECK (id = 1), holder text NOT NULL, address text NOT NULL,
  epoch bigint NOT NULL, expires_at bigint NOT NULL, renewed_at bigint NOT NULL);
INSERT INTO lease VALUES (1, '', '', 0, 0, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS snapshots (seq bigint PRIMARY KEY, format int NOT NULL, state bytea NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (job_id text PRIMARY KEY, submission_id text UNIQUE, traceparent text NOT NULL);

CREATE OR REPLACE FUNCTION ballast_now_ms() RETURNS bigint LANGUAGE sql STABLE AS
  $$ SELECT (extract(epoch FROM now()) * 1000)::bigint $$;

-- One round trip per group commit. FOR SHARE on the lease row makes the epoch
-- check hold until COMMIT: a standby's takeover (UPDATE of that row) waits for
-- an append in flight, or the append waits for the takeover and then sees the
-- new epoch. Either way nothing of an old epoch lands after a new leader read the log.
-- p_forgotten_jobs: jobs the batch evicted, whose records go with it. (The version without
-- it stays defined for a scheduler of the previous release still running beside this one.)
CREATE OR REPLACE FUNCTION ballast_append(p_epoch bigint, p_seqs bigint[], p_nows bigint[], p_bodies bytea[],
    p_event_jobs text[], p_event_bodies bytea[], p_job_ids text[], p_submissions text[], p_traceparents text[],
    p_forgotten_jobs text[])
  RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  current_epoch bigint;
BEGIN
  SELECT epoch INTO current_epoch FROM lease WHERE id = 1 FOR SHARE;
  IF current_epoch IS DISTINCT FROM p_epoch THEN RETURN 'fenced'; END IF;
  -- A retried batch whose COMMIT reached us but whose answer did not.
  IF EXISTS (SELECT 1 FROM inputs WHERE seq = p_seqs[1]) THEN RETURN 'duplicate'; END IF;
  INSERT INTO inputs (seq, now, body) SELECT * FROM unnest(p_seqs, p_nows, p_bodies);
  INSERT INTO events (job_id, body)
    SELECT j, b FROM unnest(p_event_jobs, p_event_bodies) WITH ORDINALITY AS e(j, b, n) ORDER BY n;
  INSERT INTO jobs (job_id, submission_id, traceparent)
    SELECT j, nullif(s, ''), t FROM unnest(p_job_ids, p_submissions, p_traceparents) AS r(j, s, t) ON CONFLICT DO NOTHING;
  DELETE FROM jobs WHERE job_id = ANY(p_forgotten_jobs);
  RETURN 'appended';
END $$;
`;
