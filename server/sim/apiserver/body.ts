/**
 * Request bodies: read with a size limit, decoded by Content-Type (JSON, or YAML as kube-apiserver also
 * accepts), and turned into BadRequest with apiserver-like texts when they do not decode. Nothing here
 * throws anything but ApiError for any input.
 */
import type { IncomingMessage } from "node:http";
import { parse as parseYaml } from "yaml";
import { parseMediaTypes } from "./negotiate.js";
import { decodeProtobufObject, WireError } from "./protobuf/decode.js";
import { isRecord } from "./objects.js";
import { badRequest, tooLarge, unsupportedMediaType } from "./status.js";

/** Deeper than any Kubernetes object; bounds the recursion of everything that walks a decoded body. */
export const MAX_DEPTH = 100;

/** Rejects values nested deeper than MAX_DEPTH, checked iteratively so the check itself cannot overflow. */
function checkDepth(v: unknown): void {
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length) {
    const [cur, d] = stack.pop()!;
    if (cur === null || typeof cur !== "object") continue;
    if (d >= MAX_DEPTH) throw badRequest(`json: exceeded max depth of ${MAX_DEPTH}`);
    for (const child of Object.values(cur as Record<string, unknown>)) stack.push([child, d + 1]);
  }
}

/** kube-apiserver's limit for a request body (3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Reads the whole body; 413 once it exceeds `limit` (the rest is drained, not buffered). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => (over ? reject(tooLarge(limit)) : resolve(Buffer.concat(chunks))));
    req.on("error", (err) => reject(badRequest(`error reading request body: ${err.message}`)));
  });
}

/** Go's json.Unmarshal wording for the common syntax errors, so messages read like the real server's. */
function goJsonError(text: string, err: unknown): string {
  const trimmed = text.trimStart();
  if (trimmed === "") return "unexpected end of JSON input";
  const first = trimmed[0]!;
  if (!"{[\"-0123456789tfn".includes(first)) return `invalid character '${first}' looking for beginning of value`;
  const msg = err instanceof Error ? err.message : String(err);
  if (/end of (JSON )?input|Unterminated/i.test(msg)) return "unexpected end of JSON input";
  return msg;
}

/** The first bytes of a body, as the apiserver quotes them in decode errors. */
function summarize(data: string, max = 30): string {
  if (data.length === 0) return "<empty>";
  return data.length > max ? `${data.slice(0, max)} ...` : data;
}

export type BodyFormat = "json" | "yaml" | "protobuf" | "merge-patch" | "json-patch" | "strategic-merge-patch" | "apply-patch";

/** The format of a request body by Content-Type; a missing type is JSON (what curl users usually mean). */
export function bodyFormat(contentType: string | undefined): BodyFormat {
  const m = parseMediaTypes(contentType)[0];
  if (!m) return "json";
  const t = `${m.type}/${m.subtype}`;
  switch (t) {
    case "application/json":
      return "json";
    case "application/yaml":
      return "yaml";
    case "application/vnd.kubernetes.protobuf":
      return "protobuf";
    case "application/merge-patch+json":
      return "merge-patch";
    case "application/json-patch+json":
      return "json-patch";
    case "application/strategic-merge-patch+json":
      return "strategic-merge-patch";
    case "application/apply-patch+yaml":
      return "apply-patch";
  }
  throw unsupportedMediaType(contentType ?? "");
}

/**
 * Decodes a body to a plain value. `kind` names the expected type for the error text
 * ("the object provided is unrecognized (must be of type ConfigMap): ...").
 */
export function decodeBody(raw: Buffer, format: BodyFormat, kind: string): unknown {
  if (format === "protobuf") {
    try {
      return decodeProtobufObject(raw);
    } catch (err) {
      if (err instanceof WireError) throw badRequest(`the object provided is unrecognized (must be of type ${kind}): ${err.message}`);
      throw err;
    }
  }
  const text = raw.toString("utf8");
  if (format === "yaml" || format === "apply-patch") {
    let v: unknown;
    try {
      v = parseYaml(text, { maxAliasCount: 100 }) as unknown;
    } catch (err) {
      const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
      throw badRequest(`error converting YAML to JSON: yaml: ${msg}`);
    }
    checkDepth(v);
    return v;
  }
  let v: unknown;
  try {
    v = JSON.parse(text) as unknown;
  } catch (err) {
    const why = goJsonError(text, err);
    if (format === "json") throw badRequest(`the object provided is unrecognized (must be of type ${kind}): couldn't get version/kind; json parse error: ${why} (${summarize(text)})`);
    throw badRequest(`error decoding patch: ${why}`);
  }
  checkDepth(v);
  return v;
}

/** A decoded body that must be a JSON object (anything else is BadRequest, as in the apiserver). */
export function requireObject(v: unknown, kind: string, raw: Buffer): Record<string, unknown> {
  if (isRecord(v)) return v;
  const text = raw.toString("utf8");
  const jsonType = Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
  throw badRequest(`the object provided is unrecognized (must be of type ${kind}): couldn't get version/kind; json parse error: json: cannot unmarshal ${jsonType} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" } (${summarize(text)})`);
}
