import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root, found by walking up from this module to faultline's package.json. Tests run
 * compiled from dist/test/... (npm run test:unit) or from a scratch build outside the repo; in the
 * latter case nothing above has that package.json and the working directory (the repo root) is used.
 * server/paths.ts is not imported because it throws when it finds no package.json.
 */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "faultline") return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

export const root = repoRoot();

/** test/fixtures/inventory/<name>, one folder per edge case. */
export function inventory(name: string): string {
  const dir = path.join(root, "test", "fixtures", "inventory", name);
  if (!existsSync(dir)) throw new Error(`fixture ${dir} is missing (run the tests from the repository root)`);
  return dir;
}
