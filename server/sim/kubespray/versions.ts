import { FaultlineError } from "../../errors.js";

/**
 * What changes between the kubespray releases the sim models. One row per minor release: a patch
 * release ("v2.19.1") is evaluated with its minor release's row, because the values below did not
 * change within a release branch in ways the sim depends on.
 *
 * Sources, per column:
 * - `blockSizeDefault`: up to v2.19 kubespray has no default for `calico_pool_blocksize` and templates
 *   the IPPool with `calico_pool_blocksize | default(kube_network_node_prefix)`
 *   (roles/network_plugin/calico/tasks/install.yml); v2.20.0 added `calico_pool_blocksize: 26` to the
 *   Calico defaults (kubespray issue #9382, which quotes the commit; later releases keep it in
 *   roles/network_plugin/calico_defaults/defaults/main.yml).
 * - `calicoVersion`, `kubeVersion`: the `calico_version` / `kube_version` defaults each release ships
 *   (its README "Supported Components" list and release notes).
 */
export interface KubesprayRelease {
  /** Normalized "v2.19". */
  version: string;
  /** `calico_pool_blocksize` when the inventory does not set it. */
  blockSizeDefault: "kube_network_node_prefix" | number;
  /** Calico that release installs unless `calico_version` is overridden. */
  calicoVersion: string;
  /** Kubernetes that release installs unless `kube_version` is overridden. */
  kubeVersion: string;
}

export const RELEASES: readonly KubesprayRelease[] = [
  { version: "v2.19", blockSizeDefault: "kube_network_node_prefix", calicoVersion: "v3.22.3", kubeVersion: "v1.23.7" },
  { version: "v2.20", blockSizeDefault: 26, calicoVersion: "v3.23.3", kubeVersion: "v1.24.6" },
  { version: "v2.21", blockSizeDefault: 26, calicoVersion: "v3.24.5", kubeVersion: "v1.25.6" },
  { version: "v2.22", blockSizeDefault: 26, calicoVersion: "v3.25.1", kubeVersion: "v1.26.5" },
  { version: "v2.23", blockSizeDefault: 26, calicoVersion: "v3.25.2", kubeVersion: "v1.27.5" },
  { version: "v2.24", blockSizeDefault: 26, calicoVersion: "v3.26.4", kubeVersion: "v1.28.5" },
  { version: "v2.25", blockSizeDefault: 26, calicoVersion: "v3.27.3", kubeVersion: "v1.29.5" },
  { version: "v2.26", blockSizeDefault: 26, calicoVersion: "v3.28.1", kubeVersion: "v1.30.4" },
  { version: "v2.27", blockSizeDefault: 26, calicoVersion: "v3.29.1", kubeVersion: "v1.31.4" },
  { version: "v2.28", blockSizeDefault: 26, calicoVersion: "v3.29.3", kubeVersion: "v1.32.5" },
];

export const SUPPORTED_VERSIONS: readonly string[] = RELEASES.map((r) => r.version);

/**
 * Accepts "2.19", "v2.19", "v2.19.1", "2.19.0" and returns the release row for "v2.19".
 * Anything else is a FaultlineError that lists what the sim supports.
 *
 * @example release("v2.19.1").version === "v2.19"
 */
export function release(input: string): KubesprayRelease {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?$/.exec(String(input).trim());
  const normalized = m ? `v${Number(m[1])}.${Number(m[2])}` : undefined;
  const found = RELEASES.find((r) => r.version === normalized);
  if (!found) {
    throw new FaultlineError(
      `kubespray version "${input}" is not supported by the simulator`,
      `use one of ${SUPPORTED_VERSIONS.join(", ")} (a patch release such as v2.19.1 counts as v2.19)`,
    );
  }
  return found;
}
