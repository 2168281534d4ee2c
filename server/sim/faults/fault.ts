import type { z } from "zod";
import type { NetOp } from "../dataplane/ops.js";
import type { ClusterPlan } from "../plan.js";

/**
 * What a fault can be checked against before anything is built: the names a lab's cluster will have.
 * Checks need only names, so `lab lint` can validate faults without running kubespray or IPAM.
 *
 * @example
 * const topo: Topology = { nodes: ["cp-1", "worker-1"], pods: ["metallb-system/controller"] };
 */
export interface Topology {
  nodes: string[];
  /** Pods as `<namespace>/<name>`. */
  pods: string[];
}

/**
 * One thing wrong with a fault spec. `path` is relative to the spec (`["node"]`), so the lab loader
 * can prefix `["faults", i]` and point at file:line:column.
 *
 * @example
 * { path: ["node"], message: "node worker-9 does not exist; nodes are cp-1, worker-1", hint: "did you mean worker-1?" }
 */
export interface SpecProblem {
  path: Array<string | number>;
  message: string;
  hint?: string;
}

/**
 * What every fault kind has, whatever stage it acts in. A kind is one file exporting one object that
 * implements {@link InventoryFaultKind} or {@link DataplaneFaultKind}; index.ts lists it.
 */
export interface FaultKindBase<S extends { kind: string }> {
  kind: S["kind"];
  /** The spec as written in a lab's `faults:` list; unknown keys are errors. */
  schema: z.ZodType<S>;
  /** One line for docs/faults.md: what the fault does and what the trainee will observe. */
  summary: string;
  /** A spec that parses and passes `check` on a cluster with nodes cp-1 and worker-1..worker-3. */
  example: S;
  /** Problems a lab author can fix, found from names alone. An empty list means "looks right". */
  check(spec: S, topo: Topology): SpecProblem[];
  /** One line for logs and `lab test` output, e.g. "blackhole 10.233.64.0/25 on worker-3". */
  describe(spec: S): string;
}

/**
 * A fault in the trainee's copy of the inventory, injected before kubespray evaluates it, so its
 * effect flows through the plan like a real misconfiguration would. Both methods throw
 * FaultlineError when the inventory does not allow the edit, and write nothing in that case.
 *
 * @example
 * const edits = await inventoryTypo.inject({ kind: "inventory-typo", variable: "kube_network_node_prefix" }, dir);
 * // [{ file: "group_vars/k8s_cluster/k8s-cluster.yml", line: 12,
 * //    from: "kube_network_node_prefix: 25", to: "kube_network_node_perfix: 25" }]
 */
export interface InventoryFaultKind<S extends { kind: string }> extends FaultKindBase<S> {
  stage: "inventory";
  /** Rewrites the trainee's copy of the inventory BEFORE kubespray evaluation. */
  inject(spec: S, inventoryDir: string): Promise<InventoryEdit[]>;
  /** Undoes `inject` exactly (byte for byte); returns [] when there is nothing left to undo. */
  revert(spec: S, inventoryDir: string): Promise<InventoryEdit[]>;
}

/**
 * A fault programmed into the running dataplane, after provisioning. Both methods are pure: they
 * turn the spec and the plan into NetOps the dataplane executor runs. They throw FaultlineError when
 * the plan does not allow the fault (e.g. deleting a route the node does not have).
 *
 * @example
 * blackholeRoute.apply({ kind: "blackhole-route", node: "worker-3", cidr: "10.233.64.0/25" }, plan);
 * // [{ kind: "ip", netns: "n_worker-3", line: "route replace blackhole 10.233.64.0/25" }]
 */
export interface DataplaneFaultKind<S extends { kind: string }> extends FaultKindBase<S> {
  stage: "dataplane";
  apply(spec: S, plan: ClusterPlan): NetOp[];
  /** Ops that bring the node back to what the plan says, assuming `apply` ran. */
  revert(spec: S, plan: ClusterPlan): NetOp[];
}

/**
 * One line changed in an inventory file. `file` is relative to the inventory folder with `/`
 * separators; `line` is 1-based; `from` and `to` are the whole line before and after.
 */
export interface InventoryEdit {
  file: string;
  line: number;
  from: string;
  to: string;
}

/** Any fault kind; the registry's element type. */
export type AnyFaultKind = InventoryFaultKind<{ kind: string }> | DataplaneFaultKind<{ kind: string }>;
