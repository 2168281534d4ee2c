/**
 * meta.k8s.io Table responses: what `kubectl get` renders. Each row carries the object kubectl needs for
 * its client-side columns (NAMESPACE under -A, --show-labels, -L): PartialObjectMetadata by default,
 * the full object with `includeObject=Object`, nothing with `includeObject=None` — the real server's
 * `includeObject` semantics.
 */
import type { KObject } from "./objects.js";
import { printerFor } from "./printers/index.js";
import type { ResourceType } from "./resources.js";
import { badRequest } from "./status.js";

export type IncludeObject = "None" | "Metadata" | "Object";

export function parseIncludeObject(v: string | null): IncludeObject {
  if (v === null || v === "" || v === "Metadata") return "Metadata";
  if (v === "None" || v === "Object") return v;
  throw badRequest(`includeObject: Unsupported value: "${v}": supported values: "Metadata", "None", "Object"`);
}

/** The metadata-only view of an object (meta.k8s.io PartialObjectMetadata). */
export function partialObjectMetadata(o: KObject, version: "v1" | "v1beta1" = "v1"): Record<string, unknown> {
  return { kind: "PartialObjectMetadata", apiVersion: `meta.k8s.io/${version}`, metadata: o.metadata };
}

export interface TableOptions {
  includeObject: IncludeObject;
  version: "v1" | "v1beta1";
  /** Omit columnDefinitions (later events of a watch, or `?noHeaders`-style clients). */
  noHeaders?: boolean;
  /** List metadata to carry (resourceVersion, continue). */
  listMeta?: Record<string, unknown>;
  now?: Date;
}

/**
 * @example toTable(podsType, store.list("pods").items, { includeObject: "Metadata", version: "v1" })
 */
export function toTable(t: ResourceType, objects: KObject[], opts: TableOptions): Record<string, unknown> {
  const printer = printerFor(t);
  const now = opts.now ?? new Date();
  const rows = objects.map((o) => {
    const row: Record<string, unknown> = { cells: printer.cells(o, now) };
    if (opts.includeObject === "Metadata") row.object = partialObjectMetadata(o, opts.version);
    else if (opts.includeObject === "Object") row.object = o;
    return row;
  });
  return {
    kind: "Table",
    apiVersion: `meta.k8s.io/${opts.version}`,
    metadata: opts.listMeta ?? {},
    columnDefinitions: opts.noHeaders ? null : printer.columns,
    rows,
  };
}
