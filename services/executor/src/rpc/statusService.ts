import { ExecutorServiceService, type GetExecutorStatusResponse } from "../../../../gen/ballast/v1/executor.js";
import { unary, type ServiceBinding } from "../../../../packages/common/src/grpc.js";

export interface ExecutorStatus {
  executorId: string;
  nodeId: string;
  slots: number;
  runningTaskIds: string[];
  connected: boolean;
  schedulerEpoch: number;
  bundlesCached: number;
  tasksCompleted: number;
}

/** ExecutorService: the executor's own status, for operators and tests. */
export function executorService(status: () => ExecutorStatus): ServiceBinding {
  return {
    name: "ballast.v1.ExecutorService",
    definition: ExecutorServiceService,
    implementation: {
      getExecutorStatus: unary((): GetExecutorStatusResponse => status()),
    },
  };
}
