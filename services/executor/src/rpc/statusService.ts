import { ExecutorServiceService, type GetExecutorStatusResponse } from "@ballast/gen/executor";
import { unary, type ServiceBinding } from "@ballast/common/grpc";
import { withStrictDecoding } from "@ballast/common/wire/decode";

export interface ExecutorStatus {
  executorId: string;
  nodeId: string;
  slots: number;
  runningTaskIds: string[];
  connected: boolean;
  schedulerEpoch: number;
  bundlesCached: number;
  tasksCompleted: number;
  cachedPartitionsInMemory: number;
  cachedBytesInMemory: number;
}

/** ExecutorService: the executor's own status, for operators and tests. */
export function executorService(status: () => ExecutorStatus): ServiceBinding {
  return withStrictDecoding({
    name: "ballast.v1.ExecutorService",
    definition: ExecutorServiceService,
    implementation: {
      getExecutorStatus: unary((): GetExecutorStatusResponse => status()),
    },
  });
}
