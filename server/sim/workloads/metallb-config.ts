/**
 * MetalLB's configuration validation for the objects its webhook admits, ported from
 * `internal/config/config.go` (v0.13.x; the pool rules and texts are unchanged in v0.14): address
 * parsing (`ParseCIDR`), pool parsing (`addressPoolFromCR`, legacy `addressPoolFromLegacyCR`), the
 * all-pools pass (`poolsFor`: duplicates and overlaps, in list order) and the L2Advertisement checks
 * (`l2AdvertisementFromCR`). Pure functions: the webhook server feeds them the cluster's pools.
 *
 * The error strings are MetalLB's, verbatim, because they reach the trainee unchanged:
 * `admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the request: <text>`.
 */
import { compareIP, goQuote, goTrimSpace, ipString, netsOverlap, netString, parseCIDR, parseIP, summarize, type GoIPNet } from "./goaddr.js";

/** The parts of object metadata the validation reads. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
}

/** metallb.io/v1beta1 IPAddressPool, as far as validation reads it. */
export interface IPAddressPool {
  metadata?: ObjectMeta;
  spec?: { addresses?: string[] | null; autoAssign?: boolean; avoidBuggyIPs?: boolean };
}

/** metallb.io/v1beta1 AddressPool (deprecated in v0.13, removed in v0.14), as far as validation reads it. */
export interface LegacyAddressPool {
  metadata?: ObjectMeta;
  spec?: { addresses?: string[] | null; protocol?: string; bgpAdvertisements?: unknown[] | null };
}

/** A metav1.LabelSelector. */
export interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] | null }> | null;
}

/** metallb.io/v1beta1 L2Advertisement, as far as validation reads it. */
export interface L2Advertisement {
  metadata?: ObjectMeta;
  spec?: { ipAddressPools?: string[] | null; ipAddressPoolSelectors?: LabelSelector[] | null; nodeSelectors?: LabelSelector[] | null; interfaces?: string[] | null };
}

/** The namespace MetalLB runs in and requires its configuration objects to live in. */
export const METALLB_NAMESPACE = "metallb-system";

/**
 * MetalLB's `ParseCIDR`: a CIDR (`10.0.0.0/24`) or a range (`10.0.0.1-10.0.0.9`, split at the first
 * `-`, each side trimmed), summarised into prefixes. A range whose ends are of different families
 * parses to no prefixes at all, without an error — MetalLB behaves the same.
 *
 * @example parseAddresses("192.168.10.200-192.168.10.220") // { nets: [.200/29, .208/29, .216/30, .220/32] }
 */
export function parseAddresses(cidr: string): { nets: GoIPNet[] } | { error: string } {
  if (!cidr.includes("-")) {
    const n = parseCIDR(cidr);
    if (!n) return { error: `invalid CIDR ${goQuote(cidr)}` };
    return { nets: [n] };
  }
  const dash = cidr.indexOf("-");
  const first = cidr.slice(0, dash);
  const last = cidr.slice(dash + 1);
  const start = parseIP(goTrimSpace(first));
  if (start === null) return { error: `invalid IP range ${goQuote(cidr)}: invalid start IP ${goQuote(first)}` };
  const end = parseIP(goTrimSpace(last));
  if (end === null) return { error: `invalid IP range ${goQuote(cidr)}: invalid end IP ${goQuote(last)}` };
  if (compareIP(start, end) > 0) {
    return { error: `invalid IP range ${goQuote(cidr)}: start IP ${goQuote(ipString(start))} is after the end IP ${goQuote(ipString(end))}` };
  }
  return { nets: summarize(start, end) };
}

interface ParsedPool {
  name: string;
  cidrs: GoIPNet[];
}

/** `addressPoolFromCR`: the pool's prefixes, or the unwrapped error. */
function poolFromCR(p: IPAddressPool): ParsedPool | { error: string } {
  const name = p.metadata?.name ?? "";
  if (name === "") return { error: "missing pool name" };
  const addresses = p.spec?.addresses ?? [];
  if (addresses.length === 0) return { error: "pool has no prefixes defined" };
  const cidrs: GoIPNet[] = [];
  for (const cidr of addresses) {
    const r = parseAddresses(cidr);
    if ("error" in r) return { error: `invalid CIDR ${goQuote(cidr)} in pool ${goQuote(name)}: ${r.error}` };
    cidrs.push(...r.nets);
  }
  return { name, cidrs };
}

/** `addressPoolFromLegacyCR` (v0.13): like poolFromCR plus the protocol rules. */
function poolFromLegacyCR(p: LegacyAddressPool): ParsedPool | { error: string } {
  const base = poolFromCR(p as IPAddressPool);
  if ("error" in base) return base;
  const protocol = p.spec?.protocol ?? "";
  if (protocol === "layer2") {
    if ((p.spec?.bgpAdvertisements ?? []).length > 0) return { error: "cannot have bgp-advertisements configuration element in a layer2 address pool" };
  } else if (protocol === "") {
    return { error: "address pool is missing the protocol field" };
  } else if (protocol !== "bgp") {
    return { error: `unknown protocol ${goQuote(protocol)}` };
  }
  return base;
}

/**
 * MetalLB's `poolsFor` over every pool in the cluster: each pool parses, names are unique, and no
 * prefix overlaps one seen before it (IPAddressPools in list order, then legacy AddressPools). Returns
 * the first error's text, or null when the set is valid.
 *
 * @example validatePools([pool("a", ["10.0.0.0/24"]), pool("b", ["10.0.0.128/25"])])
 * // 'CIDR "10.0.0.128/25" in pool "b" overlaps with already defined CIDR "10.0.0.0/24"'
 */
export function validatePools(pools: IPAddressPool[], legacy: LegacyAddressPool[] = []): string | null {
  const seen = new Set<string>();
  const all: GoIPNet[] = [];
  const admit = (parsed: ParsedPool): string | null => {
    if (seen.has(parsed.name)) return `duplicate definition of pool ${goQuote(parsed.name)}`;
    for (const cidr of parsed.cidrs) {
      for (const m of all) {
        if (netsOverlap(cidr, m)) return `CIDR ${goQuote(netString(cidr))} in pool ${goQuote(parsed.name)} overlaps with already defined CIDR ${goQuote(netString(m))}`;
      }
      all.push(cidr);
    }
    seen.add(parsed.name);
    return null;
  };
  for (const p of pools) {
    const parsed = poolFromCR(p);
    // fmt.Errorf("parsing address pool %s: %s", p.Name, err): the name unquoted
    if ("error" in parsed) return `parsing address pool ${p.metadata?.name ?? ""}: ${parsed.error}`;
    const err = admit(parsed);
    if (err) return err;
  }
  for (const p of legacy) {
    const parsed = poolFromLegacyCR(p);
    // errors.Wrapf(err, "parsing address pool %s", p.Name)
    if ("error" in parsed) return `parsing address pool ${p.metadata?.name ?? ""}: ${parsed.error}`;
    const err = admit(parsed);
    if (err) return err;
  }
  return null;
}

/**
 * MetalLB's `ipAddressListWithUpdate`: the cluster's list with `obj` replacing the item of the same
 * name (an UPDATE), or appended at the end (a CREATE) — so overlap errors name the new pool.
 */
export function listWithUpdate<T extends { metadata?: ObjectMeta }>(existing: T[], obj: T): T[] {
  const name = obj.metadata?.name;
  const i = existing.findIndex((e) => e.metadata?.name === name);
  if (i < 0) return [...existing, obj];
  const out = [...existing];
  out[i] = obj;
  return out;
}

/** `%q` of a metav1.LabelSelectorRequirement struct value: `{"key" "In" ["a" "b"]}`. */
function quoteRequirement(r: { key: string; operator: string; values?: string[] | null }): string {
  return `{${goQuote(r.key)} ${goQuote(r.operator)} [${(r.values ?? []).map(goQuote).join(" ")}]}`;
}

/** `%q` of a metav1.LabelSelector struct value: `{map["k":"v"] [{"key" "In" ["a"]}]}` (fmt sorts map keys). */
function quoteSelector(s: LabelSelector): string {
  const labels = Object.keys(s.matchLabels ?? {})
    .sort()
    .map((k) => `${goQuote(k)}:${goQuote(s.matchLabels![k]!)}`)
    .join(" ");
  return `{map[${labels}] [${(s.matchExpressions ?? []).map(quoteRequirement).join(" ")}]}`;
}

/** What LabelSelector.String() distinguishes: labels (sorted) and expressions in order. */
function selectorKey(s: LabelSelector): string {
  const labels = Object.entries(s.matchLabels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([labels, (s.matchExpressions ?? []).map((e) => [e.key, e.operator, e.values ?? []])]);
}

/** MetalLB's validateDuplicate: the first value that appears twice. */
function validateDuplicate(values: string[], kind: string): string | null {
  for (let i = 0; i < values.length; i++) {
    for (let j = i + 1; j < values.length; j++) if (values[i] === values[j]) return `duplicate definition of ${kind} ${goQuote(values[i]!)}`;
  }
  return null;
}

/** MetalLB's validateLabelSelectorDuplicate (expression values are sorted first, in place, as MetalLB does). */
function validateSelectors(selectors: LabelSelector[], kind: string): string | null {
  const sorted = selectors.map((s) => ({
    ...s,
    matchExpressions: (s.matchExpressions ?? []).map((e) => ({ ...e, values: [...(e.values ?? [])].sort() })),
  }));
  for (let i = 0; i < sorted.length; i++) {
    const exprs = sorted[i]!.matchExpressions;
    for (let a = 0; a < exprs.length; a++) {
      const dup = validateDuplicate(exprs[a]!.values, "match expression value in label selector");
      if (dup) return dup;
      for (let b = a + 1; b < exprs.length; b++) {
        if (quoteRequirement(exprs[a]!) === quoteRequirement(exprs[b]!)) return `duplicate definition of match expressions ${quoteRequirement(exprs[a]!)}`;
      }
    }
    for (let j = i + 1; j < sorted.length; j++) {
      if (selectorKey(sorted[i]!) === selectorKey(sorted[j]!)) return `duplicate definition of ${kind} ${quoteSelector(sorted[i]!)}`;
    }
  }
  return null;
}

/**
 * MetalLB's `l2AdvertisementFromCR` checks (v0.13.7): no pool named twice, no duplicate pool or node
 * selectors. Returns the error text or null.
 */
export function validateL2Advertisement(adv: L2Advertisement): string | null {
  const spec = adv.spec ?? {};
  return (
    validateDuplicate(spec.ipAddressPools ?? [], "ipAddressPools") ??
    validateSelectors(spec.ipAddressPoolSelectors ?? [], "ipAddressPoolSelectors") ??
    validateSelectors(spec.nodeSelectors ?? [], "nodeSelectors")
  );
}

/**
 * Type checks Go's JSON decoding would fail on, worded like encoding/json (the apiserver's CRD schema
 * rejects such objects first, so this only answers hand-made AdmissionReviews). Null when decodable.
 */
export function decodeError(obj: unknown, structName: string, stringLists: string[]): string | null {
  const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "string" ? "string" : typeof v === "number" ? "number" : typeof v === "boolean" ? "bool" : "object");
  if (kind(obj) !== "object") return `json: cannot unmarshal ${kind(obj)} into Go value of type v1beta1.${structName}`;
  const spec = (obj as Record<string, unknown>).spec;
  if (spec === undefined || spec === null) return null;
  if (kind(spec) !== "object") return `json: cannot unmarshal ${kind(spec)} into Go struct field ${structName}.spec of type v1beta1.${structName}Spec`;
  for (const field of stringLists) {
    const v = (spec as Record<string, unknown>)[field];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) return `json: cannot unmarshal ${kind(v)} into Go struct field ${structName}Spec.spec.${field} of type []string`;
    const bad = v.find((x) => typeof x !== "string");
    if (bad !== undefined) return `json: cannot unmarshal ${kind(bad)} into Go struct field ${structName}Spec.spec.${field} of type string`;
  }
  return null;
}
