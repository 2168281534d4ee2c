/**
 * The file check on a copy of fixtures/workspace (the flagship's inventory as the fault leaves it, its
 * pool manifest, a manifest that does not parse), and the workspace's confinement (readConfined): no
 * absolute paths or `..`, no symlink out of it, regular files only, 1 MiB at most.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { valueAt } from "../../../server/checks/kinds/file.js";
import { runCheck } from "../../../server/checks/kinds/index.js";
import { fileCheckSchema, type CheckSpec } from "../../../server/checks/schema.js";
import { readConfined } from "../../../server/checks/sim-context.js";
import { CouldNotCheck } from "../../../server/checks/types.js";
import { projectRoot } from "../../../server/paths.js";
import { fakeContext } from "./support.js";

const VARS = "inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml";
const file = (spec: Record<string, unknown>): CheckSpec => ({ file: fileCheckSchema.parse(spec) });

describe("file check and the workspace's confinement", () => {
  let root: string;
  let outside: string;
  let ctx: ReturnType<typeof fakeContext>;

  before(() => {
    const tmp = mkdtempSync(path.join(tmpdir(), "faultline-checks-"));
    root = path.join(tmp, "workspace");
    outside = path.join(tmp, "secret.txt");
    cpSync(path.join(projectRoot, "test", "unit", "checks", "fixtures", "workspace"), root, { recursive: true });
    writeFileSync(outside, "host secret\n");
    symlinkSync(outside, path.join(root, "escape.txt"));
    symlinkSync("/etc", path.join(root, "etc-link"));
    symlinkSync("metallb/pool.yaml", path.join(root, "pool-link.yaml"));
    mkdirSync(path.join(root, "a-folder"));
    execFileSync("mkfifo", [path.join(root, "fifo")]);
    writeFileSync(path.join(root, "big.txt"), Buffer.alloc(1024 * 1024 + 1, 0x61));
    ctx = fakeContext({ workspaceDir: root, readWorkspaceFile: (rel) => readConfined(root, rel) });
  });
  after(() => rmSync(path.dirname(root), { recursive: true, force: true }));

  it("the flagship's inventory before the fix: the variable kubespray reads is not set", async () => {
    assert.deepEqual(await runCheck(file({ path: VARS, yaml: "kube_network_node_prefix", equals: 25 }), ctx), {
      status: "fail",
      detail: `${VARS} does not set kube_network_node_prefix`,
    });
  });

  it("after the fix: equals is deep equality, with types (25 is not \"25\")", async () => {
    const fixed = mkdtempSync(path.join(tmpdir(), "faultline-checks-"));
    cpSync(path.join(projectRoot, "test", "unit", "checks", "fixtures", "workspace"), fixed, { recursive: true });
    execFileSync("sed", ["-i", "s/^kube_network_nodes_prefix:/kube_network_node_prefix:/", path.join(fixed, VARS)]);
    const c = fakeContext({ readWorkspaceFile: (rel) => readConfined(fixed, rel) });
    try {
      assert.deepEqual(await runCheck(file({ path: VARS, yaml: "kube_network_node_prefix", equals: 25 }), c), { status: "pass", detail: `${VARS}: kube_network_node_prefix is 25` });
      assert.deepEqual(await runCheck(file({ path: VARS, yaml: "kube_network_node_prefix", equals: "25" }), c), {
        status: "fail",
        detail: `${VARS}: kube_network_node_prefix is 25, expected "25"`,
      });
    } finally {
      rmSync(fixed, { recursive: true, force: true });
    }
  });

  it("dotted paths index lists; objects compare deeply; matches applies to the value or the text", async () => {
    assert.equal(valueAt({ spec: { addresses: ["a", "b"] } }, "spec.addresses.1"), "b");
    assert.equal(valueAt({ spec: {} }, "spec.addresses.0"), undefined);
    const pool = "metallb/pool.yaml";
    assert.equal((await runCheck(file({ path: pool, yaml: "spec.addresses", equals: ["192.168.10.200-192.168.10.220"] }), ctx)).status, "pass");
    assert.equal((await runCheck(file({ path: pool, yaml: "metadata", equals: { name: "lab-pool", namespace: "metallb-system" } }), ctx)).status, "pass");
    assert.deepEqual(await runCheck(file({ path: pool, yaml: "spec.addresses.0", matches: "^10\\." }), ctx), {
      status: "fail",
      detail: `${pool}: spec.addresses.0 is "192.168.10.200-192.168.10.220", which does not match /^10\\./`,
    });
    assert.equal((await runCheck(file({ path: pool, matches: "^kind: IPAddressPool$" }), ctx)).status, "pass");
    assert.equal((await runCheck(file({ path: "pool-link.yaml", yaml: "kind", equals: "IPAddressPool" }), ctx)).status, "pass", "a symlink inside the workspace is followed");
  });

  it("exists / exists: false, and a file that is not valid YAML is 'not yet' with its line", async () => {
    assert.deepEqual(await runCheck(file({ path: "notes.md" }), ctx), { status: "fail", detail: "notes.md does not exist" });
    assert.deepEqual(await runCheck(file({ path: "notes.md", exists: false }), ctx), { status: "pass", detail: "notes.md does not exist" });
    assert.deepEqual(await runCheck(file({ path: "metallb/pool.yaml", exists: false }), ctx), { status: "fail", detail: "metallb/pool.yaml still exists" });
    assert.equal((await runCheck(file({ path: "no/such/folder/x.yml" }), ctx)).status, "fail");
    const broken = await runCheck(file({ path: "metallb/broken.yaml", yaml: "spec.addresses.0", equals: "x" }), ctx);
    assert.equal(broken.status, "fail");
    assert.match(broken.detail!, /^metallb\/broken\.yaml is not valid YAML \(line \d+\): /);
  });

  it("refuses to leave the workspace: .., absolute paths, symlinks out (a file or a folder)", async () => {
    for (const rel of ["../secret.txt", "metallb/../../secret.txt", "/etc/hostname", "escape.txt", "etc-link/hostname"]) {
      const r = await runCheck(file({ path: rel }), ctx);
      assert.equal(r.status, "error", `${rel}: ${JSON.stringify(r)}`);
      assert.match(r.detail!, /^could not check: .*(stay inside|leads out of the workspace)/, rel);
    }
    await assert.rejects(readConfined(root, "escape.txt"), CouldNotCheck);
  });

  it("regular files only, up to 1 MiB (a FIFO is not opened for good)", async () => {
    assert.deepEqual(await runCheck(file({ path: "a-folder" }), ctx), { status: "error", detail: "could not check: a-folder is not a regular file" });
    assert.deepEqual(await runCheck(file({ path: "fifo" }), ctx), { status: "error", detail: "could not check: fifo is not a regular file" });
    assert.deepEqual(await runCheck(file({ path: "big.txt" }), ctx), { status: "error", detail: "could not check: big.txt is larger than 1 MiB" });
  });
});
