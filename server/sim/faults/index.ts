/**
 * The fault kinds and what the rest of Faultline does with a lab's `faults:` list. A new kind is one
 * file exporting an {@link InventoryFaultKind} or {@link DataplaneFaultKind}, added to `faultKinds`.
 */
import { FaultlineError } from "../../errors.js";
import type { NetOp } from "../dataplane/ops.js";
import type { ClusterPlan } from "../plan.js";
import { blackholeRoute } from "./blackhole-route.js";
import { deleteRoute } from "./delete-route.js";
import { dropTraffic } from "./drop-traffic.js";
import type { AnyFaultKind, DataplaneFaultKind, InventoryEdit, InventoryFaultKind, SpecProblem, Topology } from "./fault.js";
import { inventoryTypo } from "./inventory-typo.js";
import { mtu } from "./mtu.js";
import type { FaultSpec } from "./schema.js";
import { didYouMean } from "./support.js";

export type { AnyFaultKind, DataplaneFaultKind, InventoryEdit, InventoryFaultKind, SpecProblem, Topology } from "./fault.js";
export type { FaultSpec } from "./schema.js";

/** Every fault kind, in the order docs/faults.md lists them. A tuple, so FaultSpec is their union. */
export const faultKinds = [inventoryTypo, blackholeRoute, deleteRoute, dropTraffic, mtu] as const;

/** The known kind names, for messages. */
export const faultKindNames: readonly string[] = faultKinds.map((k) => k.kind);

/** "unknown fault kind ...; did you mean ...? Known kinds: ..." for a kind nobody implements. */
export function unknownKindMessage(kind: unknown): { message: string; hint: string } {
  const near = typeof kind === "string" ? didYouMean(kind, faultKindNames) : undefined;
  const what = kind === undefined ? "a fault needs a `kind`" : `unknown fault kind ${JSON.stringify(kind)}`;
  return {
    message: near ? `${what}; did you mean ${near}?` : what,
    hint: `known kinds: ${faultKindNames.join(", ")} (see docs/faults.md)`,
  };
}

/** The kind implementing `kind`; a FaultlineError with did-you-mean and the known kinds otherwise. */
export function findFaultKind(kind: string): AnyFaultKind {
  const found = (faultKinds as readonly AnyFaultKind[]).find((k) => k.kind === kind);
  if (!found) {
    const { message, hint } = unknownKindMessage(kind);
    throw new FaultlineError(message, hint);
  }
  return found;
}

/** The names of a plan's nodes and pods, for checking faults against a built sandbox. */
export function topologyOf(plan: ClusterPlan): Topology {
  return { nodes: plan.nodes.map((n) => n.name), pods: plan.pods.map((p) => `${p.namespace}/${p.name}`) };
}

/**
 * Checks every spec against the topology. Paths start with the fault's index, so the lab loader
 * prefixes `faults` to point at file:line:column.
 *
 * @example
 * checkFaults([{ kind: "mtu", node: "worker-9", mtu: 1400 }], topo)
 * // [{ path: [0, "node"], message: "node worker-9 does not exist; nodes are cp-1, worker-1", hint: "did you mean worker-1?" }]
 */
export function checkFaults(specs: readonly FaultSpec[], topo: Topology): SpecProblem[] {
  return specs.flatMap((spec, i) => {
    const kind = (faultKinds as readonly AnyFaultKind[]).find((k) => k.kind === spec.kind);
    if (!kind) return [{ path: [i, "kind"], ...unknownKindMessage(spec.kind) }];
    return kind.check(spec, topo).map((p) => ({ ...p, path: [i, ...p.path] }));
  });
}

/** Throws the first problem `checkFaults` finds, as "faults[1].node: node worker-9 does not exist ...". */
function assertValid(specs: readonly FaultSpec[], plan: ClusterPlan): void {
  const first = checkFaults(specs, topologyOf(plan))[0];
  if (!first) return;
  const [i, ...rest] = first.path;
  throw new FaultlineError(`faults[${String(i)}]${rest.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("")}: ${first.message}`, first.hint);
}

function dataplaneKind(spec: FaultSpec): DataplaneFaultKind<{ kind: string }> | null {
  const kind = findFaultKind(spec.kind);
  return kind.stage === "dataplane" ? kind : null;
}

/**
 * The ops that apply the dataplane faults among `specs`, in order, after provisioning. Inventory faults
 * are skipped: they were injected before kubespray ran and live in the plan already. Throws
 * FaultlineError (naming the fault) when a spec does not fit the plan.
 */
export function dataplaneOps(specs: readonly FaultSpec[], plan: ClusterPlan): NetOp[] {
  assertValid(specs, plan);
  return specs.flatMap((spec, i) => {
    const kind = dataplaneKind(spec);
    if (!kind) return [];
    try {
      return kind.apply(spec, plan);
    } catch (err) {
      throw withFault(i, spec, err);
    }
  });
}

/**
 * The ops that undo one dataplane fault (apply them in reverse fault order to undo several). An
 * inventory fault has none: it is undone by reverting the inventory and provisioning again.
 */
export function revertOps(spec: FaultSpec, plan: ClusterPlan): NetOp[] {
  assertValid([spec], plan);
  return dataplaneKind(spec)?.revert(spec, plan) ?? [];
}

/**
 * Injects the inventory faults among `specs` into the trainee's copy of the inventory, in order,
 * before kubespray evaluates it. Returns every edit made, for logs and `lab test` output.
 */
export async function injectInventoryFaults(specs: readonly FaultSpec[], inventoryDir: string): Promise<InventoryEdit[]> {
  const edits: InventoryEdit[] = [];
  for (const [i, spec] of specs.entries()) {
    const kind = findFaultKind(spec.kind);
    if (kind.stage !== "inventory") continue;
    try {
      edits.push(...(await kind.inject(spec, inventoryDir)));
    } catch (err) {
      throw withFault(i, spec, err);
    }
  }
  return edits;
}

/**
 * Reverts one inventory fault (renames the key back); nothing for a dataplane fault. Returns the edits.
 */
export async function revertInventoryFault(spec: FaultSpec, inventoryDir: string): Promise<InventoryEdit[]> {
  const kind = findFaultKind(spec.kind);
  return kind.stage === "inventory" ? kind.revert(spec, inventoryDir) : [];
}

function withFault(i: number, spec: FaultSpec, err: unknown): FaultlineError {
  const context = `faults[${i}] (${spec.kind})`;
  if (err instanceof FaultlineError) return new FaultlineError(`${context}: ${err.message}`, err.hint, { cause: err });
  return new FaultlineError(`${context}: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
}
