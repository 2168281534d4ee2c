/**
 * The AdmissionReview wire format (admission.k8s.io/v1 and v1beta1): the request kube-apiserver sends a
 * webhook, the checks it makes on the answer (k8s.io/apiserver/pkg/admission/plugin/webhook/request/
 * admissionreview.go: CreateAdmissionObjects, VerifyAdmissionResponse) and the Status a denial becomes
 * (.../webhook/errors/statuserror.go: ToStatusErr). Field order follows the Go structs, since a webhook
 * author debugging with a request dump sees them in that order.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { goQuote } from "./admission-client.js";
import type { KObject } from "./objects.js";
import type { ResourceType } from "./resources.js";
import { ApiError, type Status } from "./status.js";

export type AdmissionOperation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

/** What kube-apiserver knows about a request when it admits it (admission.Attributes). */
export interface AdmissionAttributes {
  operation: AdmissionOperation;
  type: ResourceType;
  /** "" or "status", "scale", ... */
  subresource: string;
  /** "" for cluster-scoped objects; a Namespace's own name for namespaces, as the request info sets it. */
  namespace: string;
  /** "" for a create with generateName. */
  name: string;
  /** The object as it will be written; undefined for DELETE. */
  object: KObject | undefined;
  /** The stored object for UPDATE and DELETE. */
  oldObject: KObject | undefined;
  dryRun: boolean;
  /** CreateOptions / UpdateOptions / PatchOptions / DeleteOptions, with kind and apiVersion. */
  options: Record<string, unknown> | undefined;
  userInfo: { username: string; uid?: string; groups: string[] };
}

/** The AdmissionReview versions this server speaks, in the order kube-apiserver prefers them. */
export const REVIEW_VERSIONS = ["v1", "v1beta1"] as const;
/** An AdmissionReview version this server can send. */
export type ReviewVersion = (typeof REVIEW_VERSIONS)[number];

/** The first version in the webhook's admissionReviewVersions that the server speaks (CreateAdmissionObjects). */
export function reviewVersionFor(accepted: readonly string[]): ReviewVersion | undefined {
  for (const v of accepted) if (v === "v1" || v === "v1beta1") return v;
  return undefined;
}

function gvk(t: ResourceType): Record<string, string> {
  return { group: t.group, version: t.version, kind: t.kind };
}

function gvr(t: ResourceType): Record<string, string> {
  return { group: t.group, version: t.version, resource: t.plural };
}

/** An object as a webhook sees it: what the registry has before etcd assigns a resourceVersion has none. */
function wireObject(o: KObject | undefined): KObject | null {
  if (!o) return null;
  if (o.metadata.resourceVersion !== "") return o;
  const { resourceVersion: _rv, ...meta } = o.metadata;
  return { ...o, metadata: meta };
}

/** An object presented in `t`'s version (CRD conversion strategy None: apiVersion only). */
function inVersion(o: KObject | undefined, t: ResourceType): KObject | undefined {
  if (!o) return o;
  const gv = t.group ? `${t.group}/${t.version}` : t.version;
  return o.apiVersion === gv ? o : { ...o, apiVersion: gv };
}

/**
 * Builds the AdmissionReview body and the uid the answer must carry. `invokedAs` is the version the
 * webhook's rules matched (matchPolicy Equivalent): kind/resource and the objects are in that version,
 * requestKind/requestResource say what the client sent.
 */
export function admissionReview(attr: AdmissionAttributes, version: ReviewVersion, invokedAs: ResourceType = attr.type, uid: string = randomUUID()): { uid: string; body: Record<string, unknown> } {
  const request: Record<string, unknown> = { uid, kind: gvk(invokedAs), resource: gvr(invokedAs) };
  if (attr.subresource) request.subResource = attr.subresource;
  request.requestKind = gvk(attr.type);
  request.requestResource = gvr(attr.type);
  if (attr.subresource) request.requestSubResource = attr.subresource;
  if (attr.name) request.name = attr.name;
  if (attr.namespace) request.namespace = attr.namespace;
  request.operation = attr.operation;
  const userInfo: Record<string, unknown> = { username: attr.userInfo.username };
  if (attr.userInfo.uid) userInfo.uid = attr.userInfo.uid;
  if (attr.userInfo.groups.length) userInfo.groups = attr.userInfo.groups;
  request.userInfo = userInfo;
  request.object = wireObject(inVersion(attr.object, invokedAs));
  request.oldObject = wireObject(inVersion(attr.oldObject, invokedAs));
  request.dryRun = attr.dryRun;
  request.options = attr.options ?? null;
  return { uid, body: { kind: "AdmissionReview", apiVersion: `admission.k8s.io/${version}`, request } };
}

const statusSchema = z.looseObject({
  status: z.string().optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  details: z.looseObject({}).nullable().optional(),
  code: z.number().int().optional(),
});

const reviewSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  response: z
    .looseObject({
      uid: z.string().optional(),
      allowed: z.boolean().optional(),
      status: statusSchema.nullable().optional(),
      patch: z.string().nullable().optional(),
      patchType: z.string().nullable().optional(),
      auditAnnotations: z.record(z.string(), z.string()).nullable().optional(),
      warnings: z.array(z.string()).nullable().optional(),
    })
    .nullable()
    .optional(),
});

/** The webhook's verdict after VerifyAdmissionResponse. */
export interface AdmissionResult {
  allowed: boolean;
  /** The decoded JSON patch bytes (mutating only). */
  patch: Buffer | undefined;
  patchType: string;
  result: z.infer<typeof statusSchema> | undefined;
  warnings: string[];
}

/** A malformed answer, worded as VerifyAdmissionResponse words it. */
export class InvalidResponseError extends Error {}

/** The Go type name encoding/json names in an unmarshal error. */
function goJsonType(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  return typeof v === "object" ? "object" : typeof v;
}

/**
 * Checks a decoded answer as VerifyAdmissionResponse does (uid, apiVersion/kind for v1, patch rules by
 * webhook kind) and returns the verdict; throws InvalidResponseError with the real texts.
 */
export function verifyAdmissionResponse(uid: string, version: ReviewVersion, mutating: boolean, decoded: unknown): AdmissionResult {
  const parsed = reviewSchema.safeParse(decoded);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".");
    let v: unknown = decoded;
    for (const p of issue.path) v = v && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[p] : undefined;
    // the answer did not even decode: client-go's Into() reports the json error
    throw new InvalidResponseError(`json: cannot unmarshal ${goJsonType(v)} into Go struct field AdmissionReview.${field} of type ${/expected (\w+)/.exec(issue.message)?.[1] ?? "value"}`);
  }
  const review = parsed.data;
  const r = review.response;
  if (!r) throw new InvalidResponseError("webhook response was absent");
  let patch: Buffer | undefined;
  let patchType = "";
  if (version === "v1") {
    if ((r.uid ?? "") !== uid) throw new InvalidResponseError(`expected response.uid=${goQuote(uid)}, got ${goQuote(r.uid ?? "")}`);
    const got = `${review.apiVersion ?? ""}`;
    const [group, ver] = got.includes("/") ? [got.slice(0, got.indexOf("/")), got.slice(got.indexOf("/") + 1)] : ["", got];
    if (group !== "admission.k8s.io" || ver !== "v1" || review.kind !== "AdmissionReview") {
      throw new InvalidResponseError(`expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${group}/${ver}, Kind=${review.kind ?? ""}`);
    }
    const hasPatch = typeof r.patch === "string" && r.patch.length > 0;
    const hasType = r.patchType !== undefined && r.patchType !== null;
    if (mutating) {
      if (hasPatch && !hasType) throw new InvalidResponseError("webhook returned response.patch but not response.patchType");
      if (!hasPatch && hasType) throw new InvalidResponseError("webhook returned response.patchType but not response.patch");
      if (hasType) {
        patchType = r.patchType!;
        if (patchType === "") throw new InvalidResponseError(`webhook returned invalid response.patchType of ""`);
      }
      if (hasPatch) patch = Buffer.from(r.patch!, "base64");
    } else {
      if (hasPatch) throw new InvalidResponseError("validating webhooks may not return response.patch");
      if (hasType) throw new InvalidResponseError("validating webhooks may not return response.patchType");
    }
  } else if (mutating && typeof r.patch === "string" && r.patch.length > 0) {
    // v1beta1 answers were never checked for uid, kind or patchType
    patch = Buffer.from(r.patch, "base64");
    patchType = r.patchType ?? "JSONPatch";
  }
  return { allowed: r.allowed ?? false, patch, patchType, result: r.status ?? undefined, warnings: r.warnings ?? [] };
}

/**
 * The Status a denial becomes (ToStatusErr, kube-apiserver up to at least 1.30): the webhook's own code
 * (at least 400), reason and details, with the message prefixed by `admission webhook "<name>" denied the
 * request`. A webhook answering like controller-runtime's Denied() gives 403 Forbidden.
 */
export function toStatusErr(webhookName: string, result: AdmissionResult["result"]): ApiError {
  const deniedBy = `admission webhook ${goQuote(webhookName)} denied the request`;
  const r = { ...(result ?? {}) };
  let code = typeof r.code === "number" ? r.code : 0;
  if (code < 400) code = 400;
  const state = r.status === undefined || r.status === "" || r.status === "Success" ? "Failure" : r.status;
  let message: string;
  if (r.message) message = `${deniedBy}: ${r.message}`;
  else if (r.reason) message = `${deniedBy}: ${r.reason}`;
  else message = `${deniedBy} without explanation`;
  // key order as metav1.Status marshals: kind, apiVersion, metadata, status, message, reason, details, code
  const status: Record<string, unknown> = { kind: "Status", apiVersion: "v1", metadata: {}, status: state, message };
  if (r.reason) status.reason = r.reason;
  if (r.details) status.details = r.details;
  status.code = code;
  return new ApiError(status as unknown as Status);
}
