import type { ErrorView, PublishedEvent } from "@ballast/common/domain/events";
import type { JobStatus, ResourceState, StageStatus } from "@ballast/common/domain/states";
import { emptyStats, type JobStats } from "@ballast/common/domain/stats";
import type { TaskState } from "@ballast/common/domain/tasks";
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
import { createProjector } from "./projections.js";
import { firstRow, type Row, type SqlDatabase } from "./sql.js";
import type { DeadLetter, EventCodec, HistoryStore, PublishResult, RetentionPolicy, TicketClaim } from "./store.js";

const parseJson = <T>(text: string | null): T | undefined => (text === null ? undefined : (JSON.parse(text) as T));

const APPLICATION_COLUMNS = `a.app_id, a.first_event_ms, a.last_event_ms, a.event_count, a.last_seq, a.dead_letter_count,
  (SELECT COUNT(*) FROM jobs j WHERE j.app_id = a.app_id) AS job_count`;

const STAGE_COLUMNS = `s.*, (SELECT COUNT(*) FROM tasks t WHERE t.app_id = s.app_id AND t.job_id = s.job_id
  AND t.stage_id = s.stage_id AND t.stage_attempt = s.attempt AND t.state = 'succeeded') AS completed_tasks`;

const INSERT_EVENT = `INSERT INTO events (app_id, seq, time_ms, job_id, type, payload) VALUES (@app, @seq, @time, @job, @type, @payload)
  ON CONFLICT DO NOTHING`;
// Once per batch, with what its newly stored events add up to.
const COUNT_IN_APPLICATION = `INSERT INTO applications (app_id, first_event_ms, last_event_ms, event_count, last_seq) VALUES (@app, @first, @last, @count, @seq)
  ON CONFLICT (app_id) DO UPDATE SET first_event_ms = LEAST(applications.first_event_ms, @first), last_event_ms = GREATEST(applications.last_event_ms, @last),
    event_count = applications.event_count + @count, last_seq = GREATEST(applications.last_seq, @seq)`;
const INSERT_DEAD_LETTER = `INSERT INTO dead_letters (app_id, seq, time_ms, type, reason) VALUES (@app, @seq, @time, @type, @reason) ON CONFLICT DO NOTHING`;
// A dead letter acknowledges its seq (last_seq) without counting as an event.
const COUNT_DEAD_LETTER = `INSERT INTO applications (app_id, first_event_ms, last_event_ms, event_count, last_seq, dead_letter_count) VALUES (@app, @time, @time, 0, @seq, 1)
  ON CONFLICT (app_id) DO UPDATE SET last_seq = GREATEST(applications.last_seq, @seq), dead_letter_count = applications.dead_letter_count + 1`;
// Inserts nothing when the ticket is recorded already (two history processes racing on one
// PostgreSQL: the second waits for the first's row, then finds it) or the table is full.
const CLAIM_TICKET = `INSERT INTO used_tickets (ticket_id, expires_at_ms) SELECT CAST(@id AS TEXT), CAST(@expires AS BIGINT)
  WHERE (SELECT COUNT(*) FROM used_tickets) < @capacity ON CONFLICT DO NOTHING`;

/** Adds a newly stored event to its batch's COUNT_IN_APPLICATION parameters. */
function countEvent(counted: { first: number; last: number; count: number; seq: number }, event: PublishedEvent): void {
  counted.first = Math.min(counted.first, event.timeMs);
  counted.last = Math.max(counted.last, event.timeMs);
  counted.seq = Math.max(counted.seq, event.seq);
  counted.count++;
}

/**
 * The history store over any SqlDatabase: the log, its projections and the
 * queries the API serves. The backends (sqlite-store.ts, postgres-store.ts)
 * only open the database and bind statements.
 */
export class SqlHistoryStore implements HistoryStore {
  private readonly project = createProjector();

  constructor(
    private readonly db: SqlDatabase,
    private readonly codec: EventCodec,
  ) {}

  publish(applicationId: string, events: PublishedEvent[], deadLetters: DeadLetter[] = []): Promise<PublishResult> {
    return this.db.transaction(async (tx) => {
      for (const dead of deadLetters) {
        const params = { app: applicationId, seq: dead.seq, time: Number.isSafeInteger(dead.timeMs) ? dead.timeMs : 0, type: dead.type, reason: dead.reason };
        if ((await tx.run(INSERT_DEAD_LETTER, params)) > 0) await tx.run(COUNT_DEAD_LETTER, params);
      }
      const counted = { app: applicationId, first: Infinity, last: -Infinity, count: 0, seq: 0 };
      const jobsEnsured = new Set<string>();
      for (const event of events) {
        const payload = this.codec.encode(event);
        const params = { app: applicationId, seq: event.seq, time: event.timeMs, job: event.jobId, type: event.body.type, payload };
        if ((await tx.run(INSERT_EVENT, params)) === 0) continue; // already stored: its projections are already applied
        countEvent(counted, event);
        await this.project(tx, applicationId, event, jobsEnsured);
      }
      if (counted.count > 0) await tx.run(COUNT_IN_APPLICATION, counted);
      const inserted = counted.count;
      const row = await firstRow(tx.all(`SELECT last_seq FROM applications WHERE app_id = @app`, { app: applicationId }));
      return { ackedSeq: (row?.last_seq as number | undefined) ?? 0, inserted };
    });
  }

  async listDeadLetters(applicationId: string): Promise<DeadLetter[]> {
    const rows = await this.db.all(`SELECT seq, time_ms, type, reason FROM dead_letters WHERE app_id = @app ORDER BY seq`, { app: applicationId });
    return rows.map((row) => ({ seq: row.seq, timeMs: row.time_ms, type: row.type, reason: row.reason }));
  }

  async listApplications(): Promise<ApplicationSummary[]> {
    const rows = await this.db.all(`SELECT ${APPLICATION_COLUMNS} FROM applications a ORDER BY a.first_event_ms DESC, a.app_id`);
    return rows.map(toApplication);
  }

  async getApplication(applicationId: string): Promise<ApplicationSummary | undefined> {
    const row = await firstRow(this.db.all(`SELECT ${APPLICATION_COLUMNS} FROM applications a WHERE a.app_id = @app`, { app: applicationId }));
    return row && toApplication(row);
  }

  async listJobs(applicationId: string, driverApplicationId = ""): Promise<JobSummary[]> {
    const byDriver = driverApplicationId ? "AND driver_app_id = @driver" : "";
    const rows = await this.db.all(`SELECT * FROM jobs WHERE app_id = @app ${byDriver} ORDER BY submitted_at_ms, job_id`, {
      app: applicationId,
      ...(driverApplicationId ? { driver: driverApplicationId } : {}),
    });
    return rows.map(toJob);
  }

  async getJob(applicationId: string, jobId: string): Promise<JobSummary | undefined> {
    const row = await firstRow(this.db.all(`SELECT * FROM jobs WHERE app_id = @app AND job_id = @job`, { app: applicationId, job: jobId }));
    return row && toJob(row);
  }

  async listStages(applicationId: string, jobId: string): Promise<StageSummary[]> {
    const rows = await this.db.all(`SELECT ${STAGE_COLUMNS} FROM stages s WHERE s.app_id = @app AND s.job_id = @job ORDER BY s.stage_id, s.attempt`, {
      app: applicationId,
      job: jobId,
    });
    return rows.map(toStage);
  }

  async listTasks(applicationId: string, jobId: string): Promise<TaskSummary[]> {
    const rows = await this.db.all(`SELECT * FROM tasks WHERE app_id = @app AND job_id = @job ORDER BY stage_id, stage_attempt, partition, attempt, task_id`, {
      app: applicationId,
      job: jobId,
    });
    return rows.map(toTask);
  }

  async listExecutors(applicationId: string): Promise<ExecutorSummary[]> {
    const rows = await this.db.all(
      `SELECT e.*, CASE WHEN e.alive = 1 THEN (SELECT COUNT(*) FROM tasks t WHERE t.app_id = e.app_id AND t.executor_id = e.executor_id
         AND t.state = 'running') ELSE 0 END AS running_tasks
       FROM executors e WHERE e.app_id = @app ORDER BY e.registered_at_ms, e.executor_id`,
      { app: applicationId },
    );
    return rows.map(toExecutor);
  }

  async listNodes(applicationId: string): Promise<NodeSummary[]> {
    const app = { app: applicationId };
    const ids = await this.db.all(
      `SELECT node_id FROM executors WHERE app_id = @app AND node_id != '' UNION SELECT node_id FROM nodes WHERE app_id = @app ORDER BY node_id`,
      app,
    );
    const nodeRows = new Map((await this.db.all(`SELECT * FROM nodes WHERE app_id = @app`, app)).map((r) => [r.node_id, r]));
    const executors = await this.listExecutors(applicationId);
    return ids.map(({ node_id: nodeId }) => toNode(nodeId, nodeRows.get(nodeId) ?? {}, executors.filter((e) => e.nodeId === nodeId)));
  }

  async listFailovers(applicationId: string): Promise<FailoverSummary[]> {
    const rows = await this.db.all(`SELECT * FROM failovers WHERE app_id = @app ORDER BY seq`, { app: applicationId });
    return rows.map((row) => ({
      seq: row.seq,
      timeMs: row.time_ms,
      epoch: row.epoch,
      downtimeMs: row.downtime_ms,
      jobsRecovered: row.jobs_recovered,
      leaderAddress: row.leader_address,
    }));
  }

  async prune(policy: RetentionPolicy, nowMs: number): Promise<number> {
    // Ended before 0 (no age bound) matches nothing; no count bound keeps any number.
    const before = policy.keepForMs > 0 ? nowMs - policy.keepForMs : 0;
    const keep = policy.keepJobs > 0 ? policy.keepJobs : Number.MAX_SAFE_INTEGER;
    // Per application, ended jobs newest first: beyond `keep`, or ended before the cut-off, they go.
    const doomed = await this.db.all(
      `SELECT app_id, job_id FROM (SELECT app_id, job_id, ended_at_ms,
         ROW_NUMBER() OVER (PARTITION BY app_id ORDER BY ended_at_ms DESC, job_id DESC) AS job_rank
       FROM jobs WHERE status != 'running') ranked WHERE job_rank > @keep OR ended_at_ms < @before`,
      { keep, before },
    );
    await this.db.transaction(async (tx) => {
      for (const { app_id: app, job_id: job } of doomed) {
        const events = await tx.run(`DELETE FROM events WHERE app_id = @app AND job_id = @job`, { app, job });
        await tx.run(`UPDATE applications SET event_count = event_count - @events WHERE app_id = @app`, { app, events });
        for (const table of ["stages", "tasks", "jobs"]) await tx.run(`DELETE FROM ${table} WHERE app_id = @app AND job_id = @job`, { app, job });
      }
    });
    return doomed.length;
  }

  claimTicket(id: string, expiresAtMs: number, nowMs: number, capacity: number): Promise<TicketClaim> {
    return this.db.transaction(async (tx) => {
      await tx.run(`DELETE FROM used_tickets WHERE expires_at_ms <= @now`, { now: nowMs });
      if ((await tx.run(CLAIM_TICKET, { id, expires: expiresAtMs, capacity })) > 0) return "first use";
      const recorded = await firstRow(tx.all(`SELECT 1 AS recorded FROM used_tickets WHERE ticket_id = @id`, { id }));
      return recorded ? "used before" : "full";
    });
  }

  async listEvents(applicationId: string, query: EventQuery): Promise<PublishedEvent[]> {
    const byJob = query.jobId !== "";
    const rows = await this.db.all(
      `SELECT payload FROM events WHERE app_id = @app AND seq > @after ${byJob ? "AND job_id = @job" : ""} ORDER BY seq LIMIT @limit`,
      { app: applicationId, after: query.afterSeq, limit: query.limit, ...(byJob ? { job: query.jobId } : {}) },
    );
    return rows.map((row) => this.codec.decode(row.payload));
  }

  close(): Promise<void> {
    return this.db.close();
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
    deadLetterCount: row.dead_letter_count,
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
    driverApplicationId: row.driver_app_id,
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
