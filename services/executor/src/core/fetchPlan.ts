import type { MapLocation, ShuffleReadSpec } from "@ballast/common/domain/tasks";

export interface BlockRequest {
  shuffleIndex: number;
  shuffleId: string;
  location: MapLocation;
}

/** Groups a task's blocks by shuffle service address, so each service is asked once. */
export function groupBlocksByAddress(reads: ShuffleReadSpec[]): Map<string, BlockRequest[]> {
  const groups = new Map<string, BlockRequest[]>();
  for (const read of reads) {
    for (const location of read.locations) {
      const group = groups.get(location.shuffleAddress) ?? [];
      group.push({ shuffleIndex: read.shuffleIndex, shuffleId: read.shuffleId, location });
      groups.set(location.shuffleAddress, group);
    }
  }
  return groups;
}

/** Checks that every map output of every read has exactly one location. */
export function missingLocations(reads: ShuffleReadSpec[]): string[] {
  const problems: string[] = [];
  for (const read of reads) {
    const seen = new Set(read.locations.map((l) => l.mapIndex));
    for (let map = 0; map < read.numMaps; map++) {
      if (!seen.has(map)) problems.push(`${read.shuffleId} map ${map}`);
    }
  }
  return problems;
}
