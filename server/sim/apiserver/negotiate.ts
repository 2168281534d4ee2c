/**
 * Content negotiation as kube-apiserver does it: the Accept header is a preference-ordered list of media
 * types whose parameters (`as`, `v`, `g`) ask for a different representation of the same resource —
 * `as=Table` for kubectl get, `as=PartialObjectMetadata[List]` for metadata clients,
 * `as=APIGroupDiscoveryList` for aggregated discovery. The first entry the endpoint can serve wins.
 * Protobuf is not served: clients that list JSON as well (kubectl, client-go, client-node) get JSON.
 */
import { notAcceptable } from "./status.js";

export interface MediaRange {
  type: string;
  subtype: string;
  params: Record<string, string>;
}

/** Parses an Accept or Content-Type header; malformed entries are skipped, never thrown. */
export function parseMediaTypes(header: string | undefined): MediaRange[] {
  if (!header) return [];
  const out: MediaRange[] = [];
  for (const part of header.split(",")) {
    const [full, ...rawParams] = part.split(";");
    const m = /^\s*([\w.+*-]+)\/([\w.+*-]+)\s*$/.exec(full ?? "");
    if (!m) continue;
    const params: Record<string, string> = {};
    for (const p of rawParams) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
    }
    out.push({ type: m[1]!.toLowerCase(), subtype: m[2]!.toLowerCase(), params });
  }
  return out;
}

/** What a response should be encoded as. */
export type Representation =
  | { as: "object"; format: "json" | "yaml" }
  | { as: "Table"; version: "v1" | "v1beta1"; format: "json" }
  | { as: "PartialObjectMetadata"; version: "v1" | "v1beta1"; format: "json" }
  | { as: "APIGroupDiscoveryList"; version: "v2" | "v2beta1"; format: "json" };

export interface NegotiateOptions {
  /** Object endpoints can be transformed to Table / PartialObjectMetadata. */
  transforms?: boolean;
  /** /api and /apis can answer with aggregated discovery. */
  aggregatedDiscovery?: boolean;
  /** The response is a list (PartialObjectMetadataList rather than PartialObjectMetadata). */
  list?: boolean;
}

function isJsonish(m: MediaRange): "json" | "yaml" | undefined {
  if (m.type === "*" && m.subtype === "*") return "json";
  if (m.type !== "application") return undefined;
  if (m.subtype === "json" || m.subtype === "*") return "json";
  if (m.subtype === "yaml") return "yaml";
  return undefined;
}

/**
 * Picks the representation for an Accept header, or throws 406 NotAcceptable when nothing listed is
 * servable. No header at all means JSON.
 *
 * @example negotiate("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", { transforms: true })
 * // { as: "Table", version: "v1", format: "json" }
 */
export function negotiate(accept: string | undefined, opts: NegotiateOptions = {}): Representation {
  const ranges = parseMediaTypes(accept);
  if (ranges.length === 0) return { as: "object", format: "json" };
  for (const m of ranges) {
    const format = isJsonish(m);
    if (!format) continue;
    const as = m.params.as;
    if (!as) return { as: "object", format };
    if (format !== "json") continue;
    const g = m.params.g;
    const v = m.params.v;
    if (opts.transforms && g === "meta.k8s.io" && (v === "v1" || v === "v1beta1")) {
      if (as === "Table") return { as: "Table", version: v, format };
      if (as === (opts.list ? "PartialObjectMetadataList" : "PartialObjectMetadata")) return { as: "PartialObjectMetadata", version: v, format };
    }
    if (opts.aggregatedDiscovery && g === "apidiscovery.k8s.io" && as === "APIGroupDiscoveryList" && (v === "v2" || v === "v2beta1")) {
      return { as: "APIGroupDiscoveryList", version: v, format };
    }
  }
  throw notAcceptable();
}

/** The Content-Type header value that names a representation, as kube-apiserver sets it. */
export function contentTypeOf(r: Representation, list = false): string {
  switch (r.as) {
    case "object":
      return r.format === "yaml" ? "application/yaml" : "application/json";
    case "Table":
      return `application/json;as=Table;v=${r.version};g=meta.k8s.io`;
    case "PartialObjectMetadata":
      return `application/json;as=PartialObjectMetadata${list ? "List" : ""};v=${r.version};g=meta.k8s.io`;
    case "APIGroupDiscoveryList":
      return `application/json;g=apidiscovery.k8s.io;v=${r.version};as=APIGroupDiscoveryList`;
  }
}
