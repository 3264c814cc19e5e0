import { InvalidArgumentError } from "@ballast/common/errors";

/** One map task attempt's output: the unit the shuffle service stores and replaces. */
export interface MapOutputKey {
  shuffleId: string;
  mapIndex: number;
  attempt: number;
}

/** Reduce partitions per map output are capped so a bad header cannot make the index explode. */
export const MAX_PARTITIONS = 1_000_000;

// Shuffle ids become directory names, so they must be safe path segments.
const SHUFFLE_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

export function validateShuffleId(shuffleId: string | undefined): string {
  if (!shuffleId) throw new InvalidArgumentError("shuffle_id is required");
  if (!SHUFFLE_ID_PATTERN.test(shuffleId)) {
    throw new InvalidArgumentError(
      `shuffle_id ${JSON.stringify(shuffleId)} is malformed: use 1-200 characters of A-Z a-z 0-9 . _ -, not starting with '.'`,
    );
  }
  return shuffleId;
}

function validateIndex(value: number | undefined, field: string): number {
  if (value === undefined || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new InvalidArgumentError(`${field} must be a non-negative 32-bit integer, got ${value}`);
  }
  return value;
}

/** Checks an id coming off the wire; `field` names it in the error. */
export function validateMapOutputKey(key: Partial<MapOutputKey> | undefined, field = "id"): MapOutputKey {
  if (!key) throw new InvalidArgumentError(`${field} is required`);
  return {
    shuffleId: validateShuffleId(key.shuffleId),
    mapIndex: validateIndex(key.mapIndex, `${field}.map_index`),
    attempt: validateIndex(key.attempt, `${field}.attempt`),
  };
}

export function validateNumPartitions(numPartitions: number | undefined): number {
  if (!numPartitions || !Number.isInteger(numPartitions) || numPartitions < 1 || numPartitions > MAX_PARTITIONS) {
    throw new InvalidArgumentError(`num_partitions must be between 1 and ${MAX_PARTITIONS}, got ${numPartitions ?? 0}`);
  }
  return numPartitions;
}

/** "shuffle/map.attempt", how errors and logs name a map output. */
export function describeMapOutput(key: MapOutputKey): string {
  return `map output ${key.shuffleId}/${key.mapIndex}.${key.attempt}`;
}

/** A peer's HOST:PORT (a host name, IPv4, or [IPv6]); `field` names it in the error. */
export function validatePeerAddress(address: string, field: string): string {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon);
  const port = address.slice(colon + 1);
  const hostOk = /^[A-Za-z0-9._-]+$/.test(host) || /^\[[0-9A-Fa-f:.]+\]$/.test(host);
  if (colon <= 0 || !hostOk || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new InvalidArgumentError(`${field} must be HOST:PORT with a port from 1 to 65535, got ${JSON.stringify(address)}`);
  }
  return address;
}
