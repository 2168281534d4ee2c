/**
 * The in-sandbox `calicoctl` script against the Calico objects seeded from the flagship plan with the
 * inventory typo (/24 blocks, four for seven nodes), with a stand-in `kubectl` that lists them: the
 * tables come out in calicoctl's format, with the control plane's borrowed tunnel address.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { calicoObjects } from "../../../../server/sim/apiserver/seed/calico.js";
import type { ClusterPlan } from "../../../../server/sim/plan.js";
import { calicoctlScript } from "../../../../server/sandboxes/sim/tools/calicoctl.js";
import { FIXTURES } from "../../sim/apiserver/fixtures.js";

const plan = JSON.parse(readFileSync(`${FIXTURES}/flagship-plan-borrowing.json`, "utf8")) as ClusterPlan;
let dir: string;

function calicoctl(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync("bash", [path.join(dir, "calicoctl"), ...args], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("calicoctl (in-sandbox script)", () => {
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "calicoctl-"));
    const byType = new Map<string, unknown[]>();
    for (const o of calicoObjects(plan, new Date("2024-05-01T12:00:00Z"))) byType.set(o.type, [...(byType.get(o.type) ?? []), o.object]);
    for (const [type, items] of byType) writeFileSync(path.join(dir, `${type}.json`), JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    // `kubectl get <plural>.crd.projectcalico.org [name] -o json`
    writeFileSync(path.join(dir, "kubectl"), `#!/bin/bash\nf="${dir}/$2.json"\n[ -f "$f" ] || { echo "error: the server doesn't have a resource type \\"$2\\"" >&2; exit 1; }\nif [ "$3" != "-o" ]; then jq --arg n "$3" '.items[] | select(.metadata.name == $n)' "$f"; else cat "$f"; fi\n`);
    chmodSync(path.join(dir, "kubectl"), 0o755);
    writeFileSync(path.join(dir, "calicoctl"), calicoctlScript(plan.calicoVersion));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("ipam show --show-blocks: the pool, then one Block row per /24, in go-pretty's table", () => {
    const r = calicoctl("ipam", "show", "--show-blocks");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^\+-+\+-+\+-+\+-+\+-+\+$/);
    assert.match(lines[1]!, /^\| GROUPING \|\s+CIDR\s+\| IPS TOTAL \| IPS IN USE \|\s+IPS FREE\s+\|$/);
    assert.match(lines[3]!, new RegExp(`^\\| IP Pool  \\| ${plan.podsSubnet.replaceAll(".", "\\.")}\\s+\\|\\s+1024 \\| \\d+ \\(\\d+%\\)\\s+\\| \\d+ \\(\\d+%\\)\\s+\\|$`));
    const blocks = lines.filter((l) => l.startsWith("| Block "));
    assert.equal(blocks.length, 4);
    assert.ok(blocks.every((l) => /\| Block\s+\| 10\.233\.\d+\.0\/24\s+\|\s+256 \|/.test(l)), r.stdout);
    assert.equal(new Set(lines.map((l) => l.length)).size, 1, "every line of the table is as wide");
  });

  it("ipam show --show-borrowed lists the control plane's tunnel address in worker-3's block", () => {
    const cp = plan.nodes.find((n) => n.role === "control-plane")!;
    const r = calicoctl("ipam", "show", "--show-borrowed");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\|\s+IP\s+\| BORROWING-NODE \|\s+BLOCK\s+\| BLOCK OWNER \|\s+TYPE\s+\|\s+ALLOCATED-TO\s+\|$/m);
    const row = r.stdout.split("\n").find((l) => l.startsWith(`| ${cp.tunnelAddress} `));
    assert.ok(row, r.stdout);
    assert.match(row, new RegExp(`\\| ${cp.name}\\s+\\| 10\\.233\\.\\d+\\.0/24\\s+\\| worker-3\\s+\\| (ipip|vxlan)TunnelAddress\\s+\\|`));
  });

  it("get ippool -o wide, get blockaffinities, version; anything else prints usage and exits 1", () => {
    const pools = calicoctl("get", "ippool", "-o", "wide");
    assert.match(pools.stdout, /^NAME\s+CIDR\s+NAT\s+IPIPMODE\s+VXLANMODE\s+DISABLED\s+DISABLEBGPEXPORT\s+SELECTOR\ndefault-pool\s+10\.233\.64\.0\/22\s+true\s+/);
    const aff = calicoctl("get", "blockaffinities");
    assert.equal(aff.stdout.trim().split("\n").length, 5, aff.stdout);
    const v = calicoctl("version");
    assert.match(v.stdout, new RegExp(`^Client Version:\\s+${plan.calicoVersion}\\n(.*\\n)*Cluster Version:\\s+${plan.calicoVersion}\\n`));
    const bad = calicoctl("node", "status");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Usage:\n  calicoctl \[options\] <command>/);
  });
});
