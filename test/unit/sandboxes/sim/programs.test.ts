/**
 * The sandbox programs are the bundles `npm run build` makes in dist/sandbox (scripts/bundle-sandbox.mjs):
 * self-contained, checked before a sandbox is started, and a missing or stale bundle is a clear error
 * that says to build, raised before anything of the sandbox exists.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { createLogger } from "../../../../server/log.js";
import { distRoot } from "../../../../server/paths.js";
import { SimDriver } from "../../../../server/sandboxes/sim/driver.js";
import { DEFAULT_PROGRAMS_DIR, sandboxPrograms } from "../../../../server/sandboxes/sim/programs.js";

const temp = mkdtempSync(path.join(tmpdir(), "faultline-programs-"));
after(() => rmSync(temp, { recursive: true, force: true }));

/** A dist/ folder with bundles and a manifest naming `inputs` (created with the given mtimes, in seconds). */
function fakeDist(name: string, inputs: Record<string, number>, bundleTime: number): string {
  const dist = path.join(temp, name);
  mkdirSync(path.join(dist, "sandbox"), { recursive: true });
  for (const [input, t] of Object.entries(inputs)) {
    mkdirSync(path.dirname(path.join(dist, input)), { recursive: true });
    writeFileSync(path.join(dist, input), "export {};\n");
    utimesSync(path.join(dist, input), t, t);
  }
  const bundles: Record<string, { inputs: string[] }> = {};
  for (const b of ["supervisor", "apiserver"]) {
    writeFileSync(path.join(dist, "sandbox", `${b}.mjs`), "export {};\n");
    utimesSync(path.join(dist, "sandbox", `${b}.mjs`), bundleTime, bundleTime);
    bundles[b] = { inputs: Object.keys(inputs) };
  }
  writeFileSync(path.join(dist, "sandbox", "manifest.json"), JSON.stringify({ bundles }));
  return path.join(dist, "sandbox");
}

const isBuildError = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof FaultlineError, String(e));
  assert.match(e.message, pattern);
  assert.match(e.hint ?? "", /run `npm run build`/);
  return true;
};

describe("sandbox programs", () => {
  it("are the bundles in dist/sandbox after `npm run build`", () => {
    assert.equal(DEFAULT_PROGRAMS_DIR, path.join(distRoot, "sandbox"));
    assert.deepEqual(sandboxPrograms(), {
      supervisor: path.join(distRoot, "sandbox", "supervisor.mjs"),
      apiserver: path.join(distRoot, "sandbox", "apiserver.mjs"),
    });
  });

  it("are self-contained: they import only Node's built-ins and the native pty addon", () => {
    for (const file of Object.values(sandboxPrograms())) {
      const text = readFileSync(file, "utf8");
      const specifiers = [...text.matchAll(/^import\s[^;]*?from\s+"([^"]+)";?$|^import\s+"([^"]+)";?$/gm)].map((m) => m[1] ?? m[2]!);
      assert.ok(specifiers.length > 0, file);
      for (const s of specifiers) assert.ok(s.startsWith("node:") || s === "@lydell/node-pty", `${path.basename(file)} imports ${s}`);
      assert.doesNotMatch(text, /\bimport\(\s*["'`]\.{1,2}\//, `${path.basename(file)} loads a relative module at run time`);
    }
  });

  it("a missing bundle is an error that says to run `npm run build`", () => {
    const empty = path.join(temp, "empty");
    mkdirSync(empty);
    assert.throws(() => sandboxPrograms(empty), isBuildError(/the sandbox programs are not built: .*supervisor\.mjs and .*apiserver\.mjs are missing/));
    writeFileSync(path.join(empty, "supervisor.mjs"), "");
    assert.throws(() => sandboxPrograms(empty), isBuildError(/apiserver\.mjs is missing/));
  });

  it("a bundle older than a compiled file it was made from is refused, a newer one accepted", () => {
    const now = Math.floor(Date.now() / 1000);
    const fresh = fakeDist("fresh", { "server/a.js": now - 20, "server/b.js": now - 10 }, now);
    assert.equal(sandboxPrograms(fresh).supervisor, path.join(fresh, "supervisor.mjs"));
    const stale = fakeDist("stale", { "server/a.js": now - 20, "server/b.js": now + 10 }, now);
    assert.throws(() => sandboxPrograms(stale), isBuildError(/supervisor\.mjs is older than .*server\/b\.js, compiled after it/));
    rmSync(path.join(stale, "manifest.json"));
    assert.throws(() => sandboxPrograms(stale), isBuildError(/no readable manifest\.json/));
  });

  it("driver.up fails with that error before it creates anything of the sandbox", async () => {
    const dataDir = path.join(temp, "data");
    mkdirSync(dataDir);
    const driver = new SimDriver(dataDir, createLogger({ test: true }, { level: "error" }), { programsDir: path.join(temp, "nowhere") });
    await assert.rejects(driver.up({ lab: "webhook-to-kernel", name: "unbuilt" }), isBuildError(/the sandbox programs are not built/));
    assert.deepEqual(readdirSync(dataDir), []);
  });
});
