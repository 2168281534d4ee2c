import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { LineCounter, isMap, isScalar, parseDocument, type Node } from "yaml";
import { FaultlineError } from "../../errors.js";
import { locate } from "../../labs/yaml-errors.js";

/** One `name: value` line of a group_vars file, with where it was written. */
export interface VarOccurrence {
  name: string;
  value: unknown;
  /** Path as shown to the user (relative to `displayRoot`, or under the inventory folder as given). */
  file: string;
  line: number;
  column: number;
  /** Inventory group the file belongs to ("all", "k8s_cluster", ...). */
  group: string;
  /** `!unsafe` values are never templated by Ansible. */
  unsafe: boolean;
  /** `!vault` values are encrypted; the sim cannot read them. */
  vault: boolean;
}

/**
 * The groups whose variables apply to every kubespray node, in Ansible's merge order: parents before
 * children (`all` has depth 0), and groups of equal depth by name. `k8s-cluster` is the group's name
 * before kubespray v2.16; when both exist, `k8s_cluster` sorts last and so wins, as in Ansible.
 * Files of other groups (kube_node, etcd, ...) apply to some hosts only and are not read here.
 */
export const CLUSTER_GROUPS: readonly string[] = ["all", "k8s-cluster", "k8s_cluster"];

/** Ansible's default YAML_FILENAME_EXTENSIONS. */
const EXTENSIONS = [".yml", ".yaml", ".json"];

async function kind(p: string): Promise<"dir" | "file" | undefined> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? "dir" : s.isFile() ? "file" : undefined;
  } catch {
    return undefined;
  }
}

/** Files of a group_vars/<group>/ folder: sorted, recursive, hidden files and `~` backups skipped. */
async function dirVarsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir)).sort()) {
    if (entry.startsWith(".") || entry.endsWith("~")) continue;
    const full = path.join(dir, entry);
    const ext = path.extname(entry);
    const k = await kind(full);
    if (k === "dir" && !ext) out.push(...(await dirVarsFiles(full)));
    else if (k === "file" && (!ext || EXTENSIONS.includes(ext))) out.push(full);
  }
  return out;
}

/**
 * The vars files of one group in the order Ansible loads them (DataLoader.find_vars_files): the
 * folder `<group>/` first, then `<group>.yml`, `<group>.yaml`, `<group>.json`. Later files win, so
 * `group_vars/all.yml` overrides `group_vars/all/*.yml`.
 */
export async function groupVarsFiles(groupVarsDir: string, group: string): Promise<string[]> {
  const found: string[] = [];
  for (const ext of ["", ...EXTENSIONS]) {
    const p = path.join(groupVarsDir, group + ext);
    const k = await kind(p);
    if (k === "dir") found.push(...(await dirVarsFiles(p)));
    else if (k === "file") found.push(p);
  }
  return found;
}

function position(lines: LineCounter, node: Node | null | undefined): { line: number; column: number } | undefined {
  if (!node?.range) return undefined;
  const pos = lines.linePos(node.range[0]);
  return { line: pos.line, column: pos.col };
}

/**
 * Parses one vars file. YAML 1.1, because Ansible's loader (PyYAML) is 1.1: `yes`/`on` are booleans
 * there. Duplicate keys are allowed and the last one wins, as in Ansible (which only warns).
 */
export function parseVarsFile(display: string, text: string, group: string): VarOccurrence[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, version: "1.1" });
  const first = doc.errors[0];
  if (first) {
    // Same wording as parseLocatedYaml, which cannot be used here: it rejects duplicate keys, and it
    // could report one of those ahead of the syntax error that Ansible would actually stop at.
    const pos = lines.linePos(first.pos[0]);
    throw new FaultlineError(
      `${display}:${pos.line}:${pos.col}: not valid YAML: ${first.message.split("\n")[0]}`,
      "fix the YAML syntax at that position (indentation, a missing colon or an unclosed quote are the usual causes)",
    );
  }
  const located = { file: display, doc, lines, lineOffset: 0 };
  const top = doc.contents;
  // An empty file (or only comments) defines nothing; Ansible accepts it.
  if (top === null || (isScalar(top) && top.value === null)) return [];
  if (!isMap(top)) {
    throw new FaultlineError(
      `${locate(located, [])}: the top level of a group_vars file must be a mapping of variable names to values`,
      "write one `name: value` per line at the left margin (no leading `-`)",
    );
  }
  const out: VarOccurrence[] = [];
  for (const pair of top.items) {
    const key = pair.key as Node | null;
    if (!isScalar(key) || key.value === null || typeof key.value === "object") {
      const at = position(lines, key) ?? { line: 1, column: 1 };
      throw new FaultlineError(`${display}:${at.line}:${at.column}: a variable name must be a plain word`, "write names like kube_pods_subnet at the left margin");
    }
    const value = pair.value as Node | null;
    const at = position(lines, value) ?? position(lines, key)!;
    out.push({
      name: String(key.value),
      value: value ? value.toJS(doc) : null,
      file: display,
      line: at.line,
      column: at.column,
      group,
      unsafe: value?.tag === "!unsafe",
      vault: value?.tag === "!vault",
    });
  }
  return out;
}

/**
 * Every variable occurrence of the cluster-wide groups, in Ansible's load order (a later occurrence
 * overrides an earlier one). A missing group_vars folder means no variables, as in Ansible.
 */
export async function loadGroupVars(inventoryDir: string, displayRoot?: string): Promise<VarOccurrence[]> {
  const groupVarsDir = path.join(inventoryDir, "group_vars");
  const out: VarOccurrence[] = [];
  for (const group of CLUSTER_GROUPS) {
    for (const file of await groupVarsFiles(groupVarsDir, group)) {
      const display = displayRoot ? path.relative(displayRoot, path.resolve(file)) : file;
      const text = await readFile(file, "utf8");
      out.push(...parseVarsFile(display, text, group));
    }
  }
  return out;
}
