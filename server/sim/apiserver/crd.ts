/**
 * CustomResourceDefinitions, as apiextensions-apiserver serves them: a CRD that passes validation
 * registers one resource type per served version in the store's registry — discovery, REST, Tables
 * with its additionalPrinterColumns, /openapi from its openAPIV3Schema — and its status shows the
 * names accepted and the CRD Established. Deleting the CRD deletes every custom resource of it, then
 * the type. The controller runs synchronously on the store's events, so a CR can be created right
 * after its CRD (the real server needs a moment; kubectl apply of both in one file usually works too).
 */
import type { Logger } from "../../log.js";
import { normalizeCustomResource } from "./crd-schema.js";
import { parseJsonPath } from "./jsonpath.js";
import { isRecord, timestamp, type KObject } from "./objects.js";
import type { PrinterColumn, ResourceType, Verb } from "./resources.js";
import type { FieldError } from "./status.js";
import type { Store, StoreEvent } from "./store.js";
import { nameProblems } from "./validation.js";

const CRD_GROUP = "apiextensions.k8s.io";
const VERBS: Verb[] = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];
const COLUMN_TYPES = new Set(["string", "integer", "number", "boolean", "date"]);

/** The spec fields read here, as a CRD body carries them (unchecked until `validateCrd` passed). */
interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: Record<string, unknown> };
  subresources?: { status?: unknown; scale?: unknown };
  additionalPrinterColumns?: PrinterColumn[];
}

interface CrdSpec {
  group: string;
  scope: string;
  names: { kind: string; plural: string; singular?: string; listKind?: string; shortNames?: string[]; categories?: string[] };
  versions: CrdVersion[];
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** Whether an object is a CustomResourceDefinition of apiextensions.k8s.io. */
export function isCrd(t: Pick<ResourceType, "group" | "kind">): boolean {
  return t.group === CRD_GROUP && t.kind === "CustomResourceDefinition";
}

/**
 * apiextensions' validation of a CRD, the parts a lab can trip over, with its texts: the name must be
 * `<plural>.<group>`, the group a domain, names and scope present, exactly one storage version, a
 * schema on every version, printer columns with a known type and a supported JSONPath.
 */
export function validateCrd(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const group = str(spec.group);
  const names = isRecord(spec.names) ? spec.names : {};
  const plural = str(names.plural);
  const kind = str(names.kind);
  const name = obj.metadata.name ?? "";
  if (!group) errs.push({ field: "spec.group", type: "FieldValueRequired", detail: "" });
  else if (!group.includes(".")) errs.push({ field: "spec.group", type: "FieldValueInvalid", value: group, detail: "should be a domain with at least one dot" });
  if (name && plural && group && name !== `${plural}.${group}`) errs.push({ field: "metadata.name", type: "FieldValueInvalid", value: name, detail: 'must be spec.names.plural+"."+spec.group' });
  if (!plural) errs.push({ field: "spec.names.plural", type: "FieldValueRequired", detail: "" });
  else for (const p of nameProblems(plural, "dns1035Label")) errs.push({ field: "spec.names.plural", type: "FieldValueInvalid", value: plural, detail: p });
  if (!kind) errs.push({ field: "spec.names.kind", type: "FieldValueRequired", detail: "" });
  const scope = str(spec.scope);
  if (scope !== "Namespaced" && scope !== "Cluster") errs.push({ field: "spec.scope", type: "FieldValueNotSupported", value: scope, detail: 'supported values: "Cluster", "Namespaced"' });
  const versions = Array.isArray(spec.versions) ? spec.versions.filter(isRecord) : [];
  if (versions.length === 0) errs.push({ field: "spec.versions", type: "FieldValueInvalid", value: [], detail: "must have exactly one version marked as storage version" });
  else if (versions.filter((v) => v.storage === true).length !== 1) errs.push({ field: "spec.versions", type: "FieldValueInvalid", value: versions.map((v) => str(v.name)), detail: "must have exactly one version marked as storage version" });
  versions.forEach((v, i) => {
    if (!str(v.name)) errs.push({ field: `spec.versions[${i}].name`, type: "FieldValueRequired", detail: "" });
    const schema = isRecord(v.schema) ? v.schema.openAPIV3Schema : undefined;
    if (!isRecord(schema)) errs.push({ field: `spec.versions[${i}].schema.openAPIV3Schema`, type: "FieldValueRequired", detail: "schemas are required" });
    const cols = Array.isArray(v.additionalPrinterColumns) ? v.additionalPrinterColumns : [];
    cols.forEach((c, j) => {
      const at = `spec.versions[${i}].additionalPrinterColumns[${j}]`;
      if (!isRecord(c)) return;
      if (!COLUMN_TYPES.has(str(c.type))) errs.push({ field: `${at}.type`, type: "FieldValueNotSupported", value: str(c.type), detail: 'supported values: "boolean", "date", "integer", "number", "string"' });
      if (!parseJsonPath(str(c.jsonPath))) errs.push({ field: `${at}.JSONPath`, type: "FieldValueInvalid", value: str(c.jsonPath), detail: "must be a simple json path starting with ." });
    });
  });
  return errs;
}

/** The resource types a (valid) CRD serves: one per served version. */
export function typesOfCrd(crd: KObject): ResourceType[] {
  const spec = crd.spec as CrdSpec;
  const n = spec.names;
  return spec.versions
    .filter((v) => v.served)
    .map((v) => ({
      group: spec.group,
      version: v.name,
      kind: n.kind,
      plural: n.plural,
      singular: n.singular || n.kind.toLowerCase(),
      shortNames: n.shortNames ?? [],
      namespaced: spec.scope === "Namespaced",
      verbs: VERBS,
      categories: n.categories ?? [],
      subresources: v.subresources && v.subresources.status !== undefined ? (["status"] as Array<"status">) : [],
      generation: true,
      createOnUpdate: false,
      nameRule: "dns1123Subdomain" as const,
      custom: { crd: crd.metadata.name ?? `${n.plural}.${spec.group}`, columns: (v.additionalPrinterColumns ?? []).map((c) => ({ ...c })), schema: v.schema?.openAPIV3Schema },
    }));
}

/** The status the CRD controllers write once the names are accepted and the type is served. */
function establishedStatus(crd: KObject, now: string): Record<string, unknown> {
  const spec = crd.spec as CrdSpec;
  const n = spec.names;
  const prev = isRecord(crd.status) ? crd.status : {};
  const prevConds = Array.isArray(prev.conditions) ? prev.conditions.filter(isRecord) : [];
  const since = (type: string) => str(prevConds.find((c) => c.type === type)?.lastTransitionTime) || now;
  const stored = Array.isArray(prev.storedVersions) ? prev.storedVersions.filter((x): x is string => typeof x === "string") : [];
  const storage = spec.versions.find((v) => v.storage)?.name;
  if (storage && !stored.includes(storage)) stored.push(storage);
  const accepted: Record<string, unknown> = { kind: n.kind, listKind: n.listKind || `${n.kind}List`, plural: n.plural, singular: n.singular || n.kind.toLowerCase() };
  if (n.shortNames?.length) accepted.shortNames = n.shortNames;
  if (n.categories?.length) accepted.categories = n.categories;
  return {
    acceptedNames: accepted,
    conditions: [
      { lastTransitionTime: since("NamesAccepted"), message: "no conflicts found", reason: "NoConflicts", status: "True", type: "NamesAccepted" },
      { lastTransitionTime: since("Established"), message: "the initial names have been accepted", reason: "InitialNamesAccepted", status: "True", type: "Established" },
    ],
    storedVersions: stored,
  };
}

/**
 * Prunes, defaults and validates a custom resource against its version's schema (see crd-schema.ts).
 * A no-op for built-in types and for versions without a schema.
 */
export function prepareCustomResource(t: ResourceType, obj: KObject): FieldError[] {
  const schema = t.custom?.schema;
  return schema ? normalizeCustomResource(schema, obj) : [];
}

/**
 * Keeps `store.types` in step with the CRDs in the store; the Store installs it when it is made, so
 * seeded CRDs register too. Returns the unsubscribe function.
 */
export function installCrdController(store: Store, log?: Logger, now: () => Date = () => new Date()): () => void {
  const onEvent = (e: StoreEvent) => {
    if (!isCrd(e.resource)) return;
    const crd = e.object;
    const spec = crd.spec as CrdSpec | undefined;
    if (!spec?.names?.plural || !spec.group) return;
    if (e.type === "DELETED") {
      const served = store.types.all().find((t) => t.custom?.crd === crd.metadata.name);
      // the real CRD finalizer deletes every custom resource before the CRD goes away
      if (served) {
        const n = store.dropAll(served);
        log?.debug("apiserver.crd_removed", { crd: crd.metadata.name, resources: n });
      }
      store.types.unregister(spec.group, spec.names.plural);
      return;
    }
    const types = typesOfCrd(crd);
    const before = store.types.all().filter((t) => t.custom?.crd === crd.metadata.name);
    for (const old of before) if (!types.some((t) => t.version === old.version)) store.types.unregister(old.group, old.plural);
    for (const t of types) store.types.register(t);
    const status = establishedStatus(crd, timestamp(now()));
    if (JSON.stringify(status) !== JSON.stringify(crd.status)) {
      try {
        store.update(e.resource, { ...crd, status }, { subresource: "status" });
      } catch (err) {
        log?.warn("apiserver.crd_status_failed", { crd: crd.metadata.name, err });
      }
    }
  };
  return store.subscribe(onEvent);
}
