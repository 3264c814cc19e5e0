import { join } from "node:path";
import type { Statement } from "better-sqlite3";
import type { ErrorView, PublishedEvent } from "@ballast/common/domain/events";
import type { JobStatus, ResourceState, StageStatus } from "@ballast/common/domain/states";
import { emptyStats, type JobStats } from "@ballast/common/domain/stats";
import type { TaskState } from "@ballast/common/domain/tasks";
import { openDatabase, type SqliteDatabase } from "@ballast/common/sqlite";
import { resolveNodeState } from "../core/resources.js";
import type {
  ApplicationSummary,
  EventQuery,
  ExecutorSummary,
  FailoverSummary,
  JobSummary,
  NodeSummary,
  StageSummary,
  TaskSummary,
} from "../core/summaries.js";
import { nodeFactsFromRow } from "./executor-states.js";
import { createProjector, type Projector } from "./projections.js";
import { MIGRATIONS } from "./schema.js";
import type { EventCodec, HistoryStore, PublishResult, RetentionPolicy } from "./store.js";

type Row = Record<string, any>;

const parseJson = <T>(text: string | null): T | undefined => (text === null ? undefined : (JSON.parse(text) as T));

const APPLICATION_COLUMNS = `a.app_id, a.first_event_ms, a.last_event_ms, a.event_count, a.last_seq,
  (SELECT COUNT(*) FROM jobs j WHERE j.app_id = a.app_id) AS job_count`;

const STAGE_COLUMNS = `s.*, (SELECT COUNT(*) FROM tasks t WHERE t.app_id = s.app_id AND t.job_id = s.job_id
  AND t.stage_id = s.stage_id AND t.stage_attempt = s.attempt AND t.state = 'succeeded') AS completed_tasks`;

/** The default HistoryStore: one SQLite file, DATA_DIR/history.sqlite. */
export class SqliteHistoryStore implements HistoryStore {
  private readonly db: SqliteDatabase;
  private readonly project: Projector;
  private readonly publishInTransaction: (applicationId: string, events: PublishedEvent[]) => PublishResult;
  private readonly statements = new Map<string, Statement>();

  /** `path` is a file or ":memory:". */
  constructor(
    path: string,
    private readonly codec: EventCodec,
  ) {
    this.db = openDatabase(path, MIGRATIONS);
    this.project = createProjector(this.db);
    const insertEvent = this.db.prepare(
      `INSERT OR IGNORE INTO events (app_id, seq, time_ms, job_id, type, payload) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const countInApplication = this.db.prepare(
      `INSERT INTO applications (app_id, first_event_ms, last_event_ms, event_count, last_seq) VALUES (@app, @time, @time, 1, @seq)
       ON CONFLICT (app_id) DO UPDATE SET first_event_ms = MIN(first_event_ms, @time), last_event_ms = MAX(last_event_ms, @time),
         event_count = event_count + 1, last_seq = MAX(last_seq, @seq)`,
    );
    const lastSeq = this.sql(`SELECT last_seq FROM applications WHERE app_id = ?`).pluck();
    this.publishInTransaction = this.db.transaction((applicationId: string, events: PublishedEvent[]) => {
      let inserted = 0;
      for (const event of events) {
        const payload = this.codec.encode(event);
        const stored = insertEvent.run(applicationId, event.seq, event.timeMs, event.jobId, event.body.type, payload);
        if (stored.changes === 0) continue; // already stored: its projections are already applied
        inserted++;
        countInApplication.run({ app: applicationId, time: event.timeMs, seq: event.seq });
        this.project(applicationId, event);
      }
      return { ackedSeq: (lastSeq.get(applicationId) as number | undefined) ?? 0, inserted };
    });
  }

  /** Opens (creating if needed) DATA_DIR/history.sqlite. */
  static inDirectory(dataDir: string, codec: EventCodec): SqliteHistoryStore {
    return new SqliteHistoryStore(join(dataDir, "history.sqlite"), codec);
  }

  /** A prepared statement, prepared once per SQL text. */
  private sql(text: string): Statement {
    let statement = this.statements.get(text);
    if (!statement) this.statements.set(text, (statement = this.db.prepare(text)));
    return statement;
  }

  async publish(applicationId: string, events: PublishedEvent[]): Promise<PublishResult> {
    return this.publishInTransaction(applicationId, events);
  }

  async listApplications(): Promise<ApplicationSummary[]> {
    const rows = this.sql(`SELECT ${APPLICATION_COLUMNS} FROM applications a ORDER BY a.first_event_ms DESC, a.app_id`).all() as Row[];
    return rows.map(toApplication);
  }

  async getApplication(applicationId: string): Promise<ApplicationSummary | undefined> {
    const row = this.sql(`SELECT ${APPLICATION_COLUMNS} FROM applications a WHERE a.app_id = ?`).get(applicationId) as Row | undefined;
    return row && toApplication(row);
  }

  async listJobs(applicationId: string): Promise<JobSummary[]> {
    const rows = this.sql(`SELECT * FROM jobs WHERE app_id = ? ORDER BY submitted_at_ms, job_id`).all(applicationId) as Row[];
    return rows.map(toJob);
  }

  async getJob(applicationId: string, jobId: string): Promise<JobSummary | undefined> {
    const row = this.sql(`SELECT * FROM jobs WHERE app_id = ? AND job_id = ?`).get(applicationId, jobId) as Row | undefined;
    return row && toJob(row);
  }

  async listStages(applicationId: string, jobId: string): Promise<StageSummary[]> {
    const rows = this
      .sql(
        `SELECT ${STAGE_COLUMNS} FROM stages s WHERE s.app_id = ? AND s.job_id = ? ORDER BY s.stage_id, s.attempt`,
      )
      .all(applicationId, jobId) as Row[];
    return rows.map(toStage);
  }

  async listTasks(applicationId: string, jobId: string): Promise<TaskSummary[]> {
    const rows = this
      .sql(`SELECT * FROM tasks WHERE app_id = ? AND job_id = ? ORDER BY stage_id, stage_attempt, partition, attempt, task_id`)
      .all(applicationId, jobId) as Row[];
    return rows.map(toTask);
  }

  async listExecutors(applicationId: string): Promise<ExecutorSummary[]> {
    const rows = this
      .sql(
        `SELECT e.*, CASE WHEN e.alive THEN (SELECT COUNT(*) FROM tasks t WHERE t.app_id = e.app_id AND t.executor_id = e.executor_id
           AND t.state = 'running') ELSE 0 END AS running_tasks
         FROM executors e WHERE e.app_id = ? ORDER BY e.registered_at_ms, e.executor_id`,
      )
      .all(applicationId) as Row[];
    return rows.map(toExecutor);
  }

  async listNodes(applicationId: string): Promise<NodeSummary[]> {
    const rows = this
      .sql(
        `SELECT node_id FROM executors WHERE app_id = @app AND node_id != '' UNION SELECT node_id FROM nodes WHERE app_id = @app ORDER BY node_id`,
      )
      .pluck()
      .all({ app: applicationId }) as string[];
    const nodeRows = new Map((this.sql(`SELECT * FROM nodes WHERE app_id = ?`).all(applicationId) as Row[]).map((r) => [r.node_id, r]));
    const executors = await this.listExecutors(applicationId);
    return rows.map((nodeId) => toNode(nodeId, nodeRows.get(nodeId) ?? {}, executors.filter((e) => e.nodeId === nodeId)));
  }

  async listFailovers(applicationId: string): Promise<FailoverSummary[]> {
    const rows = this.sql(`SELECT * FROM failovers WHERE app_id = ? ORDER BY seq`).all(applicationId) as Row[];
    return rows.map((row) => ({
      seq: row.seq,
      timeMs: row.time_ms,
      epoch: row.epoch,
      downtimeMs: row.downtime_ms,
      jobsRecovered: row.jobs_recovered,
      leaderAddress: row.leader_address,
    }));
  }

  async listEvents(applicationId: string, query: EventQuery): Promise<PublishedEvent[]> {
    const byJob = query.jobId !== "";
    const rows = this
      .sql(
        `SELECT payload FROM events WHERE app_id = @app AND seq > @after ${byJob ? "AND job_id = @job" : ""} ORDER BY seq LIMIT @limit`,
      )
      .pluck()
      .all({ app: applicationId, after: query.afterSeq, limit: query.limit, ...(byJob ? { job: query.jobId } : {}) }) as Buffer[];
    return rows.map((payload) => this.codec.decode(payload));
  }

  async prune(policy: RetentionPolicy, nowMs: number): Promise<number> {
    const endedBefore = policy.keepForMs > 0 ? nowMs - policy.keepForMs : -Infinity;
    const keep = policy.keepJobs > 0 ? policy.keepJobs : Number.MAX_SAFE_INTEGER;
    // Per application, ended jobs newest first: beyond `keep`, or ended before the cut-off, they go.
    const doomed = this.sql(
      `SELECT app_id, job_id FROM (SELECT app_id, job_id, ended_at_ms,
         ROW_NUMBER() OVER (PARTITION BY app_id ORDER BY ended_at_ms DESC, job_id DESC) AS rank
       FROM jobs WHERE status != 'running') WHERE rank > ? OR ended_at_ms < ?`,
    ).all(keep, endedBefore) as Array<{ app_id: string; job_id: string }>;
    this.db.transaction(() => {
      for (const { app_id: app, job_id: job } of doomed) {
        const events = this.sql("DELETE FROM events WHERE app_id = ? AND job_id = ?").run(app, job).changes;
        this.sql("UPDATE applications SET event_count = event_count - ? WHERE app_id = ?").run(events, app);
        for (const table of ["stages", "tasks", "jobs"]) this.sql(`DELETE FROM ${table} WHERE app_id = ? AND job_id = ?`).run(app, job);
      }
    })();
    return doomed.length;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toApplication(row: Row): ApplicationSummary {
  return {
    applicationId: row.app_id,
    firstEventMs: row.first_event_ms,
    lastEventMs: row.last_event_ms,
    eventCount: row.event_count,
    jobCount: row.job_count,
    lastSeq: row.last_seq,
  };
}

function toJob(row: Row): JobSummary {
  return {
    jobId: row.job_id,
    name: row.name,
    status: row.status as JobStatus,
    submittedAtMs: row.submitted_at_ms,
    endedAtMs: row.ended_at_ms,
    numStages: row.num_stages,
    // Stats recorded before a counter existed read it as zero.
    stats: { ...emptyStats(), ...parseJson<JobStats>(row.stats) },
    recovery: {
      lostMapOutputs: row.lost_map_outputs,
      stageResubmissions: row.stage_resubmissions,
      resubmittedPartitions: row.resubmitted_partitions,
      taskResubmissions: row.task_resubmissions,
    },
    error: parseJson<ErrorView>(row.error),
    traceId: row.trace_id,
  };
}

function toStage(row: Row): StageSummary {
  return {
    jobId: row.job_id,
    stageId: row.stage_id,
    attempt: row.attempt,
    name: row.name,
    status: row.status as StageStatus,
    numTasks: row.num_tasks,
    completedTasks: row.completed_tasks,
    reason: row.reason,
    submittedAtMs: row.submitted_at_ms,
    endedAtMs: row.ended_at_ms,
  };
}

function toTask(row: Row): TaskSummary {
  return {
    taskId: row.task_id,
    jobId: row.job_id,
    stageId: row.stage_id,
    stageAttempt: row.stage_attempt,
    partition: row.partition,
    attempt: row.attempt,
    executorId: row.executor_id,
    nodeId: row.node_id,
    state: row.state as TaskState,
    error: parseJson<ErrorView>(row.error),
    durationMs: row.duration_ms,
    startedAtMs: row.started_at_ms,
    endedAtMs: row.ended_at_ms,
  };
}

function toExecutor(row: Row): ExecutorSummary {
  return {
    executorId: row.executor_id,
    nodeId: row.node_id,
    host: row.host,
    slots: row.slots,
    shuffleAddress: row.shuffle_address,
    registeredAtMs: row.registered_at_ms,
    alive: row.alive === 1,
    runningTasks: row.running_tasks,
    removedAtMs: row.removed_at_ms,
    lostReason: row.lost_reason,
    state: row.state as ResourceState,
    excludedUntilMs: row.excluded_until_ms,
    stateReason: row.state_reason,
  };
}

/** `row` is the node's own row, or {} when only its executors name it. */
function toNode(nodeId: string, row: Row, executors: ExecutorSummary[]): NodeSummary {
  const { state, reason, excludedUntilMs } = resolveNodeState(nodeFactsFromRow(row), executors);
  return {
    nodeId,
    state,
    reason,
    excludedUntilMs,
    decommissionPhase: row.decommission_phase ?? "",
    decommissionDeadlineMs: row.decommission_deadline_ms ?? 0,
    migratedOutputs: row.migrated_outputs ?? 0,
    migratedBytes: row.migrated_bytes ?? 0,
    outputsNotMigrated: row.outputs_not_migrated ?? 0,
    migrationTargets: row.migration_targets ?? "",
    shuffleAddress: executors.find((e) => e.shuffleAddress !== "")?.shuffleAddress ?? "",
    executorIds: executors.map((e) => e.executorId),
    aliveExecutors: executors.filter((e) => e.alive).length,
  };
}
