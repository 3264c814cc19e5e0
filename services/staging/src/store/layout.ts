import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { join } from "node:path";

/** Where the local store keeps things under its data directory. */
export class DataLayout {
  readonly blobsDir: string;
  readonly uploadsDir: string;
  readonly databasePath: string;

  constructor(readonly dataDir: string) {
    this.blobsDir = join(dataDir, "blobs");
    this.uploadsDir = join(dataDir, "uploads");
    this.databasePath = join(dataDir, "staging.sqlite");
  }

  /** A complete, verified blob. */
  blobPath(sha256: string): string {
    return join(this.blobsDir, sha256);
  }

  /** An upload in progress; only its first committed_offset bytes count. */
  partialPath(sha256: string): string {
    return join(this.uploadsDir, `${sha256}${PARTIAL_SUFFIX}`);
  }
}

export const PARTIAL_SUFFIX = ".partial";

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "ENOENT";
}
