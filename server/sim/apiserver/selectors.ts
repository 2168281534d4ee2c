/**
 * Label and field selectors with the grammar and semantics of k8s.io/apimachinery `labels.Parse` and
 * `fields.ParseSelector`. Both come from query strings, so both are untrusted: parse errors are
 * BadRequest with the apimachinery wording, never exceptions of another kind.
 */
import { goQuote } from "./admission-client.js";
import { isRecord, type KObject } from "./objects.js";
import type { ResourceType } from "./resources.js";
import { badRequest } from "./status.js";

export type LabelOp = "=" | "!=" | "in" | "notin" | "exists" | "!" | ">" | "<";

export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

/** A parsed label selector; an empty list selects everything. */
export type LabelSelector = LabelRequirement[];

type Tok =
  | { t: "id"; v: string }
  | { t: "op"; v: "!" | "," | "=" | "==" | "!=" | "(" | ")" | ">" | "<" }
  | { t: "in" | "notin" }
  | { t: "end" };

const SPECIAL = new Set(["!", ",", "=", "(", ")", ">", "<", " ", "\t", "\n", "\r"]);

function lex(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    if (c === "=" && s[i + 1] === "=") {
      out.push({ t: "op", v: "==" });
      i += 2;
    } else if (c === "!" && s[i + 1] === "=") {
      out.push({ t: "op", v: "!=" });
      i += 2;
    } else if (c === "!" || c === "," || c === "=" || c === "(" || c === ")" || c === ">" || c === "<") {
      out.push({ t: "op", v: c });
      i++;
    } else {
      let j = i;
      while (j < s.length && !SPECIAL.has(s[j]!)) j++;
      const word = s.slice(i, j);
      if (word === "in") out.push({ t: "in" });
      else if (word === "notin") out.push({ t: "notin" });
      else out.push({ t: "id", v: word });
      i = j;
    }
  }
  out.push({ t: "end" });
  return out;
}

function describe(tok: Tok): string {
  if (tok.t === "id" || tok.t === "op") return tok.v;
  if (tok.t === "end") return "";
  return tok.t;
}

// A qualified name (optional DNS prefix + "/" + name of at most 63 characters): what label keys must be.
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string): void {
  if (!QUALIFIED_NAME.test(key) || key.length > 317) {
    throw badRequest(
      `unable to parse requirement: <nil>: Invalid value: ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    );
  }
}

function checkValue(key: string, value: string): void {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    throw badRequest(
      `unable to parse requirement: values[0][${key}]: Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    );
  }
}

/**
 * Parses `app=web,tier!=db,env in (a,b),!legacy,version>2` into requirements.
 *
 * @example parseLabelSelector("app in (a, b)") // [{ key: "app", op: "in", values: ["a", "b"] }]
 */
export function parseLabelSelector(input: string): LabelSelector {
  const toks = lex(input);
  let p = 0;
  const peek = () => toks[p]!;
  const next = () => toks[p++]!;
  const fail = (tok: Tok, expected: string): never => {
    throw badRequest(`unable to parse requirement: found '${describe(tok)}', expected: ${expected}`);
  };
  const reqs: LabelRequirement[] = [];
  if (peek().t === "end") return reqs;
  for (;;) {
    let tok = next();
    let negated = false;
    if (tok.t === "op" && tok.v === "!") {
      negated = true;
      tok = next();
    }
    if (tok.t !== "id") fail(tok, "!, identifier, or 'end of string'");
    const key = (tok as { v: string }).v;
    checkKey(key);
    if (negated) {
      reqs.push({ key, op: "!", values: [] });
    } else {
      const op = peek();
      if (op.t === "end" || (op.t === "op" && op.v === ",")) {
        reqs.push({ key, op: "exists", values: [] });
      } else if (op.t === "op" && (op.v === "=" || op.v === "==" || op.v === "!=")) {
        next();
        const v = peek();
        let value = "";
        if (v.t === "id") {
          value = v.v;
          next();
        } else if (!(v.t === "end" || (v.t === "op" && v.v === ","))) {
          fail(v, "identifier");
        }
        checkValue(key, value);
        reqs.push({ key, op: op.v === "!=" ? "!=" : "=", values: [value] });
      } else if (op.t === "op" && (op.v === ">" || op.v === "<")) {
        next();
        const v = next();
        if (v.t !== "id" || !/^-?\d+$/.test(v.v)) {
          throw badRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
        }
        reqs.push({ key, op: op.v, values: [v.v] });
      } else if (op.t === "in" || op.t === "notin") {
        next();
        const open = next();
        if (!(open.t === "op" && open.v === "(")) fail(open, "'('");
        const values: string[] = [];
        for (;;) {
          const v = peek();
          if (v.t === "id") {
            checkValue(key, v.v);
            values.push(v.v);
            next();
          } else if (v.t === "op" && v.v === ",") {
            // an empty value between commas is the empty string, as in apimachinery
            values.push("");
          } else if (!(v.t === "op" && v.v === ")")) {
            fail(v, "',', ')' or identifier");
          }
          const sep = next();
          if (sep.t === "op" && sep.v === ")") break;
          if (!(sep.t === "op" && sep.v === ",")) fail(sep, "',' or ')'");
        }
        if (values.length === 0) throw badRequest(`unable to parse requirement: for 'in', 'notin' operators, values set can't be empty`);
        reqs.push({ key, op: op.t, values });
      } else {
        fail(op, "'=', '!=', '==', 'in', notin'");
      }
    }
    const sep = next();
    if (sep.t === "end") break;
    if (!(sep.t === "op" && sep.v === ",")) fail(sep, "',' or 'end of string'");
  }
  return reqs;
}

export function matchLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "=":
        return has && v === r.values[0];
      case "!=":
        return !has || v !== r.values[0];
      case "in":
        return has && r.values.includes(v!);
      case "notin":
        return !has || !r.values.includes(v!);
      case "exists":
        return has;
      case "!":
        return !has;
      case ">":
      case "<": {
        if (!has || !/^-?\d+$/.test(v!)) return false;
        const a = Number(v);
        const b = Number(r.values[0]);
        return r.op === ">" ? a > b : a < b;
      }
    }
  });
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

export type FieldSelector = FieldRequirement[];

/** Splits on a separator that is not escaped with a backslash (fields.splitTerms). */
function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, "$1");
}

/**
 * Parses `metadata.name=x,status.phase!=Running` and checks each field against what the type supports,
 * with the two error texts of the real server (see `ResourceType.fields`).
 */
export function parseFieldSelector(input: string, t: ResourceType): FieldSelector {
  const out: FieldSelector = [];
  if (input.trim() === "") return out;
  for (const term of splitUnescaped(input, ",")) {
    if (term === "") continue;
    // find the first unescaped operator, longest first
    let idx = -1;
    let op: "=" | "!=" | "==" = "=";
    for (let i = 0; i < term.length; i++) {
      if (term[i] === "\\") {
        i++;
        continue;
      }
      if (term.startsWith("!=", i)) [idx, op] = [i, "!="];
      else if (term.startsWith("==", i)) [idx, op] = [i, "=="];
      else if (term[i] === "=") [idx, op] = [i, "="];
      if (idx >= 0) break;
    }
    if (idx < 0) throw badRequest(`invalid selector: '${input}'; can't understand '${term}'`);
    const field = unescape(term.slice(0, idx));
    const value = unescape(term.slice(idx + op.length));
    if (field !== "metadata.name" && field !== "metadata.namespace" && !(t.fields && field in t.fields)) {
      throw badRequest(t.fields ? `field label not supported: ${field}` : `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
    }
    out.push({ field, op: op === "!=" ? "!=" : "=", value });
  }
  return out;
}

export function fieldValue(t: ResourceType, o: KObject, field: string): string {
  if (field === "metadata.name") return o.metadata.name ?? "";
  if (field === "metadata.namespace") return o.metadata.namespace ?? "";
  return t.fields?.[field]?.(o) ?? "";
}

export function matchFields(sel: FieldSelector, t: ResourceType, o: KObject): boolean {
  return sel.every((r) => (fieldValue(t, o, r.field) === r.value) === (r.op === "="));
}

/** Label selector as metav1.FormatLabelSelector renders a Deployment's `spec.selector` for the SELECTOR column. */
export function formatLabelSelector(sel: unknown): string {
  if (!sel || typeof sel !== "object") return "<none>";
  const s = sel as { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };
  const parts: string[] = [];
  for (const k of Object.keys(s.matchLabels ?? {}).sort()) parts.push(`${k}=${s.matchLabels![k]}`);
  for (const e of s.matchExpressions ?? []) {
    const op = e.operator;
    if (op === "In" || op === "NotIn") parts.push(`${e.key} ${op.toLowerCase()} (${(e.values ?? []).join(",")})`);
    else if (op === "Exists") parts.push(e.key);
    else if (op === "DoesNotExist") parts.push(`!${e.key}`);
  }
  const out = parts.join(",");
  return out === "" ? "<none>" : out;
}

/** A metav1.LabelSelector as stored in objects (webhooks' namespace/objectSelector, NetworkPolicies, workloads). */
export interface Selector {
  matchLabels?: Record<string, unknown>;
  matchExpressions?: Array<{ key?: unknown; operator?: unknown; values?: unknown }>;
}

/**
 * metav1.LabelSelectorAsSelector + Matches. An absent selector is the `{}` the API defaults it to, which
 * selects everything. Throws for an operator the API does not know.
 */
export function selectorMatches(sel: Selector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!sel) return true;
  const l = labels ?? {};
  const has = (k: string) => Object.prototype.hasOwnProperty.call(l, k);
  for (const [k, v] of Object.entries(isRecord(sel.matchLabels) ? sel.matchLabels : {})) {
    if (!has(k) || l[k] !== v) return false;
  }
  for (const e of Array.isArray(sel.matchExpressions) ? sel.matchExpressions : []) {
    const key = String(e.key ?? "");
    const values = (Array.isArray(e.values) ? e.values.filter((x): x is string => typeof x === "string") : []);
    switch (e.operator) {
      case "In":
        if (!has(key) || !values.includes(l[key]!)) return false;
        break;
      case "NotIn":
        if (has(key) && values.includes(l[key]!)) return false;
        break;
      case "Exists":
        if (!has(key)) return false;
        break;
      case "DoesNotExist":
        if (has(key)) return false;
        break;
      default:
        throw new Error(`${goQuote(String(e.operator ?? ""))} is not a valid label selector operator`);
    }
  }
  return true;
}
