/**
 * The sandbox programs are the bundles `npm run build` makes in dist/sandbox (scripts/bundle-sandbox.mjs):
 * self-contained, checked before a sandbox is started, and a missing or stale bundle is a clear error
 * that says to build, raised before anything of the sandbox exists.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
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

/**
 * A dist/ folder with bundles and a manifest naming `inputs` (created with the given mtimes, in seconds),
 * with snapshot blobs unless `blobs` is false, made by `madeBy` (this Node.js by default).
 */
function fakeDist(
  name: string,
  inputs: Record<string, number>,
  bundleTime: number,
  { blobs = true, madeBy = { node: process.version, arch: process.arch } }: { blobs?: boolean; madeBy?: { node: string; arch: string } } = {},
): string {
  const dist = path.join(temp, name);
  mkdirSync(path.join(dist, "sandbox"), { recursive: true });
  for (const [input, t] of Object.entries(inputs)) {
    mkdirSync(path.dirname(path.join(dist, input)), { recursive: true });
    writeFileSync(path.join(dist, input), "export {};\n");
    utimesSync(path.join(dist, input), t, t);
  }
  const bundles: Record<string, { inputs: string[] }> = {};
  for (const b of ["supervisor", "apiserver"]) {
    for (const ext of blobs ? ["cjs", "blob"] : ["cjs"]) {
      writeFileSync(path.join(dist, "sandbox", `${b}.${ext}`), "\n");
      utimesSync(path.join(dist, "sandbox", `${b}.${ext}`), bundleTime, bundleTime);
    }
    bundles[b] = { inputs: Object.keys(inputs) };
  }
  const snapshot = { ...madeBy, dir: path.join(dist, "sandbox") };
  writeFileSync(path.join(dist, "sandbox", "manifest.json"), JSON.stringify({ snapshot, bundles }));
  return path.join(dist, "sandbox");
}

const isBuildError = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof FaultlineError, String(e));
  assert.match(e.message, pattern);
  assert.match(e.hint ?? "", /run `npm run build`/);
  return true;
};

describe("sandbox programs", () => {
  it("are the startup snapshots in dist/sandbox after `npm run build`", () => {
    assert.equal(DEFAULT_PROGRAMS_DIR, path.join(distRoot, "sandbox"));
    assert.deepEqual(sandboxPrograms(), {
      supervisor: ["--snapshot-blob", path.join(distRoot, "sandbox", "supervisor.blob")],
      apiserver: ["--snapshot-blob", path.join(distRoot, "sandbox", "apiserver.blob")],
    });
  });

  it("are the bundles themselves where the snapshot was made by another Node.js or elsewhere, or is missing", () => {
    const now = Math.floor(Date.now() / 1000);
    const scripts = (dir: string) => ({ supervisor: [path.join(dir, "supervisor.cjs")], apiserver: [path.join(dir, "apiserver.cjs")] });
    const other = fakeDist("other-node", { "server/a.js": now - 20 }, now, { madeBy: { node: "v0.0.1", arch: process.arch } });
    assert.deepEqual(sandboxPrograms(other), scripts(other));
    const arch = fakeDist("other-arch", { "server/a.js": now - 20 }, now, { madeBy: { node: process.version, arch: "riscv64" } });
    assert.deepEqual(sandboxPrograms(arch), scripts(arch));
    const none = fakeDist("no-blobs", { "server/a.js": now - 20 }, now, { blobs: false });
    assert.deepEqual(sandboxPrograms(none), scripts(none));
    // Copied elsewhere after the build: the snapshot holds the paths of the folder it was made in.
    const moved = fakeDist("moved", { "server/a.js": now - 20 }, now);
    const manifest = JSON.parse(readFileSync(path.join(moved, "manifest.json"), "utf8")) as { snapshot: { dir: string } };
    writeFileSync(path.join(moved, "manifest.json"), JSON.stringify({ ...manifest, snapshot: { ...manifest.snapshot, dir: "/elsewhere/dist/sandbox" } }));
    assert.deepEqual(sandboxPrograms(moved), scripts(moved));
    const same = fakeDist("same", { "server/a.js": now - 20 }, now);
    assert.deepEqual(sandboxPrograms(same).apiserver, ["--snapshot-blob", path.join(same, "apiserver.blob")]);
  });

  it("are self-contained: they require only Node's built-ins and the native pty addon, the network modules and the addon at first use", () => {
    for (const name of ["supervisor", "apiserver"]) {
      const file = path.join(DEFAULT_PROGRAMS_DIR, `${name}.cjs`);
      const text = readFileSync(file, "utf8");
      const specifiers = [...text.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!);
      assert.ok(specifiers.length > 0, file);
      for (const s of specifiers) assert.ok(builtinModules.includes(s.replace(/^node:/, "")), `${name}.cjs requires ${s}`);
      for (const lazy of ["node:http", "node:https", "node:net", "node:tls", "@lydell/node-pty"]) {
        assert.ok(!specifiers.includes(lazy) && !specifiers.includes(lazy.replace(/^node:/, "")), `${name}.cjs requires ${lazy} at load`);
      }
      assert.doesNotMatch(text, /\b(?:import|require)\(\s*["'`]\.{1,2}\//, `${name}.cjs loads a relative module at run time`);
    }
  });

  it("a missing bundle is an error that says to run `npm run build`", () => {
    const empty = path.join(temp, "empty");
    mkdirSync(empty);
    assert.throws(() => sandboxPrograms(empty), isBuildError(/the sandbox programs are not built: .*supervisor\.cjs and .*apiserver\.cjs are missing/));
    writeFileSync(path.join(empty, "supervisor.cjs"), "");
    assert.throws(() => sandboxPrograms(empty), isBuildError(/apiserver\.cjs is missing/));
  });

  it("a bundle older than a compiled file it was made from is refused, a newer one accepted", () => {
    const now = Math.floor(Date.now() / 1000);
    const fresh = fakeDist("fresh", { "server/a.js": now - 20, "server/b.js": now - 10 }, now);
    assert.deepEqual(sandboxPrograms(fresh).supervisor, ["--snapshot-blob", path.join(fresh, "supervisor.blob")]);
    const stale = fakeDist("stale", { "server/a.js": now - 20, "server/b.js": now + 10 }, now);
    assert.throws(() => sandboxPrograms(stale), isBuildError(/supervisor\.cjs is older than .*server\/b\.js, compiled after it/));
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
