/**
 * The /openapi endpoints, with kube-openapi's HTTP behaviour:
 * - `/openapi/v2`: JSON for `application/json` (or `*` / no Accept). kubectl asks only for the
 *   protobuf encoding (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), which this server
 *   does not produce: it answers 406 with an empty body, as kube-openapi does for a media type it does
 *   not offer, and kubectl carries on with OpenAPI v3 (see the module comment of documents.ts).
 * - `/openapi/v3`: the index, `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}`.
 * - `/openapi/v3/<group-version>`: the document; with `?hash=` equal to the current hash it is served
 *   as immutable (clients cache it on disk), with a stale hash it redirects (301) to the current one.
 * Documents are rendered once per registry state and cached until a CRD changes the registry.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseMediaTypes } from "../negotiate.js";
import type { TypeRegistry } from "../resources.js";
import { methodNotAllowed, pathNotFound } from "../status.js";
import { etagOf, gvPath, openApiV2, openApiV3 } from "./documents.js";

interface Rendered {
  text: string;
  etag: string;
}

interface Cache {
  v2?: Rendered;
  index?: Rendered;
  groups: Map<string, Rendered | null>;
}

const caches = new WeakMap<TypeRegistry, Cache>();

function cacheFor(types: TypeRegistry): Cache {
  let c = caches.get(types);
  if (!c) {
    const fresh: Cache = { groups: new Map() };
    types.onChange(() => {
      fresh.v2 = undefined;
      fresh.index = undefined;
      fresh.groups.clear();
    });
    caches.set(types, fresh);
    c = fresh;
  }
  return c;
}

function render(doc: unknown): Rendered {
  const text = JSON.stringify(doc);
  return { text, etag: etagOf(text) };
}

/** The group version of a `api/v1` or `apis/<group>/<version>` path, or undefined. */
function parseGv(parts: string[]): { group: string; version: string } | undefined {
  if (parts[0] === "api" && parts.length === 2) return { group: "", version: parts[1]! };
  if (parts[0] === "apis" && parts.length === 3) return { group: parts[1]!, version: parts[2]! };
  return undefined;
}

/** Whether the Accept header admits JSON (an absent header, `*\/*`, `application/*` or `application/json`). */
function acceptsJson(accept: string | undefined): boolean {
  if (!accept || accept.trim() === "") return true;
  return parseMediaTypes(accept).some((m) => (m.type === "*" && m.subtype === "*") || (m.type === "application" && (m.subtype === "*" || m.subtype === "json")));
}

function sendJson(req: IncomingMessage, res: ServerResponse, r: Rendered, immutable: boolean): void {
  const quoted = `"${r.etag}"`;
  const headers: Record<string, string | number> = { "Content-Type": "application/json", Etag: quoted, Vary: "Accept" };
  if (immutable) {
    headers["Cache-Control"] = "public, immutable";
    headers.Expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
  } else headers["Cache-Control"] = "no-cache, private";
  if (req.headers["if-none-match"] === quoted) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers["Content-Length"] = Buffer.byteLength(r.text);
  res.writeHead(200, headers);
  res.end(r.text);
}

function notAcceptable(res: ServerResponse): void {
  res.writeHead(406, { Vary: "Accept", "Content-Length": 0 });
  res.end();
}

/**
 * Serves a request whose first path segment is `openapi`. Unknown paths are the usual 404 Status;
 * only GET is served.
 */
export function serveOpenApi(types: TypeRegistry, kubeVersion: string, req: IncomingMessage, res: ServerResponse, url: URL, seg: string[]): void {
  if ((req.method ?? "GET") !== "GET") throw methodNotAllowed();
  const cache = cacheFor(types);
  if (seg.length === 2 && seg[1] === "v2") {
    if (!acceptsJson(req.headers.accept)) return notAcceptable(res);
    cache.v2 ??= render(openApiV2(types.all(), kubeVersion));
    return sendJson(req, res, cache.v2, false);
  }
  if (seg[1] !== "v3") throw pathNotFound();
  if (seg.length === 2) {
    if (!cache.index) {
      const paths: Record<string, { serverRelativeURL: string }> = {};
      const seen = new Set<string>();
      for (const t of types.all()) {
        const p = gvPath(t);
        if (seen.has(p)) continue;
        seen.add(p);
        const doc = groupDoc(types, cache, t.group, t.version, kubeVersion)!;
        paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${doc.etag}` };
      }
      cache.index = render({ paths });
    }
    if (!acceptsJson(req.headers.accept)) return notAcceptable(res);
    return sendJson(req, res, cache.index, false);
  }
  const gv = parseGv(seg.slice(2));
  const doc = gv ? groupDoc(types, cache, gv.group, gv.version, kubeVersion) : undefined;
  if (!gv || !doc) throw pathNotFound();
  if (!acceptsJson(req.headers.accept)) return notAcceptable(res);
  const hash = url.searchParams.get("hash");
  if (hash !== null && hash !== "" && hash !== doc.etag) {
    // a client holding an old hash is sent to the current document, as kube-openapi's handler3 does
    const location = `/openapi/v3/${seg.slice(2).join("/")}?hash=${doc.etag}`;
    res.writeHead(301, { Location: location, "Content-Length": 0 });
    res.end();
    return;
  }
  sendJson(req, res, doc, hash === doc.etag);
}

function groupDoc(types: TypeRegistry, cache: Cache, group: string, version: string, kubeVersion: string): Rendered | undefined {
  const key = `${group}/${version}`;
  if (!cache.groups.has(key)) {
    const doc = openApiV3(types.all(), group, version, kubeVersion);
    cache.groups.set(key, doc ? render(doc) : null);
  }
  return cache.groups.get(key) ?? undefined;
}
