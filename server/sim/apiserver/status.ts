/**
 * Kubernetes `Status` errors, worded like kube-apiserver's (k8s.io/apimachinery/pkg/api/errors). kubectl
 * prints `message` verbatim after "Error from server (<reason>): ", so the texts here are what a trainee
 * reads; every one mirrors the constructor of the same name in apimachinery.
 */
import type { ResourceType } from "./resources.js";

export type StatusReason =
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Gone"
  | "Expired"
  | "Invalid"
  | "BadRequest"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "RequestEntityTooLarge"
  | "UnsupportedMediaType"
  | "InternalError";

export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
}

/** The `Status` object of meta/v1 as kube-apiserver sends it (key order as its JSON encoder writes it). */
export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

/**
 * A request that fails with a Kubernetes Status. Thrown by the store and the handlers, turned into the
 * HTTP response by the one error handler in `handler.ts`.
 *
 * @example throw notFound(resourceType("pods"), "nope") // 404 pods "nope" not found
 */
export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.name = "ApiError";
  }
  get code(): number {
    return this.status.code;
  }
}

function failure(code: number, reason: StatusReason, message: string, details?: StatusDetails): ApiError {
  const status: Status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
  if (details) status.details = details;
  return new ApiError(status);
}

/** `pods`, `deployments.apps`: the group-qualified resource as apimachinery's GroupResource prints it. */
export function qualifiedResource(t: Pick<ResourceType, "plural" | "group">): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

function resourceDetails(t: Pick<ResourceType, "plural" | "group">, name: string): StatusDetails {
  return t.group ? { name, group: t.group, kind: t.plural } : { name, kind: t.plural };
}

/** The 401 every request without a valid credential gets; exactly the body kube-apiserver sends (no details). */
export function unauthorized(): ApiError {
  return failure(401, "Unauthorized", "Unauthorized");
}

export function notFound(t: Pick<ResourceType, "plural" | "group">, name: string): ApiError {
  return failure(404, "NotFound", `${qualifiedResource(t)} "${name}" not found`, resourceDetails(t, name));
}

/** What kube-apiserver answers for a path it has no route for. */
export function pathNotFound(): ApiError {
  return failure(404, "NotFound", "the server could not find the requested resource", {});
}

export function alreadyExists(t: Pick<ResourceType, "plural" | "group">, name: string): ApiError {
  return failure(409, "AlreadyExists", `${qualifiedResource(t)} "${name}" already exists`, resourceDetails(t, name));
}

/** Optimistic concurrency: the resourceVersion the client sent is not the stored one. */
export function conflict(t: Pick<ResourceType, "plural" | "group">, name: string, why = "the object has been modified; please apply your changes to the latest version and try again"): ApiError {
  return failure(409, "Conflict", `Operation cannot be fulfilled on ${qualifiedResource(t)} "${name}": ${why}`, resourceDetails(t, name));
}

export function badRequest(message: string): ApiError {
  return failure(400, "BadRequest", message);
}

/** A method the route does not serve (POST on an object, PUT on a collection, ...). */
export function methodNotAllowed(): ApiError {
  return failure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});
}

/** A watch from a resourceVersion the store no longer holds history for (`kubectl get -w` restarts). */
export function expired(requested: number, oldest: number): ApiError {
  return failure(410, "Expired", `too old resource version: ${requested} (${oldest})`);
}

export function notAcceptable(): ApiError {
  return failure(406, "NotAcceptable", "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf");
}

/** 415 for a body format the endpoint does not take; `accepted` lists what it does (PATCH: the patch types). */
export function unsupportedMediaType(contentType: string, accepted = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]): ApiError {
  return failure(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`, { kind: contentType });
}

export function tooLarge(limit: number): ApiError {
  return failure(413, "RequestEntityTooLarge", `Request entity too large: limit is ${limit}`);
}

export function forbidden(message: string): ApiError {
  return failure(403, "Forbidden", message);
}

export function internalError(message: string): ApiError {
  return failure(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ reason: "", message, field: "" }] });
}

/** One field problem of an Invalid (422) error, as `field.Error` renders it: `Invalid value: "X": why`. */
export interface FieldError {
  field: string;
  type: "FieldValueInvalid" | "FieldValueRequired" | "FieldValueNotSupported" | "FieldValueForbidden";
  /** The bad value (for Invalid); omitted for Required. */
  value?: unknown;
  detail: string;
}

function fieldErrorText(e: FieldError): string {
  switch (e.type) {
    case "FieldValueRequired":
      return `Required value${e.detail ? `: ${e.detail}` : ""}`;
    case "FieldValueForbidden":
      return `Forbidden: ${e.detail}`;
    case "FieldValueNotSupported":
      return `Unsupported value: ${JSON.stringify(e.value)}${e.detail ? `: ${e.detail}` : ""}`;
    case "FieldValueInvalid":
      return `Invalid value: ${typeof e.value === "string" ? JSON.stringify(e.value) : JSON.stringify(e.value ?? null)}${e.detail ? `: ${e.detail}` : ""}`;
  }
}

/**
 * 422 Invalid: `ConfigMap "X_Y" is invalid: metadata.name: Invalid value: "X_Y": a lowercase RFC 1123 ...`.
 * Several field errors are joined as the apiserver does: `[a: ..., b: ...]`.
 */
export function invalid(t: Pick<ResourceType, "kind" | "group">, name: string, errors: FieldError[]): ApiError {
  const texts = errors.map((e) => `${e.field}: ${fieldErrorText(e)}`);
  const joined = texts.length === 1 ? texts[0]! : `[${texts.join(", ")}]`;
  const details: StatusDetails = { name, ...(t.group ? { group: t.group } : {}), kind: t.kind, causes: errors.map((e) => ({ reason: e.type, message: fieldErrorText(e), field: e.field })) };
  return failure(422, "Invalid", `${t.kind} "${name}" is invalid: ${joined}`, details);
}

/** The Success Status a DELETE returns when the object is gone at once (no graceful deletion pending). */
export function deletedStatus(t: Pick<ResourceType, "plural" | "group">, name: string, uid: string | undefined): Record<string, unknown> {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { ...resourceDetails(t, name), ...(uid ? { uid } : {}) } };
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}
