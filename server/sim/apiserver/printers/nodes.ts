import { AGE, NAME, age, arr, col, get, text, type Printer } from "./printer.js";

function address(o: unknown, type: string): string {
  const a = arr(get(o, "status", "addresses")).find((x) => get(x, "type") === type);
  return text(get(a, "address")) || "<none>";
}

/** findNodeRoles: `node-role.kubernetes.io/<role>` labels and the legacy `kubernetes.io/role` label. */
function roles(labels: Record<string, string> | undefined): string {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k.startsWith("node-role.kubernetes.io/")) {
      const r = k.slice("node-role.kubernetes.io/".length);
      if (r) out.add(r);
    } else if (k === "kubernetes.io/role" && v) out.add(v);
  }
  return [...out].sort().join(",") || "<none>";
}

/** printNode: STATUS from the Ready condition (+SchedulingDisabled), ROLES from labels. */
export const nodePrinter: Printer = {
  columns: [
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node."),
    col("Internal-IP", "string", "List of internal IPs in the node", 1),
    col("External-IP", "string", "List of external IPs in the node", 1),
    col("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
    col("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
    col("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1),
  ],
  cells(o, now) {
    const status: string[] = [];
    const readyCond = arr(get(o, "status", "conditions")).find((c) => get(c, "type") === "Ready");
    if (readyCond) status.push(get(readyCond, "status") === "True" ? "Ready" : "NotReady");
    if (status.length === 0) status.push("Unknown");
    if (get(o, "spec", "unschedulable") === true) status.push("SchedulingDisabled");
    const info = get(o, "status", "nodeInfo");
    return [
      o.metadata.name,
      status.join(","),
      roles(o.metadata.labels),
      age(o.metadata.creationTimestamp, now),
      text(get(info, "kubeletVersion")),
      address(o, "InternalIP"),
      address(o, "ExternalIP"),
      text(get(info, "osImage")) || "<unknown>",
      text(get(info, "kernelVersion")) || "<unknown>",
      text(get(info, "containerRuntimeVersion")) || "<unknown>",
    ];
  },
};
