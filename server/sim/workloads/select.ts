/**
 * Which built-in workload a pod runs, decided from the pod alone, and the command line that starts it.
 * The supervisor runs that command inside the pod's network namespace, like the pod's container.
 */
import path from "node:path";

/** The workloads main.js can start. */
export const WORKLOAD_NAMES = ["metallb-webhook", "http-echo"] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** What workloadFor reads from a pod. */
export interface PodIdentity {
  namespace: string;
  name: string;
  labels?: Record<string, string> | undefined;
}

/** A workload and its extra arguments (after `--pod`/`--box`, which the caller adds). */
export interface WorkloadChoice {
  workload: WorkloadName;
  args: string[];
}

/** The compiled entry point: `node <WORKLOAD_MAIN> <workload> --pod <ns>/<name> ...`. */
export const WORKLOAD_MAIN = path.join(import.meta.dirname, "main.js");

/**
 * The built-in workload for a pod, or null when it runs none (it just stays up, like netshoot):
 * MetalLB's controller (namespace metallb-system, label component=controller) serves the validating
 * webhook on 9443, the Service's targetPort; hello-world pods (label app=hello-world) answer HTTP on 8080.
 *
 * @example workloadFor({ namespace: "metallb-system", name: "controller-7d9cf7f8b-x2kqv", labels: { app: "metallb", component: "controller" } })
 * // { workload: "metallb-webhook", args: ["--port", "9443"] }
 */
export function workloadFor(pod: PodIdentity): WorkloadChoice | null {
  const labels = pod.labels ?? {};
  if (pod.namespace === "metallb-system" && labels.component === "controller") return { workload: "metallb-webhook", args: ["--port", "9443"] };
  if (labels.app === "hello-world") return { workload: "http-echo", args: ["--port", "8080"] };
  return null;
}

/**
 * The arguments after `node` that start `pod`'s workload for the sandbox folder `box`, or null when
 * the pod runs none.
 *
 * @example spawn("nsenter", [`--net=/run/netns/${pod.netns}`, "--", process.execPath, ...workloadArgv(pod, box)!])
 */
export function workloadArgv(pod: PodIdentity, box: string): string[] | null {
  const choice = workloadFor(pod);
  if (!choice) return null;
  return [WORKLOAD_MAIN, choice.workload, "--pod", `${pod.namespace}/${pod.name}`, "--box", box, ...choice.args];
}
