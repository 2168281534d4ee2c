import { FaultlineError } from "../../errors.js";
import { suggest } from "./did-you-mean.js";
import type { VarOccurrence } from "./group-vars.js";
import { isTemplated, wholeValueReference } from "./jinja.js";
import type { VarSource } from "./evaluate.js";

/** The value a variable has before templating: the last inventory occurrence, else the role default. */
export interface RawVar {
  value: unknown;
  source: VarSource;
  unsafe: boolean;
  vault: boolean;
}

/** A variable after whole-value references are followed. */
export interface ResolvedVar {
  name: string;
  value: unknown;
  /** Where this variable's own value (possibly a reference) came from. */
  source: VarSource;
  /** The variable a whole-value reference pointed to, if any. */
  derivedFrom?: string;
  /**
   * Where the literal value finally used was written ("file:line:col" or "kubespray v2.19 default"):
   * errors about the value point there, since that is the line to edit.
   */
  origin: string;
  /** `name`, then each referenced variable down to the one holding the literal. */
  trail: string[];
}

export function describeSource(source: VarSource): string {
  return source.kind === "file" ? `${source.file}:${source.line}:${source.column}` : `kubespray ${source.version} default`;
}

/**
 * Follows whole-value references lazily, like Ansible: a reference sees the referenced variable's
 * final (highest-precedence) value, wherever it was set.
 */
export class Resolver {
  readonly raw = new Map<string, RawVar>();
  /** Variables read while resolving, so they are not reported as "set but not read". */
  readonly referenced = new Set<string>();
  private readonly cache = new Map<string, ResolvedVar>();

  constructor(defaults: Record<string, unknown>, version: string, occurrences: readonly VarOccurrence[]) {
    for (const [name, value] of Object.entries(defaults)) {
      this.raw.set(name, { value, source: { kind: "default", version }, unsafe: false, vault: false });
    }
    for (const o of occurrences) {
      this.raw.set(o.name, { value: o.value, source: { kind: "file", file: o.file, line: o.line, column: o.column }, unsafe: o.unsafe, vault: o.vault });
    }
  }

  /** Resolves `name`; a FaultlineError at the offending line when it cannot. */
  resolve(name: string, chain: readonly string[] = []): ResolvedVar {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const raw = this.raw.get(name);
    if (!raw) throw new Error(`kubespray evaluator: no value or default for ${name}`);
    const at = describeSource(raw.source);
    if (raw.vault) {
      throw new FaultlineError(`${at}: ${name} is vault-encrypted; the simulator cannot decrypt it`, "write the plain value in the lab's inventory");
    }
    let resolved: ResolvedVar;
    if (!raw.unsafe && isTemplated(raw.value)) {
      const ref = wholeValueReference(raw.value);
      if (!ref) {
        throw new FaultlineError(
          `${at}: ${name}: "${raw.value}" uses Jinja templating; the simulator supports only whole-value variable references`,
          `write the literal value, or a reference to one variable such as "{{ kube_pods_subnet }}"`,
        );
      }
      if (ref === name || chain.includes(ref)) {
        throw new FaultlineError(
          `${at}: ${name}: recursive loop detected in template string: ${[...chain, name, ref].join(" -> ")}`,
          "one of these variables must hold a literal value",
        );
      }
      if (!this.raw.has(ref)) {
        const close = suggest(ref, this.raw.keys());
        throw new FaultlineError(
          `${at}: ${name} refers to '${ref}', which is undefined`,
          close ? `did you mean ${close}?` : `set ${ref} in group_vars, or write the literal value`,
        );
      }
      this.referenced.add(ref);
      const target = this.resolve(ref, [...chain, name]);
      resolved = { name, value: target.value, source: raw.source, derivedFrom: ref, origin: target.origin, trail: [name, ...target.trail] };
    } else {
      resolved = { name, value: raw.value, source: raw.source, origin: at, trail: [name] };
    }
    this.cache.set(name, resolved);
    return resolved;
  }
}
