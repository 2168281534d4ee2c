/**
 * The admin kubeconfig, shaped like the admin.conf kubespray leaves on a control-plane node (cluster
 * "cluster.local", context "kubernetes-admin@cluster.local"), with CA, certificate and key embedded so it
 * works from any directory and inside any sandbox shell.
 */
import { stringify } from "yaml";
import type { KeyPair } from "./pki.js";

const b64 = (pem: string) => Buffer.from(pem, "utf8").toString("base64");

/**
 * @example kubeconfigYaml("https://127.0.0.1:6443", ca.cert, admin)
 */
export function kubeconfigYaml(server: string, caCert: string, user: KeyPair, clusterName = "cluster.local"): string {
  const context = `kubernetes-admin@${clusterName}`;
  return stringify({
    apiVersion: "v1",
    clusters: [{ cluster: { "certificate-authority-data": b64(caCert), server }, name: clusterName }],
    contexts: [{ context: { cluster: clusterName, user: "kubernetes-admin" }, name: context }],
    "current-context": context,
    kind: "Config",
    preferences: {},
    users: [{ name: "kubernetes-admin", user: { "client-certificate-data": b64(user.cert), "client-key-data": b64(user.key) } }],
  });
}
