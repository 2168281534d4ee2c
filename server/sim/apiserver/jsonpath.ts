/**
 * The JSONPath subset CRD `additionalPrinterColumns` use: a chain of fields and list indexes such as
 * `.spec.addresses`, `.status.conditions[0].type`, `.metadata.creationTimestamp`, and
 * `.metadata.labels.app\.kubernetes\.io/name` style escaped dots. Filters, wildcards and ranges are not
 * supported; a path using them is refused when the CRD is created (as an invalid column is by the
 * real apiserver), so it never reaches the printer.
 */

/** One step of a parsed path: a field name or a list index. */
export type PathStep = { field: string } | { index: number };

/**
 * Parses a printer column's jsonPath; undefined when it is outside the supported subset.
 *
 * @example parseJsonPath(".spec.addresses[0]") // [{field:"spec"},{field:"addresses"},{index:0}]
 */
export function parseJsonPath(path: string): PathStep[] | undefined {
  let p = path.trim();
  if (p.startsWith("{") && p.endsWith("}")) p = p.slice(1, -1).trim();
  if (!p.startsWith(".")) return undefined;
  const steps: PathStep[] = [];
  let i = 0;
  while (i < p.length) {
    if (p[i] === ".") {
      i++;
      let name = "";
      while (i < p.length && p[i] !== "." && p[i] !== "[") {
        if (p[i] === "\\" && p[i + 1] === ".") {
          name += ".";
          i += 2;
          continue;
        }
        name += p[i];
        i++;
      }
      if (!/^[\w/-]+$/.test(name.replace(/\./g, ""))) return undefined;
      steps.push({ field: name });
    } else if (p[i] === "[") {
      const close = p.indexOf("]", i);
      if (close < 0) return undefined;
      const inner = p.slice(i + 1, close);
      if (!/^\d+$/.test(inner)) return undefined;
      steps.push({ index: Number(inner) });
      i = close + 1;
    } else return undefined;
  }
  return steps.length ? steps : undefined;
}

/** The value at `steps` in `obj`, or undefined when any step is missing. */
export function evaluateJsonPath(obj: unknown, steps: PathStep[]): unknown {
  let cur: unknown = obj;
  for (const s of steps) {
    if ("field" in s) {
      if (!cur || typeof cur !== "object" || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, s.field)) return undefined;
      cur = (cur as Record<string, unknown>)[s.field];
    } else {
      if (!Array.isArray(cur) || s.index >= cur.length) return undefined;
      cur = cur[s.index];
    }
  }
  return cur;
}

/**
 * A value as kubectl's JSONPath printer writes it for a string column: objects and lists as compact
 * JSON (`["192.168.10.240/28"]`), strings bare, numbers and booleans in Go's formatting.
 */
export function jsonPathText(v: unknown): string {
  if (v === null) return "<nil>";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
