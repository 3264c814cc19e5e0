import type { FileHandle } from "node:fs/promises";

/** Writes all of `data` at `position` of the file: one write may take less than it is given. */
export async function writeFullyAt(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < data.byteLength; ) {
    written += (await handle.write(data, written, data.byteLength - written, position + written)).bytesWritten;
  }
}
