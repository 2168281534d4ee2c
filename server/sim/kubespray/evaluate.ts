import { stat } from "node:fs/promises";
import { FaultlineError } from "../../errors.js";
import { formatCidr } from "../net/cidr.js";
import {
  checkBlockSize,
  checkNoCollision,
  checkNodePrefix,
  checkPoolInsidePods,
  networkPlugin,
  networkRange,
  networkBackend,
  proxyMode,
  text,
  versionString,
  wholeNumber,
} from "./checks.js";
import { EVALUATED_ORDER, roleDefaults } from "./defaults.js";
import { suggest } from "./did-you-mean.js";
import { loadGroupVars, type VarOccurrence } from "./group-vars.js";
import { referencedNames } from "./jinja.js";
import { KNOWN_VARS, isReadByKubespray } from "./known-vars.js";
import { Resolver, type ResolvedVar } from "./resolve.js";
import { release } from "./versions.js";

export { formatVars } from "./format.js";

/**
 * Where an effective value came from.
 *
 * @example { kind: "file", file: "inventory/group_vars/k8s_cluster/k8s-cluster.yml", line: 4, column: 19 }
 * @example { kind: "default", version: "v2.19" } // shown as "kubespray v2.19 default"
 */
export type VarSource =
  | { kind: "file"; file: string; line: number; column: number }
  | { kind: "default"; version: string };

/**
 * One variable as kubespray will use it.
 *
 * @example { name: "calico_pool_blocksize", value: 24, source: { kind: "default", version: "v2.19" }, derivedFrom: "kube_network_node_prefix" }
 */
export interface EffectiveVar {
  name: string;
  value: unknown;
  source: VarSource;
  /** Derived from another var, e.g. calico_pool_blocksize <- kube_network_node_prefix in v2.19. */
  derivedFrom?: string;
}

/**
 * A variable set in group_vars that kubespray never reads: Ansible accepts it without a word.
 *
 * @example { name: "kube_network_pod_prefix", value: 25, file: "group_vars/k8s_cluster/k8s-cluster.yml", line: 9, column: 26, didYouMean: "kube_network_node_prefix" }
 */
export interface IgnoredVar {
  name: string;
  value: unknown;
  file: string;
  line: number;
  column: number;
  /** Closest variable kubespray reads, if any (edit distance). */
  didYouMean?: string;
}

/** What kubespray would deploy from an inventory, with the provenance of every value. */
export interface InventoryEvaluation {
  /** Normalized, e.g. "v2.19". */
  kubesprayVersion: string;
  /** The Calico version that will be installed: `calico_version`, by default the release's own (v2.19: "v3.22.3"). */
  calicoVersion: string;
  /** Every evaluated variable (see defaults.ts), then every other kubespray variable the inventory sets, as written. */
  vars: Record<string, EffectiveVar>;
  /** Set in group_vars but not read by kubespray, in the order Ansible loads them. */
  ignored: IgnoredVar[];
  /** kube_pods_subnet. */
  podsSubnet: string;
  /** kube_service_addresses. */
  serviceAddresses: string;
  /** kube_network_node_prefix. */
  nodePrefix: number;
  /** blockSize of the Calico IPPool kubespray creates. */
  blockSize: number;
  /** cidr of that IPPool: calico_pool_cidr, by default kube_pods_subnet. */
  poolCidr: string;
  /** Who programs the pod routes: BIRD (`proto bird`) or Felix in VXLAN mode (`proto 80`). */
  calicoBackend: "bird" | "vxlan" | "none";
}

/**
 * Evaluates a kubespray inventory the way Ansible and kubespray `version` would: role defaults, then
 * `group_vars/all`, then `group_vars/k8s_cluster` (and the legacy `k8s-cluster`), later files winning;
 * whole-value references resolved; kubespray's own asserts (and Calico's IPPool validation) applied.
 * Pure file reading: no kernel, no network.
 *
 * Throws a FaultlineError whose message starts with the file:line:col to edit (or "kubespray vX
 * default") for malformed YAML, wrong types, templating the sim cannot evaluate and failed asserts; and
 * for an unsupported version, listing the supported ones.
 *
 * @param displayRoot file names in results and errors are shown relative to this folder.
 * @example
 * const ev = await evaluateInventory("labs/webhook/inventory", "v2.19");
 * ev.blockSize; // 24 when kube_network_node_prefix is not set
 */
export async function evaluateInventory(inventoryDir: string, kubesprayVersion: string, opts: { displayRoot?: string } = {}): Promise<InventoryEvaluation> {
  const rel = release(kubesprayVersion);
  const dirStat = await stat(inventoryDir).catch(() => undefined);
  if (!dirStat?.isDirectory()) {
    throw new FaultlineError(`inventory folder ${inventoryDir} does not exist`, "point the lab at a folder that holds group_vars/ (and usually hosts.yaml)");
  }
  const occurrences = await loadGroupVars(inventoryDir, opts.displayRoot);
  const resolver = new Resolver(roleDefaults(rel), rel.version, occurrences);
  const r = (name: string) => resolver.resolve(name);

  // In the order kubespray checks them (preinstall asserts, then the calico role), so the first
  // failure reported is the one a real run would stop at.
  const plugin = networkPlugin(r("kube_network_plugin"));
  const kubeVersion = versionString(r("kube_version"), rel.kubeVersion);
  const servicesVar = r("kube_service_addresses");
  const services = networkRange(servicesVar);
  const podsVar = r("kube_pods_subnet");
  const pods = networkRange(podsVar);
  checkNoCollision(pods, podsVar, services, servicesVar);
  const mode = proxyMode(r("kube_proxy_mode"));
  const backend = networkBackend(r("calico_network_backend"));
  // kube-controller-manager and kubelet settings are checked when those components start.
  const prefixVar = r("kube_network_node_prefix");
  const nodePrefix = wholeNumber(prefixVar, "kube_network_node_prefix: 25");
  checkNodePrefix(nodePrefix, prefixVar, pods);
  const maxPods = wholeNumber(r("kubelet_max_pods"), "kubelet_max_pods: 110");
  const calicoVersion = versionString(r("calico_version"), rel.calicoVersion);
  const poolVar = r("calico_pool_cidr");
  const pool = networkRange(poolVar);
  checkPoolInsidePods(pool, poolVar, pods);
  const blockVar = r("calico_pool_blocksize");
  const blockSize = wholeNumber(blockVar, "calico_pool_blocksize: 26");
  checkBlockSize(blockSize, blockVar, pool);

  const typed: Record<string, unknown> = {
    kube_pods_subnet: formatCidr(pods),
    kube_network_node_prefix: nodePrefix,
    calico_pool_cidr: formatCidr(pool),
    calico_pool_blocksize: blockSize,
    kube_service_addresses: formatCidr(services),
    kube_network_plugin: plugin,
    kube_proxy_mode: mode,
    calico_network_backend: backend,
    kubelet_max_pods: maxPods,
    calico_version: calicoVersion,
    kube_version: kubeVersion,
    cluster_name: text(r("cluster_name"), "cluster.local"),
    dns_domain: text(r("dns_domain"), "cluster.local"),
  };
  const vars: Record<string, EffectiveVar> = {};
  for (const name of EVALUATED_ORDER) vars[name] = effective(r(name), typed[name]);

  const winners = lastOccurrences(occurrences);
  const used = usedNames(resolver, winners);
  // Other kubespray variables the inventory sets: shown as written, since the sim does not model them.
  for (const o of winners.values()) {
    if (o.name in vars || !isReadByKubespray(o.name)) continue;
    vars[o.name] = { name: o.name, value: o.value, source: { kind: "file", file: o.file, line: o.line, column: o.column } };
  }
  const ignored: IgnoredVar[] = [];
  for (const o of winners.values()) {
    if (isReadByKubespray(o.name) || used.has(o.name)) continue;
    const close = suggest(o.name, KNOWN_VARS);
    ignored.push({ name: o.name, value: o.value, file: o.file, line: o.line, column: o.column, ...(close ? { didYouMean: close } : {}) });
  }

  return {
    kubesprayVersion: rel.version,
    calicoVersion,
    vars,
    ignored,
    podsSubnet: formatCidr(pods),
    serviceAddresses: formatCidr(services),
    nodePrefix,
    blockSize,
    poolCidr: formatCidr(pool),
    calicoBackend: backend,
  };
}

function effective(v: ResolvedVar, value: unknown): EffectiveVar {
  return { name: v.name, value, source: v.source, ...(v.derivedFrom ? { derivedFrom: v.derivedFrom } : {}) };
}

/**
 * The occurrence that wins for each name (the last one loaded), keyed in the order names first
 * appear: Ansible's load order, which is also the order a reader meets them in the files.
 */
function lastOccurrences(occurrences: readonly VarOccurrence[]): Map<string, VarOccurrence> {
  // Map.set on an existing key keeps its position, so the key order stays "first seen".
  const last = new Map<string, VarOccurrence>();
  for (const o of occurrences) last.set(o.name, o);
  return last;
}

/**
 * Inventory variables something reads: those resolved through references, and those any template in
 * a kubespray variable's value mentions (followed transitively), so `my_prefix: 25` used as
 * `kube_network_node_prefix: "{{ my_prefix }}"` is not reported as ignored.
 */
function usedNames(resolver: Resolver, winners: ReadonlyMap<string, VarOccurrence>): Set<string> {
  const used = new Set(resolver.referenced);
  const queue = [...winners.keys()].filter((n) => isReadByKubespray(n) || used.has(n));
  while (queue.length > 0) {
    const name = queue.pop()!;
    for (const ref of referencedNames(winners.get(name)?.value)) {
      if (!used.has(ref) && winners.has(ref)) {
        used.add(ref);
        queue.push(ref);
      }
    }
  }
  return used;
}
