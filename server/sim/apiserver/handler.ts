/**
 * The HTTP side of the API server: authentication, routing of discovery and resource paths, the REST
 * verbs over the store, representations (JSON/YAML, Table, PartialObjectMetadata), and the one error
 * handler that turns every failure into a Status. Every byte of a request is untrusted: the handler
 * answers malformed paths, queries and bodies with 4xx Status objects and never throws past `handle`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { stringify as toYaml } from "yaml";
import type { Logger } from "../../log.js";
import { admittingStore, type Admission } from "./admission.js";
import { bodyFormat, decodeBody, readBody, requireObject } from "./body.js";
import { aggregatedDiscovery, apiGroup, apiGroupList, apiVersions, resourceList, versionInfo } from "./discovery.js";
import { contentTypeOf, negotiate, type Representation } from "./negotiate.js";
import { bindPod, parseBinding } from "./binding.js";
import { bodySchema, deleteOptionsSchema, isRecord, type DeleteOptions, type KObject } from "./objects.js";
import { patchSchemaFor } from "./openapi/patch-meta.js";
import { serveOpenApi } from "./openapi/serve.js";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.js";
import { groupVersion, type ResourceType, type TypeRegistry } from "./resources.js";
import { formatLabelSelector, parseFieldSelector, parseLabelSelector, type FieldSelector, type LabelSelector } from "./selectors.js";
import { ApiError, badRequest, deletedStatus, internalError, invalid, methodNotAllowed, pathNotFound, unauthorized, unsupportedMediaType } from "./status.js";
import type { PropagationPolicy, Store } from "./store.js";
import { parseIncludeObject, partialObjectMetadata, toTable, type IncludeObject } from "./table.js";
import { serveWatch, type WatchRegistry } from "./watch.js";
import { serveLogs } from "./podlogs.js";

/** Who made a request, from the client certificate (CN = user, O = groups), as kube-apiserver's x509 authenticator reads it. */
export interface UserInfo {
  name: string;
  groups: string[];
}

/**
 * The credential outcome: a user, "anonymous" (no credential at all), or "invalid" (a certificate that
 * does not verify; the real server fails those with 401 even where anonymous access is allowed).
 */
export type AuthResult = UserInfo | "anonymous" | "invalid";

export interface HandlerContext {
  store: Store;
  log: Logger;
  kubeVersion: string;
  /** host:port as clients reach this server, for /api's serverAddressByClientCIDRs. */
  serverAddress(): string;
  authenticate(req: IncomingMessage): AuthResult;
  /** Serve apidiscovery.k8s.io/v2 when asked; false makes kubectl fall back to plain discovery. */
  aggregatedDiscovery: boolean;
  watches: WatchRegistry;
  /** Admission webhooks for create/update/delete; without it, writes are not admitted. */
  admission?: Admission;
  /** Where the sandbox's workloads write `<namespace>_<pod>.log`; without it every pod's log is empty. */
  logsDir?: string | undefined;
}

/** Paths anyone may read without a credential (kubeadm's system:public-info-viewer binding). */
const PUBLIC_PATHS = new Set(["/version", "/healthz", "/livez", "/readyz"]);

/** A resource request after routing. */
interface ResourceRequest {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: "status" | "scale" | undefined;
  /** From the legacy /watch/ path prefix. */
  legacyWatch: boolean;
}

/**
 * Handles one request; resolves when the response is finished (or, for watches, handed to the watch
 * registry). Never rejects.
 */
export async function handle(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  let path = "?";
  try {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "https://apiserver.invalid");
    } catch {
      throw badRequest("malformed request URL");
    }
    path = url.pathname;
    const auth = ctx.authenticate(req);
    if (auth === "invalid" || (auth === "anonymous" && !PUBLIC_PATHS.has(path))) {
      ctx.log.warn("apiserver.unauthorized", { method: req.method, path, credential: auth === "invalid" ? "certificate not signed by the cluster CA" : "none" });
      throw unauthorized();
    }
    await route(ctx, req, res, url);
  } catch (err) {
    sendError(ctx, res, err, req.method ?? "?", path);
  } finally {
    ctx.log.debug("apiserver.request", { method: req.method, path, code: res.statusCode, ms: Date.now() - started });
  }
}

function sendError(ctx: HandlerContext, res: ServerResponse, err: unknown, method: string, path: string): void {
  const apiErr = err instanceof ApiError ? err : internalError(err instanceof Error ? err.message : String(err));
  if (!(err instanceof ApiError)) ctx.log.error("apiserver.internal_error", { method, path, err });
  if (res.headersSent) {
    // a watch or a half-written response: nothing sensible to add, end it
    res.destroy();
    return;
  }
  send(res, apiErr.code, apiErr.status);
}

function send(res: ServerResponse, code: number, body: unknown, contentType = "application/json"): void {
  const text = contentType === "application/yaml" ? toYaml(body) : JSON.stringify(body) + "\n";
  res.writeHead(code, { "Content-Type": contentType, "Cache-Control": "no-cache, private", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function sendRepresentation(res: ServerResponse, code: number, body: unknown, repr: Representation, list = false): void {
  send(res, code, body, contentTypeOf(repr, list));
}

function decodeSegments(pathname: string): string[] {
  const parts = pathname.split("/").filter((s) => s !== "");
  return parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw badRequest(`malformed path segment ${JSON.stringify(p)}`);
    }
  });
}

async function route(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? "GET";
  const seg = decodeSegments(url.pathname);
  const accept = req.headers.accept;

  if (seg.length === 1 && (seg[0] === "healthz" || seg[0] === "livez" || seg[0] === "readyz")) {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" });
    res.end("ok");
    return;
  }
  if (seg.length === 1 && seg[0] === "version") {
    if (method !== "GET") throw methodNotAllowed();
    return send(res, 200, versionInfo(ctx.kubeVersion));
  }
  if (seg[0] === "api" && seg.length <= 2) {
    if (method !== "GET") throw methodNotAllowed();
    if (seg.length === 1) {
      const repr = negotiate(accept, { aggregatedDiscovery: ctx.aggregatedDiscovery });
      if (repr.as === "APIGroupDiscoveryList") return sendRepresentation(res, 200, aggregatedDiscovery(true, repr.version, ctx.store.types.all()), repr);
      return send(res, 200, apiVersions(ctx.serverAddress()));
    }
    const list = resourceList("", seg[1]!, ctx.store.types.all());
    if (!list) throw pathNotFound();
    return send(res, 200, list);
  }
  if (seg[0] === "apis" && seg.length <= 3) {
    if (method !== "GET") throw methodNotAllowed();
    if (seg.length === 1) {
      const repr = negotiate(accept, { aggregatedDiscovery: ctx.aggregatedDiscovery });
      if (repr.as === "APIGroupDiscoveryList") return sendRepresentation(res, 200, aggregatedDiscovery(false, repr.version, ctx.store.types.all()), repr);
      return send(res, 200, apiGroupList(ctx.store.types.all()));
    }
    const doc = seg.length === 2 ? apiGroup(seg[1]!, ctx.store.types.all()) : resourceList(seg[1]!, seg[2]!, ctx.store.types.all());
    if (!doc) throw pathNotFound();
    return send(res, 200, doc);
  }
  if (seg[0] === "openapi") return serveOpenApi(ctx.store.types, ctx.kubeVersion, req, res, url, seg);
  // pods/{name}/log and pods/{name}/exec are connect-style subresources, outside the REST verbs below
  if (seg.length === 7 && seg[0] === "api" && seg[1] === "v1" && seg[2] === "namespaces" && seg[4] === "pods") {
    if (seg[6] === "log") return serveLogs(ctx, req, res, url, seg[3]!, seg[5]!);
    // an exec that reaches here carried no Upgrade header (those go to the upgrade handler); kube-apiserver's words
    if (seg[6] === "exec") throw badRequest("Upgrade request required");
    if (seg[6] === "binding") return binding(ctx, req, res, url, seg[3]!, seg[5]!);
  }
  const rr = parseResourcePath(seg, ctx.store.types);
  if (!rr) throw pathNotFound();
  await resource(ctx, req, res, url, rr);
}

/** Maps /api/v1/... and /apis/<g>/<v>/... to a type, namespace, name and subresource; undefined if none. */
function parseResourcePath(seg: string[], types: TypeRegistry): ResourceRequest | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (seg[0] === "api" && seg.length >= 3) {
    [group, version, rest] = ["", seg[1]!, seg.slice(2)];
  } else if (seg[0] === "apis" && seg.length >= 4) {
    [group, version, rest] = [seg[1]!, seg[2]!, seg.slice(3)];
  } else return undefined;
  let legacyWatch = false;
  if (rest[0] === "watch") {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  // namespaces/<ns>/<plural>... is a namespaced path, except the namespace's own subresources
  if (rest[0] === "namespaces" && rest.length >= 3 && !(rest.length === 3 && (rest[2] === "status" || rest[2] === "finalize"))) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  if (rest.length === 0 || rest.length > 3) return undefined;
  const type = types.at(group, version, rest[0]!);
  if (!type) return undefined;
  if (namespace !== undefined && !type.namespaced) return undefined;
  const name = rest[1];
  const sub = rest[2];
  if (sub !== undefined && !((sub === "status" || sub === "scale") && type.subresources.includes(sub))) return undefined;
  // a namespaced object is only addressable inside its namespace; across namespaces only the collection is
  if (type.namespaced && namespace === undefined && name !== undefined) return undefined;
  return { type, namespace, name, subresource: sub as "status" | "scale" | undefined, legacyWatch };
}

interface Query {
  labelSelector?: LabelSelector;
  fieldSelector?: FieldSelector;
  limit?: number;
  continue?: string;
  watch: boolean;
  resourceVersion?: string;
  timeoutSeconds?: number;
  allowWatchBookmarks: boolean;
  includeObject: IncludeObject;
  dryRun: boolean;
}

function parseQuery(url: URL, t: ResourceType): Query {
  const q = url.searchParams;
  const bool = (k: string) => {
    const v = q.get(k);
    return v === "true" || v === "1" || v === "True";
  };
  const intParam = (k: string): number | undefined => {
    const v = q.get(k);
    if (v === null || v === "") return undefined;
    if (!/^-?\d+$/.test(v)) throw badRequest(`${k}: Invalid value: "${v}": strconv.ParseInt: parsing "${v}": invalid syntax`);
    return Number(v);
  };
  const dry = q.getAll("dryRun");
  for (const d of dry) if (d !== "All") throw badRequest(`dryRun: Unsupported value: "${d}": supported values: "All"`);
  const query: Query = {
    watch: bool("watch"),
    allowWatchBookmarks: bool("allowWatchBookmarks"),
    includeObject: parseIncludeObject(q.get("includeObject")),
    dryRun: dry.length > 0,
  };
  const ls = q.get("labelSelector");
  if (ls) query.labelSelector = parseLabelSelector(ls);
  const fs = q.get("fieldSelector");
  if (fs) query.fieldSelector = parseFieldSelector(fs, t);
  const limit = intParam("limit");
  if (limit !== undefined) query.limit = limit;
  const cont = q.get("continue");
  if (cont) query.continue = cont;
  const rv = q.get("resourceVersion");
  if (rv !== null) query.resourceVersion = rv;
  const timeout = intParam("timeoutSeconds");
  if (timeout !== undefined) query.timeoutSeconds = timeout;
  return query;
}

async function resource(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, url: URL, rr: ResourceRequest): Promise<void> {
  const method = req.method ?? "GET";
  const { type: t, namespace, name } = rr;
  const query = parseQuery(url, t);
  // writes through this store are admitted (webhooks), so they are awaited below
  const store = admittingStore(ctx, req, res);
  if (rr.subresource === "scale" && name !== undefined) return scale(ctx, req, res, t, namespace, name, query.dryRun);

  if (method === "GET") {
    if (query.watch || rr.legacyWatch) {
      if (rr.subresource) throw methodNotAllowed();
      const fieldSelector = [...(query.fieldSelector ?? [])];
      if (name !== undefined) fieldSelector.push({ field: "metadata.name", op: "=", value: name });
      const repr = negotiate(req.headers.accept, { transforms: true, list: false });
      serveWatch(ctx, req, res, {
        type: t,
        namespace,
        labelSelector: query.labelSelector,
        fieldSelector,
        resourceVersion: query.resourceVersion,
        timeoutSeconds: query.timeoutSeconds,
        bookmarks: query.allowWatchBookmarks,
        repr,
        includeObject: query.includeObject,
      });
      return;
    }
    if (name === undefined) {
      const repr = negotiate(req.headers.accept, { transforms: true, list: true });
      const result = store.list(t, {
        ...(namespace !== undefined ? { namespace } : {}),
        ...(query.labelSelector ? { labelSelector: query.labelSelector } : {}),
        ...(query.fieldSelector ? { fieldSelector: query.fieldSelector } : {}),
        ...(query.limit ? { limit: query.limit } : {}),
        ...(query.continue ? { continue: query.continue } : {}),
      });
      const listMeta: Record<string, unknown> = { resourceVersion: result.resourceVersion };
      if (result.continue) {
        listMeta.continue = result.continue;
        listMeta.remainingItemCount = result.remainingItemCount;
      }
      if (repr.as === "Table") return sendRepresentation(res, 200, toTable(t, result.items, { includeObject: query.includeObject, version: repr.version, listMeta }), repr);
      if (repr.as === "PartialObjectMetadata") {
        return sendRepresentation(res, 200, { kind: "PartialObjectMetadataList", apiVersion: `meta.k8s.io/${repr.version}`, metadata: listMeta, items: result.items.map((o) => partialObjectMetadata(o, repr.version)) }, repr, true);
      }
      // list items carry no TypeMeta on the wire, as kube-apiserver encodes typed lists
      const items = result.items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
      return sendRepresentation(res, 200, { kind: `${t.kind}List`, apiVersion: groupVersion(t), metadata: listMeta, items }, repr);
    }
    const repr = negotiate(req.headers.accept, { transforms: true, list: false });
    const obj = store.get(t, namespace, name);
    if (repr.as === "Table") return sendRepresentation(res, 200, toTable(t, [obj], { includeObject: query.includeObject, version: repr.version, listMeta: { resourceVersion: obj.metadata.resourceVersion } }), repr);
    if (repr.as === "PartialObjectMetadata") return sendRepresentation(res, 200, partialObjectMetadata(obj, repr.version), repr);
    return sendRepresentation(res, 200, obj, repr);
  }

  if (rr.legacyWatch) throw methodNotAllowed();
  if (method === "POST") {
    if (name !== undefined) throw methodNotAllowed();
    if (t.namespaced && namespace === undefined) throw methodNotAllowed();
    const repr = negotiate(req.headers.accept, { transforms: false });
    const obj = await decodeObject(req, t);
    if (t.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      obj.metadata.namespace = namespace;
    }
    const created = await store.create(t, obj, { dryRun: query.dryRun });
    return sendRepresentation(res, 201, created, repr);
  }

  if (method === "PUT") {
    if (name === undefined) throw methodNotAllowed();
    const repr = negotiate(req.headers.accept, { transforms: false });
    const obj = await decodeObject(req, t);
    if (obj.metadata.name && obj.metadata.name !== name) throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    obj.metadata.name = name;
    if (t.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      obj.metadata.namespace = namespace;
    }
    const existed = store.tryGet(t, namespace, name) !== undefined;
    const updated = await store.update(t, obj, { dryRun: query.dryRun, ...(rr.subresource === "status" ? { subresource: "status" as const } : {}) });
    return sendRepresentation(res, existed ? 200 : 201, updated, repr);
  }

  if (method === "DELETE") {
    if (rr.subresource || rr.legacyWatch) throw methodNotAllowed();
    const repr = negotiate(req.headers.accept, { transforms: false });
    const options = await decodeDeleteOptions(req);
    const dryRun = query.dryRun || (options.dryRun ?? []).includes("All");
    const policy = propagationPolicy(options, url);
    // the admitting store hands its options through to the store, where the policy lands on the DELETED event
    const deleteOpts = { dryRun, ...(policy ? { propagationPolicy: policy } : {}) };
    if (name === undefined) {
      // deletecollection of a namespaced type exists only inside a namespace, as in kube-apiserver's routes
      if (!t.verbs.includes("deletecollection") || (t.namespaced && namespace === undefined)) throw methodNotAllowed();
      const matching = store.list(t, {
        ...(namespace !== undefined ? { namespace } : {}),
        ...(query.labelSelector ? { labelSelector: query.labelSelector } : {}),
        ...(query.fieldSelector ? { fieldSelector: query.fieldSelector } : {}),
      });
      const deleted: KObject[] = [];
      for (const o of matching.items) {
        try {
          deleted.push(await store.delete(t, o.metadata.namespace, o.metadata.name!, deleteOpts));
        } catch (err) {
          // deleted concurrently: a collection delete does not fail for that; a webhook denial does
          if (!(err instanceof ApiError) || err.code !== 404) throw err;
        }
      }
      const items = deleted.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
      return sendRepresentation(res, 200, { kind: `${t.kind}List`, apiVersion: groupVersion(t), metadata: { resourceVersion: store.resourceVersion() }, items }, repr);
    }
    const gone = await store.delete(t, namespace, name, { ...(options.preconditions ? { preconditions: options.preconditions } : {}), ...deleteOpts });
    // pods and namespaces are deleted gracefully on a real cluster: the answer is the object, marked for
    // deletion; everything else is gone at once and the answer is a Success Status
    // an object with finalizers stays, marked: the answer is the object (200), as kube-apiserver gives it
    if (gone.metadata.finalizers?.length && gone.metadata.deletionTimestamp) return sendRepresentation(res, 200, gone, repr);
    if (t.kind === "Pod" || t.kind === "Namespace") {
      const marked: KObject = { ...gone, metadata: { ...gone.metadata, deletionTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") } };
      if (t.kind === "Pod") marked.metadata.deletionGracePeriodSeconds = 30;
      if (t.kind === "Namespace") marked.status = { phase: "Terminating" };
      return sendRepresentation(res, 200, marked, repr);
    }
    return send(res, 200, deletedStatus(t, name, gone.metadata.uid));
  }

  if (method === "PATCH") {
    if (name === undefined) throw methodNotAllowed();
    const repr = negotiate(req.headers.accept, { transforms: false });
    const format = bodyFormat(req.headers["content-type"]);
    // server-side apply (application/apply-patch+yaml) is not modelled: answered as by a server without
    // it; custom resources take no strategic merge patch, as in apiextensions-apiserver
    const patchTypes = t.custom ? ["json-patch", "merge-patch"] : ["json-patch", "merge-patch", "strategic-merge-patch"];
    if (!patchTypes.includes(format)) throw unsupportedMediaType(req.headers["content-type"] ?? "", patchTypes.map((p) => `application/${p}+json`));
    const raw = await readBody(req);
    const patch = decodeBody(raw, format, t.kind);
    const current = store.get(t, namespace, name);
    const patched = format === "json-patch" ? jsonPatch(current, patch) : format === "merge-patch" ? mergePatch(current, patch) : strategicMergePatch(current, patch, patchSchemaFor(t));
    const parsed = bodySchema.safeParse(patched);
    if (!parsed.success || !isRecord(patched)) throw badRequest(`the patch does not yield a valid ${t.kind}: ${parsed.success ? "not an object" : parsed.error.issues[0]!.message}`);
    const obj = parsed.data as KObject;
    obj.metadata = { ...(obj.metadata ?? {}) };
    if (obj.metadata.name !== name) throw badRequest(`metadata.name: Invalid value: ${JSON.stringify(obj.metadata.name ?? "")}: field is immutable`);
    // a patch that names a resourceVersion is a precondition; one that does not applies to what it read
    if (!obj.metadata.resourceVersion) obj.metadata.resourceVersion = current.metadata.resourceVersion;
    const updated = await store.update(t, obj, { dryRun: query.dryRun, ...(rr.subresource === "status" ? { subresource: "status" as const } : {}) });
    return sendRepresentation(res, 200, updated, repr);
  }
  throw methodNotAllowed();
}

/** POST pods/<name>/binding (what a scheduler calls): the pod bound to the Binding's target node, 201 Success. */
async function binding(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, url: URL, namespace: string, name: string): Promise<void> {
  if (req.method !== "POST") throw methodNotAllowed();
  const format = bodyFormat(req.headers["content-type"]);
  if (format !== "json" && format !== "yaml") throw unsupportedMediaType(req.headers["content-type"] ?? "", ["application/json", "application/yaml"]);
  const raw = await readBody(req);
  const b = parseBinding(decodeBody(raw, format, "Binding"), name);
  const dryRun = url.searchParams.getAll("dryRun").includes("All");
  bindPod(ctx.store, namespace, name, b.target, new Date(), b, dryRun);
  send(res, 201, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
}

/** autoscaling/v1 Scale of a Deployment or ReplicaSet, as its scale subresource presents it. */
function scaleOf(o: KObject): Record<string, unknown> {
  const spec = (o.spec ?? {}) as { replicas?: number; selector?: unknown };
  const status = (o.status ?? {}) as { replicas?: number };
  const { name, namespace, uid, resourceVersion, creationTimestamp } = o.metadata;
  const selector = formatLabelSelector(spec.selector);
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, ...(selector !== "<none>" ? { selector } : {}) },
  };
}

/** GET/PUT/PATCH .../scale: `kubectl scale` patches spec.replicas here. */
async function scale(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, t: ResourceType, namespace: string | undefined, name: string, dryRun: boolean): Promise<void> {
  const method = req.method ?? "GET";
  const repr = negotiate(req.headers.accept, { transforms: false });
  const current = ctx.store.get(t, namespace, name);
  if (method === "GET") return sendRepresentation(res, 200, scaleOf(current), repr);
  if (method !== "PUT" && method !== "PATCH") throw methodNotAllowed();
  const format = bodyFormat(req.headers["content-type"]);
  const raw = await readBody(req);
  const body = decodeBody(raw, format, "Scale");
  let wanted: unknown;
  if (method === "PUT") {
    if (format !== "json" && format !== "yaml" && format !== "protobuf") throw unsupportedMediaType(req.headers["content-type"] ?? "");
    wanted = body;
  } else {
    if (format !== "merge-patch" && format !== "json-patch" && format !== "strategic-merge-patch") throw unsupportedMediaType(req.headers["content-type"] ?? "");
    const cur = scaleOf(current);
    wanted = format === "json-patch" ? jsonPatch(cur, body) : format === "merge-patch" ? mergePatch(cur, body) : strategicMergePatch(cur, body);
  }
  const replicas = isRecord(wanted) && isRecord(wanted.spec) ? wanted.spec.replicas : undefined;
  if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
    throw invalid({ kind: "Scale", group: "autoscaling" }, name, [{ field: "spec.replicas", type: "FieldValueInvalid", value: replicas ?? null, detail: "must be greater than or equal to 0" }]);
  }
  const sentRv = isRecord(wanted) && isRecord(wanted.metadata) && typeof wanted.metadata.resourceVersion === "string" ? wanted.metadata.resourceVersion : "";
  const next: KObject = { ...current, metadata: { ...current.metadata, resourceVersion: sentRv || current.metadata.resourceVersion! }, spec: { ...((current.spec ?? {}) as object), replicas } };
  const updated = ctx.store.update(t, next, { dryRun });
  return sendRepresentation(res, 200, scaleOf(updated), repr);
}

/** Reads and checks a create/update body against the type the URL names. */
async function decodeObject(req: IncomingMessage, t: ResourceType): Promise<KObject> {
  const format = bodyFormat(req.headers["content-type"]);
  if (format !== "json" && format !== "yaml" && format !== "protobuf") throw unsupportedMediaType(req.headers["content-type"] ?? "");
  const raw = await readBody(req);
  const value = requireObject(decodeBody(raw, format, t.kind), t.kind, raw);
  const gv = groupVersion(t);
  const sentKind = typeof value.kind === "string" ? value.kind : "";
  const sentVersion = typeof value.apiVersion === "string" ? value.apiVersion : "";
  if (sentVersion && sentVersion !== gv) throw badRequest(`the API version in the data (${sentVersion}) does not match the expected API version (${gv})`);
  if (sentKind && sentKind !== t.kind) {
    throw badRequest(`${sentKind} in version "${t.version}" cannot be handled as a ${t.kind}: converting (${t.version}.${sentKind}) to (${t.group || "core"}.${t.kind}): unknown conversion`);
  }
  const parsed = bodySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.map(String).join(".");
    throw badRequest(`${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: json: cannot unmarshal ${describeJsonValue(valueAt(value, issue.path))} into Go struct field ${where ? `.${where}` : ""} of type ${expectedGoType(issue.message)}`);
  }
  const obj = parsed.data as KObject;
  obj.metadata = { ...(obj.metadata ?? {}) };
  obj.apiVersion = gv;
  obj.kind = t.kind;
  return obj;
}

function valueAt(v: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = v;
  for (const p of path) cur = cur && typeof cur === "object" ? (cur as Record<PropertyKey, unknown>)[p] : undefined;
  return cur;
}

function describeJsonValue(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  if (typeof v === "object") return "object";
  return typeof v;
}

function expectedGoType(zodMessage: string): string {
  const m = /expected (\w+)/.exec(zodMessage);
  switch (m?.[1]) {
    case "string":
      return "string";
    case "number":
      return "int64";
    case "boolean":
      return "bool";
    case "array":
      return "[]string";
    case "record":
    case "object":
      return "map[string]string";
  }
  return m?.[1] ?? "value";
}

/**
 * DeleteOptions.propagationPolicy (body, else the query parameter), or the deprecated orphanDependents;
 * anything else is the 422 ValidateDeleteOptions gives.
 */
function propagationPolicy(options: DeleteOptions, url: URL): PropagationPolicy | undefined {
  const sent = options.propagationPolicy ?? url.searchParams.get("propagationPolicy") ?? undefined;
  const orphan = options.orphanDependents ?? (url.searchParams.has("orphanDependents") ? url.searchParams.get("orphanDependents") === "true" : undefined);
  if (sent === undefined || sent === "") return orphan === undefined ? undefined : orphan ? "Orphan" : "Background";
  if (sent === "Orphan" || sent === "Background" || sent === "Foreground") return sent;
  throw invalid({ kind: "DeleteOptions", group: "meta.k8s.io" }, "", [{ field: "propagationPolicy", type: "FieldValueNotSupported", value: sent, detail: 'supported values: "Foreground", "Background", "Orphan"' }]);
}

async function decodeDeleteOptions(req: IncomingMessage): Promise<DeleteOptions> {
  const raw = await readBody(req);
  if (raw.length === 0 || raw.toString("utf8").trim() === "") return {};
  const format = bodyFormat(req.headers["content-type"]);
  if (format !== "json" && format !== "yaml" && format !== "protobuf") throw unsupportedMediaType(req.headers["content-type"] ?? "");
  const value = decodeBody(raw, format, "DeleteOptions");
  const parsed = deleteOptionsSchema.safeParse(value);
  if (!parsed.success) throw badRequest(`the object provided is unrecognized (must be of type DeleteOptions): ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}
