import { createHash } from "node:crypto";
import { userSpacePrefix, type Identity, type JobGrants } from "@ballast/common/auth";
import { TEMPORARY_DIR } from "@ballast/common/jobOutput";
import { InvalidArgumentError, NotFoundError, PermissionDeniedError } from "@ballast/common/errors";
import type { BlobRef, ByteRange } from "../core/names.js";
import type { BlobStore, OpenedUpload, StoredBlob, UploadRequest, UploadSink, UploadStatus } from "./blob-store.js";

/**
 * What one caller sees of the store. The cluster sees every name as stored; a user sees only
 * `users/<name>/…`, under names relative to it, so two users' `data.txt` are two blobs' names
 * and neither can reach the other's. Blobs are content-addressed and shared underneath, so a
 * digest is only usable by a caller who owns it: who uploaded those bytes (proving it by
 * sending them all; recorded as a name `.blobs/<sha256>` in its space, hidden from List) or
 * holds a name for them in its space (the _SUCCESS the scheduler committed into its output).
 * A job's token sees its owner's space, read and commit only.
 */
const OWNED = ".blobs/";

interface Scope {
  prefix: string;
  /** May list and delete (a job's tasks only read inputs and commit outputs). */
  manages: boolean;
  who: string;
  /** A job's token: exactly what it may read and name, inside the space. */
  grants?: JobGrants;
}

function scopeOf(identity: Identity): Scope | undefined {
  if (identity.role === "cluster") return undefined;
  const prefix = userSpacePrefix(identity.user);
  return identity.role === "user"
    ? { prefix, manages: true, who: `user ${identity.user}` }
    : { prefix, manages: false, who: `job ${identity.user}/${identity.jobId}`, grants: identity.grants };
}

/** The store as `identity` may use it (the cluster: the store itself). */
export function scopedStore(store: BlobStore, identity: Identity): BlobStore {
  const scope = scopeOf(identity);
  return scope ? new ScopedStore(store, scope) : store;
}

class ScopedStore implements BlobStore {
  constructor(
    private readonly store: BlobStore,
    private readonly scope: Scope,
  ) {}

  async uploadStatus(sha256: string): Promise<UploadStatus> {
    const status = await this.store.uploadStatus(sha256);
    // Someone else's complete blob: this caller must send every byte to own it.
    if (status.complete && !(await this.owns(sha256))) return { committedOffset: 0, complete: false };
    return status;
  }

  async openUpload(request: UploadRequest): Promise<OpenedUpload> {
    if (request.name) this.mustMayName(request.name);
    const names = [this.ownership(request.sha256), ...(request.name ? [this.inside(request.name)] : [])];
    const opened = await this.store.openUpload({ ...request, name: undefined });
    if (opened.kind === "open") return { kind: "open", sink: new LinkingSink(opened.sink, () => this.linkAll(names, request.sha256)) };
    if (await this.owns(request.sha256)) return { kind: "exists", blob: await this.linkAll(names, request.sha256) };
    if (request.offset !== 0) throw new InvalidArgumentError(`upload of ${request.sha256} must start at offset 0`);
    return { kind: "open", sink: new ProvingSink(request.sha256, request.size, () => this.linkAll(names, request.sha256)) };
  }

  async stat(ref: BlobRef): Promise<StoredBlob> {
    this.mustMayRead(ref);
    return this.outside(await this.store.stat(await this.resolve(ref)));
  }

  read(sha256: string, range: ByteRange, chunkBytes: number): AsyncIterable<Uint8Array> {
    // Only reached after stat() of a reference this caller may use (sendDownload resolves it first).
    return this.store.read(sha256, range, chunkBytes);
  }

  async list(prefix: string): Promise<StoredBlob[]> {
    this.mustManage("list");
    const blobs = await this.store.list(this.scope.prefix + prefix);
    return blobs.filter((b) => !b.name.startsWith(this.scope.prefix + OWNED)).map((b) => this.outside(b));
  }

  async isNamedUnder(prefix: string, sha256: string): Promise<boolean> {
    return this.store.isNamedUnder(this.scope.prefix + prefix, sha256);
  }

  async delete(name: string): Promise<boolean> {
    this.mustManage("delete");
    return this.store.delete(this.inside(name));
  }

  async link(name: string, sha256: string): Promise<StoredBlob> {
    this.mustMayName(name);
    if (!(await this.owns(sha256))) throw new NotFoundError(`no blob ${sha256}`);
    return this.outside(await this.store.link(this.inside(name), sha256));
  }

  async promote(): Promise<{ alreadyApplied: boolean; removed: number }> {
    // The access table already keeps Promote to the cluster; a scoped caller never gets this far.
    throw new PermissionDeniedError(`${this.scope.who} may not promote staging names (the scheduler commits job outputs)`);
  }

  async close(): Promise<void> {}

  private inside(name: string): string {
    if (!name) throw new InvalidArgumentError("a name is required");
    return this.scope.prefix + name;
  }

  private ownership(sha256: string): string {
    return `${this.scope.prefix}${OWNED}${sha256}`;
  }

  private outside(blob: StoredBlob): StoredBlob {
    return { ...blob, name: blob.name.startsWith(this.scope.prefix) && !blob.name.startsWith(this.scope.prefix + OWNED) ? blob.name.slice(this.scope.prefix.length) : "" };
  }

  /** A name inside the caller's space; a digest only if the caller owns it (else it does not exist, as far as it knows). */
  private async resolve(ref: BlobRef): Promise<BlobRef> {
    if ("name" in ref) return { name: this.inside(ref.name) };
    if (!(await this.owns(ref.sha256))) throw new NotFoundError(`no blob ${ref.sha256}`);
    return ref;
  }

  /** Uploaded by this caller (its `.blobs/` name), or given a name in its space (a job output the scheduler committed there). */
  private async owns(sha256: string): Promise<boolean> {
    const uploaded = await this.store.stat({ name: this.ownership(sha256) }).then(
      () => true,
      (err) => {
        if (err instanceof NotFoundError) return false;
        throw err;
      },
    );
    return uploaded || this.store.isNamedUnder(this.scope.prefix, sha256);
  }

  private async linkAll(names: string[], sha256: string): Promise<StoredBlob> {
    let blob: StoredBlob | undefined;
    for (const name of names) blob = await this.store.link(name, sha256);
    return this.outside(blob!);
  }

  /** A job reads its bundle and inputs: the digests and names its token grants, nothing else of the space. */
  private mustMayRead(ref: BlobRef): void {
    const grants = this.scope.grants;
    if (!grants || ("name" in ref ? grants.names.includes(ref.name) : grants.read.includes(ref.sha256))) return;
    const what = "name" in ref ? `name ${JSON.stringify(ref.name.slice(0, 600))}` : `blob ${ref.sha256}`;
    throw new PermissionDeniedError(`${this.scope.who} may not read ${what}: it is not one of the job's inputs or its bundle`);
  }

  /** A job names only its attempts' parts, under its output's _temporary/ (the scheduler promotes them). */
  private mustMayName(name: string): void {
    const grants = this.scope.grants;
    if (!grants || (grants.write !== "" && name.startsWith(`${grants.write}/${TEMPORARY_DIR}/`))) return;
    throw new PermissionDeniedError(`${this.scope.who} may not name ${JSON.stringify(name.slice(0, 600))}: a job names only its output's ${TEMPORARY_DIR}/ parts`);
  }

  private mustManage(what: string): void {
    if (!this.scope.manages) throw new PermissionDeniedError(`${this.scope.who} may not ${what} staging blobs (a job's token reads its inputs and commits its outputs)`);
  }
}

/** An upload of new bytes: once stored and verified, the caller's names point at them. */
class LinkingSink implements UploadSink {
  constructor(
    private readonly sink: UploadSink,
    private readonly linkNames: () => Promise<StoredBlob>,
  ) {}
  get position() {
    return this.sink.position;
  }
  get size() {
    return this.sink.size;
  }
  write(chunk: Uint8Array) {
    return this.sink.write(chunk);
  }
  async complete() {
    await this.sink.complete();
    return this.linkNames();
  }
  suspend() {
    return this.sink.suspend();
  }
  discard() {
    return this.sink.discard();
  }
}

/**
 * Bytes another caller already stored: nothing is written, but every byte must come and hash to
 * the digest before this caller owns it, so knowing a digest is not enough to read a blob.
 */
class ProvingSink implements UploadSink {
  private readonly hash = createHash("sha256");
  position = 0;

  constructor(
    private readonly sha256: string,
    readonly size: number,
    private readonly linkNames: () => Promise<StoredBlob>,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.position + chunk.length > this.size) throw new InvalidArgumentError(`upload of ${this.sha256} sent more than its declared size ${this.size}`);
    this.hash.update(chunk);
    this.position += chunk.length;
  }

  async complete(): Promise<StoredBlob> {
    const actual = this.hash.digest("hex");
    if (this.position !== this.size || actual !== this.sha256) throw new InvalidArgumentError(`digest mismatch: expected ${this.sha256}, got ${actual}`);
    return this.linkNames();
  }

  async suspend(): Promise<number> {
    return 0;
  }

  async discard(): Promise<void> {}
}
