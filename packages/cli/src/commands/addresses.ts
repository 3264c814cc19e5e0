import { historyUrlOf, readCluster } from "../cluster.js";
import { ExitError } from "../exit.js";

export interface MasterFlags {
  master?: string;
  dir: string;
}

export interface ClusterAddresses {
  scheduler: string;
  staging: string;
  historyUrl?: string;
}

/** Where the job goes: --master (and --staging), or the local cluster described in --dir. */
export function submitAddresses(opts: MasterFlags & { staging?: string }): ClusterAddresses {
  if (opts.master) {
    const staging = opts.staging ?? tryReadCluster(opts.dir)?.staging;
    if (!staging) throw new ExitError("--master needs --staging HOST:PORT too (or a cluster.json in --dir)", 2);
    return { scheduler: opts.master, staging };
  }
  const cluster = readCluster(opts.dir);
  return { scheduler: cluster.scheduler, staging: cluster.staging, historyUrl: historyUrlOf(cluster) };
}

/** The scheduler addresses to try (active and standbys), from --master or the local cluster. */
export function schedulerAddresses(opts: MasterFlags): string[] {
  return (opts.master ?? readCluster(opts.dir).scheduler).split(",").filter(Boolean);
}

function tryReadCluster(dir: string) {
  try {
    return readCluster(dir);
  } catch {
    return undefined;
  }
}
