import path from "node:path";

/**
 * The files of a sandbox's box (the folder owned by the sandbox's own id), declared once for the host
 * driver, the supervisor and the API server process. Dependency-free, so the API server's start-up
 * does not load the lab and fault schemas for it.
 */
export interface BoxPaths {
  box: string;
  spec: string;
  plan: string;
  vars: string;
  ready: string;
  faults: string;
  controlSock: string;
  traineeSock: string;
  apiserverSock: string;
  workspace: string;
  homes: string;
  etc: string;
  pki: string;
  logs: string;
  /** The built-in workloads' unix sockets (short: a socket path must fit in 108 bytes). */
  workloadSockets: string;
  /** A node's /etc/kubernetes. */
  kubernetes(node: string): string;
  /** The admin kubeconfig the API server writes on the control plane. */
  adminConf(controlPlane: string): string;
}

export function boxPaths(box: string): BoxPaths {
  const kubernetes = (node: string) => path.join(box, "kubernetes", node);
  return {
    box,
    spec: path.join(box, "spec.json"),
    plan: path.join(box, "plan.json"),
    vars: path.join(box, "vars.json"),
    ready: path.join(box, "ready.json"),
    faults: path.join(box, "faults.json"),
    controlSock: path.join(box, "control.sock"),
    traineeSock: path.join(box, "trainee.sock"),
    apiserverSock: path.join(box, "apiserver.sock"),
    workspace: path.join(box, "workspace"),
    homes: path.join(box, "home"),
    etc: path.join(box, "etc"),
    pki: path.join(box, "pki"),
    logs: path.join(box, "logs"),
    workloadSockets: path.join(box, "w"),
    kubernetes,
    adminConf: (cp) => path.join(kubernetes(cp), "admin.conf"),
  };
}
