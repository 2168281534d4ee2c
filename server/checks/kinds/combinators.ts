/**
 * `all`, `any`, `not`: checks made of checks.
 *
 * @example
 * ```yaml
 * # fixed at the source and in the cluster
 * check: {all: [{file: {path: inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml, yaml: kube_network_node_prefix, equals: 25}}, {ipam: blocks-disjoint}]}
 * # either workaround is accepted
 * check: {any: [{ipam: no-borrowed-tunnel-addresses}, {exec: {in: node/worker-3, command: "ip route get 10.233.64.3 | grep -v blackhole"}}]}
 * # the deny-all policy must not block DNS
 * check: {not: {probe: {from: pod/default/netshoot, to: svc/kube-system/coredns, port: 53, expect: timeout}}}
 * ```
 *
 * "Could not check" is kept apart from "not yet":
 * - `all` fails as soon as one child fails (children run in order, the rest are skipped); else it is
 *   "error" if a child could not be checked; else it passes.
 * - `any` passes as soon as one child passes (in order); else "error" if a child could not be checked
 *   (it might have passed); else it fails, with every child's reason.
 * - `not` swaps pass and fail; "error" stays "error".
 * Each child keeps its own time limit.
 */
import type { CheckResult, CheckSpec } from "../schema.js";
import type { CheckContext, CheckKindModule, Nested } from "../types.js";

export async function runAll(children: CheckSpec[], ctx: CheckContext, nested: Nested): Promise<CheckResult> {
  let error: CheckResult | null = null;
  for (const child of children) {
    const r = await nested.run(child, ctx);
    if (r.status === "fail") return r;
    if (r.status === "error") error ??= r;
  }
  return error ?? { status: "pass", detail: children.map((c) => nested.describe(c)).join("; ") };
}

export async function runAny(children: CheckSpec[], ctx: CheckContext, nested: Nested): Promise<CheckResult> {
  const fails: string[] = [];
  let error: CheckResult | null = null;
  for (const child of children) {
    const r = await nested.run(child, ctx);
    if (r.status === "pass") return r;
    if (r.status === "error") error ??= r;
    else fails.push(r.detail);
  }
  return error ?? { status: "fail", detail: fails.length === 1 ? fails[0]! : `none holds: ${fails.join("; ")}` };
}

export async function runNot(child: CheckSpec, ctx: CheckContext, nested: Nested): Promise<CheckResult> {
  const r = await nested.run(child, ctx);
  if (r.status === "error") return r;
  if (r.status === "pass") return { status: "fail", detail: `should not hold, but does: ${r.detail ?? nested.describe(child)}` };
  return { status: "pass", detail: `as expected, ${r.detail}` };
}

/** all / any: the children's triggers, described joined by `word`. */
function sequence<K extends "all" | "any">(kind: K, word: string, run: (children: CheckSpec[], ctx: CheckContext, nested: Nested) => Promise<CheckResult>): CheckKindModule<K> {
  return {
    kind,
    describe: (children, nested) => (children as CheckSpec[]).map((c) => nested.describe(c)).join(` ${word} `),
    triggers: (children, nested) => (children as CheckSpec[]).flatMap((c) => nested.triggers(c)),
    timeoutMs: () => null,
    run: (children, ctx, nested) => run(children as CheckSpec[], ctx, nested),
  };
}

export const all = sequence("all", "and", runAll);
export const any = sequence("any", "or", runAny);

export const not: CheckKindModule<"not"> = {
  kind: "not",
  describe: (child, nested) => `not: ${nested.describe(child)}`,
  triggers: (child, nested) => nested.triggers(child),
  timeoutMs: () => null,
  run: runNot,
};
