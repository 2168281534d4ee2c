#!/usr/bin/env node
/**
 * Bundles the programs that run inside every sim sandbox into one CommonJS file each, and makes a
 * startup snapshot of each, so a sandbox's Node.js processes neither resolve and compile ~170 modules
 * (zod, yaml and the server's own) nor evaluate them again: Node restores the evaluated heap from the
 * snapshot. Run by `npm run build` after tsc (it bundles tsc's output in dist/), or alone with
 * `npm run build:sandbox`.
 *
 *   dist/server/sandboxes/sim/supervisor.js  ->  dist/sandbox/supervisor.cjs, dist/sandbox/supervisor.blob
 *   dist/server/sim/apiserver/main.js        ->  dist/sandbox/apiserver.cjs,  dist/sandbox/apiserver.blob
 *   dist/sandbox/manifest.json                   the dist/ files in each bundle (the driver refuses a
 *                                                bundle older than one of them: run `npm run build`),
 *                                                and the Node.js that made the snapshots
 *
 * A snapshot only starts on the Node.js binary that made it (same version and architecture), from the
 * folder it was made in: on any other, the driver runs the .cjs file instead (programs.ts).
 *
 * Node's built-in modules stay require() calls; so does @lydell/node-pty (a native addon, loaded from
 * node_modules). Everything else must end up inside: an import that cannot be resolved fails the
 * build. The network modules and the addon are loaded at their first use (LAZY): a snapshot cannot hold
 * their native state (Node 20 cannot even load node:http while it builds one), and the programs use
 * them only once running.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const out = path.join(dist, "sandbox");

/** name -> the compiled entry point it bundles. Keep in step with server/sandboxes/sim/programs.ts. */
const ENTRIES = {
  supervisor: "server/sandboxes/sim/supervisor.js",
  apiserver: "server/sim/apiserver/main.js",
};

/** Native addons, and what loads them, stay in node_modules. */
const EXTERNAL = ["@lydell/node-pty"];

/** Modules required at their first use instead of at load (see above), with or without `node:`. */
const LAZY = ["http", "https", "http2", "net", "tls", "zlib", "child_process", "dgram", "dns", "@lydell/node-pty"];
const LAZY_REQUIRE = new RegExp(String.raw`\brequire\("((?:node:)?(?:${LAZY.map((m) => m.replace(/[/.@-]/g, "\\$&")).join("|")}))"\)`, "g");

/** Defined at the top of each bundle; LAZY_REQUIRE's matches become calls of it. */
const LAZY_RUNTIME = `
/** A module loaded at its first use: scripts/bundle-sandbox.mjs says why. */
function __faultlineLazy(id) {
  let mod;
  const load = () => (mod ??= id.startsWith("@") ? require("node:module").createRequire(__filename)(id) : require(id));
  return new Proxy({}, {
    get: (_t, key) => load()[key],
    has: (_t, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(load(), key);
      return d && { ...d, configurable: true };
    },
  });
}`;

/** rolldown: a devDependency, pinned to the version vite 8 itself uses, so one copy is installed. */
async function loadRolldown() {
  return import("rolldown");
}

/** The lab whose sandbox the programs warm up on while their snapshots are made (program-main.ts). */
const WARMUP_LAB = "webhook-to-kernel";

/**
 * The warm-up's sample sandbox, from the compiled server in dist/: the lab's cluster and a copy of its
 * workspace with its inventory faults injected, as the driver and the supervisor would make them.
 * Returns the sample file's path; its folder is removed after the snapshots are made.
 */
async function prepareWarmup() {
  const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);
  const { loadLabSandboxSpec } = await load("server/labs/lab.js");
  const { injectInventoryFaults } = await load("server/sim/faults/index.js");
  const lab = await loadLabSandboxSpec(path.join(root, "labs", WARMUP_LAB));
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-snapshot-warmup-"));
  cpSync(lab.workspaceDir, path.join(dir, "workspace"), { recursive: true });
  const inventoryDir = path.join(dir, "workspace", lab.inventoryInWorkspace);
  await injectInventoryFaults(lab.faults, inventoryDir);
  const sample = { name: "warmup", kubespray: lab.cluster.kubespray, cluster: lab.cluster, inventoryDir, faults: lab.faults, dir };
  const file = path.join(dir, "sample.json");
  writeFileSync(file, JSON.stringify(sample, null, 2));
  return file;
}

/**
 * `node --build-snapshot`: evaluates the bundle, runs its warm-up on the sample (its main only
 * registers itself: program-main.ts) and saves the heap.
 */
function buildSnapshot(file, blob, sample) {
  const r = spawnSync(process.execPath, ["--snapshot-blob", blob, "--build-snapshot", file], {
    cwd: out,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", ...(sample ? { FAULTLINE_SNAPSHOT_WARMUP: sample } : {}) },
    timeout: 120_000,
  });
  if (r.status !== 0) {
    throw new Error(
      `making the startup snapshot of ${path.relative(root, file)} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n` +
        `${(r.stderr || r.stdout).trim().split("\n").slice(0, 30).join("\n")}\n` +
        "Module-level code of a sandbox program must not open handles or use the lazily loaded modules " +
        `(${LAZY.join(", ")}); see server/sandboxes/sim/program-main.ts.`,
    );
  }
}

async function main() {
  const { rolldown } = await loadRolldown();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // Without the flagship lab (a checkout that removed it) the snapshots are made cold: slower to start,
  // as correct. A warm-up that runs and fails is another matter: it fails the build (buildSnapshot).
  let sample = null;
  try {
    sample = await prepareWarmup();
  } catch (e) {
    process.stderr.write(`bundle-sandbox: warning: no warm-up for the snapshots, the lab ${WARMUP_LAB} did not load: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  try {
    await bundleAll(rolldown, sample);
  } finally {
    if (sample) rmSync(path.dirname(sample), { recursive: true, force: true });
  }
}

/** Bundles each program and makes its snapshot, in ENTRIES' order: the supervisor's warm-up writes the API server's input. */
async function bundleAll(rolldown, sample) {
  const manifest = {
    generatedBy: "scripts/bundle-sandbox.mjs",
    snapshot: { node: process.version, arch: process.arch, dir: out },
    bundles: {},
  };
  for (const [name, entry] of Object.entries(ENTRIES)) {
    const problems = [];
    const bundle = await rolldown({
      input: path.join(dist, entry),
      platform: "node",
      external: (id) => id.startsWith("node:") || EXTERNAL.some((e) => id === e || id.startsWith(e + "/")),
      logLevel: "warn",
      onLog(level, log, handler) {
        // A module left out of the bundle would be looked up next to the bundle at run time and fail there.
        if (log.code === "UNRESOLVED_IMPORT" || log.code === "MISSING_EXPORT") problems.push(log.message);
        else handler(level, log);
      },
      plugins: [
        {
          name: "faultline-lazy-modules",
          renderChunk: (code) => ({ code: code.replace(LAZY_REQUIRE, '__faultlineLazy("$1")'), map: null }),
        },
      ],
    });
    if (problems.length) throw new Error(`bundling ${entry}:\n  ${problems.join("\n  ")}`);
    const file = path.join(out, `${name}.cjs`);
    const { output } = await bundle.write({
      file,
      format: "cjs",
      codeSplitting: false,
      banner: `// Generated by scripts/bundle-sandbox.mjs from dist/${entry} (npm run build). Do not edit.\n${LAZY_RUNTIME}`,
    });
    await bundle.close();
    const chunk = output.find((o) => o.type === "chunk");
    // Inputs from dist/ only: node_modules change with `npm ci`, which a build follows anyway.
    const inputs = chunk.moduleIds
      .filter((id) => path.isAbsolute(id) && id.startsWith(dist + path.sep))
      .map((id) => path.relative(dist, id))
      .sort();
    const blob = path.join(out, `${name}.blob`);
    const started = Date.now();
    buildSnapshot(file, blob, sample);
    manifest.bundles[name] = { file: path.relative(dist, file), snapshot: path.relative(dist, blob), entry, inputs };
    process.stderr.write(
      `bundle-sandbox: dist/sandbox/${name}.cjs (${(chunk.code.length / 1024).toFixed(0)} KiB, ${chunk.moduleIds.length} modules), ` +
        `${name}.blob (${Date.now() - started} ms)\n`,
    );
  }
  writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
}

main().catch((e) => {
  process.stderr.write(`bundle-sandbox: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
