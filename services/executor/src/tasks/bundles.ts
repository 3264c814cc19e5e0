import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { removeMatching } from "@ballast/common/durable";
import { withSpan } from "@ballast/common/telemetry";
import { SingleFlight } from "../core/singleFlight.js";
import { DiskLru } from "./diskLru.js";
import type { StagingPeer } from "./peers.js";

/**
 * Job bundles by sha256 digest in DATA_DIR/bundles/<digest>.mjs. Each digest
 * is downloaded once (the staging client writes to a temp name, verifies the
 * digest and renames, so a file present here is complete); concurrent tasks
 * of the same job share one download. Bounded by `maxBytes`, least recently used out.
 */
export class BundleCache {
  private readonly dir: string;
  private readonly downloads = new SingleFlight<string>();
  private readonly lru: DiskLru;

  constructor(dataDir: string, private readonly staging: StagingPeer, maxBytes = Infinity) {
    this.dir = join(dataDir, "bundles");
    mkdirSync(this.dir, { recursive: true });
    removeMatching(this.dir, (name) => name.includes(".tmp")); // downloads cut short by a crash
    this.lru = new DiskLru(this.dir, maxBytes);
  }

  async pathOf(digest: string): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(digest)) throw new Error(`invalid bundle digest "${digest}"`);
    const path = join(this.dir, `${digest}.mjs`);
    if (this.lru.use(path)) return path;
    // Spanned only when it downloads: a span per cache hit was a visible cost of small tasks.
    return this.downloads.run(digest, () =>
      withSpan("bundle.fetch", { "bundle.digest": digest }, async () => {
        await this.staging.downloadToFile({ sha256: digest }, path);
        this.lru.trim();
        return path;
      }),
    );
  }

  get cachedCount(): number {
    return readdirSync(this.dir).filter((name) => name.endsWith(".mjs")).length;
  }
}
