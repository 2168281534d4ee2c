/**
 * Decodes the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`) into the JSON form
 * the rest of the server stores. kubectl's typed-client commands — `create namespace`, `create
 * configmap`, `create deployment`, `run`, ... — send built-in objects this way, not as JSON.
 *
 * Envelope: the magic bytes "k8s\0", then a runtime.Unknown {typeMeta, raw}; `raw` is the object's own
 * message, decoded with the field table generated from kubectl's descriptors (schema.ts). The JSON
 * conventions of the Go types are applied: Time/MicroTime as RFC 3339, Quantity as a string,
 * IntOrString as number or string, bytes as base64, maps from their entry messages. gogo-protobuf writes
 * non-pointer scalars even when zero, so zero values are dropped as Go's `omitempty` would — except for
 * the pointer fields where zero means something (replicas: 0, runAsUser: 0, ...).
 */
import { setOwn } from "../objects.js";
import { MESSAGES, type MessageSchema } from "./schema.js";
import { readFields, readPackedVarints, WireError, type WireField } from "./wire.js";

export { WireError } from "./wire.js";

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
const META = "k8s.io.apimachinery.pkg.apis.meta.v1";
const MAX_DEPTH = 64;

/** Proto field names whose JSON name differs. */
const JSON_NAMES: Record<string, string> = { Webhooks: "webhooks" };

/** Pointer fields in the Go types: a zero value on the wire was set on purpose and is kept. */
const KEEP_ZERO = new Set([
  "replicas", "automountServiceAccountToken", "immutable", "terminationGracePeriodSeconds", "activeDeadlineSeconds",
  "deletionGracePeriodSeconds", "gracePeriodSeconds", "privileged", "runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup",
  "allowPrivilegeEscalation", "readOnlyRootFilesystem", "shareProcessNamespace", "hostUsers", "enableServiceLinks",
  "setHostnameAsFQDN", "optional", "defaultMode", "mode", "revisionHistoryLimit", "progressDeadlineSeconds", "timeoutSeconds",
  "priority", "orphanDependents", "leaseDurationSeconds", "leaseTransitions", "port",
]);

const PACKAGES: Record<string, string> = {
  "": "k8s.io.api.core.v1",
  apps: "k8s.io.api.apps.v1",
  "networking.k8s.io": "k8s.io.api.networking.v1",
  "coordination.k8s.io": "k8s.io.api.coordination.v1",
  "admissionregistration.k8s.io": "k8s.io.api.admissionregistration.v1",
  "meta.k8s.io": META,
};

export function isProtobufEnvelope(buf: Buffer): boolean {
  return buf.length >= 4 && buf.subarray(0, 4).equals(MAGIC);
}

function utf8(b: Buffer): string {
  return b.toString("utf8");
}

function int64(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

function timeOf(b: Buffer, micro: boolean): string | undefined {
  let seconds = 0;
  let nanos = 0;
  for (const f of readFields(b)) {
    if (f.field === 1 && f.v.wire === 0) seconds = int64(f.v.value);
    if (f.field === 2 && f.v.wire === 0) nanos = int64(f.v.value);
  }
  if (seconds === 0 && nanos === 0) return undefined;
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) throw new WireError("time out of range");
  const base = d.toISOString().slice(0, 19);
  return micro ? `${base}.${String(Math.trunc(nanos / 1000)).padStart(6, "0")}Z` : `${base}Z`;
}

/** Go's time.Duration.String() for whole seconds and above, which is what k8s durations carry. */
function goDuration(nanos: number): string {
  if (nanos === 0) return "0s";
  const neg = nanos < 0;
  let s = Math.abs(nanos) / 1e9;
  const h = Math.trunc(s / 3600);
  s -= h * 3600;
  const m = Math.trunc(s / 60);
  s -= m * 60;
  const sec = Number.isInteger(s) ? String(s) : String(Number(s.toFixed(9)));
  const text = h ? `${h}h${m}m${sec}s` : m ? `${m}m${sec}s` : `${sec}s`;
  return neg ? `-${text}` : text;
}

function special(type: string, b: Buffer): { value: unknown } | undefined {
  switch (type) {
    case `${META}.Time`:
      return { value: timeOf(b, false) };
    case `${META}.MicroTime`:
      return { value: timeOf(b, true) };
    case `${META}.Duration`: {
      const f = readFields(b).find((x) => x.field === 1 && x.v.wire === 0);
      return { value: goDuration(f && f.v.wire === 0 ? int64(f.v.value) : 0) };
    }
    case "k8s.io.apimachinery.pkg.api.resource.Quantity": {
      const f = readFields(b).find((x) => x.field === 1 && x.v.wire === 2);
      return { value: f ? utf8(f.v.value as Buffer) : "0" };
    }
    case "k8s.io.apimachinery.pkg.util.intstr.IntOrString": {
      let kind = 0;
      let iv = 0;
      let sv = "";
      for (const f of readFields(b)) {
        if (f.field === 1 && f.v.wire === 0) kind = int64(f.v.value);
        if (f.field === 2 && f.v.wire === 0) iv = Number(BigInt.asIntN(32, f.v.value));
        if (f.field === 3 && f.v.wire === 2) sv = utf8(f.v.value);
      }
      return { value: kind === 1 ? sv : iv };
    }
    case "k8s.io.apimachinery.pkg.runtime.RawExtension":
    case `${META}.FieldsV1`: {
      const f = readFields(b).find((x) => x.field === 1 && x.v.wire === 2);
      if (!f) return { value: undefined };
      const raw = f.v.value as Buffer;
      try {
        return { value: JSON.parse(utf8(raw)) as unknown };
      } catch {
        return { value: raw.toString("base64") };
      }
    }
  }
  return undefined;
}

function scalar(type: string, f: WireField): unknown {
  const v = f.v;
  switch (type) {
    case "string":
      if (v.wire !== 2) throw new WireError("string field with a non-length wire type");
      return utf8(v.value);
    case "bytes":
      if (v.wire !== 2) throw new WireError("bytes field with a non-length wire type");
      return v.value.toString("base64");
    case "bool":
      if (v.wire !== 0) throw new WireError("bool field with a non-varint wire type");
      return v.value !== 0n;
    case "int32":
    case "enum":
      if (v.wire !== 0) throw new WireError(`${type} field with a non-varint wire type`);
      return Number(BigInt.asIntN(32, v.value));
    case "int64":
      if (v.wire !== 0) throw new WireError("int64 field with a non-varint wire type");
      return int64(v.value);
    case "uint32":
    case "uint64":
      if (v.wire !== 0) throw new WireError(`${type} field with a non-varint wire type`);
      return Number(v.value);
    case "double":
      if (v.wire !== 1) throw new WireError("double field with a non-fixed64 wire type");
      return v.value.readDoubleLE(0);
    case "float":
      if (v.wire !== 5) throw new WireError("float field with a non-fixed32 wire type");
      return v.value.readFloatLE(0);
  }
  throw new WireError(`unsupported scalar type ${type}`);
}

function isZero(v: unknown): boolean {
  return v === "" || v === 0 || v === false || v === undefined;
}

function decodeMessage(type: string, buf: Buffer, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new WireError("message nesting too deep");
  const sp = special(type, buf);
  if (sp) return sp.value;
  const schema: MessageSchema | undefined = MESSAGES[type];
  if (!schema) throw new WireError(`no schema for ${type}`);
  const byNumber = new Map(schema.fields.map((f) => [f[0], f]));
  const out: Record<string, unknown> = {};
  for (const wf of readFields(buf)) {
    const def = byNumber.get(wf.field);
    if (!def) continue; // a newer field than the schema knows: dropped, as an old server would
    const [, protoName, ftype, repeated] = def;
    const name = JSON_NAMES[protoName] ?? protoName;
    const isMessage = ftype.includes(".");
    if (isMessage) {
      if (wf.v.wire !== 2) throw new WireError(`message field ${name} with a non-length wire type`);
      const sub = MESSAGES[ftype];
      if (sub?.map) {
        const entry = decodeMessage(ftype, wf.v.value, depth + 1) as { key?: unknown; value?: unknown };
        const m = (out[name] ??= {}) as Record<string, unknown>;
        setOwn(m, String(entry.key ?? ""), entry.value ?? (sub.fields[1]?.[2] === "string" ? "" : null));
        continue;
      }
      const value = decodeMessage(ftype, wf.v.value, depth + 1);
      if (repeated) ((out[name] ??= []) as unknown[]).push(value);
      else if (value !== undefined) out[name] = value;
      continue;
    }
    if (repeated && wf.v.wire === 2 && ftype !== "string" && ftype !== "bytes") {
      // packed repeated numbers
      const arr = (out[name] ??= []) as unknown[];
      for (const n of readPackedVarints(wf.v.value)) arr.push(ftype === "bool" ? n !== 0n : Number(BigInt.asIntN(64, n)));
      continue;
    }
    const value = scalar(ftype, wf);
    if (repeated) ((out[name] ??= []) as unknown[]).push(value);
    else if (schema.map || !(isZero(value) && !KEEP_ZERO.has(name))) out[name] = value;
  }
  return out;
}

/**
 * Decodes a `k8s\0`-prefixed protobuf body. Throws WireError for anything malformed or for a kind the
 * schema does not cover (the caller answers 415/400).
 *
 * @example decodeProtobufObject(body) // { apiVersion: "v1", kind: "Namespace", metadata: { name: "x" }, spec: {}, status: {} }
 */
export function decodeProtobufObject(buf: Buffer): Record<string, unknown> {
  if (!isProtobufEnvelope(buf)) throw new WireError("missing the k8s protobuf magic prefix");
  let apiVersion = "";
  let kind = "";
  let raw: Buffer | undefined;
  for (const f of readFields(buf.subarray(4))) {
    if (f.field === 1 && f.v.wire === 2) {
      for (const g of readFields(f.v.value)) {
        if (g.field === 1 && g.v.wire === 2) apiVersion = utf8(g.v.value);
        if (g.field === 2 && g.v.wire === 2) kind = utf8(g.v.value);
      }
    } else if (f.field === 2 && f.v.wire === 2) raw = f.v.value;
    else if (f.field === 3 && f.v.wire === 2 && f.v.value.length > 0) throw new WireError(`content encoding ${utf8(f.v.value)} is not supported`);
  }
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const pkg = kind === "DeleteOptions" ? META : PACKAGES[group];
  if (!pkg || !kind) throw new WireError(`cannot decode ${kind || "an object"} of ${apiVersion || "no apiVersion"} from protobuf`);
  const type = `${pkg}.${kind}`;
  if (!MESSAGES[type]) throw new WireError(`cannot decode ${kind} of ${apiVersion} from protobuf`);
  const obj = decodeMessage(type, raw ?? Buffer.alloc(0), 0) as Record<string, unknown>;
  return { apiVersion, kind, ...obj };
}
