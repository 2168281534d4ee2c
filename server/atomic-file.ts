import { renameSync, writeFileSync, type WriteFileOptions } from "node:fs";

/**
 * Writes a file that other processes read while it changes (a sandbox's plan.json, ready.json,
 * faults.json): the data goes to a temporary file in the same folder, which then replaces the old one
 * by rename(2). A reader sees the old or the new content, never a truncated file (writeFileSync alone
 * truncates first: a reader in between gets "Unexpected end of JSON input").
 */
export function writeFileAtomic(file: string, data: string, opts?: WriteFileOptions): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, opts);
  renameSync(tmp, file);
}
