/**
 * The shape every stored object shares (TypeMeta + ObjectMeta) and the schema a request body must pass
 * before the store sees it. Kind-specific fields stay untyped: the server stores what kubectl sends, as
 * kube-apiserver would after decoding, and only the parts it acts on are checked.
 */
import { z } from "zod";

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | null;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [key: string]: unknown;
}

/** Any Kubernetes object: apiVersion, kind, metadata, and whatever the kind carries. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

const stringMap = z.record(z.string(), z.string());

/** ObjectMeta as a request may carry it; unknown keys are kept (the real decoder keeps managedFields etc.). */
const metaSchema = z.looseObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().nullable().optional(),
  deletionTimestamp: z.string().nullable().optional(),
  labels: stringMap.nullable().optional(),
  annotations: stringMap.nullable().optional(),
  finalizers: z.array(z.string()).nullable().optional(),
  ownerReferences: z
    .array(z.looseObject({ apiVersion: z.string(), kind: z.string(), name: z.string(), uid: z.string(), controller: z.boolean().optional(), blockOwnerDeletion: z.boolean().optional() }))
    .nullable()
    .optional(),
});

/** A request body as it arrives: an object whose TypeMeta may be missing (the URL supplies it). */
export const bodySchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: metaSchema.optional(),
});

export type Body = z.infer<typeof bodySchema>;

/**
 * The DeleteOptions kubectl sends with DELETE: preconditions, dryRun and propagationPolicy (or the
 * deprecated orphanDependents) are acted on; gracePeriodSeconds is accepted and ignored, deletion here
 * is immediate.
 */
export const deleteOptionsSchema = z.looseObject({
  kind: z.string().optional(),
  apiVersion: z.string().optional(),
  preconditions: z.looseObject({ uid: z.string().nullable().optional(), resourceVersion: z.string().nullable().optional() }).nullable().optional(),
  propagationPolicy: z.string().nullable().optional(),
  orphanDependents: z.boolean().nullable().optional(),
  gracePeriodSeconds: z.number().nullable().optional(),
  dryRun: z.array(z.string()).nullable().optional(),
});

export type DeleteOptions = z.infer<typeof deleteOptionsSchema>;

/**
 * Deep copy for handing objects across the store boundary (JSON-safe by construction). Plain objects and
 * arrays are copied directly, several times faster than structuredClone, which serialises and parses
 * (seeding a flagship sandbox makes ~1500 copies, on the path to ready); anything else, which a JSON-safe
 * object does not hold, goes to structuredClone.
 */
export function clone<T>(v: T): T {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = clone(v[i] as unknown);
    return out as T;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = clone((v as Record<string, unknown>)[k]);
    if (k === "__proto__") setOwn(out, k, x);
    else out[k] = x;
  }
  return out as T;
}

/** `namespace/name` or `name`: the key within one type, ordered like etcd's /registry/<type>/<ns>/<name>. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * RFC 3339 with second precision, the way metav1.Time marshals. Kept per second: a build stamps
 * thousands of objects, events and conditions within the same second or two.
 */
let lastStamp = { second: NaN, text: "" };
export function timestamp(d?: Date): string {
  const second = Math.floor((d ? d.getTime() : Date.now()) / 1000);
  if (second !== lastStamp.second) lastStamp = { second, text: new Date(second * 1000).toISOString().replace(".000Z", "Z") };
  return lastStamp.text;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Sets a key as an own data property. Plain assignment of a client-chosen key such as "__proto__"
 * would replace the object's prototype instead of storing data.
 */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}
