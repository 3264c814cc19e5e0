import type { EventBody, PublishedEvent } from "@ballast/common/domain/events";
import { createExecutorStateRefresher } from "./executor-states.js";
import type { SqlSession } from "./sql.js";

/**
 * Applies one newly stored event to the projection tables. Every row is first
 * ensured (keys only, defaults elsewhere), then updated: facts an event
 * carries (a task's executor, a job's name) are simply written, while mutable
 * state is written only when the event is newer than the one that last set it
 * (`*_seq` columns). The result is the same whatever order events arrive in.
 * Runs inside the transaction that stored the event (`tx`). `jobsEnsured` lives for one
 * transaction: a job's row is ensured once per batch, not once per event (most events are a task's).
 */
export type Projector = (tx: SqlSession, applicationId: string, event: PublishedEvent, jobsEnsured: Set<string>) => Promise<void>;

type Row = Record<string, string | number | null>;
type Statement = (tx: SqlSession, params: Row) => Promise<number>;
type Apply<T extends EventBody["type"]> = (tx: SqlSession, params: Row, body: Extract<EventBody, { type: T }>) => Promise<unknown>;

/** `column = newer ? value : column` for each guarded column, then the guard itself. */
function guarded(guard: string, assignments: Record<string, string>): string {
  const sets = Object.entries(assignments).map(([column, value]) => `${column} = CASE WHEN @seq > ${guard} THEN ${value} ELSE ${column} END`);
  return [...sets, `${guard} = GREATEST(${guard}, @seq)`].join(", ");
}

/** {"active": v} -> {"exclusion_active": v}. */
function prefixed(prefix: string, assignments: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(assignments).map(([column, value]) => [prefix + column, value]));
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

export function createProjector(): Projector {
  const run =
    (sql: string): Statement =>
    (tx, params) =>
      tx.run(sql, params);

  const ensureJob = run(`INSERT INTO jobs (app_id, job_id) VALUES (@app, @job) ON CONFLICT DO NOTHING`);
  const ensureStage = run(`INSERT INTO stages (app_id, job_id, stage_id, attempt) VALUES (@app, @job, @stage, @attempt) ON CONFLICT DO NOTHING`);
  const ensureTask = run(
    `INSERT INTO tasks (app_id, task_id, job_id, stage_id, partition, executor_id) VALUES (@app, @task, @job, @stage, @partition, @executor) ON CONFLICT DO NOTHING`,
  );
  const ensureExecutor = run(`INSERT INTO executors (app_id, executor_id) VALUES (@app, @executor) ON CONFLICT DO NOTHING`);
  const ensureNode = run(`INSERT INTO nodes (app_id, node_id) VALUES (@app, @node) ON CONFLICT DO NOTHING`);
  const states = createExecutorStateRefresher();

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
  // A task's events are most of the log. A task's row is new at its start and there at its end
  // (events come in order but for retries): each tries the one statement that usually does it all.
  const insertStartedTask = run(
    `INSERT INTO tasks (app_id, task_id, job_id, stage_id, partition, executor_id, stage_attempt, attempt, node_id, started_at_ms, state_seq)
     VALUES (@app, @task, @job, @stage, @partition, @executor, @stageAttempt, @attempt, @node, @time, @seq) ON CONFLICT DO NOTHING`,
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
       decommission_reason_seq = CASE WHEN @reason != '' THEN GREATEST(decommission_reason_seq, @seq) ELSE decommission_reason_seq END,
       decommission_deadline_ms = CASE WHEN @phase = 'requested' AND @seq > decommission_started_seq THEN @deadlineMs ELSE decommission_deadline_ms END,
       decommission_started_seq = CASE WHEN @phase = 'requested' THEN GREATEST(decommission_started_seq, @seq) ELSE decommission_started_seq END
     WHERE app_id = @app AND node_id = @node`,
  );
  const shuffleMigrated = run(
    `UPDATE nodes SET migrated_outputs = migrated_outputs + @outputs, migrated_bytes = migrated_bytes + @bytes,
       outputs_not_migrated = outputs_not_migrated + @notMigrated, ${guarded("migration_seq", { migration_targets: "@targets" })}
     WHERE app_id = @app AND node_id = @node`,
  );
  const schedulerFailover = run(
    `INSERT INTO failovers (app_id, seq, time_ms, epoch, downtime_ms, jobs_recovered, leader_address)
     VALUES (@app, @seq, @time, @epoch, @downtimeMs, @jobsRecovered, @leaderAddress) ON CONFLICT DO NOTHING`,
  );

  // Events that only live in the log (the UI reads them from there) have no entry.
  const appliers: { [T in EventBody["type"]]?: Apply<T> } = {
    jobSubmitted: async (tx, p, b) => jobSubmitted(tx, { ...p, name: b.name, numStages: b.numStages, traceId: b.traceId ?? "", driverAppId: b.applicationId ?? "" }),
    jobEnded: async (tx, p, b) => jobEnded(tx, { ...p, status: b.status, stats: json(b.stats), error: json(b.error) }),
    stageSubmitted: async (tx, p, b) => {
      const params = { ...p, stage: b.stageId, attempt: b.attempt };
      await ensureStage(tx, params);
      await stageSubmitted(tx, { ...params, name: b.name, numTasks: b.numTasks });
    },
    stageEnded: async (tx, p, b) => {
      const params = { ...p, stage: b.stageId, attempt: b.attempt };
      await ensureStage(tx, params);
      await stageEnded(tx, { ...params, status: b.status, reason: b.reason });
    },
    taskStarted: async (tx, p, b) => {
      // A new row is what ensure-then-update gives it (state 'running' is the default; seq > 0 beats the guard's 0).
      const params = { ...p, task: b.taskId, stage: b.stageId, partition: b.partition, executor: b.executorId, stageAttempt: b.stageAttempt, attempt: b.attempt, node: b.nodeId };
      if ((await insertStartedTask(tx, params)) === 0) await taskStarted(tx, params);
    },
    taskEnded: async (tx, p, b) => {
      const params = { ...p, task: b.taskId, stage: b.stageId, partition: b.partition, executor: b.executorId, state: b.state, error: json(b.error), duration: b.durationMs };
      if ((await taskEnded(tx, params)) > 0) return;
      await ensureTask(tx, params); // its start is not stored yet
      await taskEnded(tx, params);
    },
    executorAdded: async (tx, p, b) => {
      const e = b.executor;
      const params = { ...p, executor: e.executorId };
      await ensureExecutor(tx, params);
      await executorAdded(tx, {
        ...params,
        node: e.nodeId,
        host: e.host,
        slots: e.slots,
        shuffleAddress: e.shuffleAddress,
        registeredAt: e.registeredAtMs || (p.time as number),
      });
      await states.executor(tx, p.app as string, e.executorId);
    },
    executorRemoved: async (tx, p, b) => {
      const params = { ...p, executor: b.executorId };
      await ensureExecutor(tx, params);
      await executorRemoved(tx, { ...params, reason: b.reason });
      await states.executor(tx, p.app as string, b.executorId);
    },
    mapOutputsLost: async (tx, p, b) => mapOutputsLost(tx, { ...p, count: b.mapIndexes.length }),
    stageResubmitted: async (tx, p, b) => {
      await resubmissionCounts.stage(tx, { ...p, count: 1 });
      await resubmissionCounts.partitions(tx, { ...p, count: b.partitions.length });
    },
    taskResubmitted: async (tx, p) => resubmissionCounts.task(tx, { ...p, count: 1 }),
    exclusionChanged: async (tx, p, b) => {
      if (b.stageScoped) return; // keeps one stage away only: the log shows it, the state does not change
      const params = { ...p, excluded: b.excluded ? 1 : 0, untilMs: b.excluded ? b.untilMs : 0, reason: b.reason };
      if (b.scope === "executor") {
        await ensureExecutor(tx, { ...params, executor: b.id });
        await executorExclusion(tx, { ...params, executor: b.id });
        await states.executor(tx, p.app as string, b.id);
      } else {
        await ensureNode(tx, { ...params, node: b.id });
        await nodeExclusion(tx, { ...params, node: b.id });
        await states.node(tx, p.app as string, b.id);
      }
    },
    decommissionChanged: async (tx, p, b) => {
      const params = { ...p, node: b.nodeId };
      await ensureNode(tx, params);
      await decommissionChanged(tx, { ...params, phase: b.phase, reason: b.reason, deadlineMs: b.deadlineMs });
      await states.node(tx, p.app as string, b.nodeId);
    },
    shuffleMigrated: async (tx, p, b) => {
      const params = { ...p, node: b.nodeId };
      await ensureNode(tx, params);
      await shuffleMigrated(tx, { ...params, outputs: b.outputs, bytes: b.bytes, notMigrated: b.outputsNotMigrated, targets: b.targetAddresses });
    },
    schedulerFailover: async (tx, p, b) => schedulerFailover(tx, { ...p, epoch: b.epoch, downtimeMs: b.downtimeMs, jobsRecovered: b.jobsRecovered, leaderAddress: b.leaderAddress }),
  };

  return async (tx, applicationId, event, jobsEnsured) => {
    const params: Row = { app: applicationId, job: event.jobId, seq: event.seq, time: event.timeMs };
    if (event.jobId !== "" && !jobsEnsured.has(event.jobId)) {
      await ensureJob(tx, params);
      jobsEnsured.add(event.jobId);
    }
    const apply = appliers[event.body.type] as Apply<EventBody["type"]> | undefined;
    await apply?.(tx, params, event.body);
  };
}
