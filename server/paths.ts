import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The project root: the folder holding package.json. Found by walking up from this module, because
 * the same code runs from `server/` (type-checked) and `dist/server/` (compiled).
 */
export const projectRoot: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error("faultline: cannot find package.json above " + fileURLToPath(import.meta.url));
    dir = up;
  }
})();

/** Compiled JavaScript lives under dist/, mirroring the source tree. */
export const distRoot = path.join(projectRoot, "dist");
export const labsRoot = path.join(projectRoot, "labs");
