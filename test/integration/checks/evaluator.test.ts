/**
 * The live evaluator on a real flagship sandbox (webhook-to-kernel) with the lab's own objectives:
 * every objective starts "not yet" with the reason a trainee would find; the fix made through the
 * sandbox (the inventory edited in a node's shell, the cluster re-provisioned, the pool applied with
 * kubectl, the write-up saved) flips each objective within 2 s of the command returning; every
 * transition is recorded with its time; stopping leaves nothing running.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Evaluator, type TimelineEvent, type Transition } from "../../../server/checks/evaluator.js";
import { simCheckContext } from "../../../server/checks/sim-context.js";
import type { CheckContext } from "../../../server/checks/types.js";
import { loadLab, type Lab } from "../../../server/labs/lab.js";
import { cleanup, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("checks");
const VARS = "/root/workspace/inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml";
/** The brief's bound: an objective flips within 2 s of the fixing command returning. */
const FLIP_MS = 2000;

/** The first transition of `objective` to `to` recorded at or after index `from`, waiting up to `ms`. */
async function transition(events: TimelineEvent[], objective: string, to: Transition["to"], from: number, ms = 15_000): Promise<Transition> {
  const end = Date.now() + ms;
  for (;;) {
    const t = events.slice(from).find((e): e is Transition => e.type === "transition" && e.objective === objective && e.to === to);
    if (t) return t;
    if (Date.now() > end) throw new Error(`${objective} did not turn ${to} within ${ms} ms; recorded: ${JSON.stringify(events.slice(from))}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs `fix`, then returns the transition of `objective` to pass and how long after the fix returned it came (negative: before). */
async function flip(events: TimelineEvent[], objective: string, fix: () => Promise<unknown>): Promise<{ t: Transition; afterReturn: number; started: number }> {
  const mark = events.length;
  const started = Date.now();
  await fix();
  const returned = Date.now();
  const t = await transition(events, objective, "pass", mark);
  return { t, afterReturn: t.at - returned, started };
}

describe("the evaluator on a flagship sandbox", { timeout: 300_000 }, () => {
  let lab: Lab;
  let ctx: CheckContext;
  let ev: Evaluator;
  let writeup: string | null = null;
  const events: TimelineEvent[] = [];
  const state = (id: string) => ev.state().find((s) => s.objective === id)!;

  before(async () => {
    const loaded = await loadLab("webhook-to-kernel");
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
    lab = loaded.lab;
    await driver.up({ lab: "webhook-to-kernel", name });
    ctx = simCheckContext(driver, name, { writeup: () => writeup });
    ev = new Evaluator({ objectives: lab.objectives, hints: lab.hints, context: ctx, onEvent: (e) => events.push(e) });
  });
  after(async () => {
    await ev?.stop();
    ctx?.close?.();
    await cleanup(driver);
  });

  it("starts with every objective 'not yet' (none 'could not check'), each saying why", async () => {
    const initial = await ev.start();
    assert.deepEqual(initial.map((s) => s.objective).sort(), ["blocks-disjoint", "inventory-fixed", "pool-admitted", "webhook-reachable", "write-up"]);
    for (const s of initial) assert.equal(s.state, "fail", `${s.objective}: ${s.state}: ${s.detail}`);
    assert.equal(state("pool-admitted").detail, "IPAddressPool lab-pool not found in metallb-system");
    const cpTunnel = driver.plan(name).nodes.find((n) => n.name === "cp-1")!.tunnelAddress!;
    assert.match(state("blocks-disjoint").detail, new RegExp(`^cp-1's tunnel address ${cpTunnel.replaceAll(".", "\\.")} lies in 10\\.233\\.64\\.0/24, a block affine to worker-3`));
    assert.equal(state("inventory-fixed").detail, "inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml does not set kube_network_node_prefix");
    assert.match(state("webhook-reachable").detail, /^tcp node\/cp-1 -> svc\/metallb-system\/metallb-webhook-service \(10\.233\.\d+\.\d+:443\): timeout \(no answer\) within 2 s, expected open$/);
    assert.equal(state("write-up").detail, "no write-up yet");
    // Recorded as transitions from "pending", with their times.
    const first = events.filter((e): e is Transition => e.type === "transition");
    assert.equal(first.length, 5);
    for (const t of first) assert.equal(t.from, "pending");
  });

  it("the inventory fixed in a node's shell flips inventory-fixed within 2 s", async (tc) => {
    const { t, afterReturn, started } = await flip(events, "inventory-fixed", () =>
      driver.exec(name, "node/cp-1", ["sed", "-i", "s/^kube_network_nodes_prefix:/kube_network_node_prefix:/", VARS]),
    );
    assert.ok(t.at >= started && afterReturn <= FLIP_MS, `flipped ${afterReturn} ms after the command returned`);
    tc.diagnostic(`inventory-fixed flipped ${afterReturn} ms after sed returned`);
    assert.equal(t.detail, "inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml: kube_network_node_prefix is 25");
    assert.equal(state("blocks-disjoint").state, "fail", "the cluster is not rebuilt yet");
  });

  it("re-provisioning from the fixed inventory flips blocks-disjoint and webhook-reachable within 2 s of it finishing", async (tc) => {
    const mark = events.length;
    const started = Date.now();
    await driver.control(name, { op: "rebuild" });
    const returned = Date.now();
    for (const id of ["blocks-disjoint", "webhook-reachable"]) {
      const t = await transition(events, id, "pass", mark);
      assert.ok(t.at >= started && t.at - returned <= FLIP_MS, `${id} flipped ${t.at - returned} ms after the rebuild returned`);
      tc.diagnostic(`${id} flipped ${t.at - returned} ms after the rebuild returned (it took ${returned - started} ms)`);
    }
    assert.equal(state("blocks-disjoint").detail, "7 nodes, 7 blocks of /25 in 10.233.64.0/22: no overlap, every address in its node's own block");
    // While the API server restarted, the kube objective could not be checked; it is "not yet" again after.
    const pool = await transition(events, "pool-admitted", "fail", mark);
    assert.equal(pool.detail, "IPAddressPool lab-pool not found in metallb-system");
    for (const e of events.slice(mark)) {
      if (e.type === "transition" && e.to === "error") assert.match(e.detail, /^could not check: /);
    }
  });

  it("kubectl apply of the pool, admitted by MetalLB's webhook now, flips pool-admitted within 2 s", async (tc) => {
    const { t, afterReturn } = await flip(events, "pool-admitted", async () => {
      const r = await driver.exec(name, "node/cp-1", ["kubectl", "apply", "-f", "/root/workspace/metallb/pool.yaml"], { timeoutMs: 30_000 });
      assert.equal(r.stdout.trim(), "ipaddresspool.metallb.io/lab-pool created", r.stderr);
    });
    assert.ok(afterReturn <= FLIP_MS, `flipped ${afterReturn} ms after kubectl returned`);
    tc.diagnostic(`pool-admitted flipped ${afterReturn} ms after kubectl returned`);
    assert.equal(t.detail, "IPAddressPool metallb-system/lab-pool: exists");
  });

  it("the write-up, once saved (the web app calls evaluateNow), flips write-up", async () => {
    writeup = "The API server on cp-1 timed out calling MetalLB's webhook. tcpdump showed SYN-ACKs leaving the webhook pod and never arriving; on worker-3 ping to cp-1's tunnel address said Invalid argument: a blackhole route. The inventory misspelled kube_network_node_prefix, so /24 blocks left cp-1 borrowing. ".repeat(5);
    const { t, afterReturn } = await flip(events, "write-up", () => ev.evaluateNow());
    assert.ok(afterReturn <= 0, "evaluateNow resolves once the new state is known");
    assert.match(t.detail, /^\d+ words, mentions blackhole, kube_network_node_prefix$/);
    assert.ok(ev.state().every((s) => s.state === "pass"), JSON.stringify(ev.state()));
  });

  it("recorded every transition in order with its time, and hints and the solution as events", async () => {
    ev.requestHint();
    ev.revealSolution();
    const transitions = events.filter((e): e is Transition => e.type === "transition");
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.at >= events[i - 1]!.at, "in time order");
    for (const id of lab.objectives.map((o) => o.id)) {
      const mine = transitions.filter((t) => t.objective === id);
      assert.equal(mine[0]!.from, "pending");
      assert.equal(mine.at(-1)!.to, "pass");
      for (let i = 1; i < mine.length; i++) assert.equal(mine[i]!.from, mine[i - 1]!.to, `${id}: each transition starts where the last ended`);
    }
    assert.deepEqual(events.slice(-2).map((e) => e.type), ["hint", "solution"]);
    assert.deepEqual(ev.timeline(), events);
  });

  it("stops without leaving a timer, watch or watcher behind", async () => {
    await ev.stop();
    ctx.close?.();
    const n = events.length;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(events.length, n);
    const left = process.getActiveResourcesInfo().filter((r) => !["TTYWrap", "PipeWrap"].includes(r));
    assert.deepEqual(left, [], `left behind: ${left.join(", ")}`);
  });
});
