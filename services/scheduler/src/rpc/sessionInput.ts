// An executor's session messages as scheduler core inputs (the wire conversion itself is @ballast/common/wire/tasks).
import type { ExecutorSessionRequest } from "@ballast/gen/scheduler";
import { InvalidArgumentError } from "@ballast/common/errors";
import { taskUpdateFromWire } from "@ballast/common/wire/tasks";
import type { Input } from "../core/types.js";

type SessionMessage = NonNullable<ExecutorSessionRequest["message"]>;

/** Converts an executor's heartbeat or task update to a core input (registration is handled by the session). */
export function sessionMessageToInput(executorId: string, message: SessionMessage): Input {
  switch (message.$case) {
    case "heartbeat":
      return { type: "heartbeat", executorId, runningTaskIds: [...message.value.runningTaskIds] };
    case "taskUpdate": {
      const update = taskUpdateFromWire(message.value);
      const failure = update.failure;
      return {
        type: "taskUpdate",
        executorId,
        taskId: update.taskId,
        state: update.state,
        mapStatus: update.mapStatus,
        records: update.result?.records,
        count: update.result?.count,
        // The core decides by kind; the executor's errorKind is for its logs and the UI only.
        failure: failure && { kind: failure.kind, message: failure.message, stack: failure.stack, fetch: failure.fetch },
        metrics: update.metrics,
        ...(update.cachedWrites && { cachedWrites: update.cachedWrites }),
      };
    }
    case "register":
      throw new InvalidArgumentError("executor is already registered on this session");
  }
}
