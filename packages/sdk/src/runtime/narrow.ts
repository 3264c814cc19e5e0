/**
 * Partition behaviors of sources and narrow operations. Each has a push form
 * (forEach: fused callbacks, no per-record allocation beyond the user's) and a
 * pull form (iterate: generators) used only below mapPartitions.
 */
import type { Node, PartitionBehavior, Sink } from "../graph.js";
import type { PartitionIO } from "../types.js";
import { byteRangeOf, forEachLineInRange, forEachSampledLineInRange, linesInRange } from "./textInput.js";
import { seededRandom } from "@ballast/common/seededRandom";

type Fn = (value: unknown) => unknown;

export function textFileBehavior(uri: string, size: number, numPartitions: number): PartitionBehavior {
  return {
    forEach: (p, io, sink) => forEachLineInRange(io, uri, byteRangeOf(size, numPartitions, p), sink),
    iterate: (p, io) => linesInRange(io, uri, byteRangeOf(size, numPartitions, p)),
    forEachSample: (p, io, sink) => forEachSampledLineInRange(io, uri, byteRangeOf(size, numPartitions, p), sink),
  };
}

export function parallelizeBehavior(data: readonly unknown[], numPartitions: number): PartitionBehavior {
  const sliceOf = (p: number): readonly unknown[] => {
    const { start, end } = byteRangeOf(data.length, numPartitions, p);
    return data.slice(start, end);
  };
  return {
    forEach(p, _io, sink) {
      const { start, end } = byteRangeOf(data.length, numPartitions, p);
      for (let i = start; i < end; i++) sink(data[i]);
    },
    iterate: (p) => sliceOf(p),
  };
}

export function rangeBehavior(count: number, numPartitions: number): PartitionBehavior {
  return {
    forEach(p, _io, sink) {
      const { start, end } = byteRangeOf(count, numPartitions, p);
      for (let i = start; i < end; i++) sink(i);
    },
    *iterate(p) {
      const { start, end } = byteRangeOf(count, numPartitions, p);
      for (let i = start; i < end; i++) yield i;
    },
  };
}

/** A per-record operation's push forms: the parent's records, each passed on through `through(sink)`. */
function perRecord(parent: Node, through: (sink: Sink) => Sink): Pick<PartitionBehavior, "forEach" | "forEachSample"> {
  return {
    forEach: (p, io, sink) => parent.behavior.forEach(p, io, through(sink)),
    forEachSample: (p, io, sink) => parent.behavior.forEachSample?.(p, io, through(sink)),
  };
}

export function mapBehavior(parent: Node, fn: Fn): PartitionBehavior {
  return {
    ...perRecord(parent, (sink) => (x) => sink(fn(x))),
    *iterate(p, io) {
      for (const x of parent.behavior.iterate(p, io)) yield fn(x);
    },
  };
}

export function flatMapBehavior(parent: Node, fn: (value: unknown) => Iterable<unknown>): PartitionBehavior {
  const expand = (x: unknown, sink: Sink): void => {
    const produced = fn(x);
    if (Array.isArray(produced)) {
      for (let i = 0; i < produced.length; i++) sink(produced[i]);
    } else {
      for (const y of produced) sink(y);
    }
  };
  return {
    ...perRecord(parent, (sink) => (x) => expand(x, sink)),
    *iterate(p, io) {
      for (const x of parent.behavior.iterate(p, io)) yield* fn(x);
    },
  };
}

export function filterBehavior(parent: Node, keep: (value: unknown) => unknown): PartitionBehavior {
  return {
    ...perRecord(parent, (sink) => (x) => {
      if (keep(x)) sink(x);
    }),
    *iterate(p, io) {
      for (const x of parent.behavior.iterate(p, io)) if (keep(x)) yield x;
    },
  };
}

export function mapPartitionsBehavior(
  parent: Node,
  fn: (records: Iterable<unknown>) => Iterable<unknown>,
): PartitionBehavior {
  return {
    forEach(p, io, sink) {
      for (const y of fn(parent.behavior.iterate(p, io))) sink(y);
    },
    iterate: (p, io) => fn(parent.behavior.iterate(p, io)),
  };
}

/** Union partition i is partition i - offset of the parent whose range holds it. */
export function unionBehavior(parents: Node[]): PartitionBehavior {
  const locate = (partition: number): [Node, number] => {
    let offset = 0;
    for (const parent of parents) {
      if (partition < offset + parent.numPartitions) return [parent, partition - offset];
      offset += parent.numPartitions;
    }
    throw new Error(`union has no partition ${partition}`);
  };
  return {
    forEach(p, io: PartitionIO, sink) {
      const [parent, q] = locate(p);
      parent.behavior.forEach(q, io, sink);
    },
    iterate(p, io) {
      const [parent, q] = locate(p);
      return parent.behavior.iterate(q, io);
    },
  };
}

/**
 * Bernoulli sample: each record kept with probability `fraction`, from a
 * generator seeded by (seed, partition) so every attempt keeps the same records.
 */
export function sampleBehavior(parent: Node, fraction: number, seed: number): PartitionBehavior {
  const keep = (p: number): (() => boolean) => {
    const random = seededRandom(Math.imul(seed ^ 0x9e3779b9, 31) + p);
    return () => random() < fraction;
  };
  return {
    forEach(p, io, sink) {
      const kept = keep(p);
      parent.behavior.forEach(p, io, (x) => {
        if (kept()) sink(x);
      });
    },
    *iterate(p, io) {
      const kept = keep(p);
      for (const x of parent.behavior.iterate(p, io)) if (kept()) yield x;
    },
  };
}
