/**
 * The lab loader: front matter split from the markdown, validated, and turned into what a sandbox
 * needs. Every mistake must come back as `file:line:column: what is wrong` plus a fix (docs/lab-format.md,
 * "Errors"). Each edge case is a lab folder under test/fixtures/labs; the happy path is the bundled
 * flagship lab.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../server/errors.js";
import { loadLabSandboxSpec, splitFrontMatter } from "../../../server/labs/lab.js";
import { labsRoot, projectRoot } from "../../../server/paths.js";

/** test/fixtures/labs/<name> (test/support/sandbox.ts has the same for integration tests, with the driver attached). */
const fixtureLab = (name: string) => path.join(projectRoot, "test", "fixtures", "labs", name);

/** The README as the loader names it in messages: relative to the working directory. */
const shown = (dir: string) => path.relative(process.cwd(), path.join(dir, "README.md"));
const shownDir = (name: string) => path.relative(process.cwd(), fixtureLab(name));

/** Loading fixture `name` fails with exactly `message` (after the README's file name) and a hint matching `hint`. */
async function refuses(name: string, message: string | RegExp, hint: RegExp): Promise<void> {
  const dir = fixtureLab(name);
  await assert.rejects(loadLabSandboxSpec(dir), (e: unknown) => {
    assert.ok(e instanceof FaultlineError, `a FaultlineError, got ${String(e)}`);
    if (typeof message === "string") assert.equal(e.message, `${shown(dir)}:${message}`);
    else assert.match(e.message.slice(shown(dir).length), message);
    assert.ok(e.message.startsWith(shown(dir) + ":"), e.message);
    assert.match(e.hint ?? "", hint);
    return true;
  });
}

describe("splitFrontMatter", () => {
  it("returns the YAML between the --- lines, the line it starts on, and the markdown after", () => {
    assert.deepEqual(splitFrontMatter("README.md", "---\nid: x\ntitle: y\n---\n# Title\n\ntext\n"), {
      yaml: "id: x\ntitle: y",
      lineOffset: 1,
      body: "# Title\n\ntext\n",
    });
  });

  it("accepts CRLF line ends, blanks after the markers, and a file that ends at the closing marker", () => {
    assert.deepEqual(splitFrontMatter("R.md", "--- \r\nid: x\r\n---\t\r\nbody"), { yaml: "id: x", lineOffset: 1, body: "body" });
    assert.deepEqual(splitFrontMatter("R.md", "---\nid: x\n---"), { yaml: "id: x", lineOffset: 1, body: "" });
  });

  it("ends at the first closing marker; later --- lines belong to the markdown", () => {
    const r = splitFrontMatter("R.md", "---\nid: x\n---\nintro\n---\nmore\n");
    assert.equal(r.yaml, "id: x");
    assert.equal(r.body, "intro\n---\nmore\n");
  });

  it("refuses a file that does not start with the marker, pointing at 1:1 with the layout to use", () => {
    for (const text of ["# Title\n---\nid: x\n---\n", "\n---\nid: x\n---\n", "---\nid: x\n", "----\nid: x\n----\n", ""]) {
      assert.throws(() => splitFrontMatter("labs/x/README.md", text), (e: unknown) => {
        assert.ok(e instanceof FaultlineError, JSON.stringify(text));
        assert.equal(e.message, "labs/x/README.md:1:1: no front matter");
        assert.match(e.hint ?? "", /start the file with a line `---`, the lab's YAML .* then a line `---`/);
        return true;
      });
    }
  });
});

describe("loadLabSandboxSpec: the flagship lab webhook-to-kernel", () => {
  it("by id: folders resolved, inventory relative to the workspace, faults kept", async () => {
    const lab = await loadLabSandboxSpec("webhook-to-kernel");
    const dir = path.join(labsRoot, "webhook-to-kernel");
    assert.equal(lab.id, "webhook-to-kernel");
    assert.equal(lab.title, "The webhook that timed out: from kubectl down to the kernel");
    assert.equal(lab.dir, dir);
    assert.equal(lab.workspaceDir, path.join(dir, "files"));
    assert.equal(lab.inventoryInWorkspace, path.join("inventory", "mycluster"));
    assert.deepEqual(lab.faults, [{ kind: "inventory-typo", variable: "kube_network_node_prefix", as: "kube_network_nodes_prefix" }]);
  });

  it("the cluster as written, with the schema's defaults filled in", async () => {
    const { cluster } = await loadLabSandboxSpec("webhook-to-kernel");
    assert.equal(cluster.kubespray, "v2.19");
    assert.equal(cluster.nodeNetwork, "192.168.10.0/24");
    assert.equal(cluster.inventory, "files/inventory/mycluster");
    assert.deepEqual(cluster.nodes, [
      { name: "cp-1", role: "control-plane" },
      { name: "worker", role: "worker", count: 6 }, // role defaults to worker
    ]);
    assert.deepEqual(cluster.blockClaimOrder, ["worker-3", "worker-1", "worker-2", "worker-4", "worker-5", "worker-6", "cp-1"]);
    assert.deepEqual(cluster.addons, ["calico", "coredns", "metallb"]);
    assert.equal(cluster.pods.length, 13);
    assert.deepEqual(cluster.pods[0], {
      namespace: "metallb-system",
      name: "controller-7d9cf7f8b-x2kqv",
      node: "worker-3",
      labels: { app: "metallb", component: "controller" },
    });
    const [kubernetes, coredns, webhook] = cluster.services;
    assert.deepEqual(kubernetes, {
      namespace: "default", name: "kubernetes", clusterIP: "10.233.0.1", selector: {}, nodeEndpoints: ["cp-1"],
      ports: [{ name: "https", port: 443, targetPort: 6443, protocol: "TCP" }],
    });
    assert.deepEqual(coredns!.ports, [
      { name: "dns", port: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53, protocol: "TCP" },
    ]);
    assert.deepEqual(webhook, {
      namespace: "metallb-system", name: "metallb-webhook-service", selector: { component: "controller" }, nodeEndpoints: [],
      ports: [{ port: 443, targetPort: 9443, protocol: "TCP" }],
    });
  });

  it("by folder path, the same lab", async () => {
    assert.deepEqual(await loadLabSandboxSpec(path.join(labsRoot, "webhook-to-kernel")), await loadLabSandboxSpec("webhook-to-kernel"));
  });

  it("an unknown id names the file looked for and how to list the labs", async () => {
    await assert.rejects(loadLabSandboxSpec("no-such-lab"), (e: unknown) => {
      assert.ok(e instanceof FaultlineError);
      assert.equal(e.message, `lab "no-such-lab" not found (no ${path.join(labsRoot, "no-such-lab", "README.md")})`);
      assert.match(e.hint ?? "", /faultline lab ls/);
      return true;
    });
  });
});

describe("loadLabSandboxSpec: mistakes, each pointing at file:line:column", () => {
  it("no front matter", () => refuses("no-front-matter", "1:1: no front matter", /start the file with a line `---`/));

  it("front matter that is not YAML: the line in the README, not in the YAML", () =>
    refuses("front-matter-not-yaml", "5:1: not valid YAML: Tabs are not allowed as indentation", /fix the YAML syntax at that position/));

  it("an unknown fault kind, with did-you-mean and the known kinds", () =>
    refuses(
      "unknown-fault-kind",
      '9:12: faults.1.kind: unknown fault kind "blackhole-rout"; did you mean blackhole-route?',
      /^known kinds: inventory-typo, blackhole-route, delete-route, drop-traffic, mtu \(see docs\/faults\.md\)$/,
    ));

  it("a wrong type: the value's own position", () => refuses("bad-node-count", /^:7:29: cluster\.nodes\.1\.count: .*expected number/, /docs\/lab-format\.md/));

  it("an inventory outside the workspace", () =>
    refuses(
      "inventory-outside-workspace",
      "6:14: the inventory must live inside the workspace (files/) so the trainee can edit it",
      /^move it under files\/$/,
    ));

  it("a workspace folder that does not exist", () =>
    refuses("missing-workspace", `7:12: workspace folder workspace does not exist in ${shownDir("missing-workspace")}`, /^create it or fix the path$/));

  it("an inventory folder that does not exist", () =>
    refuses(
      "missing-inventory",
      `6:14: cluster.inventory folder ${path.join("files", "inventory", "mycluster")} does not exist in ${shownDir("missing-inventory")}`,
      /^create it or fix the path$/,
    ));

  it("a node declared twice via count", () =>
    refuses("node-twice-via-count", /^:[78]:\d+: .*worker-1.*twice/, /unique/));

  it("an inventory that escapes the workspace through a symlink", () =>
    refuses("inventory-symlink-escape", /^:6:14: the inventory must live inside the workspace/, /move it under files\//));

  it("an inventory folder inside the workspace whose name starts with '..' is accepted", async () => {
    const lab = await loadLabSandboxSpec(fixtureLab("inventory-dotdot-name"));
    assert.equal(lab.inventoryInWorkspace, "..inventory");
  });
});
