/**
 * loadLab: the whole lab, or every problem at its file:line:column with a fix. Each mistake is one lab
 * folder under test/fixtures/labs, complete but for that one mistake, so each must yield exactly one
 * problem; the bundled labs must load clean.
 */
import assert from "node:assert/strict";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { loadLab, loadLabSandboxSpec, LabInvalidError, type Lab, type LabProblem } from "../../../server/labs/lab.js";
import { labsRoot, projectRoot } from "../../../server/paths.js";

const fixtures = path.join(projectRoot, "test", "fixtures", "labs");
const rel = (p: string) => path.relative(process.cwd(), p);
/** Where problems in fixture `name`'s README are reported. */
const readme = (name: string) => rel(path.join(fixtures, name, "README.md"));

async function problemsOf(dir: string, opts = {}): Promise<LabProblem[]> {
  const res = await loadLab(dir, opts);
  assert.equal(res.ok, false, `${dir} should be invalid`);
  return res.ok ? [] : res.errors;
}

async function valid(dir: string, opts = {}): Promise<Lab> {
  const res = await loadLab(dir, opts);
  assert.ok(res.ok, res.ok ? "" : res.errors.map((e) => `${e.location}: ${e.message}`).join("\n"));
  return res.lab;
}

/** Fixture `name` yields exactly one problem: at `where` (line:col in its README, or a whole location), saying `message`, with a hint matching `hint`. */
const MISTAKES: Array<[name: string, where: string, message: string, hint: RegExp]> = [
  ["no-front-matter", "1:1", "no front matter", /^start the file with a line `---`/],
  ["front-matter-not-yaml", "5:1", "not valid YAML: Tabs are not allowed as indentation", /fix the YAML syntax at that position/],
  ["front-matter-not-a-mapping", "2:1", "the front matter is not a mapping of keys", /key: value/],
  ["unknown-key-typo", "16:1", 'unknown key "objectves"; did you mean "objectives"?', /^the front matter takes id, title, summary, level, duration, tags, drivers, cluster, workspace, faults, manifests, objectives, hints, solutions, concepts, writeup$/],
  ["unknown-key-objective", "22:5", 'objectives.1: unknown key "chek"; did you mean "check"?', /^objectives\.1 takes id, title, check, initiallyFailing$/],
  ["unknown-check-kind", "22:13", 'objectives.1.check: unknown check kind "kubee"; did you mean kube?', /^check kinds: kube, probe, exec, file, ipam, writeup, all, any, not \(see "Checks" in docs\/lab-format\.md\)$/],
  ["unknown-check-key", "22:71", 'objectives.1.check.kube: unknown key "nme"; did you mean "name"?', /^objectives\.1\.check\.kube takes apiVersion, kind, namespace, name, labelSelector, match, absent, count$/],
  ["nested-check-unknown-kind", "22:45", 'objectives.1.check.all.1: unknown check kind "fiel"; did you mean file?', /^check kinds: /],
  ["unknown-fault-kind", "9:12", 'faults.1.kind: unknown fault kind "blackhole-rout"; did you mean blackhole-route?', /^known kinds: inventory-typo, blackhole-route, delete-route, drop-traffic, mtu \(see docs\/faults\.md\)$/],
  ["bad-level", "5:8", 'level: Invalid option: expected one of "intro"|"intermediate"|"advanced"; did you mean "intermediate"?', /`level` in docs\/lab-format\.md/],
  ["missing-title", "2:1", 'missing required key "title"', /`title` in docs\/lab-format\.md/],
  ["bad-node-count", "7:29", "cluster.nodes.1.count: Invalid input: expected number, received string", /`cluster` in docs\/lab-format\.md/],
  ["bad-duration", "25:13", "hints.1.after: a duration is a number with a unit: 500ms, 10s, 15m, 1h", /`hints` in docs\/lab-format\.md/],
  ["bad-hint", "25:17", 'hints.1: unknown key "txt"; did you mean "text"?', /^hints\.1 takes text, after$/],
  ["id-not-folder-name", "2:5", 'id: "id-not-the-folder" is not the lab\'s folder name (id-not-folder-name)', /name the folder after the id/],
  ["duplicate-objective-id", "20:9", 'objectives.1.id: duplicate objective id "web-reachable" (objectives.0 has it)', /every objective its own id/],
  ["bad-regex", "22:66", "objectives.1.check.exec.stdout: not a valid regular expression: Invalid regular expression: /^blackhole (10\\.233/: Unterminated group", /single-quote/],
  ["probe-unknown-node", "19:27", "objectives.0.check.probe.from: node cp-2 does not exist; nodes are cp-1, worker-1, worker-2", /^did you mean cp-1\?$/],
  ["exec-unknown-pod", "22:24", "objectives.1.check.exec.in: pod default/web-1 does not exist; pods are default/web", /^did you mean default\/web\?$/],
  ["node-twice-via-count", "8:7", 'node "worker-1" is declared twice (after count expansion)', /unique name/],
  ["bad-node-network", "9:16", 'cluster.nodeNetwork: "192.168.10.0/33" is not an IPv4 CIDR', /address\/prefix/],
  ["fault-unknown-node", "15:35", "faults.0.node: node worker-3 does not exist; nodes are cp-1, worker-1, worker-2", /^did you mean worker-1\?$/],
  ["fault-bad-cidr", "15:51", 'faults.0.cidr: "10.233.64.0/33" is not an IPv4 CIDR', /address\/prefix/],
  ["missing-workspace", "7:12", `workspace folder workspace does not exist in ${rel(path.join(fixtures, "missing-workspace"))}`, /^create it or fix the path$/],
  ["missing-inventory", "6:14", `cluster.inventory folder ${path.join("files", "inventory", "mycluster")} does not exist in ${rel(path.join(fixtures, "missing-inventory"))}`, /^create it or fix the path$/],
  ["inventory-outside-workspace", "6:14", "the inventory must live inside the workspace (files/) so the trainee can edit it", /^move it under files\/$/],
  ["inventory-symlink-escape", "6:14", "the inventory must live inside the workspace (files/) so the trainee can edit it", /^move it under files\/$/],
  ["missing-solution", "2:1", `solution folder solution/ does not exist in ${rel(path.join(fixtures, "missing-solution"))} (every lab needs one; solution/ is the default)`, /create solution\/solve\.sh, or list the solution folders/],
  ["solution-not-executable", "2:1", `${rel(path.join(fixtures, "solution-not-executable", "solution", "solve.sh"))} is not executable`, /^chmod \+x .*solve\.sh \(git keeps the mode/],
  ["solution-in-workspace", "26:13", "solutions.0: solution folder files/solution/ is inside the workspace, which is copied to the trainee", /next to the workspace/],
  ["writeup-without-model", "2:1", `${rel(path.join(fixtures, "writeup-without-model", "solution", "writeup.md"))} does not exist, but objective blocks-disjoint checks the write-up`, /model write-up/],
  ["unknown-concept", "26:12", `concepts.0: no concept page ${rel(path.join(projectRoot, "content", "concepts", "no-such-concept.md"))}`, /write .*no-such-concept\.md, or remove "no-such-concept" from concepts/],
  ["fault-variable-not-set", "15:5", "faults.0: inventory-typo: no group_vars file sets kube_service_addresses; searched group_vars/k8s_cluster/k8s-cluster.yml", /set kube_service_addresses in the lab's inventory/],
  ["manifest-missing", "13:13", `manifest setup/missing.yaml does not exist in ${rel(path.join(fixtures, "manifest-missing"))}`, /^create it or fix the path$/],
  ["manifest-not-an-object", "13:13", "manifest setup/broken.yaml: document 1 is not a Kubernetes object (apiVersion, kind and metadata.name are required)", /kubectl apply -f/],
  ["pool-too-small", "7:14", "cluster.inventory: kubespray v2.19 default: kube_network_node_prefix = 24 is shorter than kube_pods_subnet's /26: kube-controller-manager cannot split the pod subnet into /24 node ranges", /node prefix of at least 26/],
];

/** Mistakes found in the inventory, reported in the inventory file itself. */
const INVENTORY_MISTAKES: Array<[name: string, where: string, message: RegExp]> = [
  ["bad-cidr", "1:19", /^kube_pods_subnet = '10\.233\.64\.0\/33' is not a valid network range$/],
  ["malformed-inventory", "3:1", /^not valid YAML: /],
];

describe("loadLab: one mistake per fixture, exactly one problem at its file:line:column", () => {
  for (const [name, where, message, hint] of MISTAKES) {
    it(name, async () => {
      const problems = await problemsOf(path.join(fixtures, name));
      assert.deepEqual(problems.map((p) => ({ location: p.location, message: p.message })), [{ location: `${readme(name)}:${where}`, message }]);
      assert.match(problems[0]!.hint, hint);
    });
  }
  for (const [name, where, message] of INVENTORY_MISTAKES) {
    it(`${name}: kubespray's evaluation fails, at the line in the inventory`, async () => {
      const problems = await problemsOf(path.join(fixtures, name));
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0]!.location, `${rel(path.join(fixtures, name, "files", "inventory", "group_vars", "k8s_cluster", "k8s-cluster.yml"))}:${where}`);
      assert.match(problems[0]!.message, message);
    });
  }

  it("a lab that is not there", async () => {
    const problems = await problemsOf("no-such-lab");
    assert.deepEqual(problems, [{
      location: rel(path.join(labsRoot, "no-such-lab")),
      message: `lab "no-such-lab" not found (no ${path.join(labsRoot, "no-such-lab", "README.md")})`,
      hint: "run `faultline lab ls` for the bundled labs, or pass a lab folder path",
    }]);
  });
});

describe("loadLab: every problem at once, in reading order", () => {
  const tmp = mkdtempSync(path.join(tmpdir(), "faultline-labs-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("collects schema, topology, regex, id and file problems in one pass", async () => {
    const dir = path.join(tmp, "many-mistakes");
    cpSync(path.join(fixtures, "valid-full"), dir, { recursive: true });
    const text = readFileSync(path.join(dir, "README.md"), "utf8")
      .replace("id: valid-full", "id: many-mistakes")
      .replace("level: intro", "levle: intro")
      .replace("from: node/cp-1", "from: node/cp-9")
      .replace("  - id: blocks-disjoint", "  - id: web-reachable")
      .replace("stdout: '^blackhole'", "stdout: '(('")
      .replace("after: 5m", "after: soon");
    writeFileSync(path.join(dir, "README.md"), text);
    chmodSync(path.join(dir, "solution-alt", "solve.sh"), 0o644);
    const problems = await problemsOf(dir);
    const file = rel(path.join(dir, "README.md"));
    assert.deepEqual(problems.map((p) => `${p.location.slice(file.length + 1)} ${p.message.split(":")[0]}`), [
      "5:1 unknown key \"levle\"; did you mean \"level\"?",
      "21:27 objectives.0.check.probe.from",
      "22:9 objectives.1.id",
      "28:133 objectives.2.check.all.1.not.exec.stdout",
      "31:13 hints.1.after",
      "32:24 solutions.1",
    ]);
  });

  it("does not dry-run provisioning while other problems stand (its errors would only confuse)", async () => {
    const dir = path.join(tmp, "bad-solution-and-inventory");
    cpSync(path.join(fixtures, "pool-too-small"), dir, { recursive: true });
    writeFileSync(path.join(dir, "README.md"), readFileSync(path.join(dir, "README.md"), "utf8").replace("id: pool-too-small", "id: bad-solution-and-inventory"));
    rmSync(path.join(dir, "solution"), { recursive: true });
    const problems = await problemsOf(dir);
    assert.deepEqual(problems.map((p) => p.message.split(" ").slice(0, 2).join(" ")), ["solution folder"]);
  });
});

describe("loadLab: valid labs", () => {
  it("the flagship lab: front matter with defaults, durations in ms, resolved paths, body", async () => {
    const [lab, spec] = [await valid("webhook-to-kernel"), await loadLabSandboxSpec("webhook-to-kernel")];
    const dir = path.join(labsRoot, "webhook-to-kernel");
    // What the sandbox reads is the same whichever loader reads it.
    for (const key of ["id", "title", "dir", "cluster", "workspaceDir", "inventoryInWorkspace", "faults"] as const) assert.deepEqual(lab[key], spec[key], key);
    assert.equal(lab.level, "advanced");
    assert.equal(lab.duration, 90 * 60_000);
    assert.deepEqual(lab.drivers, ["sim"]);
    assert.deepEqual(lab.objectives.map((o) => o.id), ["pool-admitted", "blocks-disjoint", "inventory-fixed", "webhook-reachable", "write-up"]);
    assert.ok(lab.objectives.every((o) => o.initiallyFailing));
    assert.deepEqual(lab.objectives[2]!.check, {
      file: { path: "inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml", exists: true, yaml: "kube_network_node_prefix", equals: 25 },
    });
    assert.deepEqual(lab.objectives[3]!.check, {
      probe: { from: "node/cp-1", to: "svc/metallb-system/metallb-webhook-service", port: 443, expect: "open", path: "/", timeout: 2000 },
    });
    assert.deepEqual(lab.hints.map((h) => h.after), [undefined, 15 * 60_000, 30 * 60_000, 45 * 60_000, 60 * 60_000]);
    assert.deepEqual(lab.solutions, ["solution/"]);
    assert.deepEqual(lab.solutionDirs, [path.join(dir, "solution")]);
    assert.deepEqual(lab.concepts, []);
    assert.equal(lab.readme, path.join(dir, "README.md"));
    assert.match(lab.body, /^# The webhook that timed out\n/);
    assert.match(lab.writeup ?? "", /^What did you see at each layer/);
  });

  it("the flagship's solve.sh fixes the variable in ~/workspace, re-provisions, applies the pool with retries", () => {
    const solve = readFileSync(path.join(labsRoot, "webhook-to-kernel", "solution", "solve.sh"), "utf8");
    assert.match(solve, /^#!\/bin\/bash\n/);
    assert.match(solve, /cd "\$HOME\/workspace"/);
    assert.match(solve, /sed -i 's\/\^kube_network_nodes_prefix:\/kube_network_node_prefix:\/'/);
    assert.match(solve, /faultline-reprovision/);
    assert.match(solve, /kube apply -f metallb\/pool\.yaml/);
    const words = readFileSync(path.join(labsRoot, "webhook-to-kernel", "solution", "writeup.md"), "utf8").split(/\s+/).filter(Boolean);
    assert.ok(words.length >= 150, `${words.length} words`);
  });

  it("every key set: tags, drivers, several solutions, combinators, writeup", async () => {
    const lab = await valid(path.join(fixtures, "valid-full"));
    assert.deepEqual(lab.tags, ["networking", "calico"]);
    assert.deepEqual(lab.drivers, ["sim", "kind"]);
    assert.deepEqual(lab.solutionDirs, [path.join(fixtures, "valid-full", "solution"), path.join(fixtures, "valid-full", "solution-alt")]);
    assert.deepEqual(lab.hints, [{ text: "Which node drops the packets?" }, { after: 300_000, text: "ip route on worker-1" }]);
    assert.deepEqual(lab.objectives[2]!.check, {
      all: [
        { writeup: { minWords: 10, mentions: ["blackhole"] } },
        { not: { exec: { in: "pod/default/web", command: "ip route", stdout: "^blackhole", exitCode: 0, timeout: 5000 } } },
      ],
    });
  });

  it("defaults: drivers [sim], solutions [solution/], no tags, hints, concepts or writeup", async () => {
    const lab = await valid(path.join(fixtures, "small-ok"));
    assert.deepEqual([lab.drivers, lab.solutions, lab.tags, lab.hints, lab.concepts, lab.writeup, lab.workspace], [["sim"], ["solution/"], [], [], [], undefined, "files/"]);
  });

  it("concept pages are looked up under contentRoot, with did-you-mean among the pages there", async () => {
    const content = mkdtempSync(path.join(tmpdir(), "faultline-content-"));
    try {
      mkdirSync(path.join(content, "concepts"));
      writeFileSync(path.join(content, "concepts", "no-such-concepts.md"), "# a page\n");
      const problems = await problemsOf(path.join(fixtures, "unknown-concept"), { contentRoot: content });
      assert.equal(problems.length, 1);
      assert.match(problems[0]!.message, /^concepts\.0: no concept page .*no-such-concept\.md$/);
      assert.equal(problems[0]!.hint, "did you mean no-such-concepts?");
      writeFileSync(path.join(content, "concepts", "no-such-concept.md"), "# the page\n");
      const lab = await valid(path.join(fixtures, "unknown-concept"), { contentRoot: content });
      assert.deepEqual(lab.conceptPages, [path.join(content, "concepts", "no-such-concept.md")]);
    } finally {
      rmSync(content, { recursive: true, force: true });
    }
  });
});

describe("loadLabSandboxSpec reads only the sandbox's part", () => {
  it("a lab whose objectives are wrong can still be brought up", async () => {
    const spec = await loadLabSandboxSpec(path.join(fixtures, "unknown-check-kind"));
    assert.equal(spec.id, "unknown-check-kind");
  });

  it("its errors carry every problem of that part", async () => {
    await assert.rejects(loadLabSandboxSpec(path.join(fixtures, "fault-unknown-node")), (e: unknown) => {
      assert.ok(e instanceof LabInvalidError);
      assert.equal(e.message, `${readme("fault-unknown-node")}:15:35: faults.0.node: node worker-3 does not exist; nodes are cp-1, worker-1, worker-2`);
      assert.equal(e.problems.length, 1);
      return true;
    });
  });
});
