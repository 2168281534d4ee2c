import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { it } from "node:test";
import { joinScript } from "../../../../server/sandboxes/sim/cgroups.js";

it("joinScript moves the shell into every procs file, then execs the command with its own pid", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-cg-"));
  const procs = [path.join(dir, "a"), path.join(dir, "b")];
  for (const p of procs) writeFileSync(p, "");
  const out = execFileSync("sh", ["-c", joinScript({ dirs: [dir], procs }), "sh", "sh", "-c", "echo $$"], { encoding: "utf8" }).trim();
  for (const p of procs) assert.equal(readFileSync(p, "utf8").trim(), out);
});

it("without cgroups the command runs unchanged", () => {
  assert.equal(execFileSync("sh", ["-c", joinScript(null), "sh", "echo", "ok"], { encoding: "utf8" }).trim(), "ok");
});
