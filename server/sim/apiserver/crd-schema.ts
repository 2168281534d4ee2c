/**
 * What apiextensions-apiserver does to a custom resource with its version's structural schema
 * (openAPIV3Schema), in its order: prune fields the schema does not know (unless
 * `x-kubernetes-preserve-unknown-fields`), apply `default`s, then validate — types, required, enum,
 * bounds, patterns, list sizes — with the error texts of kube-openapi's validator
 * (`spec.autoAssign in body must be of type boolean: "string"`). The root's apiVersion, kind and
 * metadata are the server's business and are never pruned or validated here.
 */
import { isRecord, setOwn } from "./objects.js";
import type { FieldError } from "./status.js";

/** The parts of a structural schema acted on here. */
type Schema = Record<string, unknown> & {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  nullable?: boolean;
};

const ROOT_META = new Set(["apiVersion", "kind", "metadata"]);

function preserves(s: Schema): boolean {
  return s["x-kubernetes-preserve-unknown-fields"] === true || s["x-kubernetes-int-or-string"] === true;
}

/** Removes fields `schema` does not declare, in place. */
export function prune(schema: Schema, value: unknown, root = true): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const v of value) prune(schema.items, v, false);
    return;
  }
  if (!isRecord(value)) return;
  const props = schema.properties;
  const additional = schema.additionalProperties;
  for (const k of Object.keys(value)) {
    if (root && ROOT_META.has(k)) continue;
    const sub = props?.[k] ?? (isRecord(additional) ? (additional as Schema) : undefined);
    if (sub) prune(sub, value[k], false);
    else if (!preserves(schema) && additional !== true) delete value[k];
  }
}

/** Fills in `default`s of absent (or, for nullable-less schemas, null) properties, in place. */
export function applyDefaults(schema: Schema, value: unknown): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const v of value) applyDefaults(schema.items, v);
    return;
  }
  if (!isRecord(value)) return;
  for (const [k, sub] of Object.entries(schema.properties ?? {})) {
    if (value[k] === undefined && sub.default !== undefined) setOwn(value, k, structuredClone(sub.default));
    if (value[k] !== undefined) applyDefaults(sub, value[k]);
  }
  if (isRecord(schema.additionalProperties)) for (const k of Object.keys(value)) applyDefaults(schema.additionalProperties as Schema, value[k]);
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function typeMatches(want: string, v: unknown): boolean {
  const got = jsonType(v);
  if (want === "number") return got === "number" || got === "integer";
  return want === got;
}

/** Validates `value` at `path` (dotted, as field errors name it); an empty result means valid. */
export function validateAgainst(schema: Schema, value: unknown, path: string, root = true): FieldError[] {
  const errs: FieldError[] = [];
  const where = path || "<root>";
  if (value === null) {
    if (!schema.nullable && schema.type && !root) errs.push({ field: where, type: "FieldValueInvalid", value: "null", detail: `${where} in body must be of type ${schema.type}: "null"` });
    return errs;
  }
  if (schema.type && !preserves(schema) && !typeMatches(schema.type, value)) {
    errs.push({ field: where, type: "FieldValueInvalid", value: jsonType(value), detail: `${where} in body must be of type ${schema.type}: "${jsonType(value)}"` });
    return errs;
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errs.push({ field: where, type: "FieldValueNotSupported", value, detail: `supported values: ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}` });
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errs.push({ field: where, type: "FieldValueInvalid", value, detail: `${where} in body should be greater than or equal to ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) errs.push({ field: where, type: "FieldValueInvalid", value, detail: `${where} in body should be less than or equal to ${schema.maximum}` });
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) errs.push({ field: where, type: "FieldValueInvalid", value, detail: `${where} in body should be at least ${schema.minLength} chars long` });
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errs.push({ field: where, type: "FieldValueInvalid", value, detail: `${where} in body should be at most ${schema.maxLength} chars long` });
    if (schema.pattern !== undefined) {
      let re: RegExp | undefined;
      try {
        re = new RegExp(schema.pattern, "u");
      } catch {
        re = undefined;
      }
      if (re && !re.test(value)) errs.push({ field: where, type: "FieldValueInvalid", value, detail: `${where} in body should match '${schema.pattern}'` });
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errs.push({ field: where, type: "FieldValueInvalid", value: value.length, detail: `${where} in body should have at least ${schema.minItems} items` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errs.push({ field: where, type: "FieldValueInvalid", value: value.length, detail: `${where} in body should have at most ${schema.maxItems} items` });
    if (schema.items) value.forEach((v, i) => errs.push(...validateAgainst(schema.items!, v, `${path}[${i}]`, false)));
  }
  if (isRecord(value)) {
    for (const r of schema.required ?? []) {
      if (value[r] === undefined) errs.push({ field: path ? `${path}.${r}` : r, type: "FieldValueRequired", detail: "" });
    }
    for (const [k, v] of Object.entries(value)) {
      if (root && ROOT_META.has(k)) continue;
      const sub = schema.properties?.[k] ?? (isRecord(schema.additionalProperties) ? (schema.additionalProperties as Schema) : undefined);
      if (sub) errs.push(...validateAgainst(sub, v, path ? `${path}.${k}` : k, false));
    }
  }
  return errs;
}

/**
 * Prunes, defaults and validates a custom resource in place against its version's schema; returns the
 * field errors (empty when valid).
 */
export function normalizeCustomResource(schema: Record<string, unknown>, obj: Record<string, unknown>): FieldError[] {
  prune(schema as Schema, obj);
  applyDefaults(schema as Schema, obj);
  return validateAgainst(schema as Schema, obj, "");
}
