/**
 * Runs one task: computes a dataset partition (fused narrow ops over a source
 * or a shuffle read) and either writes it as map output for a shuffle or
 * produces the action's output for that partition.
 */
import type { ActionSpec, Node } from "../graph.js";
import type { Plan } from "@ballast/common/plan";
import type { PartitionIO, PartitionOutput, PartitionTask } from "../types.js";
import { concatChunks, packRecords } from "./codec.js";
import { KeySampler, sampleSizePerPartition } from "./rangePartitioner.js";
import { TextOutput } from "./textOutput.js";

export function runPartition(
  plan: Plan,
  nodes: readonly Node[],
  action: ActionSpec,
  task: PartitionTask,
  io: PartitionIO,
): PartitionOutput {
  const node = nodes[task.datasetId];
  if (!node) throw new Error(`job "${plan.jobName}" has no dataset ${task.datasetId}`);
  if (!Number.isInteger(task.partition) || task.partition < 0 || task.partition >= node.numPartitions) {
    throw new Error(`dataset ${node.id} (${node.op}) has no partition ${task.partition}`);
  }
  if (task.sampleFor) return sampleKeys(plan, nodes, node, task, io);
  if (task.shuffleWrite) return writeShuffle(plan, nodes, node, task, io);
  if (node !== action.node) {
    throw new Error(`dataset ${node.id} is neither the final dataset nor given a shuffle to write`);
  }
  return runAction(action, node, task.partition, io);
}

function writeShuffle(plan: Plan, nodes: readonly Node[], node: Node, task: PartitionTask, io: PartitionIO): PartitionOutput {
  const { shuffleIndex, numReducePartitions } = task.shuffleWrite!;
  const shuffle = plan.shuffles[shuffleIndex];
  if (!shuffle || shuffle.parentDatasetId !== node.id) {
    throw new Error(`shuffle ${shuffleIndex} does not read dataset ${node.id}`);
  }
  if (numReducePartitions !== shuffle.numReducePartitions) {
    throw new Error(
      `shuffle ${shuffleIndex} has ${shuffle.numReducePartitions} reduce partitions, the task asked for ${numReducePartitions}`,
    );
  }
  const child = nodes[shuffle.childDatasetId]!;
  const position = child.shuffleIndices.indexOf(shuffleIndex);
  const writer = child.wide!.mapSideWriter(position, numReducePartitions, task.shuffleWrite!.rangeSamples);
  node.behavior.forEach(task.partition, io, writer.add);
  return { kind: "shuffle", ...writer.finish() };
}

/** A sample task of a range-partitioned shuffle: the keys its map side would route, sampled. */
function sampleKeys(plan: Plan, nodes: readonly Node[], node: Node, task: PartitionTask, io: PartitionIO): PartitionOutput {
  const { shuffleIndex } = task.sampleFor!;
  const shuffle = plan.shuffles[shuffleIndex];
  const sortKeyOf = shuffle && nodes[shuffle.childDatasetId]?.wide?.sortKeyOf;
  if (!shuffle || shuffle.parentDatasetId !== node.id || !shuffle.rangePartitioned || !sortKeyOf) {
    throw new Error(`shuffle ${shuffleIndex} is not a range-partitioned shuffle of dataset ${node.id}`);
  }
  const size = sampleSizePerPartition(shuffle.numReducePartitions, node.numPartitions);
  let sampler = new KeySampler(size, task.partition);
  const scale = node.behavior.forEachSample?.(task.partition, io, (record) => sampler.add(sortKeyOf(record)));
  // Windows that held too few records to fill the sample (long lines): the whole partition then.
  if (scale === undefined || (scale > 1 && sampler.seen < size)) {
    sampler = new KeySampler(size, task.partition);
    node.behavior.forEach(task.partition, io, (record) => sampler.add(sortKeyOf(record)));
    return { kind: "collect", records: sampler.finish(1), recordsOut: 1 };
  }
  return { kind: "collect", records: sampler.finish(scale), recordsOut: 1 };
}

function runAction(action: ActionSpec, node: Node, partition: number, io: PartitionIO): PartitionOutput {
  switch (action.action) {
    case "count": {
      let count = 0;
      node.behavior.forEach(partition, io, () => count++);
      return { kind: "count", count };
    }
    case "collect": {
      const records: unknown[] = [];
      node.behavior.forEach(partition, io, (record) => records.push(record));
      return { kind: "collect", records: concatChunks([packRecords(records)]), recordsOut: records.length };
    }
    case "saveAsTextFile":
      return writeText(node, partition, io);
  }
}

function writeText(node: Node, partition: number, io: PartitionIO): PartitionOutput {
  const text = new TextOutput();
  node.behavior.forEach(
    partition,
    io,
    (record) => text.addLine(formatLine(record)),
    (bytes, start, end) => text.addLineBytes(bytes, start, end),
  );
  const data = text.finish();
  return { kind: "text", data, recordsOut: text.recordsOut };
}

/** Pairs as "key<TAB>value"; strings and numbers as String(x); objects as JSON. */
export function formatLine(record: unknown): string {
  if (Array.isArray(record) && record.length === 2) return `${formatField(record[0])}\t${formatField(record[1])}`;
  return formatField(record);
}

function formatField(value: unknown): string {
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}
