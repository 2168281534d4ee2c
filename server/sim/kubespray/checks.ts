import { FaultlineError } from "../../errors.js";
import { type Cidr, formatCidr, overlaps, parseCidr } from "../net/cidr.js";
import type { ResolvedVar } from "./resolve.js";

/**
 * Turning resolved values into typed ones, and the checks that stop a real deployment. Each failure
 * names the line to edit (`origin`) and, when the value arrived through references, the path it took.
 */

/** "kube_pods_subnet" or "calico_pool_cidr (= kube_pods_subnet)" when the value came by reference. */
function subject(v: ResolvedVar): string {
  return v.trail.length > 1 ? `${v.name} (= ${v.trail.slice(1).join(" = ")})` : v.name;
}

function shown(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * A network range as kubespray's `ipaddr('net')` accepts it: IPv4 address/prefix with no host bits,
 * and more than one address (the filter returns nothing for a /32).
 */
export function networkRange(v: ResolvedVar): Cidr {
  const fail = (hint: string) =>
    new FaultlineError(`${v.origin}: ${subject(v)} = '${shown(v.value)}' is not a valid network range`, hint);
  if (typeof v.value !== "string") throw fail("write it as address/prefix, e.g. 10.233.64.0/18");
  let cidr: Cidr;
  try {
    cidr = parseCidr(v.value);
  } catch (err) {
    const hint = err instanceof FaultlineError && err.hint ? err.hint : "write it as address/prefix, e.g. 10.233.64.0/18";
    throw fail(v.value.includes(":") ? `${hint} (the simulator models IPv4 only)` : hint);
  }
  if (cidr.prefix === 32) throw fail("a /32 holds a single address; use a shorter prefix");
  return cidr;
}

/** A whole number the way Ansible's `| int` reads it: a YAML integer or a string of digits. */
export function wholeNumber(v: ResolvedVar, example: string): number {
  const value = v.value;
  const n = typeof value === "number" ? value : typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n)) {
    throw new FaultlineError(`${v.origin}: ${subject(v)} must be a whole number, got ${JSON.stringify(value)}`, `write a number without quotes, e.g. ${example}`);
  }
  return n;
}

export function text(v: ResolvedVar, example: string): string {
  if (typeof v.value !== "string" || v.value.trim() === "") {
    throw new FaultlineError(`${v.origin}: ${subject(v)} must be a non-empty string, got ${JSON.stringify(v.value)}`, `e.g. ${example}`);
  }
  return v.value.trim();
}

/** `v1.2.3`, as kubespray's version comparisons and download URLs expect. */
export function versionString(v: ResolvedVar, example: string): string {
  const s = text(v, example);
  if (!/^v\d+\.\d+\.\d+$/.test(s)) {
    throw new FaultlineError(`${v.origin}: ${subject(v)} = '${s}' is not a version like ${example}`, `write it with the leading v, e.g. ${example}`);
  }
  return s;
}

/** Every value kubespray's "Stop if unknown network plugin" assert has accepted in v2.19..v2.28. */
const KUBESPRAY_PLUGINS = ["calico", "canal", "flannel", "weave", "cloud", "cilium", "cni", "custom_cni", "kube-ovn", "kube-router", "macvlan"];

export function networkPlugin(v: ResolvedVar): string {
  const plugin = text(v, "calico");
  if (!KUBESPRAY_PLUGINS.includes(plugin)) {
    throw new FaultlineError(
      `${v.origin}: ${subject(v)} = '${plugin}': ${plugin} is not supported (kubespray assert "Stop if unknown network plugin")`,
      `use one of ${KUBESPRAY_PLUGINS.join(", ")}; the simulator models calico`,
    );
  }
  if (plugin !== "calico") {
    throw new FaultlineError(`${v.origin}: ${subject(v)} = '${plugin}': the simulator models the Calico network plugin only`, "set kube_network_plugin: calico (kubespray's default)");
  }
  return plugin;
}

/** calico_network_backend: bird (BGP, routes by BIRD), vxlan (routes by Felix) or none (kubespray's values). */
export function networkBackend(v: ResolvedVar): "bird" | "vxlan" | "none" {
  const backend = text(v, "vxlan");
  if (backend !== "bird" && backend !== "vxlan" && backend !== "none") {
    throw new FaultlineError(`${v.origin}: ${subject(v)} = '${backend}': calico_network_backend can only be 'bird', 'vxlan' or 'none'`, "set calico_network_backend: vxlan (kubespray's default) or bird");
  }
  return backend;
}

export function proxyMode(v: ResolvedVar): string {
  const mode = text(v, "ipvs");
  if (mode !== "iptables" && mode !== "ipvs") {
    throw new FaultlineError(`${v.origin}: ${subject(v)} = '${mode}': kube_proxy_mode can only be 'iptables' or 'ipvs' (kubespray assert)`, "set kube_proxy_mode: ipvs (kubespray's default) or iptables");
  }
  return mode;
}

/**
 * kubespray's "Check that kube_pods_subnet does not collide with kube_service_addresses" is
 * `kube_pods_subnet | ipaddr(kube_service_addresses)`, which only fails when the pod subnet lies inside
 * the service range. Ranges that overlap the other way round (services inside the pod subnet) pass that
 * assert but break the cluster (Calico hands out Service IPs to pods); the sim refuses those too and
 * says that it is stricter than kubespray there.
 */
export function checkNoCollision(pods: Cidr, podsVar: ResolvedVar, services: Cidr, servicesVar: ResolvedVar): void {
  if (!overlaps(pods, services)) return;
  const hint = `choose ranges that do not overlap, e.g. kubespray's defaults 10.233.64.0/18 for pods and 10.233.0.0/18 for services`;
  if (pods.prefix >= services.prefix) {
    throw new FaultlineError(
      `${podsVar.origin}: ${subject(podsVar)} ${formatCidr(pods)} lies inside kube_service_addresses ${formatCidr(services)} (${servicesVar.origin}): ` +
        `kube_pods_subnet cannot be the same network segment as kube_service_addresses (kubespray assert)`,
      hint,
    );
  }
  throw new FaultlineError(
    `${servicesVar.origin}: ${subject(servicesVar)} ${formatCidr(services)} lies inside kube_pods_subnet ${formatCidr(pods)} (${podsVar.origin}): ` +
      `pods would get Service addresses (kubespray's own assert only catches the pod subnet inside the service range; the simulator refuses both)`,
    hint,
  );
}

/**
 * kube-controller-manager receives kube_network_node_prefix as --node-cidr-mask-size and splits
 * kube_pods_subnet into per-node ranges; it refuses to start when the node mask is shorter than the
 * cluster mask or more than 16 bits longer. kubespray itself does not assert this with Calico.
 */
export function checkNodePrefix(prefix: number, prefixVar: ResolvedVar, pods: Cidr): void {
  if (prefix < 0 || prefix > 32) {
    throw new FaultlineError(`${prefixVar.origin}: ${subject(prefixVar)} = ${prefix} is not an IPv4 prefix length`, "use a number from 0 to 32; kubespray's default is 24");
  }
  if (prefix < pods.prefix) {
    throw new FaultlineError(
      `${prefixVar.origin}: ${subject(prefixVar)} = ${prefix} is shorter than kube_pods_subnet's /${pods.prefix}: kube-controller-manager cannot split the pod subnet into /${prefix} node ranges`,
      `use a node prefix of at least ${pods.prefix}, or a larger kube_pods_subnet`,
    );
  }
  if (prefix - pods.prefix > 16) {
    throw new FaultlineError(
      `${prefixVar.origin}: ${subject(prefixVar)} = ${prefix} is more than 16 bits longer than kube_pods_subnet's /${pods.prefix}: kube-controller-manager refuses --node-cidr-mask-size ${prefix}`,
      `use a node prefix of at most ${pods.prefix + 16}`,
    );
  }
}

/** kubespray's "Ensure that calico_pool_cidr is within kube_pods_subnet when defined" (calico install.yml). */
export function checkPoolInsidePods(pool: Cidr, poolVar: ResolvedVar, pods: Cidr): void {
  const inside = pool.prefix >= pods.prefix && overlaps(pool, pods);
  if (!inside) {
    throw new FaultlineError(
      `${poolVar.origin}: ${subject(poolVar)} ${formatCidr(pool)} is not within or equal to ${formatCidr(pods)} (kubespray assert in the calico role)`,
      "set calico_pool_cidr inside kube_pods_subnet, or remove it so the pool covers the whole pod subnet",
    );
  }
}

/**
 * Calico validates the IPPool kubespray applies with calicoctl: an IPv4 blockSize is 20..32 and the
 * pool must hold at least one block. A failure stops the "Calico | Configure calico network pool" task.
 */
export function checkBlockSize(blockSize: number, blockVar: ResolvedVar, pool: Cidr): void {
  if (blockSize < 20 || blockSize > 32) {
    throw new FaultlineError(
      `${blockVar.origin}: ${subject(blockVar)} = ${blockSize}: calicoctl rejects the IPPool kubespray applies, an IPv4 blockSize must be 20 to 32`,
      "set calico_pool_blocksize (or, up to kubespray v2.19, kube_network_node_prefix) between 20 and 32",
    );
  }
  if (blockSize < pool.prefix) {
    throw new FaultlineError(
      `${blockVar.origin}: ${subject(blockVar)} = ${blockSize}: the IPPool ${formatCidr(pool)} is smaller than one /${blockSize} block, and calicoctl rejects it`,
      `use a block size of at least ${pool.prefix}, or a larger pool`,
    );
  }
}
