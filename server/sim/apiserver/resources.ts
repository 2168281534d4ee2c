/**
 * The one declaration of every resource type the simulated API server serves. Discovery (plain and
 * aggregated), URL routing, the store, field selectors and the Table printers all read this list, so a
 * new kind is one entry here (plus a printer file if it has columns of its own).
 *
 * Values follow kube-apiserver v1.24: short names, categories and verbs as its discovery documents list
 * them; `fields` are the field selectors the real registry accepts beyond metadata.name/namespace.
 */
import type { KObject } from "./objects.js";

export type Verb = "create" | "delete" | "deletecollection" | "get" | "list" | "patch" | "update" | "watch";

/** How `metadata.name` is validated: the apimachinery validator the real strategy uses. */
export type NameRule = "dns1123Subdomain" | "dns1123Label" | "dns1035Label" | "pathSegment";

export interface ResourceType {
  /** "" for the core (legacy) group served under /api. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  verbs: Verb[];
  categories: string[];
  /** Subresources served at `<plural>/<name>/<sub>`; only what the server implements is advertised. */
  subresources: Array<"status" | "scale">;
  /** Whether metadata.generation counts spec changes (types whose controllers compare observedGeneration). */
  generation: boolean;
  /** Whether PUT on a missing object creates it (AllowCreateOnUpdate in the real strategy). */
  createOnUpdate: boolean;
  nameRule: NameRule;
  /**
   * Field selectors beyond metadata.name and metadata.namespace. Types that declare any answer an unknown
   * field with "field label not supported: x" (their conversion func); the others with the generic
   * `"x" is not a known field selector: only "metadata.name", "metadata.namespace"`.
   */
  fields?: Record<string, (o: KObject) => string>;
  /** Set on types served from a CustomResourceDefinition (see crd.ts); built-in types have none. */
  custom?: CustomResourceInfo;
}

/** One `additionalPrinterColumns` entry of a CRD version (apiextensions/v1 CustomResourceColumnDefinition). */
export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

/** What a type served from a CRD carries beyond the facts every type has. */
export interface CustomResourceInfo {
  /** metadata.name of the CRD (`<plural>.<group>`). */
  crd: string;
  /** additionalPrinterColumns of this version (empty: the NAME/AGE table). */
  columns: PrinterColumn[];
  /** The version's openAPIV3Schema, if it has one: validation, pruning, defaults and /openapi. */
  schema: Record<string, unknown> | undefined;
}

const ALL: Verb[] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const NO_COLLECTION: Verb[] = ["create", "delete", "get", "list", "patch", "update", "watch"];

/** Reads a nested field as the real field-selector getters do: missing values are "". */
function str(o: KObject, ...path: string[]): string {
  let v: unknown = o;
  for (const p of path) v = v && typeof v === "object" ? (v as Record<string, unknown>)[p] : undefined;
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : String(v);
}

function def(t: Partial<ResourceType> & Pick<ResourceType, "group" | "version" | "kind" | "plural" | "namespaced">): ResourceType {
  return {
    singular: t.kind.toLowerCase(),
    shortNames: [],
    verbs: ALL,
    categories: [],
    subresources: [],
    generation: false,
    createOnUpdate: false,
    nameRule: "dns1123Subdomain",
    ...t,
  };
}

/** In discovery order: core first, then groups in kube-apiserver's group priority order. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  def({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, shortNames: ["cm"] }),
  def({
    group: "", version: "v1", kind: "Endpoints", plural: "endpoints", singular: "endpoints", namespaced: true, shortNames: ["ep"], createOnUpdate: true,
  }),
  def({
    group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, shortNames: ["ev"], createOnUpdate: true, nameRule: "pathSegment",
    fields: {
      "involvedObject.kind": (o) => str(o, "involvedObject", "kind"),
      "involvedObject.namespace": (o) => str(o, "involvedObject", "namespace"),
      "involvedObject.name": (o) => str(o, "involvedObject", "name"),
      "involvedObject.uid": (o) => str(o, "involvedObject", "uid"),
      "involvedObject.apiVersion": (o) => str(o, "involvedObject", "apiVersion"),
      "involvedObject.resourceVersion": (o) => str(o, "involvedObject", "resourceVersion"),
      "involvedObject.fieldPath": (o) => str(o, "involvedObject", "fieldPath"),
      reason: (o) => str(o, "reason"),
      reportingComponent: (o) => str(o, "reportingComponent"),
      source: (o) => str(o, "source", "component") || str(o, "reportingComponent"),
      type: (o) => str(o, "type"),
    },
  }),
  def({
    group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, shortNames: ["ns"], verbs: NO_COLLECTION, subresources: ["status"], nameRule: "dns1123Label",
    fields: { "status.phase": (o) => str(o, "status", "phase") },
  }),
  def({
    group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false, shortNames: ["no"], subresources: ["status"],
    fields: { "spec.unschedulable": (o) => (str(o, "spec", "unschedulable") === "true" ? "true" : "false") },
  }),
  def({
    group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, shortNames: ["po"], categories: ["all"], subresources: ["status"],
    fields: {
      "spec.nodeName": (o) => str(o, "spec", "nodeName"),
      "spec.restartPolicy": (o) => str(o, "spec", "restartPolicy"),
      "spec.schedulerName": (o) => str(o, "spec", "schedulerName"),
      "spec.serviceAccountName": (o) => str(o, "spec", "serviceAccountName"),
      "spec.hostNetwork": (o) => (str(o, "spec", "hostNetwork") === "true" ? "true" : "false"),
      "status.phase": (o) => str(o, "status", "phase"),
      "status.podIP": (o) => str(o, "status", "podIP"),
      "status.podIPs": (o) => str(o, "status", "podIP"),
      "status.nominatedNodeName": (o) => str(o, "status", "nominatedNodeName"),
    },
  }),
  def({
    group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true,
    fields: { type: (o) => str(o, "type") },
  }),
  def({ group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, shortNames: ["sa"] }),
  def({
    group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, shortNames: ["svc"], categories: ["all"], verbs: NO_COLLECTION, subresources: ["status"], nameRule: "dns1035Label",
  }),
  def({ group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", namespaced: true, shortNames: ["ds"], categories: ["all"], subresources: ["status"], generation: true }),
  def({ group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, shortNames: ["deploy"], categories: ["all"], subresources: ["status", "scale"], generation: true }),
  def({
    group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true, shortNames: ["rs"], categories: ["all"], subresources: ["status", "scale"], generation: true,
    fields: { "status.replicas": (o) => str(o, "status", "replicas") || "0" },
  }),
  def({ group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies", namespaced: true, shortNames: ["netpol"], generation: true }),
  def({ group: "admissionregistration.k8s.io", version: "v1", kind: "MutatingWebhookConfiguration", plural: "mutatingwebhookconfigurations", namespaced: false, categories: ["api-extensions"], generation: true }),
  def({ group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingWebhookConfiguration", plural: "validatingwebhookconfigurations", namespaced: false, categories: ["api-extensions"], generation: true }),
  def({ group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false, shortNames: ["crd", "crds"], categories: ["api-extensions"], subresources: ["status"], generation: true }),
  def({ group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true, createOnUpdate: true }),
  def({ group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices", namespaced: true }),
];

/** `pods`, `deployments.apps`: how the store keys a type (apimachinery's GroupResource string). */
export function typeKey(t: Pick<ResourceType, "plural" | "group">): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

/** `v1`, `apps/v1`. */
export function groupVersion(t: Pick<ResourceType, "group" | "version">): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/**
 * Finds a type by plural, singular, short name or kind, optionally group-qualified (`deployments.apps`),
 * as kubectl's RESTMapper does. Returns undefined for anything unknown.
 *
 * @example resourceType("deploy")?.kind === "Deployment"
 */
export function resourceType(name: string, types: readonly ResourceType[] = RESOURCE_TYPES): ResourceType | undefined {
  const lower = name.toLowerCase();
  for (const t of types) {
    const names = [t.plural, t.singular, t.kind.toLowerCase(), ...t.shortNames];
    if (names.includes(lower)) return t;
    if (t.group && names.some((n) => `${n}.${t.group}` === lower)) return t;
  }
  return undefined;
}

/** Like `resourceType` but for code paths where the name is a constant: an unknown name is a bug. */
export function mustResourceType(name: string): ResourceType {
  const t = resourceType(name);
  if (!t) throw new Error(`no resource type "${name}"`);
  return t;
}

/** The type served at /api/v1/<plural> or /apis/<group>/<version>/<plural>, if any. */
export function typeAt(group: string, version: string, plural: string, types: readonly ResourceType[] = RESOURCE_TYPES): ResourceType | undefined {
  return types.find((t) => t.group === group && t.version === version && t.plural === plural);
}

/** The groups under /apis, each with its versions (preferred first), in discovery order. */
export function apiGroups(types: readonly ResourceType[] = RESOURCE_TYPES): Array<{ name: string; versions: string[] }> {
  const out: Array<{ name: string; versions: string[] }> = [];
  for (const t of types) {
    if (!t.group) continue;
    const g = out.find((x) => x.name === t.group);
    if (!g) out.push({ name: t.group, versions: [t.version] });
    else if (!g.versions.includes(t.version)) g.versions.push(t.version);
  }
  for (const g of out) g.versions.sort(compareKubeVersions);
  return out;
}

/**
 * apimachinery's version.CompareKubeAwareVersionStrings as a sort comparator: GA before beta before
 * alpha, higher numbers first within each, anything else last in alphabetical order. It decides a CRD
 * group's preferred version (metallb.io: v1beta2 before v1beta1).
 */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string): [number, number, number] | undefined => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return undefined;
    return [Number(m[1]), m[2] === "alpha" ? 0 : m[2] === "beta" ? 1 : 2, Number(m[3] ?? 0)];
  };
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) return pa ? -1 : pb ? 1 : a < b ? -1 : a > b ? 1 : 0;
  if (pa[1] !== pb[1]) return pb[1] - pa[1];
  if (pa[0] !== pb[0]) return pb[0] - pa[0];
  return pb[2] - pa[2];
}

/**
 * The types one API server serves: the built-ins plus whatever CRDs registered. Each server (and its
 * store) owns one, so CRDs created in one sandbox never show in another running in the same process.
 *
 * @example
 * const types = new TypeRegistry();
 * types.register({ ...ipAddressPoolType });
 * types.resolve("ipaddresspools.metallb.io")?.kind === "IPAddressPool"
 */
export class TypeRegistry {
  private types: ResourceType[];
  private readonly listeners = new Set<() => void>();

  constructor(builtins: readonly ResourceType[] = RESOURCE_TYPES) {
    this.types = [...builtins];
  }

  /** Every served type, built-ins first in discovery order, then custom types in registration order. */
  all(): readonly ResourceType[] {
    return this.types;
  }

  /** By plural, singular, short name or kind, optionally group-qualified (see `resourceType`). */
  resolve(name: string): ResourceType | undefined {
    return resourceType(name, this.types);
  }

  /** The type at /api/v1/<plural> or /apis/<group>/<version>/<plural>. */
  at(group: string, version: string, plural: string): ResourceType | undefined {
    return typeAt(group, version, plural, this.types);
  }

  /** The named groups and their versions, preferred version first. */
  groups(): Array<{ name: string; versions: string[] }> {
    return apiGroups(this.types);
  }

  /** Adds a type, or replaces the one at the same group/version/plural (a CRD that changed). */
  register(t: ResourceType): void {
    const i = this.types.findIndex((x) => x.group === t.group && x.version === t.version && x.plural === t.plural);
    if (i >= 0) this.types[i] = t;
    else this.types.push(t);
    this.changed();
  }

  /** Removes every version of `<plural>.<group>`; built-in types cannot be removed. */
  unregister(group: string, plural: string): void {
    const before = this.types.length;
    this.types = this.types.filter((x) => !(x.custom && x.group === group && x.plural === plural));
    if (this.types.length !== before) this.changed();
  }

  /** Called after every change (the OpenAPI cache listens). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }
}
