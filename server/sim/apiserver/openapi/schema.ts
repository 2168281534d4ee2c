/**
 * The compact notation the built-in kinds' schemas are declared in, and its expansion to OpenAPI
 * schema objects. Hand-writing the thousands of lines of kube-apiserver's generated OpenAPI is neither
 * possible nor useful here; what clients read from it is small: field names and types (`kubectl
 * explain`), `x-kubernetes-patch-merge-key`/`-strategy` on lists (kubectl's strategic merge patch and
 * ours), required fields, and `x-kubernetes-group-version-kind` on kinds. One declaration per type says
 * exactly that:
 *
 * ```ts
 * Container: { d: "A single application container ...", f: {
 *   name: "string! -- Name of the container ...",
 *   ports: "[]ContainerPort merge=containerPort strategy=merge list=map keys=containerPort,protocol",
 * } }
 * ```
 *
 * A field is `TYPE[!] [option=value ...] [-- description]`: `!` marks it required; TYPE is `string`,
 * `boolean`, `integer` (int32), `int64`, `number`, `bytes`, `map` (of strings), `map<T>`, `[]T`, `object`
 * (free-form), or a declared type name — local to the declaring package, or `pkg/Name` for another
 * package (see {@link PACKAGES}). Options: `merge=` (patch merge key), `strategy=` (patch strategy),
 * `list=` and `keys=` (list type and list-map keys), `map=` (map type), `default=` (a JSON value).
 */

/** An OpenAPI v2/v3 schema object (the subset Kubernetes uses), untyped beyond the common keys. */
export interface JsonSchema {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  $ref?: string;
  allOf?: JsonSchema[];
  [extension: string]: unknown;
}

/** One declared type: a description and its fields, or a scalar (`t`) such as Time or Quantity. */
export interface TypeDecl {
  /** Description, as `kubectl explain` prints it. */
  d: string;
  /** Fields in the notation above. */
  f?: Record<string, string>;
  /** For scalar types: the schema itself (e.g. `{ type: "string", format: "date-time" }`). */
  t?: JsonSchema;
  /** Extensions on the type (`x-kubernetes-map-type: atomic`, ...). */
  x?: Record<string, unknown>;
}

/** Short package names used in declarations (`core/PodSpec`, `meta/ObjectMeta`) and their OpenAPI prefixes. */
export const PACKAGES: Record<string, string> = {
  meta: "io.k8s.apimachinery.pkg.apis.meta.v1",
  intstr: "io.k8s.apimachinery.pkg.util.intstr",
  resource: "io.k8s.apimachinery.pkg.api.resource",
  core: "io.k8s.api.core.v1",
  apps: "io.k8s.api.apps.v1",
  networking: "io.k8s.api.networking.v1",
  admissionregistration: "io.k8s.api.admissionregistration.v1",
  coordination: "io.k8s.api.coordination.v1",
  discovery: "io.k8s.api.discovery.v1",
  apiextensions: "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
};

/** Types any package may name without a prefix. */
const GLOBAL: Record<string, string> = {
  ObjectMeta: "meta/ObjectMeta",
  ListMeta: "meta/ListMeta",
  LabelSelector: "meta/LabelSelector",
  Time: "meta/Time",
  MicroTime: "meta/MicroTime",
  Condition: "meta/Condition",
  IntOrString: "intstr/IntOrString",
  Quantity: "resource/Quantity",
};

/** A package's declarations: short name -> type. */
export type Package = Record<string, TypeDecl>;

/** A parsed field: its schema (with references as full type names) and whether it is required. */
interface ParsedField {
  schema: JsonSchema;
  required: boolean;
}

/** `core/PodSpec` or a local `PodSpec` in package `pkg` -> `io.k8s.api.core.v1.PodSpec`. */
export function fullName(name: string, pkg: string): string {
  const global = GLOBAL[name];
  const qualified = global ?? (name.includes("/") ? name : `${pkg}/${name}`);
  const [p, n] = qualified.split("/") as [string, string];
  const prefix = PACKAGES[p];
  if (!prefix) throw new Error(`schema: unknown package "${p}" in "${name}"`);
  return `${prefix}.${n}`;
}

/** Marks a reference to a named type; rendered per OpenAPI version by {@link renderRefs}. */
const REF = "x-faultline-ref";

/** A (marked) reference to the named type `full`, with sibling keys such as a description. */
export function ref(full: string, siblings: JsonSchema = {}): JsonSchema {
  return { [REF]: full, ...siblings };
}

function typeSchema(type: string, pkg: string): JsonSchema {
  if (type.startsWith("[]")) return { type: "array", items: typeSchema(type.slice(2), pkg) };
  const map = /^map<(.+)>$/.exec(type);
  if (map) return { type: "object", additionalProperties: typeSchema(map[1]!, pkg) };
  switch (type) {
    case "string":
      return { type: "string" };
    case "boolean":
      return { type: "boolean" };
    case "integer":
      return { type: "integer", format: "int32" };
    case "int64":
      return { type: "integer", format: "int64" };
    case "number":
      return { type: "number", format: "double" };
    case "bytes":
      return { type: "string", format: "byte" };
    case "map":
      return { type: "object", additionalProperties: { type: "string" } };
    case "object":
      return { type: "object" };
  }
  if (!/^[A-Za-z][\w/]*$/.test(type)) throw new Error(`schema: bad type "${type}"`);
  return { [REF]: fullName(type, pkg) };
}

/** Parses one field declaration (see the module comment). */
export function parseField(spec: string, pkg: string): ParsedField {
  const [head, ...rest] = spec.split(" -- ");
  const description = rest.join(" -- ").trim();
  const tokens = head!.trim().split(/\s+/);
  let type = tokens[0]!;
  const required = type.endsWith("!");
  if (required) type = type.slice(0, -1);
  const schema = typeSchema(type, pkg);
  for (const opt of tokens.slice(1)) {
    const eq = opt.indexOf("=");
    if (eq < 0) throw new Error(`schema: bad option "${opt}" in "${spec}"`);
    const [k, v] = [opt.slice(0, eq), opt.slice(eq + 1)];
    switch (k) {
      case "merge":
        schema["x-kubernetes-patch-merge-key"] = v;
        break;
      case "strategy":
        schema["x-kubernetes-patch-strategy"] = v;
        break;
      case "list":
        schema["x-kubernetes-list-type"] = v;
        break;
      case "keys":
        schema["x-kubernetes-list-map-keys"] = v.split(",");
        break;
      case "map":
        schema["x-kubernetes-map-type"] = v;
        break;
      case "default":
        schema.default = JSON.parse(v) as unknown;
        break;
      case "format":
        schema.format = v;
        break;
      default:
        throw new Error(`schema: unknown option "${k}" in "${spec}"`);
    }
  }
  if (description) schema.description = description;
  return { schema, required };
}

/**
 * Expands a package's declarations to named schemas (full name -> schema), references still marked.
 * Throws on a malformed declaration: the table is code, so that is a bug caught by the unit tests.
 */
export function expandPackage(short: string, decls: Package): Map<string, JsonSchema> {
  const out = new Map<string, JsonSchema>();
  for (const [name, decl] of Object.entries(decls)) {
    const full = fullName(name, short);
    if (decl.t) {
      out.set(full, { ...decl.t, description: decl.d, ...(decl.x ?? {}) });
      continue;
    }
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const [field, spec] of Object.entries(decl.f ?? {})) {
      const p = parseField(spec, short);
      properties[field] = p.schema;
      if (p.required) required.push(field);
    }
    const s: JsonSchema = { description: decl.d, type: "object", properties };
    if (required.length) s.required = required;
    Object.assign(s, decl.x ?? {});
    out.set(full, s);
  }
  return out;
}

/** The full type name a (marked) reference points to, or undefined for an inline schema. */
export function referenceTarget(s: JsonSchema): string | undefined {
  const t = s[REF];
  return typeof t === "string" ? t : undefined;
}

/** Every full type name `s` refers to, directly. */
export function referencesOf(s: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(s)) for (const x of s) referencesOf(x, into);
  else if (s && typeof s === "object") {
    for (const [k, v] of Object.entries(s)) {
      if (k === REF && typeof v === "string") into.add(v);
      else referencesOf(v, into);
    }
  }
  return into;
}

/**
 * Replaces the reference markers with real references: OpenAPI v2 `{"$ref": "#/definitions/N"}`;
 * v3 `{"$ref": "#/components/schemas/N"}`, wrapped in `allOf` when the property has siblings
 * (description, patch extensions), as kube-apiserver's v3 documents do.
 */
export function renderRefs(s: JsonSchema, version: "v2" | "v3"): JsonSchema {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== "object") return v;
    const o = v as Record<string, unknown>;
    const target = o[REF];
    const copy: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) if (k !== REF) copy[k] = walk(x);
    if (typeof target !== "string") return copy;
    if (version === "v2") return { $ref: `#/definitions/${target}`, ...copy };
    const ref = { $ref: `#/components/schemas/${target}` };
    return Object.keys(copy).length === 0 ? ref : { allOf: [ref], ...copy };
  };
  return walk(s) as JsonSchema;
}
