/**
 * What a lab author reads when the front matter is wrong: zod issues turned into located problems,
 * one per mistake, with "did you mean" for keys, check kinds, fault kinds and enum values. Checks and
 * faults are tagged unions; zod's own union error ("Invalid input" with every alternative's issues) is
 * useless to a person, so both are validated here by their kind instead.
 */
import type { z } from "zod";
import { CHECK_KINDS, checkSchema } from "../checks/schema.js";
import { faultKinds, unknownKindMessage } from "../sim/faults/index.js";
import type { SpecProblem } from "../sim/faults/fault.js";
import { didYouMean } from "../sim/faults/support.js";
import { locate, locateKey, type LocatedYaml } from "./yaml-errors.js";

/**
 * One mistake in a lab, where it is and how to fix it.
 *
 * @example
 * { location: "labs/x/README.md:12:5", message: 'objectives.0: unknown key "chek"; did you mean "check"?', hint: "objectives.0 takes id, title, check, initiallyFailing" }
 */
export interface LabProblem {
  location: string;
  message: string;
  hint: string;
}

export type Path = Array<string | number>;

/** `objectives.0.check.probe.from`, the form messages name a value by. */
export const dotted = (path: Path): string => path.join(".");

/** `<path>: <text>`, or the text alone at the top level. */
const at = (path: Path, text: string): string => (path.length ? `${dotted(path)}: ${text}` : text);

/** Where a problem is found: the parsed YAML, and the whole front matter as plain data. */
export interface ProblemContext {
  y: LocatedYaml;
  root: unknown;
}

export function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

export const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** A SpecProblem (path relative to `base`) as a located problem. */
export function fromSpecProblem(ctx: ProblemContext, base: Path, p: SpecProblem, hint: string): LabProblem {
  const full = [...base, ...p.path];
  return { location: locate(ctx.y, full), message: at(full, p.message), hint: p.hint ?? hint };
}

// --- schema introspection: which keys an object at a path takes ---------------------------------

/** The parts of zod 4's schema definitions (`schema._zod.def`) needed to walk down a path. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  valueType?: z.ZodType;
  values?: unknown[];
}
const def = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The values of the literal key `key` of the object schema `s` (a discriminated union's tag). */
function literalOf(s: z.ZodType, key: string): unknown[] | undefined {
  const field = def(unwrap(s, undefined)).shape?.[key];
  return field ? def(field).values : undefined;
}

/** `s` without wrappers (optional, default, pipe, lazy ...); a discriminated union picks the option `v` names. */
function unwrap(s: z.ZodType, v: unknown): z.ZodType {
  for (;;) {
    const d = def(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === "pipe" && d.in) s = d.in;
    else if (d.type === "lazy" && d.getter) s = d.getter();
    else if (d.type === "union" && d.discriminator && d.options) {
      const tag = isMapping(v) ? v[d.discriminator] : undefined;
      const option = d.options.find((o) => literalOf(o, d.discriminator!)?.includes(tag));
      if (!option) return s;
      s = option;
    } else return s;
  }
}

/** The keys the object schema at `path` (inside `s`, parsing `v`) takes; undefined if not an object. */
function keysAt(s: z.ZodType, path: Path, v: unknown): string[] | undefined {
  let cur = unwrap(s, v);
  for (const seg of path) {
    const d = def(cur);
    const next = d.type === "object" ? d.shape?.[seg] : d.type === "array" ? d.element : d.type === "record" ? d.valueType : undefined;
    if (!next) return undefined;
    v = valueAt(v, [seg]);
    cur = unwrap(next, v);
  }
  const shape = def(cur).shape;
  return def(cur).type === "object" && shape ? Object.keys(shape) : undefined;
}

// --- zod issues ---------------------------------------------------------------------------------

type Issue = z.core.$ZodIssue;

/**
 * zod's issues for `value` parsed by `schema` at `base` in the front matter, as problems. Unknown keys
 * are reported at the key with the closest allowed one; a required key that a typo explains (`chek`
 * for `check`) is not reported twice.
 */
export function problemsFromZod(ctx: ProblemContext, schema: z.ZodType, base: Path, value: unknown, issues: readonly Issue[], hintFor: (path: Path) => string): LabProblem[] {
  const out: LabProblem[] = [];
  const explained = new Set<string>();
  const flat = issues.flatMap(flattenUnion);
  for (const iss of flat) {
    if (iss.code !== "unrecognized_keys") continue;
    const rel = iss.path as Path;
    const obj = [...base, ...rel];
    const allowed = keysAt(schema, rel, value);
    for (const key of iss.keys) {
      const near = allowed && didYouMean(key, allowed);
      if (near) explained.add(dotted([...obj, near]));
      out.push({
        location: locateKey(ctx.y, obj, key),
        message: at(obj, `unknown key "${key}"${near ? `; did you mean "${near}"?` : ""}`),
        hint: allowed ? `${obj.length ? dotted(obj) : "the front matter"} takes ${allowed.join(", ")}` : hintFor(obj),
      });
    }
  }
  for (const iss of flat) {
    if (iss.code === "unrecognized_keys") continue;
    const full = [...base, ...(iss.path as Path)];
    const parent = full.slice(0, -1);
    const holder = valueAt(ctx.root, parent);
    if (full.length && isMapping(holder) && holder[String(full.at(-1))] === undefined) {
      if (explained.has(dotted(full))) continue;
      out.push({ location: locate(ctx.y, parent), message: at(parent, `missing required key "${String(full.at(-1))}"`), hint: hintFor(full) });
      continue;
    }
    out.push({ location: locate(ctx.y, full), message: at(full, messageOf(iss, valueAt(ctx.root, full))), hint: hintFor(full) });
  }
  return out;
}

/** An invalid_union as the issues of the one alternative whose type matched, when there is one. */
function flattenUnion(iss: Issue): Issue[] {
  if (iss.code !== "invalid_union") return [iss];
  const typed = iss.errors.filter((branch) => !branch.some((b) => b.code === "invalid_type" && b.path.length === 0));
  if (typed.length !== 1) return [iss];
  return typed[0]!.flatMap((b) => flattenUnion({ ...b, path: [...iss.path, ...b.path] } as Issue));
}

function messageOf(iss: Issue, value: unknown): string {
  if (iss.code === "invalid_value" && typeof value === "string") {
    const near = didYouMean(value, iss.values.filter((v): v is string => typeof v === "string"));
    if (near) return `${iss.message}; did you mean "${near}"?`;
  }
  if (iss.code === "invalid_union") {
    const expected = [...new Set(iss.errors.flatMap((b) => b.filter((i) => i.code === "invalid_type").map((i) => i.expected)))];
    if (expected.length) return `expected ${expected.join(" or ")}, received ${Array.isArray(value) ? "array" : value === null ? "null" : typeof value}`;
  }
  return iss.message;
}

// --- checks and faults, by kind -------------------------------------------------------------------

/** Each check kind's schema, read off the union in server/checks/schema.ts so the two cannot drift. */
const checkKindSchemas: ReadonlyMap<string, z.ZodType> = new Map(
  (def(unwrap(checkSchema, undefined)).options ?? []).map((o) => Object.entries(def(o).shape ?? {})[0]!),
);

const CHECKS_HINT = `check kinds: ${CHECK_KINDS.join(", ")} (see "Checks" in docs/lab-format.md)`;

/** Problems in the check `value` at `path` (an objective's `check`, or inside all/any/not). */
export function checkProblems(ctx: ProblemContext, value: unknown, path: Path): LabProblem[] {
  const keys = isMapping(value) ? Object.keys(value) : [];
  if (keys.length !== 1) {
    const has = keys.length ? `; this one has ${keys.join(", ")}` : "";
    return [{ location: locate(ctx.y, path), message: at(path, `a check is a mapping with one key, its kind, e.g. {ipam: blocks-disjoint}${has}`), hint: CHECKS_HINT }];
  }
  const kind = keys[0]!;
  const body = (value as Record<string, unknown>)[kind];
  const schema = checkKindSchemas.get(kind);
  if (!schema) {
    const near = didYouMean(kind, CHECK_KINDS);
    return [{ location: locateKey(ctx.y, path, kind), message: at(path, `unknown check kind "${kind}"${near ? `; did you mean ${near}?` : ""}`), hint: CHECKS_HINT }];
  }
  const inner = [...path, kind];
  // Combinators hold checks: validate those by kind too.
  if (schema === checkSchema) return checkProblems(ctx, body, inner);
  if (def(schema).type === "array" && def(schema).element === checkSchema) {
    if (!Array.isArray(body) || body.length === 0) {
      return [{ location: locate(ctx.y, inner), message: at(inner, `${kind} takes a non-empty list of checks`), hint: `e.g. ${kind}: [{ipam: blocks-disjoint}, {ipam: no-borrowing}]` }];
    }
    return body.flatMap((c, i) => checkProblems(ctx, c, [...inner, i]));
  }
  const res = schema.safeParse(body);
  return res.success ? [] : problemsFromZod(ctx, schema, inner, body, res.error.issues, () => `see the \`${kind}\` check in docs/lab-format.md`);
}

/** Problems in the fault spec `value` at `path` (one entry of `faults:`). */
export function faultProblems(ctx: ProblemContext, value: unknown, path: Path): LabProblem[] {
  if (!isMapping(value)) {
    return [{ location: locate(ctx.y, path), message: at(path, "a fault is a mapping with a `kind`, e.g. {kind: blackhole-route, node: worker-3, cidr: 10.233.64.0/25}"), hint: "see docs/faults.md" }];
  }
  const kind = faultKinds.find((k) => k.kind === value["kind"]);
  if (!kind) {
    const { message, hint } = unknownKindMessage(value["kind"]);
    const where = value["kind"] === undefined ? path : [...path, "kind"];
    return [{ location: locate(ctx.y, where), message: at(where, message), hint }];
  }
  const res = (kind.schema as z.ZodType).safeParse(value);
  return res.success ? [] : problemsFromZod(ctx, kind.schema, path, value, res.error.issues, () => `see \`${kind.kind}\` in docs/faults.md`);
}
