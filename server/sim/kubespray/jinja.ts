/**
 * The sliver of Jinja the sim understands. Ansible templates every string that contains `{{`, `{%` or
 * `{#`; the sim resolves only a whole-value reference to another variable ("{{ kube_pods_subnet }}"),
 * which is what inventories use to keep two settings in step. Anything richer (filters, arithmetic,
 * partial strings) would need a Jinja engine, and guessing its result would make the lab lie.
 */

const WHOLE_REFERENCE = /^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$/;
const TEMPLATE_MARKERS = /\{\{|\{%|\{#/;

/** The variable a whole-value reference names, e.g. "kube_pods_subnet" for "{{ kube_pods_subnet }}". */
export function wholeValueReference(value: unknown): string | undefined {
  return typeof value === "string" ? WHOLE_REFERENCE.exec(value)?.[1] : undefined;
}

/** True when Ansible would template `value` (a string with a Jinja marker). */
export function isTemplated(value: unknown): value is string {
  return typeof value === "string" && TEMPLATE_MARKERS.test(value);
}

/**
 * Names that any template inside `value` (searched through lists and mappings) might read. Loose on
 * purpose: it only decides which inventory variables count as used, so a filter name caught by
 * mistake costs nothing, while a missed variable would be reported as ignored when it is not.
 */
export function referencedNames(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === "string") {
    for (const m of value.matchAll(/\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g)) {
      for (const word of (m[1] ?? m[2] ?? "").matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) out.add(word[0]);
    }
  } else if (Array.isArray(value)) {
    for (const v of value) referencedNames(v, out);
  } else if (value && typeof value === "object") {
    for (const v of Object.values(value)) referencedNames(v, out);
  }
  return out;
}
