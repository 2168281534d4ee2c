/**
 * The OpenAPI documents kube-apiserver publishes, generated from the type registry: /openapi/v2 (one
 * Swagger 2.0 document) and /openapi/v3/<group-version> (one OpenAPI 3.0 document per group version,
 * listed by /openapi/v3). Built-in kinds take their schemas from builtin.ts; custom resources from
 * their CRD's openAPIV3Schema, with metadata replaced by a reference to ObjectMeta as the
 * apiextensions-apiserver does. Every kind carries `x-kubernetes-group-version-kind`; every path
 * operation carries `x-kubernetes-action` and the kind it serves, and PATCH lists the patch types the
 * resource accepts (strategic merge for built-ins only) and the `fieldValidation` parameter — what
 * kubectl reads to choose its patch type and validation.
 */
import { createHash } from "node:crypto";
import { groupVersion, type ResourceType } from "../resources.js";
import { BUILTIN_PACKAGES, GROUP_PACKAGE } from "./builtin.js";
import { expandPackage, PACKAGES, ref, referencesOf, renderRefs, type JsonSchema } from "./schema.js";

const OBJECT_META = `${PACKAGES.meta}.ObjectMeta`;
const LIST_META = `${PACKAGES.meta}.ListMeta`;
const STATUS = `${PACKAGES.meta}.Status`;
const DELETE_OPTIONS = `${PACKAGES.meta}.DeleteOptions`;
const PATCH = `${PACKAGES.meta}.Patch`;

const API_VERSION_DESC =
  "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESC =
  "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESC = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DESC = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/** Every declared built-in type (full name -> schema with marked references), expanded once. */
const DECLARED: ReadonlyMap<string, JsonSchema> = (() => {
  const all = new Map<string, JsonSchema>();
  for (const [short, pkg] of Object.entries(BUILTIN_PACKAGES)) for (const [k, v] of expandPackage(short, pkg)) all.set(k, v);
  return all;
})();

/** A declared built-in type by full name (references marked), or undefined. */
export function declaredSchema(full: string): JsonSchema | undefined {
  return DECLARED.get(full);
}

/** `metallb.io` -> `io.metallb`: the reversed group CRD schema names start with. */
function reversedGroup(group: string): string {
  return group.split(".").reverse().join(".");
}

/** The OpenAPI definition name of a kind: `io.k8s.api.core.v1.Pod`, `io.metallb.v1beta1.IPAddressPool`. */
export function kindSchemaName(t: ResourceType): string {
  if (t.custom) return `${reversedGroup(t.group)}.${t.version}.${t.kind}`;
  const pkg = GROUP_PACKAGE[t.group];
  if (!pkg) throw new Error(`openapi: no schema package for group "${t.group}"`);
  return `${PACKAGES[pkg]}.${t.kind}`;
}

function gvk(t: ResourceType): { group: string; kind: string; version: string } {
  return { group: t.group, kind: t.kind, version: t.version };
}

/** The kind's schema: TypeMeta and ObjectMeta first, then its own fields, tagged with its GVK. */
export function kindSchema(t: ResourceType): JsonSchema {
  const envelope: Record<string, JsonSchema> = {
    apiVersion: { description: API_VERSION_DESC, type: "string" },
    kind: { description: KIND_DESC, type: "string" },
    metadata: ref(OBJECT_META, { description: METADATA_DESC }),
  };
  let base: JsonSchema;
  if (t.custom) {
    const crd = t.custom.schema ? (structuredClone(t.custom.schema) as JsonSchema) : { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    const props = { ...(crd.properties ?? {}) };
    delete props.metadata;
    base = { ...crd, type: "object", properties: { ...envelope, ...props } };
    for (const k of ["apiVersion", "kind"] as const) if (crd.properties?.[k]) base.properties![k] = crd.properties[k]!;
  } else {
    const declared = DECLARED.get(kindSchemaName(t));
    if (!declared) throw new Error(`openapi: no schema declared for ${kindSchemaName(t)}`);
    base = { ...declared, properties: { ...envelope, ...(declared.properties ?? {}) } };
  }
  return { ...base, "x-kubernetes-group-version-kind": [gvk(t)] };
}

function listSchema(t: ResourceType): JsonSchema {
  return {
    description: `${t.kind}List is a list of ${t.kind}`,
    type: "object",
    required: ["items"],
    properties: {
      apiVersion: { description: API_VERSION_DESC, type: "string" },
      items: { description: `List of ${t.plural}.`, type: "array", items: ref(kindSchemaName(t)) },
      kind: { description: KIND_DESC, type: "string" },
      metadata: ref(LIST_META, { description: LIST_METADATA_DESC }),
    },
    "x-kubernetes-group-version-kind": [{ group: t.group, kind: `${t.kind}List`, version: t.version }],
  };
}

/** The named schemas `types` need (kinds, their lists, everything they reference), references marked. */
function namedSchemas(types: readonly ResourceType[]): Map<string, JsonSchema> {
  const out = new Map<string, JsonSchema>();
  for (const t of types) {
    out.set(kindSchemaName(t), kindSchema(t));
    out.set(`${kindSchemaName(t)}List`, listSchema(t));
  }
  for (const extra of [STATUS, DELETE_OPTIONS, PATCH]) out.set(extra, DECLARED.get(extra)!);
  // close over references: ObjectMeta, PodSpec, ... as far as they go
  const queue = [...out.values()];
  while (queue.length) {
    for (const name of referencesOf(queue.pop())) {
      if (out.has(name)) continue;
      const s = DECLARED.get(name);
      if (!s) throw new Error(`openapi: reference to undeclared type ${name}`);
      out.set(name, s);
      queue.push(s);
    }
  }
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** One REST operation of a resource path, in a neutral form rendered for v2 and v3. */
interface Operation {
  method: "get" | "post" | "put" | "patch" | "delete";
  action: "get" | "list" | "post" | "put" | "patch" | "delete" | "deletecollection" | "watch";
  id: string;
  description: string;
  /** Query parameters by name. */
  query: string[];
  /** Request body: the kind, DeleteOptions, or a patch. */
  body?: "kind" | "delete" | "patch";
  /** Response: the kind, its list, or Status. */
  response: "kind" | "list" | "status";
}

const QUERY: Record<string, { type: string; description: string }> = {
  dryRun: { type: "string", description: "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed" },
  fieldManager: { type: "string", description: "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint." },
  fieldValidation: { type: "string", description: "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict" },
  force: { type: "boolean", description: "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests." },
  labelSelector: { type: "string", description: "A selector to restrict the list of returned objects by their labels. Defaults to everything." },
  fieldSelector: { type: "string", description: "A selector to restrict the list of returned objects by their fields. Defaults to everything." },
  limit: { type: "integer", description: "limit is a maximum number of responses to return for a list call." },
  continue: { type: "string", description: "The continue option should be set when retrieving more results from the server." },
  resourceVersion: { type: "string", description: "resourceVersion sets a constraint on what resource versions a request may be served from." },
  watch: { type: "boolean", description: "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications." },
  timeoutSeconds: { type: "integer", description: "Timeout for the list/watch call." },
  gracePeriodSeconds: { type: "integer", description: "The duration in seconds before the object should be deleted." },
  propagationPolicy: { type: "string", description: "Whether and how garbage collection will be performed." },
};

const LIST_QUERY = ["continue", "fieldSelector", "labelSelector", "limit", "resourceVersion", "timeoutSeconds", "watch"];
const WRITE_QUERY = ["dryRun", "fieldManager", "fieldValidation"];

function patchTypes(t: ResourceType): string[] {
  // custom resources have no Go struct to carry patch metadata: no strategic merge patch, as in apiextensions-apiserver
  return t.custom
    ? ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
    : ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"];
}

/** The resource's paths (relative to the server root) and their operations. */
function resourcePaths(t: ResourceType): Array<{ path: string; params: string[]; ops: Operation[] }> {
  const prefix = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  const ns = t.namespaced ? "/namespaces/{namespace}" : "";
  const scope = t.namespaced ? "Namespaced" : "";
  const Kind = t.kind;
  const gvName = `${t.group ? t.group.split(".")[0]!.replace(/^\w/, (c) => c.toLowerCase()) : "core"}${t.version.replace(/^\w/, (c) => c.toUpperCase())}`;
  const can = (v: string) => t.verbs.includes(v as ResourceType["verbs"][number]);
  const base = `${prefix}${ns}/${t.plural}`;
  const out: Array<{ path: string; params: string[]; ops: Operation[] }> = [];
  const collection: Operation[] = [];
  if (can("list")) collection.push({ method: "get", action: "list", id: `list${gvName}${scope}${Kind}`, description: `list or watch objects of kind ${Kind}`, query: LIST_QUERY, response: "list" });
  if (can("create")) collection.push({ method: "post", action: "post", id: `create${gvName}${scope}${Kind}`, description: `create a ${Kind}`, query: WRITE_QUERY, body: "kind", response: "kind" });
  if (can("deletecollection")) collection.push({ method: "delete", action: "deletecollection", id: `deletecollection${gvName}${scope}${Kind}`, description: `delete collection of ${Kind}`, query: [...LIST_QUERY.filter((q) => q !== "watch"), "dryRun", "gracePeriodSeconds", "propagationPolicy"], body: "delete", response: "status" });
  out.push({ path: base, params: t.namespaced ? ["namespace"] : [], ops: collection });
  const item: Operation[] = [];
  if (can("get")) item.push({ method: "get", action: "get", id: `read${gvName}${scope}${Kind}`, description: `read the specified ${Kind}`, query: [], response: "kind" });
  if (can("update")) item.push({ method: "put", action: "put", id: `replace${gvName}${scope}${Kind}`, description: `replace the specified ${Kind}`, query: WRITE_QUERY, body: "kind", response: "kind" });
  if (can("delete")) item.push({ method: "delete", action: "delete", id: `delete${gvName}${scope}${Kind}`, description: `delete a ${Kind}`, query: ["dryRun", "gracePeriodSeconds", "propagationPolicy"], body: "delete", response: "status" });
  if (can("patch")) item.push({ method: "patch", action: "patch", id: `patch${gvName}${scope}${Kind}`, description: `partially update the specified ${Kind}`, query: [...WRITE_QUERY, "force"], body: "patch", response: "kind" });
  out.push({ path: `${base}/{name}`, params: [...(t.namespaced ? ["namespace"] : []), "name"], ops: item });
  for (const sub of t.subresources) {
    if (sub === "scale") continue; // answers autoscaling/v1 Scale, which is not published here
    const S = sub.replace(/^\w/, (c) => c.toUpperCase());
    out.push({
      path: `${base}/{name}/${sub}`,
      params: [...(t.namespaced ? ["namespace"] : []), "name"],
      ops: [
        { method: "get", action: "get", id: `read${gvName}${scope}${Kind}${S}`, description: `read ${sub} of the specified ${Kind}`, query: [], response: "kind" },
        { method: "put", action: "put", id: `replace${gvName}${scope}${Kind}${S}`, description: `replace ${sub} of the specified ${Kind}`, query: WRITE_QUERY, body: "kind", response: "kind" },
        { method: "patch", action: "patch", id: `patch${gvName}${scope}${Kind}${S}`, description: `partially update ${sub} of the specified ${Kind}`, query: [...WRITE_QUERY, "force"], body: "patch", response: "kind" },
      ],
    });
  }
  if (t.namespaced && can("list")) {
    out.push({ path: `${prefix}/${t.plural}`, params: [], ops: [{ method: "get", action: "list", id: `list${gvName}${Kind}ForAllNamespaces`, description: `list or watch objects of kind ${Kind}`, query: LIST_QUERY, response: "list" }] });
  }
  return out;
}

function pathParam(name: string): Record<string, unknown> {
  return { name, in: "path", required: true, description: name === "name" ? "name of the resource" : "object name and auth scope, such as for teams and projects", schema: { type: "string", uniqueItems: true } };
}

function queryParam(name: string, v: "v2" | "v3"): Record<string, unknown> {
  const q = QUERY[name]!;
  return v === "v3" ? { name, in: "query", description: q.description, schema: { type: q.type, uniqueItems: true } } : { name, in: "query", description: q.description, type: q.type, uniqueItems: true };
}

function responseSchema(t: ResourceType, op: Operation): JsonSchema {
  const target = op.response === "status" ? STATUS : op.response === "list" ? `${kindSchemaName(t)}List` : kindSchemaName(t);
  return ref(target);
}

function v3Operation(t: ResourceType, op: Operation): Record<string, unknown> {
  const json = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];
  const o: Record<string, unknown> = {
    tags: [t.group ? `${t.group.split(".")[0]}_${t.version}` : `core_${t.version}`],
    description: op.description,
    operationId: op.id,
    parameters: op.query.map((q) => queryParam(q, "v3")),
  };
  if (op.body) {
    const types = op.body === "patch" ? patchTypes(t) : ["*/*"];
    const schema = op.body === "patch" ? ref(PATCH) : op.body === "delete" ? ref(DELETE_OPTIONS) : ref(kindSchemaName(t));
    o.requestBody = { content: Object.fromEntries(types.map((c) => [c, { schema }])), ...(op.body === "kind" ? { required: true } : {}) };
  }
  const schema = responseSchema(t, op);
  o.responses = {
    [op.action === "post" ? "201" : "200"]: { description: op.action === "post" ? "Created" : "OK", content: Object.fromEntries(json.map((c) => [c, { schema }])) },
    "401": { description: "Unauthorized" },
  };
  o["x-kubernetes-action"] = op.action;
  o["x-kubernetes-group-version-kind"] = gvk(t);
  return o;
}

function v2Operation(t: ResourceType, op: Operation): Record<string, unknown> {
  const o: Record<string, unknown> = {
    description: op.description,
    consumes: op.body === "patch" ? patchTypes(t) : ["*/*"],
    produces: ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"],
    schemes: ["https"],
    tags: [t.group ? `${t.group.split(".")[0]}_${t.version}` : `core_${t.version}`],
    operationId: op.id,
    parameters: [
      ...(op.body ? [{ name: "body", in: "body", required: op.body !== "delete", schema: op.body === "patch" ? ref(PATCH) : op.body === "delete" ? ref(DELETE_OPTIONS) : ref(kindSchemaName(t)) }] : []),
      ...op.query.map((q) => queryParam(q, "v2")),
    ],
    responses: { [op.action === "post" ? "201" : "200"]: { description: op.action === "post" ? "Created" : "OK", schema: responseSchema(t, op) }, "401": { description: "Unauthorized" } },
    "x-kubernetes-action": op.action,
    "x-kubernetes-group-version-kind": gvk(t),
  };
  return o;
}

function info(kubeVersion: string): Record<string, string> {
  return { title: "Kubernetes", version: kubeVersion };
}

/** The OpenAPI v3 document of one group version (`""`/`v1` for /api/v1), or undefined when none is served. */
export function openApiV3(served: readonly ResourceType[], group: string, version: string, kubeVersion: string): Record<string, unknown> | undefined {
  const types = served.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const t of types) {
    for (const p of resourcePaths(t)) {
      const item: Record<string, unknown> = Object.fromEntries(p.ops.map((op) => [op.method, v3Operation(t, op)]));
      item.parameters = [...p.params.map(pathParam), { name: "pretty", in: "query", description: "If 'true', then the output is pretty printed.", schema: { type: "string", uniqueItems: true } }];
      paths[p.path] = item;
    }
  }
  const schemas: Record<string, JsonSchema> = {};
  for (const [name, s] of namedSchemas(types)) schemas[name] = renderRefs(s, "v3");
  return renderRefs(
    {
      openapi: "3.0.0",
      info: info(kubeVersion),
      paths: paths as JsonSchema,
      components: { schemas, securitySchemes: { BearerToken: { type: "apiKey", description: "Bearer Token authentication", name: "authorization", in: "header" } } } as JsonSchema,
    },
    "v3",
  );
}

/** The single OpenAPI v2 (Swagger 2.0) document of everything served. */
export function openApiV2(served: readonly ResourceType[], kubeVersion: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const t of served) {
    for (const p of resourcePaths(t)) {
      const item: Record<string, unknown> = Object.fromEntries(p.ops.map((op) => [op.method, v2Operation(t, op)]));
      item.parameters = [...p.params.map((n) => ({ uniqueItems: true, type: "string", description: pathParam(n).description, name: n, in: "path", required: true })), { uniqueItems: true, type: "string", description: "If 'true', then the output is pretty printed.", name: "pretty", in: "query" }];
      paths[p.path] = item;
    }
  }
  const definitions: Record<string, JsonSchema> = {};
  for (const [name, s] of namedSchemas(served)) definitions[name] = s;
  return renderRefs(
    {
      swagger: "2.0",
      info: info(kubeVersion),
      paths: paths as JsonSchema,
      definitions: definitions as JsonSchema,
      securityDefinitions: { BearerToken: { description: "Bearer Token authentication", type: "apiKey", name: "authorization", in: "header" } } as JsonSchema,
      security: [{ BearerToken: [] }] as unknown as JsonSchema,
    },
    "v2",
  );
}

/** `api/v1`, `apis/apps/v1`: how /openapi/v3 names a group version. */
export function gvPath(t: Pick<ResourceType, "group" | "version">): string {
  return t.group ? `apis/${groupVersion(t)}` : `api/${t.version}`;
}

/** A hash of a document as kube-openapi computes its ETag: hex SHA-512, upper case. */
export function etagOf(text: string): string {
  return createHash("sha512").update(text).digest("hex").toUpperCase();
}
