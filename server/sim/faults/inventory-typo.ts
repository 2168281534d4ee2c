import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { FaultlineError } from "../../errors.js";
import type { InventoryEdit, InventoryFaultKind } from "./fault.js";
import { specObject } from "./support.js";

const schema = specObject("inventory-typo", {
  /** The variable the lab's inventory sets correctly, e.g. kube_network_node_prefix. */
  variable: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an Ansible variable name is letters, digits and '_', not starting with a digit"),
  /** The misspelling to write instead; default: a plausible typo of `variable` (see `misspell`). */
  as: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "the misspelled name must be a plain YAML key: letters, digits, '_', '.', '-'").optional(),
});

/** `{kind: inventory-typo, variable: kube_network_node_prefix, as?: kube_network_node_perfix}` */
export type InventoryTypoSpec = z.infer<typeof schema>;

/**
 * A deterministic, plausible misspelling of `name`, made in its last word (where typos are noticed
 * least): a doubled letter typed once (`kube_service_addresses` -> `kube_service_adresses`), else
 * "re" typed "er" (`kube_network_node_prefix` -> `kube_network_node_perfix`), else the last two
 * letters swapped (`kube_pods_subnet` -> `kube_pods_subnte`).
 */
export function misspell(name: string): string {
  const cut = name.lastIndexOf("_") + 1;
  const head = name.slice(0, cut);
  const word = name.slice(cut);
  const doubled = /([A-Za-z])\1/.exec(word);
  if (doubled) return head + word.slice(0, doubled.index) + word.slice(doubled.index + 1);
  const re = word.lastIndexOf("re");
  if (re >= 0) return head + word.slice(0, re) + "er" + word.slice(re + 2);
  if (word.length >= 2) return head + word.slice(0, -2) + word[word.length - 1]! + word[word.length - 2]!;
  return name + name.slice(-1); // a one-letter last word: type it twice
}

const typoOf = (spec: InventoryTypoSpec): string => spec.as ?? misspell(spec.variable);

/**
 * The group_vars files Ansible reads for the inventory, relative to it with `/` separators and
 * sorted: `group_vars/<group>.yml|yaml` and `group_vars/<group>/*.yml|yaml` (all, k8s_cluster, ...).
 */
export async function groupVarsFiles(inventoryDir: string): Promise<string[]> {
  const root = path.join(inventoryDir, "group_vars");
  const isYaml = (name: string) => /\.ya?ml$/.test(name);
  const entries = await readdir(root, { withFileTypes: true }).catch(() => null);
  if (!entries) {
    throw new FaultlineError(`inventory ${inventoryDir} has no group_vars folder`, "an inventory folder holds group_vars/all/*.yml and group_vars/k8s_cluster/*.yml");
  }
  const files: string[] = [];
  for (const e of entries) {
    if (e.isFile() && isYaml(e.name)) files.push(`group_vars/${e.name}`);
    if (!e.isDirectory()) continue;
    // Symlinks are skipped on purpose: edits stay inside the trainee's copy of the inventory.
    for (const f of await readdir(path.join(root, e.name), { withFileTypes: true })) {
      if (f.isFile() && isYaml(f.name)) files.push(`group_vars/${e.name}/${f.name}`);
    }
  }
  return files.sort();
}

/** A group_vars file with the position of every top-level key. */
interface VarsFile {
  file: string;
  text: string;
  /** Top-level key name -> offset of the name's first character in `text` (inside quotes if quoted). */
  keys: Map<string, number>;
}

async function loadVarsFiles(inventoryDir: string): Promise<VarsFile[]> {
  const out: VarsFile[] = [];
  for (const file of await groupVarsFiles(inventoryDir)) {
    const text = await readFile(path.join(inventoryDir, file), "utf8");
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const pos = lines.linePos(err.pos[0]);
      throw new FaultlineError(`${file}:${pos.line}:${pos.col}: not valid YAML: ${err.message.split("\n")[0]}`, "fix the inventory file; Ansible would refuse it too");
    }
    const keys = new Map<string, number>();
    // Ansible variables are the top-level keys of a group_vars file; nested keys are values.
    if (isMap(doc.contents)) {
      for (const pair of doc.contents.items) {
        if (!isScalar(pair.key) || typeof pair.key.value !== "string" || !pair.key.range) continue;
        const name = pair.key.value;
        const start = pair.key.range[0];
        // Plain keys start with the name; quoted ones one character later. Anything else (escapes,
        // block scalars) is not a key someone types as a variable, so it is left alone.
        const at = text.startsWith(name, start) ? start : text.startsWith(name, start + 1) ? start + 1 : -1;
        if (at >= 0) keys.set(name, at);
      }
    }
    out.push({ file, text, keys });
  }
  return out;
}

/** The whole line around `offset`, without its line break. */
function lineAt(text: string, offset: number): { line: number; text: string } {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  const nl = text.indexOf("\n", offset);
  const end = nl < 0 ? text.length : nl;
  return { line: text.slice(0, start).split("\n").length, text: text.slice(start, end).replace(/\r$/, "") };
}

/**
 * Renames the top-level key `from` to `to` in every file that sets it, touching nothing but the
 * key's characters, so comments, quoting, order and line endings stay as they were. Clashes are
 * checked before the first write, so a refused rename leaves the inventory untouched.
 */
async function renameKey(
  inventoryDir: string,
  files: VarsFile[],
  from: string,
  to: string,
  clash: (file: string) => FaultlineError,
): Promise<InventoryEdit[]> {
  const hits = files.flatMap((f) => {
    const at = f.keys.get(from);
    return at === undefined ? [] : [{ ...f, at }];
  });
  // Two keys of the same name make the YAML invalid (and Ansible would keep only one).
  for (const h of hits) if (h.keys.has(to)) throw clash(h.file);
  const edits: InventoryEdit[] = [];
  for (const h of hits) {
    await writeFile(path.join(inventoryDir, h.file), h.text.slice(0, h.at) + to + h.text.slice(h.at + from.length), "utf8");
    edits.push(edit(h, from, to));
  }
  return edits;
}

function edit(h: VarsFile & { at: number }, from: string, to: string): InventoryEdit {
  const before = lineAt(h.text, h.at);
  const col = h.at - (h.text.lastIndexOf("\n", h.at - 1) + 1);
  return { file: h.file, line: before.line, from: before.text, to: before.text.slice(0, col) + to + before.text.slice(col + from.length) };
}

/**
 * Misspells a variable the lab's inventory sets, the way the flagship incident's team did: Ansible
 * ignores the unknown name without a word, and kubespray's default for the real one applies. Every
 * group_vars file that sets the variable is edited, since any one of them left would still win.
 */
export const inventoryTypo: InventoryFaultKind<InventoryTypoSpec> = {
  kind: "inventory-typo",
  stage: "inventory",
  schema,
  summary: "Renames a variable the inventory sets to a misspelled key (in place, comments kept), so Ansible silently ignores it and kubespray's default applies.",
  example: { kind: "inventory-typo", variable: "kube_network_node_prefix" },

  // Which file sets the variable is only known with the inventory at hand; inject() reports that.
  check(spec) {
    if (spec.as === spec.variable) return [{ path: ["as"], message: `as is the variable's own name (${spec.variable})`, hint: "leave `as` out for a generated misspelling, or write the typo you want" }];
    return [];
  },

  describe(spec) {
    return `inventory sets ${typoOf(spec)} instead of ${spec.variable} (kubespray's default applies)`;
  },

  async inject(spec, inventoryDir) {
    const typo = typoOf(spec);
    const files = await loadVarsFiles(inventoryDir);
    if (!files.some((f) => f.keys.has(spec.variable))) {
      throw new FaultlineError(
        `inventory-typo: no group_vars file sets ${spec.variable}; searched ${files.length ? files.map((f) => f.file).join(", ") : `${path.join(inventoryDir, "group_vars")} (no .yml/.yaml files)`}`,
        `set ${spec.variable} in the lab's inventory (e.g. group_vars/k8s_cluster/k8s-cluster.yml): the fault misspells a variable the inventory sets correctly`,
      );
    }
    // If the misspelling were already in use, revert could not tell the lab's keys from ours.
    const taken = files.find((f) => f.keys.has(typo));
    if (taken) {
      throw new FaultlineError(`inventory-typo: ${taken.file} already sets ${typo}`, "choose another misspelling with `as`");
    }
    return renameKey(inventoryDir, files, spec.variable, typo, (file) => new FaultlineError(`inventory-typo: ${file} already sets ${typo}`));
  },

  async revert(spec, inventoryDir) {
    const typo = typoOf(spec);
    return renameKey(inventoryDir, await loadVarsFiles(inventoryDir), typo, spec.variable, (file) => new FaultlineError(
      `inventory-typo: cannot revert: ${file} sets both ${typo} and ${spec.variable}`,
      `the inventory was edited since the fault was injected; remove one of the two keys from ${file}`,
    ));
  },
};
