/**
 * Lifecycle: a sandbox outlives its creator, `down` leaves nothing, a SIGKILLed supervisor takes its
 * namespaces with it and `gc` removes the rest, and every bad input fails cleanly with nothing left.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { distRoot } from "../../../server/paths.js";
import { FaultlineError } from "../../../server/errors.js";
import { createLogger } from "../../../server/log.js";
import { SimDriver } from "../../../server/sandboxes/sim/driver.js";
import { sandboxPrograms } from "../../../server/sandboxes/sim/programs.js";
import { cleanup, eventually, fixtureLab, processesInRange, tempDataDir, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
after(() => cleanup(driver));

/** The command lines (argv) of a sandbox's processes. */
function commandLines(uidBase: number): string[][] {
  return processesInRange(uidBase).flatMap((pid) => {
    try {
      return [readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean)];
    } catch {
      return [];
    }
  });
}

/** Id slots (host-wide table) held by this test's sandboxes. */
function slotsUsed(): string[] {
  return driver.slots.owners().filter((o) => o.owner.startsWith(driver.dataDir + "/")).map((o) => o.owner);
}

describe("sandbox lifecycle", { timeout: 120_000 }, () => {
  it("reports its phases, and `down` removes every process, namespace and file", async () => {
    const name = uniqueName("life");
    const phases: string[] = [];
    await driver.up({ lab: fixtureLab("small-ok"), name, onPhase: (p) => phases.push(p.phase) });
    assert.deepEqual(
      phases.filter((p, i) => phases.indexOf(p) === i),
      ["prepare", "namespaces", "kubespray", "ipam", "network", "agents", "ready"],
    );
    const meta = driver.meta(name);
    assert.ok(processesInRange(meta.uidBase).length >= 4);
    // The supervisor and the API server are Node.js started from the snapshots `npm run build` made
    // with this same Node.js.
    const programs = sandboxPrograms();
    assert.deepEqual([programs.supervisor[0], programs.apiserver[0]], ["--snapshot-blob", "--snapshot-blob"]);
    const node = commandLines(meta.uidBase).filter((argv) => argv[0] === process.execPath);
    assert.deepEqual(
      node.map((argv) => argv.slice(1)).sort(),
      [[...programs.apiserver, driver.paths(name).box], [...programs.supervisor, driver.paths(name).spec]].sort(),
      JSON.stringify(node),
    );
    await driver.down(name);
    assert.deepEqual(await eventually(() => processesInRange(meta.uidBase), (p) => p.length === 0), []);
    assert.equal(existsSync(driver.paths(name).root), false);
    assert.deepEqual(slotsUsed(), []);
  });

  it("starts from the bundles themselves where the snapshots cannot be used", async () => {
    // A copy of dist/sandbox beside it: its manifest names the folder the snapshots were made in, so
    // the driver must start the .cjs files (still inside dist/, where they find node_modules).
    const copy = path.join(distRoot, `sandbox-copy-${process.pid}`);
    cpSync(path.join(distRoot, "sandbox"), copy, { recursive: true, preserveTimestamps: true });
    const other = new SimDriver(driver.dataDir, createLogger({ test: true }, { level: "warn" }), { programsDir: copy });
    const name = uniqueName("cjs");
    try {
      await other.up({ lab: fixtureLab("small-ok"), name });
      const node = commandLines(other.meta(name).uidBase).filter((argv) => argv[0] === process.execPath);
      assert.deepEqual(
        node.map((argv) => argv.slice(1)).sort(),
        [[path.join(copy, "apiserver.cjs"), other.paths(name).box], [path.join(copy, "supervisor.cjs"), other.paths(name).spec]].sort(),
        JSON.stringify(node),
      );
      const ready = JSON.parse(readFileSync(other.paths(name).ready, "utf8")) as { agents?: Record<string, number> };
      assert.ok(Object.keys(ready.agents ?? {}).length > 0, "ready.json lists the agents");
    } finally {
      await other.down(name).catch(() => {});
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("outlives the CLI that created it (like kind), and the CLI can enter it afterwards", () => {
    const name = uniqueName("cli");
    const cli = path.join(distRoot, "..", "bin", "faultline.js");
    const env = { ...process.env, FAULTLINE_DATA_DIR: driver.dataDir };
    const out = execFileSync(process.execPath, [cli, "sandbox", "up", fixtureLab("small-ok"), "--name", name, "--json"], { env, encoding: "utf8" });
    const info = JSON.parse(out) as { nodes: Array<{ name: string; address: string }> };
    assert.equal(info.nodes.length, 3);
    const hostname = execFileSync(process.execPath, [cli, "sandbox", "exec", name, "node/worker-2", "--", "hostname"], { env, encoding: "utf8" });
    assert.equal(hostname.trim(), "worker-2");
    assert.match(execFileSync(process.execPath, [cli, "sandbox", "ls"], { env, encoding: "utf8" }), new RegExp(`${name}\\tsmall-ok\\trunning`));
    // kubectl on the host, through the loopback relay to the sandbox's API server.
    const conf = path.join(driver.dataDir, `${name}.kubeconfig`);
    writeFileSync(conf, execFileSync(process.execPath, [cli, "sandbox", "kubeconfig", name], { env, encoding: "utf8" }));
    const nodes = execFileSync("kubectl", ["--kubeconfig", conf, "get", "nodes", "--no-headers"], { encoding: "utf8" });
    assert.deepEqual(nodes.trim().split("\n").map((l) => l.split(/\s+/).slice(0, 2).join(" ")), ["cp-1 Ready", "worker-1 Ready", "worker-2 Ready"]);
    execFileSync(process.execPath, [cli, "sandbox", "down", name], { env });
    assert.equal(existsSync(driver.paths(name).root), false);
  });

  it("SIGKILL of the supervisor tears down every process; gc removes what is left on disk", async () => {
    const name = uniqueName("kill");
    await driver.up({ lab: fixtureLab("small-ok"), name });
    const meta = driver.meta(name);
    process.kill(meta.initPid, "SIGKILL");
    assert.deepEqual(await eventually(() => processesInRange(meta.uidBase), (p) => p.length === 0), []);
    assert.equal(driver.list().find((s) => s.name === name)?.state, "dead");
    assert.deepEqual(await driver.gc(), [name]);
    assert.equal(existsSync(driver.paths(name).root), false);
    assert.deepEqual(slotsUsed(), []);
  });

  for (const [lab, pattern] of [
    ["malformed-inventory", /k8s-cluster\.yml:\d+:\d+: not valid YAML/],
    ["bad-cidr", /k8s-cluster\.yml:1:\d+: .*10\.233\.64\.0\/33/],
    ["pool-too-small", /kube_network_node_prefix = 24 is shorter than kube_pods_subnet's \/26/],
  ] as const) {
    it(`fails cleanly on a lab with ${lab}: a located message, nothing left behind`, async () => {
      const name = uniqueName("bad");
      await assert.rejects(driver.up({ lab: fixtureLab(lab), name }), (e: unknown) => {
        assert.ok(e instanceof FaultlineError);
        assert.match(e.message, pattern);
        // The folder goes, the supervisor's log stays for the post-mortem.
        const kept = /the supervisor's log is in (\S+)$/.exec(e.hint ?? "")?.[1];
        assert.ok(kept && existsSync(kept), e.hint);
        return true;
      });
      assert.equal(existsSync(driver.paths(name).root), false);
      assert.deepEqual(slotsUsed(), []);
    });
  }

  it("many ups at once queue instead of failing: all come up, with distinct id ranges", async () => {
    const d = new SimDriver(driver.dataDir, driver.log, { maxConcurrentUps: 2 });
    const names = [0, 1, 2, 3, 4].map((i) => uniqueName(`q${i}`));
    const results = await Promise.all(names.map((n) => d.up({ lab: fixtureLab("small-ok"), name: n })));
    assert.equal(new Set(results.map((r) => r.meta.uidBase)).size, names.length);
    for (const n of names) await d.down(n);
  });

  it("refuses a second sandbox with the same name and an invalid name, without touching the first", async () => {
    const name = uniqueName("dup");
    await driver.up({ lab: fixtureLab("small-ok"), name });
    await assert.rejects(driver.up({ lab: fixtureLab("small-ok"), name }), /already exists/);
    await assert.rejects(driver.up({ lab: fixtureLab("small-ok"), name: "Bad_Name" }), /not a valid sandbox name/);
    assert.equal(driver.isAlive(name), true);
    await driver.down(name);
  });

  it("a data dir nobody else can enter is made traversable, and an unknown target says which exist", async () => {
    const d = testDriver(tempDataDir());
    const name = uniqueName("tgt");
    try {
      await d.up({ lab: fixtureLab("small-ok"), name });
      assert.throws(() => d.enterArgv(name, "node/nope"), /has no node\/nope.*|targets are/);
      assert.throws(() => d.enterArgv(name, "../etc"), /is not a target/);
    } finally {
      await cleanup(d);
    }
  });
});
