import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@ballast/common/logging";
import { PARTIAL_SUFFIX, type DataLayout } from "./layout.js";
import type { StagingMetadata } from "./metadata.js";

export interface RecoveryReport {
  /** Partials cut back to their committed offset (bytes written but never committed). */
  truncatedUploads: number;
  /** Uploads whose partial file was missing or short, restarted from 0. */
  restartedUploads: number;
  /** Files in uploads/ with no upload row, and blob files with no blob row. */
  removedOrphans: number;
  /** Blob rows whose file is gone (data loss), dropped with their names. */
  forgottenBlobs: number;
}

/**
 * Brings files and rows back in line after a crash: every upload resumes
 * exactly at its committed offset, and only blobs with a row are kept.
 */
export function recoverStore(layout: DataLayout, metadata: StagingMetadata, logger?: Logger): RecoveryReport {
  mkdirSync(layout.blobsDir, { recursive: true });
  mkdirSync(layout.uploadsDir, { recursive: true });
  const report: RecoveryReport = { truncatedUploads: 0, restartedUploads: 0, removedOrphans: 0, forgottenBlobs: 0 };
  recoverUploads(layout, metadata, report, logger);
  recoverBlobs(layout, metadata, report, logger);
  if (Object.values(report).some((n) => n > 0)) logger?.info(report, "staging store recovered");
  return report;
}

function recoverUploads(layout: DataLayout, metadata: StagingMetadata, report: RecoveryReport, logger?: Logger): void {
  const kept = new Set<string>();
  for (const upload of metadata.allUploads()) {
    const partial = layout.partialPath(upload.sha256);
    if (metadata.blob(upload.sha256)) {
      metadata.deleteUpload(upload.sha256); // finished before the crash; the row was left behind
      continue;
    }
    kept.add(partial);
    const fileSize = existsSync(partial) ? statSync(partial).size : -1;
    if (fileSize > upload.committedOffset) {
      truncateDurably(partial, upload.committedOffset);
      report.truncatedUploads++;
    } else if (fileSize < upload.committedOffset) {
      logger?.error({ sha256: upload.sha256, fileSize, committedOffset: upload.committedOffset }, "upload partial shorter than committed; restarting it");
      truncateDurably(partial, 0);
      metadata.putUpload({ ...upload, committedOffset: 0 });
      report.restartedUploads++;
    }
  }
  for (const entry of readdirSync(layout.uploadsDir)) {
    const path = join(layout.uploadsDir, entry);
    if (entry.endsWith(PARTIAL_SUFFIX) && kept.has(path)) continue;
    rmSync(path, { force: true, recursive: true });
    report.removedOrphans++;
  }
}

function recoverBlobs(layout: DataLayout, metadata: StagingMetadata, report: RecoveryReport, logger?: Logger): void {
  const rows = new Set<string>();
  for (const blob of metadata.allBlobs()) {
    if (existsSync(layout.blobPath(blob.sha256))) {
      rows.add(blob.sha256);
      continue;
    }
    logger?.error({ sha256: blob.sha256 }, "blob file missing; forgetting the blob and its names");
    metadata.forgetBlob(blob.sha256);
    report.forgottenBlobs++;
  }
  for (const entry of readdirSync(layout.blobsDir)) {
    if (rows.has(entry)) continue;
    rmSync(join(layout.blobsDir, entry), { force: true, recursive: true });
    report.removedOrphans++;
  }
}

/** Truncates (creating if missing) and fsyncs, so the cut survives another crash. */
function truncateDurably(path: string, length: number): void {
  const fd = openSync(path, existsSync(path) ? "r+" : "w");
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
