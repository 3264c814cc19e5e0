/**
 * SQLite schema of the history store, as user_version migrations. `events` is
 * the log (payload = events.proto bytes); the other tables are projections
 * kept in the same transaction as the insert. Mutable columns (status, state,
 * alive) carry the seq of the event that last set them, so a batch arriving
 * late (a retry) can never overwrite a newer state.
 */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE events (
    app_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    job_id  TEXT NOT NULL,
    type    TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (app_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX events_by_job ON events (app_id, job_id, seq);

  CREATE TABLE applications (
    app_id         TEXT PRIMARY KEY,
    first_event_ms INTEGER NOT NULL,
    last_event_ms  INTEGER NOT NULL,
    event_count    INTEGER NOT NULL,
    last_seq       INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE jobs (
    app_id          TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    num_stages      INTEGER NOT NULL DEFAULT 0,
    trace_id        TEXT NOT NULL DEFAULT '',
    submitted_at_ms INTEGER NOT NULL DEFAULT 0,
    ended_at_ms     INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'running',
    status_seq      INTEGER NOT NULL DEFAULT 0,
    stats           TEXT,
    error           TEXT,
    PRIMARY KEY (app_id, job_id)
  ) WITHOUT ROWID;

  CREATE TABLE stages (
    app_id          TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    stage_id        INTEGER NOT NULL,
    attempt         INTEGER NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    num_tasks       INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'running',
    status_seq      INTEGER NOT NULL DEFAULT 0,
    reason          TEXT NOT NULL DEFAULT '',
    submitted_at_ms INTEGER NOT NULL DEFAULT 0,
    ended_at_ms     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, job_id, stage_id, attempt)
  ) WITHOUT ROWID;

  CREATE TABLE tasks (
    app_id        TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    job_id        TEXT NOT NULL,
    stage_id      INTEGER NOT NULL,
    stage_attempt INTEGER NOT NULL DEFAULT 0,
    partition     INTEGER NOT NULL,
    attempt       INTEGER NOT NULL DEFAULT 0,
    executor_id   TEXT NOT NULL DEFAULT '',
    node_id       TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT 'running',
    state_seq     INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    started_at_ms INTEGER NOT NULL DEFAULT 0,
    ended_at_ms   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, task_id)
  ) WITHOUT ROWID;
  CREATE INDEX tasks_by_stage ON tasks (app_id, job_id, stage_id, stage_attempt, state);
  CREATE INDEX tasks_by_executor ON tasks (app_id, executor_id, state);

  CREATE TABLE executors (
    app_id           TEXT NOT NULL,
    executor_id      TEXT NOT NULL,
    node_id          TEXT NOT NULL DEFAULT '',
    host             TEXT NOT NULL DEFAULT '',
    slots            INTEGER NOT NULL DEFAULT 0,
    shuffle_address  TEXT NOT NULL DEFAULT '',
    registered_at_ms INTEGER NOT NULL DEFAULT 0,
    info_seq         INTEGER NOT NULL DEFAULT 0,
    alive            INTEGER NOT NULL DEFAULT 1,
    state_seq        INTEGER NOT NULL DEFAULT 0,
    removed_at_ms    INTEGER NOT NULL DEFAULT 0,
    lost_reason      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (app_id, executor_id)
  ) WITHOUT ROWID;
  `,
  // Round 2: exclusion, decommission, migration and failover. An executor's
  // state columns are derived (core/resources.ts) from its own exclusion facts,
  // its node's row and its liveness, and rewritten whenever one of those changes.
  `
  ALTER TABLE executors ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
  ALTER TABLE executors ADD COLUMN excluded_until_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE executors ADD COLUMN state_reason TEXT NOT NULL DEFAULT '';
  ALTER TABLE executors ADD COLUMN exclusion_active INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE executors ADD COLUMN exclusion_until_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE executors ADD COLUMN exclusion_reason TEXT NOT NULL DEFAULT '';
  ALTER TABLE executors ADD COLUMN exclusion_seq INTEGER NOT NULL DEFAULT 0;
  UPDATE executors SET state = 'lost', state_reason = lost_reason WHERE alive = 0;
  CREATE INDEX executors_by_node ON executors (app_id, node_id);

  CREATE TABLE nodes (
    app_id                   TEXT NOT NULL,
    node_id                  TEXT NOT NULL,
    exclusion_active         INTEGER NOT NULL DEFAULT 0,
    exclusion_until_ms       INTEGER NOT NULL DEFAULT 0,
    exclusion_reason         TEXT NOT NULL DEFAULT '',
    exclusion_seq            INTEGER NOT NULL DEFAULT 0,
    decommission_phase       TEXT NOT NULL DEFAULT '',
    decommission_reason      TEXT NOT NULL DEFAULT '',
    decommission_deadline_ms INTEGER NOT NULL DEFAULT 0,
    decommission_seq         INTEGER NOT NULL DEFAULT 0,
    decommission_started_seq INTEGER NOT NULL DEFAULT 0,
    decommission_reason_seq  INTEGER NOT NULL DEFAULT 0,
    migrated_outputs         INTEGER NOT NULL DEFAULT 0,
    migrated_bytes           INTEGER NOT NULL DEFAULT 0,
    outputs_not_migrated     INTEGER NOT NULL DEFAULT 0,
    migration_targets        TEXT NOT NULL DEFAULT '',
    migration_seq            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, node_id)
  ) WITHOUT ROWID;

  CREATE TABLE failovers (
    app_id         TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    time_ms        INTEGER NOT NULL,
    epoch          INTEGER NOT NULL,
    downtime_ms    INTEGER NOT NULL,
    jobs_recovered INTEGER NOT NULL,
    leader_address TEXT NOT NULL,
    PRIMARY KEY (app_id, seq)
  ) WITHOUT ROWID;

  -- Sums are order-independent, and each event is applied once (the log dedupes by seq).
  ALTER TABLE jobs ADD COLUMN lost_map_outputs INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN stage_resubmissions INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN resubmitted_partitions INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN task_resubmissions INTEGER NOT NULL DEFAULT 0;
  `,
  // Round 3: events history cannot store are kept aside, so they never block the ones behind them.
  `
  CREATE TABLE dead_letters (
    app_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    type    TEXT NOT NULL,
    reason  TEXT NOT NULL,
    PRIMARY KEY (app_id, seq)
  ) WITHOUT ROWID;
  ALTER TABLE applications ADD COLUMN dead_letter_count INTEGER NOT NULL DEFAULT 0;
  `,
  // Round 4: the driver program's application a job is an action of ('' for a job(...) file).
  `
  ALTER TABLE jobs ADD COLUMN driver_app_id TEXT NOT NULL DEFAULT '';
  CREATE INDEX jobs_by_driver_app ON jobs (app_id, driver_app_id);
  `,
  // Round 5: login tickets already used (each logs in once), until they expire.
  `
  CREATE TABLE used_tickets (
    ticket_id     TEXT PRIMARY KEY,
    expires_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX used_tickets_by_expiry ON used_tickets (expires_at_ms);
  `,
];
