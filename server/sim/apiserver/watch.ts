/**
 * Watches over HTTP: `?watch=true` (or `1`) streams one JSON event per line —
 * `{"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR","object":...}` — for as long as the client
 * stays, `timeoutSeconds` allows, or the server closes. As Table when the client asks for it
 * (`kubectl get -w`): each event's object is a one-row Table, column definitions in the first only.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HandlerContext } from "./handler.js";
import { contentTypeOf, type Representation } from "./negotiate.js";
import type { KObject } from "./objects.js";
import { groupVersion, type ResourceType } from "./resources.js";
import type { FieldSelector, LabelSelector } from "./selectors.js";
import { ApiError, internalError } from "./status.js";
import { partialObjectMetadata, toTable, type IncludeObject } from "./table.js";

/** Open watches, so the server can end them all on close. */
export type WatchRegistry = Set<{ end(): void }>;

export interface WatchRequest {
  type: ResourceType;
  namespace: string | undefined;
  labelSelector: LabelSelector | undefined;
  fieldSelector: FieldSelector | undefined;
  resourceVersion: string | undefined;
  timeoutSeconds: number | undefined;
  bookmarks: boolean;
  repr: Representation;
  includeObject: IncludeObject;
}

/** How often a watch that allows bookmarks gets one (the real server sends them about once a minute). */
const BOOKMARK_INTERVAL_MS = 60_000;
/** A client this far behind is dropped rather than buffered without bound; it will re-list and re-watch. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export function serveWatch(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, w: WatchRequest): void {
  let headers = false;
  let first = true;
  let ended = false;
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe: (() => void) | undefined;

  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe?.();
    for (const t of timers) clearTimeout(t);
    ctx.watches.delete(handle);
    if (!res.writableEnded) res.end();
  };
  const handle = { end };

  const startStream = () => {
    if (headers) return;
    headers = true;
    res.writeHead(200, { "Content-Type": contentTypeOf(w.repr), "Cache-Control": "no-cache, private", "Transfer-Encoding": "chunked" });
    res.flushHeaders();
  };

  const encode = (o: KObject): unknown => {
    if (w.repr.as === "Table") {
      const table = toTable(w.type, [o], { includeObject: w.includeObject, version: w.repr.version, noHeaders: !first, listMeta: { resourceVersion: o.metadata.resourceVersion } });
      first = false;
      return table;
    }
    if (w.repr.as === "PartialObjectMetadata") return partialObjectMetadata(o, w.repr.version);
    return o;
  };

  const write = (line: unknown) => {
    if (ended) return;
    startStream();
    res.write(JSON.stringify(line) + "\n");
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      ctx.log.warn("apiserver.watch_dropped", { resource: w.type.plural, buffered: res.writableLength });
      res.destroy();
      end();
    }
  };

  ctx.watches.add(handle);
  req.on("close", end);
  res.on("close", end);
  res.on("error", end);
  if (w.timeoutSeconds !== undefined && w.timeoutSeconds > 0) timers.push(setTimeout(end, w.timeoutSeconds * 1000));

  try {
    unsubscribe = ctx.store.watch(
      w.type,
      {
        ...(w.namespace !== undefined ? { namespace: w.namespace } : {}),
        ...(w.labelSelector ? { labelSelector: w.labelSelector } : {}),
        ...(w.fieldSelector?.length ? { fieldSelector: w.fieldSelector } : {}),
        ...(w.resourceVersion !== undefined ? { resourceVersion: w.resourceVersion } : {}),
      },
      (type, object) => write({ type, object: encode(object) }),
    );
  } catch (err) {
    // an expired resourceVersion is reported in-stream, as the watch cache does, so reflectors re-list
    const status = err instanceof ApiError ? err.status : internalError(String(err)).status;
    write({ type: "ERROR", object: status });
    end();
    return;
  }
  // headers go out even before the first event, so the client knows the watch is established
  startStream();

  if (w.bookmarks && w.repr.as === "object") {
    const tick = () => {
      write({ type: "BOOKMARK", object: { kind: w.type.kind, apiVersion: groupVersion(w.type), metadata: { resourceVersion: ctx.store.resourceVersion() } } });
      if (!ended) timers.push(setTimeout(tick, BOOKMARK_INTERVAL_MS).unref());
    };
    timers.push(setTimeout(tick, BOOKMARK_INTERVAL_MS).unref());
  }
}
