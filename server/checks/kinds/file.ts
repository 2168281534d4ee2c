/**
 * `file`: a file of the trainee's workspace exists (or not), a value in it equals something, or it
 * matches a regular expression.
 *
 * @example
 * ```yaml
 * # the inventory sets the node prefix under the name kubespray reads
 * check: {file: {path: inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml, yaml: kube_network_node_prefix, equals: 25}}
 * # the pool manifest lists the lab's range
 * check: {file: {path: metallb/pool.yaml, yaml: spec.addresses.0, matches: "^192\\.168\\.10\\."}}
 * # the notes exist
 * check: {file: {path: notes.md}}
 * ```
 *
 * - `exists: false`: passes while the file is absent (other keys are ignored).
 * - `yaml`: a dotted path into the file's first YAML document; a segment that is a number indexes a
 *   list (`spec.addresses.0`). Keys containing dots cannot be addressed. Without `yaml`, `equals`
 *   compares the whole document.
 * - `equals`: deep equality with the value (types count: `"25"` is not `25`).
 * - `matches`: a regular expression (JavaScript syntax, multiline) the file's text, or the value at
 *   `yaml` (a scalar as written, anything else as JSON), must match.
 * A file that does not parse as YAML is "fail" (the trainee can fix it), with the parser's line.
 */
import { isDeepStrictEqual } from "node:util";
import { LineCounter, parseDocument } from "yaml";
import type { CheckResult, FileCheck } from "../schema.js";
import type { CheckContext, CheckKindModule } from "../types.js";

/** The value at a dotted path (`spec.addresses.0`), or `undefined` where the path leads nowhere. */
export function valueAt(doc: unknown, dotted: string): unknown {
  let v: unknown = doc;
  for (const seg of dotted.split(".").filter(Boolean)) {
    if (Array.isArray(v) && /^\d+$/.test(seg)) v = v[Number(seg)];
    else if (v !== null && typeof v === "object" && !Array.isArray(v)) v = (v as Record<string, unknown>)[seg];
    else return undefined;
  }
  return v;
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

export async function runFile(spec: FileCheck, ctx: CheckContext): Promise<CheckResult> {
  const text = await ctx.readWorkspaceFile(spec.path);
  if (!spec.exists) return text === null ? { status: "pass", detail: `${spec.path} does not exist` } : { status: "fail", detail: `${spec.path} still exists` };
  if (text === null) return { status: "fail", detail: `${spec.path} does not exist` };
  const wantsValue = spec.yaml !== undefined || spec.equals !== undefined;
  if (!wantsValue) {
    if (spec.matches !== undefined && !new RegExp(spec.matches, "m").test(text)) return { status: "fail", detail: `${spec.path} does not match /${spec.matches}/` };
    return { status: "pass", detail: spec.matches !== undefined ? `${spec.path} matches /${spec.matches}/` : `${spec.path} exists` };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    return { status: "fail", detail: `${spec.path} is not valid YAML (line ${lines.linePos(e.pos[0]).line}): ${e.message.split("\n")[0]}` };
  }
  const where = spec.yaml ? `${spec.path}: ${spec.yaml}` : spec.path;
  const value = valueAt(doc.toJS(), spec.yaml ?? "");
  if (value === undefined) return { status: "fail", detail: `${spec.path} does not set ${spec.yaml}` };
  if (spec.equals !== undefined && !isDeepStrictEqual(value, spec.equals)) return { status: "fail", detail: `${where} is ${show(value)}, expected ${show(spec.equals)}` };
  if (spec.matches !== undefined) {
    const asText = value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
    if (!new RegExp(spec.matches, "m").test(asText)) return { status: "fail", detail: `${where} is ${show(value)}, which does not match /${spec.matches}/` };
  }
  return { status: "pass", detail: `${where} is ${show(value)}` };
}

export const file: CheckKindModule<"file"> = {
  kind: "file",
  describe: (spec) => {
    if (!spec.exists) return `${spec.path} does not exist`;
    const at = spec.yaml ? `${spec.path}: ${spec.yaml}` : spec.path;
    if (spec.equals !== undefined) return `${at} is ${show(spec.equals)}`;
    if (spec.matches !== undefined) return `${at} matches /${spec.matches}/`;
    return `${spec.path} exists`;
  },
  triggers: (spec) => [{ type: "workspace", path: spec.path }],
  timeoutMs: () => 5000,
  run: (spec, ctx) => runFile(spec, ctx),
};
