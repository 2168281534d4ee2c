/**
 * Strategic-merge-patch metadata from the same schema declarations /openapi publishes, so the server
 * merges lists by the keys kubectl computed its patch with (containers by name, container ports by
 * containerPort, Service ports by port, ...), and replaces the lists the types do not merge.
 */
import type { PatchSchema } from "../patch.js";
import type { ResourceType } from "../resources.js";
import { declaredSchema, kindSchema } from "./documents.js";
import { referenceTarget, type JsonSchema } from "./schema.js";

class SchemaMeta implements PatchSchema {
  readonly mergeKey: string | undefined;
  readonly strategies: readonly string[];

  constructor(private readonly s: JsonSchema) {
    this.mergeKey = typeof s["x-kubernetes-patch-merge-key"] === "string" ? s["x-kubernetes-patch-merge-key"] : undefined;
    const strategy = s["x-kubernetes-patch-strategy"];
    this.strategies = typeof strategy === "string" ? strategy.split(",") : [];
  }

  private static resolve(s: JsonSchema | undefined): JsonSchema | undefined {
    const target = s && referenceTarget(s);
    return target ? declaredSchema(target) : s;
  }

  child(key: string): PatchSchema | undefined {
    const self = SchemaMeta.resolve(this.s);
    const prop = self?.properties?.[key] ?? (typeof self?.additionalProperties === "object" ? self.additionalProperties : undefined);
    if (!prop) return undefined;
    // the property carries the patch extensions; its type (behind the reference) carries the fields
    return new SchemaMeta(prop);
  }

  item(): PatchSchema | undefined {
    const items = SchemaMeta.resolve(this.s)?.items;
    return items ? new SchemaMeta(items) : undefined;
  }
}

const cache = new WeakMap<ResourceType, PatchSchema>();

/**
 * Patch metadata of a built-in kind; undefined for custom resources (they take no strategic merge
 * patch).
 *
 * @example strategicMergePatch(deployment, patch, patchSchemaFor(mustResourceType("deployments")))
 */
export function patchSchemaFor(t: ResourceType): PatchSchema | undefined {
  if (t.custom) return undefined;
  let m = cache.get(t);
  if (!m) {
    m = new SchemaMeta(kindSchema(t));
    cache.set(t, m);
  }
  return m;
}
