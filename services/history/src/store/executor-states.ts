import { resolveExecutorState, type ExclusionFacts, type NodeFacts } from "../core/resources.js";
import type { Row, SqlSession } from "./sql.js";

/**
 * Keeps the derived columns of `executors` (state, excluded_until_ms,
 * state_reason) in step with the facts they come from: the executor's own
 * row and its node's row. Called after every event that changes one of them;
 * since the result is a function of the facts alone, it does not matter which
 * event came first.
 */
export interface ExecutorStateRefresher {
  executor(tx: SqlSession, applicationId: string, executorId: string): Promise<void>;
  /** Every executor on the node. */
  node(tx: SqlSession, applicationId: string, nodeId: string): Promise<void>;
}

/** The node's facts from a `nodes` row (or from columns of a LEFT JOIN, null when there is no row). */
export function nodeFactsFromRow(row: Row): NodeFacts {
  return {
    exclusion: {
      excluded: row.exclusion_active === 1,
      untilMs: row.exclusion_until_ms ?? 0,
      reason: row.exclusion_reason ?? "",
      seq: row.exclusion_seq ?? 0,
    },
    decommission: { phase: row.decommission_phase ?? "", reason: row.decommission_reason ?? "", startedSeq: row.decommission_started_seq ?? 0 },
  };
}

const FACTS = `SELECT e.executor_id, e.alive, e.lost_reason, e.state_seq,
    e.exclusion_active AS own_active, e.exclusion_until_ms AS own_until_ms, e.exclusion_reason AS own_reason, e.exclusion_seq AS own_seq,
    n.exclusion_active, n.exclusion_until_ms, n.exclusion_reason, n.exclusion_seq, n.decommission_phase, n.decommission_reason,
    n.decommission_started_seq
  FROM executors e LEFT JOIN nodes n ON n.app_id = e.app_id AND n.node_id = e.node_id
  WHERE e.app_id = @app`;

const WRITE = `UPDATE executors SET state = @state, excluded_until_ms = @excludedUntilMs, state_reason = @reason
  WHERE app_id = @app AND executor_id = @executor`;

export function createExecutorStateRefresher(): ExecutorStateRefresher {
  const refresh = async (tx: SqlSession, app: string, rows: Row[]) => {
    for (const row of rows) {
      const own: ExclusionFacts = { excluded: row.own_active === 1, untilMs: row.own_until_ms, reason: row.own_reason, seq: row.own_seq };
      const resolved = resolveExecutorState({
        alive: row.alive === 1,
        lostReason: row.lost_reason,
        removedSeq: row.alive === 1 ? 0 : row.state_seq,
        exclusion: own,
        node: nodeFactsFromRow(row),
      });
      await tx.run(WRITE, { app, executor: row.executor_id, ...resolved });
    }
  };

  return {
    executor: async (tx, app, executor) => refresh(tx, app, await tx.all(`${FACTS} AND e.executor_id = @executor`, { app, executor })),
    node: async (tx, app, node) => refresh(tx, app, await tx.all(`${FACTS} AND e.node_id = @node`, { app, node })),
  };
}
