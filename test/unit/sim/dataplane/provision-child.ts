/**
 * Run by kernel.test.ts as `node provision-child.js <plan.json>` inside a throwaway user+network+mount
 * namespace: provisions the plan the way the supervisor does (named namespaces, then the rendered phases
 * through the real executor and spawnRunner). Not a test file itself; the test runner glob skips it.
 */
import { readFileSync } from "node:fs";
import { executePhases, spawnRunner } from "../../../../server/sim/dataplane/execute.js";
import { renderProvisioning } from "../../../../server/sim/dataplane/render.js";
import type { ClusterPlan } from "../../../../server/sim/plan.js";

const file = process.argv[2];
if (!file) throw new Error("usage: provision-child.js <plan.json>");
const prov = renderProvisioning(JSON.parse(readFileSync(file, "utf8")) as ClusterPlan);
await spawnRunner(["ip", "-batch", "-"], prov.netns.map((n) => `netns add ${n}`).join("\n") + "\n");
await executePhases(prov.phases);
