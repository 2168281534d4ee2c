/**
 * What the controllers share: typed views of the object fields they read, pod readiness and
 * availability (k8s.io/kubernetes/pkg/api/v1/pod), owner references (metav1.GetControllerOf), label
 * selectors, tolerations against taints (core/v1 helper), int-or-percent scaling (apimachinery intstr)
 * and an order-insensitive deep equality, so a controller only writes what actually changed.
 */
import { selectorMatches } from "../selectors.js";
import { isRecord, type KObject, type OwnerReference } from "../objects.js";

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
}

export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol?: string;
}

export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface PodSpec {
  nodeName?: string;
  schedulerName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] } }; [k: string]: unknown };
  containers?: Container[];
  initContainers?: Container[];
  hostNetwork?: boolean;
  hostname?: string;
  subdomain?: string;
  restartPolicy?: string;
  [k: string]: unknown;
}

export interface PodStatus {
  phase?: string;
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  conditions?: Condition[];
  containerStatuses?: Array<{ restartCount?: number }>;
  [k: string]: unknown;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: PodSpec;
}

/** The `.spec` of a pod (an empty object when missing). */
export function podSpec(pod: KObject): PodSpec {
  return isRecord(pod.spec) ? (pod.spec as PodSpec) : {};
}

export function podStatus(pod: KObject): PodStatus {
  return isRecord(pod.status) ? (pod.status as PodStatus) : {};
}

/** A record-valued field (`spec`, `status`) as `T`, empty when missing. */
export function field<T extends object>(o: KObject, key: string): T {
  const v = o[key];
  return (isRecord(v) ? v : {}) as T;
}

export function getCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return (conditions ?? []).find((c) => c.type === type);
}

/** podutil.IsPodReady: condition Ready is True. */
export function isPodReady(pod: KObject): boolean {
  return getCondition(podStatus(pod).conditions, "Ready")?.status === "True";
}

/**
 * podutil.IsPodAvailable: ready for at least minReadySeconds. With minReadySeconds > 0 also returns
 * when it will be (ms since epoch), so the caller can look again then.
 */
export function podAvailability(pod: KObject, minReadySeconds: number, now: Date): { available: boolean; at?: number } {
  const ready = getCondition(podStatus(pod).conditions, "Ready");
  if (ready?.status !== "True") return { available: false };
  if (minReadySeconds <= 0) return { available: true };
  const since = Date.parse(ready.lastTransitionTime ?? "");
  if (Number.isNaN(since)) return { available: true };
  const at = since + minReadySeconds * 1000;
  return at <= now.getTime() ? { available: true } : { available: false, at };
}

/** Not Succeeded/Failed and not being deleted (controller.FilterActivePods). */
export function isPodActive(pod: KObject): boolean {
  const phase = podStatus(pod).phase;
  return phase !== "Succeeded" && phase !== "Failed" && !pod.metadata.deletionTimestamp;
}

/** metav1.GetControllerOf. */
export function controllerOf(o: KObject): OwnerReference | undefined {
  return (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);
}

/** metav1.NewControllerRef. */
export function controllerRef(owner: KObject): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/**
 * A workload's selector against labels. An empty or missing selector selects nothing here, as the
 * workload controllers treat it; an invalid operator selects nothing instead of throwing.
 */
export function selects(selector: LabelSelectorSpec | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0)) return false;
  try {
    return selectorMatches(selector, labels);
  } catch {
    return false;
  }
}

/** A Service's map selector (labels.SelectorFromSet): every pair must match; empty selects nothing here. */
export function mapSelects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  const l = labels ?? {};
  return Object.entries(selector).every(([k, v]) => Object.prototype.hasOwnProperty.call(l, k) && l[k] === v);
}

/** v1.Toleration.ToleratesTaint. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? "Equal") {
    case "":
    case "Equal":
      return (t.value ?? "") === (taint.value ?? "");
    case "Exists":
      return true;
    default:
      return false;
  }
}

/** v1helper.FindMatchingUntoleratedTaint: the first taint `filter` accepts that no toleration tolerates. */
export function untoleratedTaint(taints: Taint[] | undefined, tolerations: Toleration[] | undefined, filter: (t: Taint) => boolean): Taint | undefined {
  return (taints ?? []).find((taint) => filter(taint) && !(tolerations ?? []).some((t) => toleratesTaint(t, taint)));
}

export const NO_SCHEDULE_OR_EXECUTE = (t: Taint): boolean => t.effect === "NoSchedule" || t.effect === "NoExecute";

/**
 * The pod's spec.nodeSelector and required node affinity against a node (the NodeAffinity filter):
 * nodeSelectorTerms are ORed, the requirements of a term ANDed, an empty term matches nothing.
 */
export function matchesNodeSelection(spec: PodSpec, node: KObject): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms) return true;
  return terms.some((term) => {
    const exprs = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (exprs.length === 0 && fields.length === 0) return false;
    return exprs.every((r) => nodeRequirement(r, labels)) && fields.every((r) => r.key === "metadata.name" && nodeRequirement(r, { "metadata.name": node.metadata.name ?? "" }));
  });
}

function nodeRequirement(r: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return has && values.includes(v!);
    case "NotIn":
      return !has || !values.includes(v!);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
    case "Lt": {
      if (!has || !/^-?\d+$/.test(v!) || !/^-?\d+$/.test(values[0] ?? "")) return false;
      return r.operator === "Gt" ? Number(v) > Number(values[0]) : Number(v) < Number(values[0]);
    }
  }
  return false;
}

/** The node a pod is for: spec.nodeName, else the node its required affinity pins by metadata.name (GetTargetNodeName). */
export function targetNodeName(pod: KObject): string | undefined {
  const spec = podSpec(pod);
  if (spec.nodeName) return spec.nodeName;
  for (const term of spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    for (const f of term.matchFields ?? []) if (f.key === "metadata.name" && f.operator === "In" && f.values?.length === 1) return f.values[0];
  }
  return undefined;
}

/** intstr.GetScaledValueFromIntOrPercent: `25%` of total rounded up or down, or the integer itself. */
export function scaledValue(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === "number") return Math.trunc(v);
  if (typeof v === "string") {
    const m = /^(\d+)%$/.exec(v);
    if (m) {
      const x = (Number(m[1]) * total) / 100;
      return roundUp ? Math.ceil(x) : Math.floor(x);
    }
    if (/^\d+$/.test(v)) return Number(v);
  }
  return 0;
}

/** Deep equality of JSON values, ignoring the order of object keys (not of arrays). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** A value with null, [] and {} removed at every depth: what decodes to Go's zero value either way. */
function pruneZero(v: unknown): unknown {
  if (v === null) return undefined;
  if (Array.isArray(v)) return v.length ? v.map(pruneZero) : undefined;
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = pruneZero(x);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v;
}

/**
 * apimachinery's Semantic.DeepEqual as far as JSON can tell it: a field that is null, empty or absent
 * is the same zero value (kubectl sends a template's `creationTimestamp: null`, the controllers do not).
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  return deepEqual(pruneZero(a), pruneZero(b));
}

/** The JSON of a value with object keys sorted: a stable text for hashing and comparing. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (isRecord(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x));
}

/** An integer field, or `fallback` when missing or not a number. */
export function int(v: unknown, fallback = 0): number {
  return typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : fallback;
}

/** `ns/name` (or `name` for cluster-scoped objects): the work-queue key of an object. */
export function keyOf(o: KObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name ?? "";
}

export function splitKey(key: string): [string | undefined, string] {
  const i = key.indexOf("/");
  return i < 0 ? [undefined, key] : [key.slice(0, i), key.slice(i + 1)];
}

/** creationTimestamp then name: the "oldest first" order the controllers sort by. */
export function byCreation(a: KObject, b: KObject): number {
  const ta = String(a.metadata.creationTimestamp ?? "");
  const tb = String(b.metadata.creationTimestamp ?? "");
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.metadata.name ?? "";
  const nb = b.metadata.name ?? "";
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** k8s.io/apimachinery/pkg/util/rand.SafeEncodeString: each character mapped into the vowel-free alphabet. */
function safeEncode(s: string): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  return [...s].map((c) => alphabet[c.charCodeAt(0) % alphabet.length]).join("");
}

/** controller.ComputeHash's shape: FNV-32a over the template (and collisionCount), decimal, safe-encoded. */
export function podTemplateHash(template: unknown, collisionCount?: number): string {
  let h = 0x811c9dc5;
  // zero values pruned first: the real hash is of the decoded struct, where null and absent are one
  const text = canonicalJson(pruneZero(template) ?? {}) + (collisionCount ? String(collisionCount) : "");
  for (const byte of Buffer.from(text, "utf8")) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return safeEncode(String(h >>> 0));
}
