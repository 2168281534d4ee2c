/**
 * Developer tool: regenerates `schema.ts` from the protobuf descriptors compiled into a kubectl binary.
 * kubectl (like every client-go program) embeds the gzipped FileDescriptorProto of each k8s.io/api
 * generated.proto; reading them from the binary gives the exact field numbers kubectl encodes with,
 * instead of a hand transcription.
 *
 *   npm run build && node dist/server/sim/apiserver/protobuf/generate-schema.js /usr/lib/google-cloud-sdk/bin/kubectl.1.32 \
 *     > server/sim/apiserver/protobuf/schema.ts
 *
 * Only messages reachable from ROOTS are emitted.
 */
import { readFileSync } from "node:fs";
import zlib from "node:zlib";
import { readFields } from "./wire.js";

/** The messages kubectl may send as protobuf for the types the API server serves. */
const ROOTS = [
  "k8s.io.api.core.v1.Namespace",
  "k8s.io.api.core.v1.Node",
  "k8s.io.api.core.v1.Pod",
  "k8s.io.api.core.v1.Service",
  "k8s.io.api.core.v1.Endpoints",
  "k8s.io.api.core.v1.ConfigMap",
  "k8s.io.api.core.v1.Secret",
  "k8s.io.api.core.v1.ServiceAccount",
  "k8s.io.api.core.v1.Event",
  "k8s.io.api.apps.v1.Deployment",
  "k8s.io.api.apps.v1.ReplicaSet",
  "k8s.io.api.apps.v1.DaemonSet",
  "k8s.io.api.networking.v1.NetworkPolicy",
  "k8s.io.api.coordination.v1.Lease",
  "k8s.io.api.admissionregistration.v1.ValidatingWebhookConfiguration",
  "k8s.io.api.admissionregistration.v1.MutatingWebhookConfiguration",
  "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
];

/** Special messages decode.ts maps to JSON scalars: their insides need not be emitted. */
const OPAQUE = new Set([
  "k8s.io.apimachinery.pkg.apis.meta.v1.Time",
  "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
  "k8s.io.apimachinery.pkg.apis.meta.v1.Duration",
  "k8s.io.apimachinery.pkg.api.resource.Quantity",
  "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
  "k8s.io.apimachinery.pkg.runtime.RawExtension",
  "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1",
]);

const TYPES: Record<number, string> = { 1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32", 8: "bool", 9: "string", 11: "message", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64", 14: "enum" };

interface Field {
  number: number;
  name: string;
  type: string;
  repeated: boolean;
  typeName?: string;
}

const str = (b: Buffer) => b.toString("utf8");

function parseMessage(buf: Buffer, prefix: string, out: Map<string, { fields: Field[]; mapEntry: boolean }>): void {
  let name = "";
  const fields: Field[] = [];
  const nested: Buffer[] = [];
  let mapEntry = false;
  for (const f of readFields(buf)) {
    if (f.field === 1 && f.v.wire === 2) name = str(f.v.value);
    else if (f.field === 2 && f.v.wire === 2) {
      const fd: Field = { number: 0, name: "", type: "", repeated: false };
      for (const g of readFields(f.v.value)) {
        if (g.field === 1 && g.v.wire === 2) fd.name = str(g.v.value);
        else if (g.field === 3 && g.v.wire === 0) fd.number = Number(g.v.value);
        else if (g.field === 4 && g.v.wire === 0) fd.repeated = Number(g.v.value) === 3;
        else if (g.field === 5 && g.v.wire === 0) fd.type = TYPES[Number(g.v.value)] ?? `?${g.v.value}`;
        else if (g.field === 6 && g.v.wire === 2) fd.typeName = str(g.v.value).replace(/^\./, "");
      }
      fields.push(fd);
    } else if (f.field === 3 && f.v.wire === 2) nested.push(f.v.value);
    else if (f.field === 7 && f.v.wire === 2) {
      for (const g of readFields(f.v.value)) if (g.field === 7 && g.v.wire === 0 && g.v.value === 1n) mapEntry = true;
    }
  }
  const full = `${prefix}.${name}`;
  out.set(full, { fields, mapEntry });
  for (const n of nested) parseMessage(n, full, out);
}

function main(): void {
  const binary = process.argv[2];
  if (!binary) throw new Error("usage: generate-schema <kubectl binary>");
  const buf = readFileSync(binary);
  const messages = new Map<string, { fields: Field[]; mapEntry: boolean }>();
  for (let i = 0; i < buf.length - 3; i++) {
    if (buf[i] !== 0x1f || buf[i + 1] !== 0x8b || buf[i + 2] !== 0x08) continue;
    let out: Buffer;
    try {
      out = zlib.gunzipSync(buf.subarray(i, Math.min(buf.length, i + 1_000_000)), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch {
      continue;
    }
    if (!/k8s\.io\/[\w/.-]+\.proto/.test(out.subarray(0, 200).toString("latin1"))) continue;
    let pkg = "";
    const msgs: Buffer[] = [];
    try {
      for (const f of readFields(out)) {
        if (f.field === 2 && f.v.wire === 2) pkg = str(f.v.value);
        else if (f.field === 4 && f.v.wire === 2) msgs.push(f.v.value);
      }
    } catch {
      continue;
    }
    for (const m of msgs) parseMessage(m, pkg, messages);
  }
  const wanted = new Set<string>();
  const visit = (name: string) => {
    if (wanted.has(name) || OPAQUE.has(name)) return;
    const m = messages.get(name);
    if (!m) throw new Error(`descriptor for ${name} not found in ${binary}`);
    wanted.add(name);
    for (const f of m.fields) if (f.type === "message" && f.typeName) visit(f.typeName);
  };
  ROOTS.forEach(visit);
  const lines = [...wanted].sort().map((name) => {
    const m = messages.get(name)!;
    const fields = m.fields.map((f) => `[${f.number}, ${JSON.stringify(f.name)}, ${JSON.stringify(f.type === "message" ? f.typeName : f.type)}${f.repeated ? ", 1" : ""}]`).join(", ");
    return `  ${JSON.stringify(name)}: { ${m.mapEntry ? "map: true, " : ""}fields: [${fields}] },`;
  });
  process.stdout.write(`/**
 * GENERATED by generate-schema.ts from the descriptors in ${binary.split("/").pop()} — do not edit.
 * Field number, JSON name, and scalar type or message name (1 = repeated) of every message kubectl can
 * send for the types this API server serves.
 */
export interface MessageSchema {
  map?: boolean;
  fields: Array<[number, string, string] | [number, string, string, 1]>;
}

export const MESSAGES: Record<string, MessageSchema> = {
${lines.join("\n")}
};
`);
}

main();
