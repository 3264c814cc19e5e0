/**
 * The history schema on PostgreSQL: the same tables and columns as the SQLite
 * migrations (schema.ts) after the last one, created in one go. Every number
 * is a BIGINT (times are ms since the epoch), read back as a JS number.
 * A later change to schema.ts needs its ALTER here too (IF NOT EXISTS).
 */
export const POSTGRES_SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  app_id TEXT NOT NULL, seq BIGINT NOT NULL, time_ms BIGINT NOT NULL, job_id TEXT NOT NULL, type TEXT NOT NULL, payload BYTEA NOT NULL,
  PRIMARY KEY (app_id, seq)
);
CREATE INDEX IF NOT EXISTS events_by_job ON events (app_id, job_id, seq);

CREATE TABLE IF NOT EXISTS applications (
  app_id TEXT PRIMARY KEY, first_event_ms BIGINT NOT NULL, last_event_ms BIGINT NOT NULL, event_count BIGINT NOT NULL, last_seq BIGINT NOT NULL
);
ALTER TABLE applications ADD COLUMN IF NOT EXISTS dead_letter_count BIGINT NOT NULL DEFAULT 0;

-- Events history cannot store are kept aside, so they never block the ones behind them.
CREATE TABLE IF NOT EXISTS dead_letters (
  app_id TEXT NOT NULL, seq BIGINT NOT NULL, time_ms BIGINT NOT NULL, type TEXT NOT NULL, reason TEXT NOT NULL,
  PRIMARY KEY (app_id, seq)
);

CREATE TABLE IF NOT EXISTS jobs (
  app_id TEXT NOT NULL, job_id TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '', num_stages BIGINT NOT NULL DEFAULT 0, trace_id TEXT NOT NULL DEFAULT '',
  submitted_at_ms BIGINT NOT NULL DEFAULT 0, ended_at_ms BIGINT NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'running', status_seq BIGINT NOT NULL DEFAULT 0, stats TEXT, error TEXT,
  lost_map_outputs BIGINT NOT NULL DEFAULT 0, stage_resubmissions BIGINT NOT NULL DEFAULT 0,
  resubmitted_partitions BIGINT NOT NULL DEFAULT 0, task_resubmissions BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, job_id)
);
-- The driver program's application a job is an action of ('' for a job(...) file).
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS driver_app_id TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS jobs_by_driver_app ON jobs (app_id, driver_app_id);

CREATE TABLE IF NOT EXISTS stages (
  app_id TEXT NOT NULL, job_id TEXT NOT NULL, stage_id BIGINT NOT NULL, attempt BIGINT NOT NULL,
  name TEXT NOT NULL DEFAULT '', num_tasks BIGINT NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'running', status_seq BIGINT NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',
  submitted_at_ms BIGINT NOT NULL DEFAULT 0, ended_at_ms BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, job_id, stage_id, attempt)
);

CREATE TABLE IF NOT EXISTS tasks (
  app_id TEXT NOT NULL, task_id TEXT NOT NULL, job_id TEXT NOT NULL, stage_id BIGINT NOT NULL,
  stage_attempt BIGINT NOT NULL DEFAULT 0, partition BIGINT NOT NULL, attempt BIGINT NOT NULL DEFAULT 0,
  executor_id TEXT NOT NULL DEFAULT '', node_id TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'running', state_seq BIGINT NOT NULL DEFAULT 0, error TEXT,
  duration_ms BIGINT NOT NULL DEFAULT 0, started_at_ms BIGINT NOT NULL DEFAULT 0, ended_at_ms BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, task_id)
);
CREATE INDEX IF NOT EXISTS tasks_by_stage ON tasks (app_id, job_id, stage_id, stage_attempt, state);
CREATE INDEX IF NOT EXISTS tasks_by_executor ON tasks (app_id, executor_id, state);

CREATE TABLE IF NOT EXISTS executors (
  app_id TEXT NOT NULL, executor_id TEXT NOT NULL, node_id TEXT NOT NULL DEFAULT '', host TEXT NOT NULL DEFAULT '',
  slots BIGINT NOT NULL DEFAULT 0, shuffle_address TEXT NOT NULL DEFAULT '', registered_at_ms BIGINT NOT NULL DEFAULT 0,
  info_seq BIGINT NOT NULL DEFAULT 0, alive BIGINT NOT NULL DEFAULT 1, state_seq BIGINT NOT NULL DEFAULT 0,
  removed_at_ms BIGINT NOT NULL DEFAULT 0, lost_reason TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'active', excluded_until_ms BIGINT NOT NULL DEFAULT 0, state_reason TEXT NOT NULL DEFAULT '',
  exclusion_active BIGINT NOT NULL DEFAULT 0, exclusion_until_ms BIGINT NOT NULL DEFAULT 0,
  exclusion_reason TEXT NOT NULL DEFAULT '', exclusion_seq BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, executor_id)
);
CREATE INDEX IF NOT EXISTS executors_by_node ON executors (app_id, node_id);

CREATE TABLE IF NOT EXISTS nodes (
  app_id TEXT NOT NULL, node_id TEXT NOT NULL,
  exclusion_active BIGINT NOT NULL DEFAULT 0, exclusion_until_ms BIGINT NOT NULL DEFAULT 0,
  exclusion_reason TEXT NOT NULL DEFAULT '', exclusion_seq BIGINT NOT NULL DEFAULT 0,
  decommission_phase TEXT NOT NULL DEFAULT '', decommission_reason TEXT NOT NULL DEFAULT '',
  decommission_deadline_ms BIGINT NOT NULL DEFAULT 0, decommission_seq BIGINT NOT NULL DEFAULT 0,
  decommission_started_seq BIGINT NOT NULL DEFAULT 0, decommission_reason_seq BIGINT NOT NULL DEFAULT 0,
  migrated_outputs BIGINT NOT NULL DEFAULT 0, migrated_bytes BIGINT NOT NULL DEFAULT 0,
  outputs_not_migrated BIGINT NOT NULL DEFAULT 0, migration_targets TEXT NOT NULL DEFAULT '', migration_seq BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, node_id)
);

CREATE TABLE IF NOT EXISTS failovers (
  app_id TEXT NOT NULL, seq BIGINT NOT NULL, time_ms BIGINT NOT NULL, epoch BIGINT NOT NULL,
  downtime_ms BIGINT NOT NULL, jobs_recovered BIGINT NOT NULL, leader_address TEXT NOT NULL,
  PRIMARY KEY (app_id, seq)
);

-- Login tickets already used (each logs in once), until they expire.
CREATE TABLE IF NOT EXISTS used_tickets (ticket_id TEXT PRIMARY KEY, expires_at_ms BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS used_tickets_by_expiry ON used_tickets (expires_at_ms);
`;
