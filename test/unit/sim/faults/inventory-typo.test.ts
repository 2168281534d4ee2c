import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { groupVarsFiles, inventoryTypo, misspell } from "../../../../server/sim/faults/inventory-typo.js";
import { fixture, fixtureCopy } from "./helpers.js";

const K8S = "group_vars/k8s_cluster/k8s-cluster.yml";

async function withCopy(name: string, body: (dir: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await fixtureCopy(name);
  try {
    await body(dir);
  } finally {
    await cleanup();
  }
}

const read = (dir: string, file: string) => readFile(path.join(dir, file));

describe("inventory-typo", () => {
  it("misspells plausibly and deterministically", () => {
    assert.equal(misspell("kube_network_node_prefix"), "kube_network_node_perfix");
    assert.equal(misspell("kube_service_addresses"), "kube_service_adresses");
    assert.equal(misspell("kube_pods_subnet"), "kube_pods_subnte");
    assert.equal(misspell("calico_pool_blocksize"), "calico_pool_blocksiez");
    assert.equal(misspell("x"), "xx");
  });

  it("lists group_vars files in both layouts", async () => {
    assert.deepEqual(await groupVarsFiles(fixture("inventory")), [
      "group_vars/all/all.yml",
      "group_vars/k8s_cluster/k8s-cluster.yml",
      "group_vars/k8s_cluster/k8s-net-calico.yaml",
    ]);
    assert.deepEqual(await groupVarsFiles(fixture("inventory-unset")), ["group_vars/all.yml", K8S]);
  });

  it("renames only the key, keeping comments and layout, reports the line, and reverts byte for byte", async () => {
    await withCopy("inventory", async (dir) => {
      const before = await read(dir, K8S);
      const spec = { kind: "inventory-typo", variable: "kube_network_node_prefix" } as const;
      assert.deepEqual(await inventoryTypo.inject(spec, dir), [
        { file: K8S, line: 7, from: "kube_network_node_prefix: 25   # kubespray's default is 24", to: "kube_network_node_perfix: 25   # kubespray's default is 24" },
      ]);
      const injected = (await read(dir, K8S)).toString("utf8");
      assert.equal(injected, before.toString("utf8").replace("kube_network_node_prefix:", "kube_network_node_perfix:"));
      assert.match(injected, /^# One \/25 per node: 8 blocks for 7 nodes\.$/m);

      assert.deepEqual(await inventoryTypo.revert(spec, dir), [
        { file: K8S, line: 7, from: "kube_network_node_perfix: 25   # kubespray's default is 24", to: "kube_network_node_prefix: 25   # kubespray's default is 24" },
      ]);
      assert.deepEqual(await read(dir, K8S), before);
      // Reverting again finds nothing to undo.
      assert.deepEqual(await inventoryTypo.revert(spec, dir), []);
    });
  });

  it("edits top-level keys only, keeps quotes, and takes the misspelling from `as`", async () => {
    await withCopy("inventory", async (dir) => {
      const all = await read(dir, "group_vars/all/all.yml");
      const edits = await inventoryTypo.inject({ kind: "inventory-typo", variable: "kube_pods_subnet" }, dir);
      assert.deepEqual(edits.map((e) => [e.file, e.line, e.to]), [[K8S, 5, "kube_pods_subnte: 10.233.64.0/22"]]);
      assert.deepEqual(await read(dir, "group_vars/all/all.yml"), all);

      const calico = "group_vars/k8s_cluster/k8s-net-calico.yaml";
      const spec = { kind: "inventory-typo", variable: "calico_pool_blocksize", as: "calico_pool_block_size" } as const;
      const original = await read(dir, calico);
      assert.deepEqual(await inventoryTypo.inject(spec, dir), [{ file: calico, line: 2, from: '"calico_pool_blocksize": 25', to: '"calico_pool_block_size": 25' }]);
      await inventoryTypo.revert(spec, dir);
      assert.deepEqual(await read(dir, calico), original);
    });
  });

  it("keeps CRLF line endings", async () => {
    await withCopy("inventory-unset", async (dir) => {
      const file = path.join(dir, K8S);
      const crlf = "# cluster\r\nkube_pods_subnet: 10.233.64.0/22\r\nkube_proxy_mode: ipvs\r\n";
      await writeFile(file, crlf);
      const spec = { kind: "inventory-typo", variable: "kube_proxy_mode" } as const;
      assert.deepEqual(await inventoryTypo.inject(spec, dir), [{ file: K8S, line: 3, from: "kube_proxy_mode: ipvs", to: "kube_proxy_moed: ipvs" }]);
      assert.equal(await readFile(file, "utf8"), crlf.replace("kube_proxy_mode", "kube_proxy_moed"));
      await inventoryTypo.revert(spec, dir);
      assert.equal(await readFile(file, "utf8"), crlf);
    });
  });

  it("misspells the variable in every file that sets it", async () => {
    await withCopy("inventory-twice", async (dir) => {
      const edits = await inventoryTypo.inject({ kind: "inventory-typo", variable: "kube_network_node_prefix" }, dir);
      assert.deepEqual(edits.map((e) => [e.file, e.line]), [["group_vars/all.yml", 1], [K8S, 4]]);
    });
  });

  it("says which files it searched when no file sets the variable", async () => {
    await withCopy("inventory-unset", async (dir) => {
      await assert.rejects(
        inventoryTypo.inject({ kind: "inventory-typo", variable: "kube_network_node_prefix" }, dir),
        (err: unknown) =>
          err instanceof FaultlineError &&
          err.message === `inventory-typo: no group_vars file sets kube_network_node_prefix; searched group_vars/all.yml, ${K8S}` &&
          /set kube_network_node_prefix in the lab's inventory/.test(err.hint ?? ""),
      );
    });
  });

  it("refuses a misspelling already in use, and a revert that would duplicate a key, writing nothing", async () => {
    await withCopy("inventory-typo-taken", async (dir) => {
      const before = await read(dir, K8S);
      const spec = { kind: "inventory-typo", variable: "kube_network_node_prefix" } as const;
      await assert.rejects(inventoryTypo.inject(spec, dir), /k8s-cluster\.yml already sets kube_network_node_perfix/);
      await assert.rejects(inventoryTypo.revert(spec, dir), /cannot revert: .*sets both kube_network_node_perfix and kube_network_node_prefix/);
      assert.deepEqual(await read(dir, K8S), before);
    });
  });

  it("reports invalid YAML with file:line:column", async () => {
    await withCopy("inventory-malformed", async (dir) => {
      await assert.rejects(inventoryTypo.inject({ kind: "inventory-typo", variable: "kube_pods_subnet" }, dir), /^FaultlineError: group_vars\/k8s_cluster\/k8s-cluster\.yml:\d+:\d+: not valid YAML/);
    });
  });

  it("reports a missing group_vars folder", async () => {
    await assert.rejects(inventoryTypo.inject({ kind: "inventory-typo", variable: "x" }, fixture("inventory/group_vars/all")), /has no group_vars folder/);
  });

  it("checks that `as` differs from the variable", () => {
    assert.deepEqual(inventoryTypo.check({ kind: "inventory-typo", variable: "a_b", as: "a_b" }, { nodes: [], pods: [] }).map((p) => p.path), [["as"]]);
    assert.equal(inventoryTypo.schema.safeParse({ kind: "inventory-typo", variable: "kube network" }).success, false);
  });
});
