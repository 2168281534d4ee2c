/**
 * `kube`: Kubernetes objects exist, match a partial object, or are absent.
 *
 * @example
 * ```yaml
 * # one object by name
 * check: {kube: {apiVersion: metallb.io/v1beta1, kind: IPAddressPool, namespace: metallb-system, name: lab-pool}}
 * # every pod labelled app=web is Running, and there are at least two
 * check: {kube: {apiVersion: v1, kind: Pod, namespace: default, labelSelector: app=web, match: {status: {phase: Running}}, count: {min: 2}}}
 * # no NetworkPolicy named deny-all is left
 * check: {kube: {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, namespace: default, name: deny-all, absent: true}}
 * ```
 *
 * Which objects are selected: the one named `name`, or every object matching `labelSelector` (all
 * objects of the kind without either), in `namespace` (every namespace without one).
 * - Default: with `name`, the object exists and contains `match`. With a selector, every selected object
 *   contains `match`, and their number lies within `count` (default `{min: 1}`).
 * - `absent: true`: no selected object contains `match` (without `match`: nothing is selected).
 *
 * An API server that cannot be reached, or answers 401/403/5xx, is "could not check", not "fail".
 * A kind the API server does not serve (its CRD is not installed) is "fail": it can be installed.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { CheckResult, KubeCheck } from "../schema.js";
import { apiUnavailable, httpStatus, isUnknownKind } from "../kube-client.js";
import type { CheckContext, CheckKindModule } from "../types.js";

/**
 * Where `actual` does not contain `expected`, as "path: what differs"; null when it does. The rule:
 * - an object matches when every key of `expected` matches the same key of `actual` (other keys of
 *   `actual` are ignored); an expected `null` matches a missing key or null;
 * - an array matches when every expected element matches at least one element of `actual`, in any
 *   order (the same actual element may serve several expected ones; `actual` may hold more);
 * - anything else matches only the identical value: `"443"` does not match `443`.
 *
 * @example
 * subsetMismatch({ spec: { addresses: ["10.0.0.1-10.0.0.9"] } }, pool) // null, or "spec.addresses: no element matches "10.0.0.1-10.0.0.9" (has [...])"
 */
export function subsetMismatch(expected: unknown, actual: unknown, path = ""): string | null {
  const here = path || "(the object)";
  if (expected === null) return actual === null || actual === undefined ? null : `${here} is ${show(actual)}, expected null`;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${here} is ${actual === undefined ? "not set" : show(actual)}, expected a list`;
    for (const want of expected) {
      if (!actual.some((have) => subsetMismatch(want, have) === null)) return `${here}: no element matches ${show(want)} (has ${show(actual)})`;
    }
    return null;
  }
  if (typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
      return `${here} is ${actual === undefined ? "not set" : show(actual)}, expected an object`;
    }
    for (const [key, want] of Object.entries(expected as Record<string, unknown>)) {
      const miss = subsetMismatch(want, (actual as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      if (miss) return miss;
    }
    return null;
  }
  if (expected === actual) return null;
  return actual === undefined ? `${here} is not set, expected ${show(expected)}` : `${here} is ${show(actual)}, expected ${show(expected)}`;
}

function show(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 120 ? text.slice(0, 117) + "..." : text;
}

/** "IPAddressPool metallb-system/lab-pool", "Pod app=web in default", "NetworkPolicy in every namespace". */
function what(spec: KubeCheck): string {
  if (spec.name) return `${spec.kind} ${spec.namespace ? `${spec.namespace}/` : ""}${spec.name}`;
  const sel = spec.labelSelector ? ` ${spec.labelSelector}` : "";
  return `${spec.kind}${sel} ${spec.namespace ? `in ${spec.namespace}` : "in every namespace"}`;
}

const objectsCount = (n: number) => `${n} object${n === 1 ? "" : "s"}`;

/** The objects the check selects (none when the named object does not exist). */
async function select(ctx: CheckContext, spec: KubeCheck): Promise<KubernetesObject[]> {
  // A named object in a namespace the evaluator watches: its watch has the current state.
  const cached = spec.name && spec.namespace ? ctx.watched?.get(spec.apiVersion, spec.kind, spec.namespace, spec.name) : undefined;
  if (cached !== undefined) return cached ? [cached] : [];
  const api = ctx.kube().objects.withSignal(ctx.signal);
  if (spec.name) {
    try {
      const header = { apiVersion: spec.apiVersion, kind: spec.kind, metadata: { name: spec.name, ...(spec.namespace ? { namespace: spec.namespace } : {}) } };
      return [await api.read(header)];
    } catch (err) {
      if (httpStatus(err) === 404 && !isUnknownKind(err)) return [];
      throw err;
    }
  }
  const list = await api.list(spec.apiVersion, spec.kind, spec.namespace, undefined, undefined, undefined, undefined, spec.labelSelector);
  return list.items;
}

function nameOf(o: KubernetesObject): string {
  return `${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name ?? "?"}`;
}

export async function runKube(spec: KubeCheck, ctx: CheckContext): Promise<CheckResult> {
  let objects: KubernetesObject[];
  try {
    objects = await select(ctx, spec);
  } catch (err) {
    if (isUnknownKind(err)) {
      return { status: spec.absent ? "pass" : "fail", detail: `the API server does not serve ${spec.kind} (${spec.apiVersion}): is its CRD installed?` };
    }
    throw apiUnavailable(err);
  }
  const mismatch = (o: KubernetesObject) => (spec.match ? subsetMismatch(spec.match, o) : null);
  const where = spec.namespace ? ` in ${spec.namespace}` : "";

  if (spec.absent) {
    const present = objects.filter((o) => mismatch(o) === null);
    if (present.length === 0) return { status: "pass", detail: `${what(spec)}: ${spec.match ? "none matches" : spec.name ? "does not exist" : "none"}` };
    return { status: "fail", detail: `${spec.kind} ${present.map(nameOf).join(", ")} still ${present.length === 1 ? "exists" : "exist"}${spec.match ? " and matches" : ""}` };
  }
  if (spec.name) {
    const obj = objects[0];
    if (!obj) return { status: "fail", detail: `${spec.kind} ${spec.name} not found${where}` };
    const miss = mismatch(obj);
    return miss ? { status: "fail", detail: `${what(spec)}: ${miss}` } : { status: "pass", detail: `${what(spec)}: exists${spec.match ? " and matches" : ""}` };
  }
  const min = spec.count?.min ?? 1;
  const max = spec.count?.max;
  if (objects.length < min) return { status: "fail", detail: `${what(spec)}: ${objectsCount(objects.length)}, expected at least ${min}` };
  if (max !== undefined && objects.length > max) return { status: "fail", detail: `${what(spec)}: ${objectsCount(objects.length)}, expected at most ${max}` };
  for (const o of objects) {
    const miss = mismatch(o);
    if (miss) return { status: "fail", detail: `${spec.kind} ${nameOf(o)}: ${miss}` };
  }
  return { status: "pass", detail: `${what(spec)}: ${objectsCount(objects.length)}${spec.match ? ", all matching" : ""}` };
}

export const kube: CheckKindModule<"kube"> = {
  kind: "kube",
  describe: (spec) => {
    if (spec.absent) return `${what(spec)}: ${spec.match ? "none matches" : spec.name ? "does not exist" : "none"}`;
    return `${what(spec)}: ${spec.match ? "matches" : "exists"}`;
  },
  triggers: (spec) => [{ type: "kube", apiVersion: spec.apiVersion, kind: spec.kind, ...(spec.namespace ? { namespace: spec.namespace } : {}) }],
  timeoutMs: () => 5000,
  run: (spec, ctx) => runKube(spec, ctx),
};
