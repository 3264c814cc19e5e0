import type { EventBody, PublishedEvent } from "@ballast/common/domain/events";
import type { SqliteDatabase } from "@ballast/common/sqlite";
import { createExecutorStateRefresher } from "./executor-states.js";

/**
 * Applies one newly stored event to the projection tables. Every row is first
 * ensured (keys only, defaults elsewhere), then updated: facts an event
 * carries (a task's executor, a job's name) are simply written, while mutable
 * state is written only when the event is newer than the one that last set it
 * (`*_seq` columns). The result is the same whatever order events arrive in.
 */
export type Projector = (applicationId: string, event: PublishedEvent) => void;

type Row = Record<string, string | number | null>;
type Apply<T extends EventBody["type"]> = (params: Row, body: Extract<EventBody, { type: T }>) => void;

/** `column = newer ? value : column` for each guarded column, then the guard itself. */
function guarded(guard: string, assignments: Record<string, string>): string {
  const sets = Object.entries(assignments).map(([column, value]) => `${column} = CASE WHEN @seq > ${guard} THEN ${value} ELSE ${column} END`);
  return [...sets, `${guard} = MAX(${guard}, @seq)`].join(", ");
}

/** {"active": v} -> {"exclusion_active": v}. */
function prefixed(prefix: string, assignments: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(assignments).map(([column, value]) => [prefix + column, value]));
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

export function createProjector(db: SqliteDatabase): Projector {
  const run = (sql: string) => {
    const statement = db.prepare(sql);
    return (params: Row) => void statement.run(params);
  };

  const ensureJob = run(`INSERT OR IGNORE INTO jobs (app_id, job_id) VALUES (@app, @job)`);
  const ensureStage = run(`INSERT OR IGNORE INTO stages (app_id, job_id, stage_id, attempt) VALUES (@app, @job, @stage, @attempt)`);
  const ensureTask = run(
    `INSERT OR IGNORE INTO tasks (app_id, task_id, job_id, stage_id, partition, executor_id) VALUES (@app, @task, @job, @stage, @partition, @executor)`,
  );
  const ensureExecutor = run(`INSERT OR IGNORE INTO executors (app_id, executor_id) VALUES (@app, @executor)`);
  const ensureNode = run(`INSERT OR IGNORE INTO nodes (app_id, node_id) VALUES (@app, @node)`);
  const states = createExecutorStateRefresher(db);

  const jobSubmitted = run(
    `UPDATE jobs SET name = @name, num_stages = @numStages, trace_id = @traceId, driver_app_id = @driverAppId, submitted_at_ms = @time,
       ${guarded("status_seq", { status: "'running'" })}
     WHERE app_id = @app AND job_id = @job`,
  );
  const jobEnded = run(
    `UPDATE jobs SET ${guarded("status_seq", { status: "@status", ended_at_ms: "@time", stats: "@stats", error: "@error" })}
     WHERE app_id = @app AND job_id = @job`,
  );
  const stageSubmitted = run(
    `UPDATE stages SET name = @name, num_tasks = @numTasks, submitted_at_ms = @time,
       ${guarded("status_seq", { status: "'running'" })}
     WHERE app_id = @app AND job_id = @job AND stage_id = @stage AND attempt = @attempt`,
  );
  const stageEnded = run(
    `UPDATE stages SET ${guarded("status_seq", { status: "@status", reason: "@reason", ended_at_ms: "@time" })}
     WHERE app_id = @app AND job_id = @job AND stage_id = @stage AND attempt = @attempt`,
  );
  const taskStarted = run(
    `UPDATE tasks SET stage_attempt = @stageAttempt, attempt = @attempt, executor_id = @executor, node_id = @node, started_at_ms = @time,
       ${guarded("state_seq", { state: "'running'" })}
     WHERE app_id = @app AND task_id = @task`,
  );
  const taskEnded = run(
    `UPDATE tasks SET ${guarded("state_seq", { state: "@state", error: "@error", duration_ms: "@duration", ended_at_ms: "@time" })}
     WHERE app_id = @app AND task_id = @task`,
  );
  const executorAdded = run(
    `UPDATE executors SET
       ${guarded("info_seq", { node_id: "@node", host: "@host", slots: "@slots", shuffle_address: "@shuffleAddress", registered_at_ms: "@registeredAt" })},
       ${guarded("state_seq", { alive: "1", lost_reason: "''", removed_at_ms: "0" })}
     WHERE app_id = @app AND executor_id = @executor`,
  );
  const executorRemoved = run(
    `UPDATE executors SET ${guarded("state_seq", { alive: "0", lost_reason: "@reason", removed_at_ms: "@time" })}
     WHERE app_id = @app AND executor_id = @executor`,
  );

  const countInJob = (column: string) => run(`UPDATE jobs SET ${column} = ${column} + @count WHERE app_id = @app AND job_id = @job`);
  const mapOutputsLost = countInJob("lost_map_outputs");
  const resubmissionCounts = {
    stage: countInJob("stage_resubmissions"),
    partitions: countInJob("resubmitted_partitions"),
    task: countInJob("task_resubmissions"),
  };
  const exclusion = { active: "@excluded", until_ms: "@untilMs", reason: "@reason" };
  const executorExclusion = run(
    `UPDATE executors SET ${guarded("exclusion_seq", prefixed("exclusion_", exclusion))} WHERE app_id = @app AND executor_id = @executor`,
  );
  const nodeExclusion = run(`UPDATE nodes SET ${guarded("exclusion_seq", prefixed("exclusion_", exclusion))} WHERE app_id = @app AND node_id = @node`);
  const decommissionChanged = run(
    // Later phases may leave the reason empty: it comes from the newest phase that gave one. The
    // deadline belongs to the newest request. (SET expressions all read the row as it was.)
    `UPDATE nodes SET ${guarded("decommission_seq", { decommission_phase: "@phase" })},
       decommission_reason = CASE WHEN @reason != '' AND @seq > decommission_reason_seq THEN @reason ELSE decommission_reason END,
       decommission_reason_seq = CASE WHEN @reason != '' THEN MAX(decommission_reason_seq, @seq) ELSE decommission_reason_seq END,
       decommission_deadline_ms = CASE WHEN @phase = 'requested' AND @seq > decommission_started_seq THEN @deadlineMs ELSE decommission_deadline_ms END,
       decommission_started_seq = CASE WHEN @phase = 'requested' THEN MAX(decommission_started_seq, @seq) ELSE decommission_started_seq END
     WHERE app_id = @app AND node_id = @node`,
  );
  const shuffleMigrated = run(
    `UPDATE nodes SET migrated_outputs = migrated_outputs + @outputs, migrated_bytes = migrated_bytes + @bytes,
       outputs_not_migrated = outputs_not_migrated + @notMigrated, ${guarded("migration_seq", { migration_targets: "@targets" })}
     WHERE app_id = @app AND node_id = @node`,
  );
  const schedulerFailover = run(
    `INSERT OR IGNORE INTO failovers (app_id, seq, time_ms, epoch, downtime_ms, jobs_recovered, leader_address)
     VALUES (@app, @seq, @time, @epoch, @downtimeMs, @jobsRecovered, @leaderAddress)`,
  );

  // Events that only live in the log (the UI reads them from there) have no entry.
  const appliers: { [T in EventBody["type"]]?: Apply<T> } = {
    jobSubmitted: (p, b) => jobSubmitted({ ...p, name: b.name, numStages: b.numStages, traceId: b.traceId ?? "", driverAppId: b.applicationId ?? "" }),
    jobEnded: (p, b) => jobEnded({ ...p, status: b.status, stats: json(b.stats), error: json(b.error) }),
    stageSubmitted: (p, b) => {
      const params = { ...p, stage: b.stageId, attempt: b.attempt };
      ensureStage(params);
      stageSubmitted({ ...params, name: b.name, numTasks: b.numTasks });
    },
    stageEnded: (p, b) => {
      const params = { ...p, stage: b.stageId, attempt: b.attempt };
      ensureStage(params);
      stageEnded({ ...params, status: b.status, reason: b.reason });
    },
    taskStarted: (p, b) => {
      const params = { ...p, task: b.taskId, stage: b.stageId, partition: b.partition, executor: b.executorId };
      ensureTask(params);
      taskStarted({ ...params, stageAttempt: b.stageAttempt, attempt: b.attempt, node: b.nodeId });
    },
    taskEnded: (p, b) => {
      const params = { ...p, task: b.taskId, stage: b.stageId, partition: b.partition, executor: b.executorId };
      ensureTask(params);
      taskEnded({ ...params, state: b.state, error: json(b.error), duration: b.durationMs });
    },
    executorAdded: (p, b) => {
      const e = b.executor;
      const params = { ...p, executor: e.executorId };
      ensureExecutor(params);
      executorAdded({
        ...params,
        node: e.nodeId,
        host: e.host,
        slots: e.slots,
        shuffleAddress: e.shuffleAddress,
        registeredAt: e.registeredAtMs || (p.time as number),
      });
      states.executor(p.app as string, e.executorId);
    },
    executorRemoved: (p, b) => {
      const params = { ...p, executor: b.executorId };
      ensureExecutor(params);
      executorRemoved({ ...params, reason: b.reason });
      states.executor(p.app as string, b.executorId);
    },
    mapOutputsLost: (p, b) => mapOutputsLost({ ...p, count: b.mapIndexes.length }),
    stageResubmitted: (p, b) => {
      resubmissionCounts.stage({ ...p, count: 1 });
      resubmissionCounts.partitions({ ...p, count: b.partitions.length });
    },
    taskResubmitted: (p) => resubmissionCounts.task({ ...p, count: 1 }),
    exclusionChanged: (p, b) => {
      if (b.stageScoped) return; // keeps one stage away only: the log shows it, the state does not change
      const params = { ...p, excluded: b.excluded ? 1 : 0, untilMs: b.excluded ? b.untilMs : 0, reason: b.reason };
      if (b.scope === "executor") {
        ensureExecutor({ ...params, executor: b.id });
        executorExclusion({ ...params, executor: b.id });
        states.executor(p.app as string, b.id);
      } else {
        ensureNode({ ...params, node: b.id });
        nodeExclusion({ ...params, node: b.id });
        states.node(p.app as string, b.id);
      }
    },
    decommissionChanged: (p, b) => {
      const params = { ...p, node: b.nodeId };
      ensureNode(params);
      decommissionChanged({ ...params, phase: b.phase, reason: b.reason, deadlineMs: b.deadlineMs });
      states.node(p.app as string, b.nodeId);
    },
    shuffleMigrated: (p, b) => {
      const params = { ...p, node: b.nodeId };
      ensureNode(params);
      shuffleMigrated({ ...params, outputs: b.outputs, bytes: b.bytes, notMigrated: b.outputsNotMigrated, targets: b.targetAddresses });
    },
    schedulerFailover: (p, b) => schedulerFailover({ ...p, epoch: b.epoch, downtimeMs: b.downtimeMs, jobsRecovered: b.jobsRecovered, leaderAddress: b.leaderAddress }),
  };

  return (applicationId, event) => {
    const params: Row = { app: applicationId, job: event.jobId, seq: event.seq, time: event.timeMs };
    if (event.jobId !== "") ensureJob(params);
    const apply = appliers[event.body.type] as Apply<EventBody["type"]> | undefined;
    apply?.(params, event.body);
  };
}
