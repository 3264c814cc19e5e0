/**
 * A task reaches staging with its job's token (the scheduler puts it in the launch), so a job
 * reads only its own bundle and inputs and names only its output's temporaries, in its
 * submitter's space (the grants signed into the token, auth.ts JobGrants); jobs the cluster
 * submitted (no token) use the executor's own credentials. The runner runs each task inside
 * `asJob(token, ...)`; the staging peer the caches and committer hold picks the client of the
 * token in effect, so they need not know about tokens at all.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { StagingClient } from "@ballast/clients/staging";
import type { BlobRefLike, StagingPeer } from "./peers.js";

const jobToken = new AsyncLocalStorage<string | undefined>();

/** Runs `body` (and everything it awaits) with `token` as its staging credentials. */
export const asJob = <T>(token: string | undefined, body: () => T): T => jobToken.run(token, body);

/** Clients for this many jobs' tokens stay open; older ones are closed (their channel is shared anyway). */
const MAX_JOB_CLIENTS = 32;

export class JobScopedStaging implements StagingPeer {
  private readonly own: StagingClient;
  private readonly jobs = new Map<string, StagingClient>();

  constructor(private readonly address: string) {
    this.own = new StagingClient(address);
  }

  stat(ref: BlobRefLike) {
    return this.current().stat(ref);
  }
  downloadToFile(ref: BlobRefLike, destPath: string) {
    return this.current().downloadToFile(ref, destPath);
  }
  uploadBytes(data: Uint8Array, name?: string) {
    return this.current().uploadBytes(data, name);
  }
  link(name: string, sha256: string) {
    return this.current().link(name, sha256);
  }

  close(): void {
    this.own.close();
    for (const client of this.jobs.values()) client.close();
    this.jobs.clear();
  }

  private current(): StagingClient {
    const token = jobToken.getStore();
    if (!token) return this.own;
    let client = this.jobs.get(token);
    if (client) {
      this.jobs.delete(token); // re-inserted below: most recently used last
    } else {
      client = new StagingClient(this.address, { token });
      const oldest = this.jobs.size >= MAX_JOB_CLIENTS ? this.jobs.keys().next().value : undefined;
      if (oldest !== undefined) {
        this.jobs.get(oldest)!.close();
        this.jobs.delete(oldest);
      }
    }
    this.jobs.set(token, client);
    return client;
  }
}
