import { randomBytes } from "node:crypto";
import { renameSync, rmSync, writeFileSync } from "node:fs";

/**
 * A temporary file's name beside `path`, this write's own (process and random suffix), so that
 * concurrent writers of one path never rename each other's file away: the last rename wins, whole.
 * It ends in `.tmp`, which the folders' pruners recognise.
 */
export function tempBeside(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
}

/**
 * Writes `data` to `path` whole or not at all: into a temporary file beside it, then a rename (atomic
 * on one file system), so a reader never sees half a file and a crash leaves the old one. On failure
 * the temporary file goes and the error is thrown.
 */
export function writeAtomically(path: string, data: string | Uint8Array): void {
  const tmp = tempBeside(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
