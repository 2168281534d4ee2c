import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "../../server/log.js";
import { projectRoot } from "../../server/paths.js";
import { SimDriver } from "../../server/sandboxes/sim/driver.js";
export { processesInRange } from "../../server/sandboxes/sim/slots.js";

/** A throwaway data directory; sandboxes run as unprivileged ids, so it must be traversable by them. */
export function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-test-"));
  chmodSync(dir, 0o711);
  return dir;
}

export function testDriver(dataDir = tempDataDir()): SimDriver {
  return new SimDriver(dataDir, createLogger({ test: true }, { level: "warn" }));
}

export function fixtureLab(name: string): string {
  return path.join(projectRoot, "test", "fixtures", "labs", name);
}

/** Unique per test process, so parallel runs and leftovers never collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}-${Math.floor(Math.random() * 1e4).toString(36)}`;
}

export async function cleanup(driver: SimDriver): Promise<void> {
  for (const s of driver.list()) await driver.down(s.name).catch(() => {});
  rmSync(driver.dataDir, { recursive: true, force: true });
}

export async function eventually<T>(fn: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
