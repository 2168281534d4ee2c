/**
 * The three patch types kubectl sends: JSON merge patch (RFC 7386; `kubectl patch --type merge`, and
 * what kubectl uses for custom resources), JSON patch (RFC 6902; `--type json`), and strategic merge
 * patch (`kubectl label/annotate/edit`, the default for built-ins). Strategic merge here merges lists
 * by the patch merge keys of the Kubernetes types (containers by name, ports by port/containerPort, ...)
 * and honours the `$patch`, `$deleteFromPrimitiveList`, `$setElementOrder` and `$retainKeys`
 * directives; list fields without a merge key are replaced, as in the real implementation.
 *
 * Where the merge keys come from: the kind's OpenAPI schema when the caller passes one (a
 * {@link PatchSchema}, from openapi/patch-meta.ts — the same declaration kubectl computes its patch
 * from), else a table of the built-in types' list fields by field name.
 */
import { isRecord, setOwn } from "./objects.js";
import { badRequest } from "./status.js";

type Json = unknown;

/** RFC 7386: objects merge recursively, null removes a key, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setOwn(out, k, mergePatch(out[k], v));
  }
  return out;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

function parsePointer(p: unknown): string[] {
  if (typeof p !== "string" || (p !== "" && !p.startsWith("/"))) throw badRequest(`invalid JSON pointer ${JSON.stringify(p)}`);
  return p === "" ? [] : p.slice(1).split("/").map(unescapePointer);
}

function isIndex(key: string, arr: unknown[], forInsert: boolean): number {
  if (forInsert && key === "-") return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw badRequest(`invalid array index ${JSON.stringify(key)}`);
  const i = Number(key);
  if (i > arr.length || (!forInsert && i === arr.length)) throw badRequest(`array index ${i} is out of bounds`);
  return i;
}

function parentOf(doc: Json, path: string[]): [Record<string, unknown> | unknown[], string] {
  let cur: Json = doc;
  for (const key of path.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[isIndex(key, cur, false)];
    else if (isRecord(cur) && Object.prototype.hasOwnProperty.call(cur, key)) cur = cur[key];
    else throw badRequest(`doc is missing path: "/${path.join("/")}": missing value`);
  }
  if (!Array.isArray(cur) && !isRecord(cur)) throw badRequest(`doc is missing path: "/${path.join("/")}": missing value`);
  return [cur, path[path.length - 1]!];
}

function getAt(doc: Json, path: string[]): Json {
  if (path.length === 0) return doc;
  const [parent, key] = parentOf(doc, path);
  if (Array.isArray(parent)) return parent[isIndex(key, parent, false)];
  if (!Object.prototype.hasOwnProperty.call(parent, key)) throw badRequest(`doc is missing path: "/${path.join("/")}": missing value`);
  return parent[key];
}

function removeAt(doc: Json, path: string[]): Json {
  if (path.length === 0) throw badRequest("unable to remove the whole document");
  const [parent, key] = parentOf(doc, path);
  if (Array.isArray(parent)) return parent.splice(isIndex(key, parent, false), 1)[0];
  if (!Object.prototype.hasOwnProperty.call(parent, key)) throw badRequest(`doc is missing key: /${path.join("/")}: missing value`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: Json, path: string[], value: Json, replace: boolean): Json {
  if (path.length === 0) return value;
  const [parent, key] = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const i = isIndex(key, parent, !replace);
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
  } else {
    if (replace && !Object.prototype.hasOwnProperty.call(parent, key)) throw badRequest(`doc is missing key: /${path.join("/")}: missing value`);
    setOwn(parent, key, value);
  }
  return doc;
}

/** RFC 6902 over a copy of `target`. */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let doc: Json = structuredClone(target);
  for (const op of ops) {
    if (!isRecord(op)) throw badRequest("invalid JSON patch operation");
    const path = parsePointer(op.path);
    switch (op.op) {
      case "add":
        doc = addAt(doc, path, structuredClone(op.value), false);
        break;
      case "replace":
        doc = addAt(doc, path, structuredClone(op.value), true);
        break;
      case "remove":
        removeAt(doc, path);
        break;
      case "move": {
        const v = removeAt(doc, parsePointer(op.from));
        doc = addAt(doc, path, v, false);
        break;
      }
      case "copy":
        doc = addAt(doc, path, structuredClone(getAt(doc, parsePointer(op.from))), false);
        break;
      case "test":
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(op.value)) throw badRequest(`testing value /${path.join("/")} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

/**
 * Patch metadata of one position in an object, as the kind's schema declares it. `undefined` from
 * `child`/`item` means the schema says nothing there: the field-name table decides.
 */
export interface PatchSchema {
  /** The schema of property `key` of this object. */
  child(key: string): PatchSchema | undefined;
  /** The schema of this list's items. */
  item(): PatchSchema | undefined;
  /** x-kubernetes-patch-merge-key of this (list) field. */
  readonly mergeKey: string | undefined;
  /** x-kubernetes-patch-strategy of this field, split on commas (`merge`, `retainKeys`). */
  readonly strategies: readonly string[];
}

/** patchMergeKey of the list fields of the built-in types, by field name (when no schema is given). */
const MERGE_KEYS: Record<string, string | ((items: unknown[]) => string)> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  env: "name",
  imagePullSecrets: "name",
  hostAliases: "ip",
  conditions: "type",
  ownerReferences: "uid",
  taints: "key",
  addresses: "type",
  topologySpreadConstraints: "topologyKey",
  webhooks: "name",
  // container ports merge on containerPort, service ports on port
  ports: (items) => (items.some((i) => isRecord(i) && "containerPort" in i) ? "containerPort" : "port"),
};

/** Lists of scalars that merge as sets (patchStrategy=merge without a key). */
const PRIMITIVE_MERGE = new Set(["finalizers"]);

function mergeKeyFor(field: string, items: unknown[]): string | undefined {
  const k = MERGE_KEYS[field];
  return typeof k === "function" ? k(items) : k;
}

function mergeList(field: string, current: unknown, patch: unknown[], schema: PatchSchema | undefined): unknown[] {
  const cur = Array.isArray(current) ? current : [];
  if (patch.some((p) => isRecord(p) && p.$patch === "replace")) return patch.filter((p) => !(isRecord(p) && p.$patch === "replace"));
  const itemSchema = schema?.item();
  const merges = schema ? schema.strategies.includes("merge") : undefined;
  const key = schema ? (merges ? schema.mergeKey : undefined) : mergeKeyFor(field, [...cur, ...patch]);
  // a list that merges without a key is a set of scalars (finalizers)
  if (schema ? merges && !key : PRIMITIVE_MERGE.has(field)) return [...cur, ...patch.filter((p) => !cur.includes(p))];
  if (!key) return patch.map((p) => strategicMergePatch(undefined, p, itemSchema));
  const out = cur.map((x) => x);
  for (const item of patch) {
    if (!isRecord(item) || !(key in item)) {
      out.push(item);
      continue;
    }
    const idx = out.findIndex((x) => isRecord(x) && x[key] === item[key]);
    if (item.$patch === "delete") {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMergePatch(out[idx], item, itemSchema);
    else out.push(strategicMergePatch(undefined, item, itemSchema));
  }
  return out;
}

/** `$setElementOrder/<field>`: the merged list in the order the patch gives, items it does not name after. */
function applyOrder(list: unknown[], order: unknown[], key: string | undefined): unknown[] {
  const id = (x: unknown) => (key && isRecord(x) ? x[key] : x);
  const wanted = order.map((o) => (key && isRecord(o) ? o[key] : o));
  const placed = wanted.flatMap((w) => list.filter((x) => id(x) === w));
  return [...placed, ...list.filter((x) => !wanted.includes(id(x)))];
}

/**
 * Strategic merge patch for built-in types (see the module comment for what is modelled).
 *
 * @example strategicMergePatch(pod, { metadata: { labels: { x: "y" } } })
 */
export function strategicMergePatch(target: Json, patch: Json, schema?: PatchSchema): Json {
  if (!isRecord(patch)) return patch;
  if (patch.$patch === "replace") {
    const { $patch: _p, ...rest } = patch;
    return rest;
  }
  if (patch.$patch === "delete") return undefined;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k.startsWith("$setElementOrder/") || k === "$retainKeys") continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as unknown[]).filter((x) => !v.includes(x));
      continue;
    }
    const sub = schema?.child(k);
    if (v === null) delete out[k];
    else if (Array.isArray(v)) setOwn(out, k, mergeList(k, out[k], v, sub));
    else if (isRecord(v)) {
      const merged = strategicMergePatch(out[k], v, sub);
      if (merged === undefined) delete out[k];
      else setOwn(out, k, merged);
    } else setOwn(out, k, v);
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith("$setElementOrder/") || !Array.isArray(v)) continue;
    const field = k.slice("$setElementOrder/".length);
    if (Array.isArray(out[field])) setOwn(out, field, applyOrder(out[field] as unknown[], v, schema?.child(field)?.mergeKey ?? mergeKeyFor(field, out[field] as unknown[])));
  }
  // retainKeys (Deployment.spec.strategy, volumes): only the keys the patch lists survive
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys.filter((x): x is string => typeof x === "string"));
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}
