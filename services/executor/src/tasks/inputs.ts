import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { status } from "@grpc/grpc-js";
import { NotFoundError, isServiceError } from "@ballast/common/errors";
import { removeMatching } from "@ballast/common/durable";
import { SingleFlight } from "../core/singleFlight.js";
import { DiskLru } from "./diskLru.js";
import { failure } from "../core/task.js";
import type { StagingPeer } from "./peers.js";

const STAGING_SCHEME = "staging://";

/**
 * Maps input URIs to local files the worker can read ranges from: file://
 * paths are read in place; staging://name is downloaded once per blob into
 * DATA_DIR/inputs/<sha256> (content-addressed, so a re-upload under the same
 * name is fetched again while unchanged blobs are reused). Bounded by
 * `maxBytes`, least recently used out.
 */
export class InputCache {
  private readonly dir: string;
  private readonly downloads = new SingleFlight<string>();
  private readonly lru: DiskLru;

  constructor(dataDir: string, private readonly staging: StagingPeer, maxBytes = Infinity) {
    this.dir = join(dataDir, "inputs");
    mkdirSync(this.dir, { recursive: true });
    removeMatching(this.dir, (name) => name.includes(".tmp")); // downloads cut short by a crash
    this.lru = new DiskLru(this.dir, maxBytes);
  }

  /** `pinned`: the digest the job was submitted with (staging:// inputs), read whatever the name points at now. */
  async localPath(uri: string, pinned?: string): Promise<string> {
    if (uri.startsWith("file://")) return this.localFile(uri);
    if (uri.startsWith(STAGING_SCHEME)) return this.stagedFile(uri.slice(STAGING_SCHEME.length), pinned);
    throw failure("userError", `unsupported input URI ${uri} (use file:///path or staging://name)`);
  }

  private localFile(uri: string): string {
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch (err) {
      throw failure("userError", `invalid input URI ${uri}: ${(err as Error).message}`);
    }
    if (!existsSync(path) || !statSync(path).isFile()) throw failure("userError", `input file ${path} does not exist on this node`);
    return path;
  }

  private async stagedFile(name: string, pinned?: string): Promise<string> {
    const info = await this.staging.stat(pinned ? { sha256: pinned } : { name }).catch((err) => {
      if (isNotFound(err)) throw failure("userError", `input staging://${name}${pinned ? ` (as submitted, ${pinned})` : ""} does not exist in staging (upload it with ballast submit --file)`);
      throw err;
    });
    const path = join(this.dir, info.sha256);
    if (this.lru.use(path)) return path;
    return this.downloads.run(info.sha256, async () => {
      await this.staging.downloadToFile({ sha256: info.sha256 }, path);
      this.lru.trim();
      return path;
    });
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof NotFoundError || (isServiceError(err) && err.code === status.NOT_FOUND);
}
