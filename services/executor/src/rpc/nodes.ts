/** The node-level scheduler calls an executor makes when it decommissions itself (SIGTERM). */
import { call } from "@ballast/common/grpc";
import { nodeState } from "@ballast/common/wire/resources";
import type { NodeStateName } from "../core/drain.js";
import type { SchedulerSession } from "./session.js";

const CALL_DEADLINE_MS = 2000;

/** SchedulerService.DecommissionNode on the leader; deadlineMs is how long the node has. */
export async function requestDecommission(session: SchedulerSession, nodeId: string, deadlineMs: number): Promise<void> {
  const client = await session.leaderClient();
  await call(client.decommissionNode.bind(client), { nodeId, deadlineMs }, CALL_DEADLINE_MS);
}

/** The node's state as the leader sees it (ListNodes); "unknown" when the node is not listed. */
export async function nodeStateOf(session: SchedulerSession, nodeId: string): Promise<NodeStateName> {
  const client = await session.leaderClient();
  const { nodes } = await call(client.listNodes.bind(client), {}, CALL_DEADLINE_MS);
  const node = nodes.find((n) => n.nodeId === nodeId);
  return (node && nodeState.nameOf(node.state)) ?? "unknown";
}
