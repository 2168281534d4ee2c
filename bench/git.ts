/** The checkout a benchmark ran from, recorded beside its figures. */
import { execFileSync } from "node:child_process";
import { projectRoot } from "../server/paths.js";

/** The short commit and whether the work tree had changes; null outside a git checkout. */
export function gitInfo(): { commit: string; dirty: boolean } | null {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: projectRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: projectRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() !== "";
    return { commit, dirty };
  } catch {
    return null;
  }
}
