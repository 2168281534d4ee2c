/**
 * What the real registry strategies and default admission plugins do to an object a client creates:
 * defaults, server-owned fields, status reset. Keyed by type; a type without an entry is stored as sent.
 * Internal writers (the plan seed, later the controllers) skip this with `keepStatus`, because they
 * write the state the controllers would have produced.
 */
import { isRecord, type KObject } from "./objects.js";
import { typeKey } from "./resources.js";

export interface StrategyContext {
  /** A free address in the service CIDR, or undefined when it is exhausted. */
  allocateClusterIP(): string | undefined;
}

type Strategy = (obj: KObject, ctx: StrategyContext) => void;

function rec(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = o[key];
  if (isRecord(v)) return v;
  const fresh: Record<string, unknown> = {};
  o[key] = fresh;
  return fresh;
}

function setDefault(o: Record<string, unknown>, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

/** imagePullPolicy as the API defaults it: Always for `:latest` or untagged images, else IfNotPresent. */
export function defaultPullPolicy(image: string): "Always" | "IfNotPresent" {
  const last = image.split("/").pop() ?? image;
  if (image.includes("@")) return "IfNotPresent";
  if (!last.includes(":") || last.endsWith(":latest")) return "Always";
  return "IfNotPresent";
}

function defaultContainers(spec: Record<string, unknown>): void {
  for (const key of ["containers", "initContainers"]) {
    const list = spec[key];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (!isRecord(c)) continue;
      if (typeof c.image === "string") setDefault(c, "imagePullPolicy", defaultPullPolicy(c.image));
      setDefault(c, "resources", {});
      setDefault(c, "terminationMessagePath", "/dev/termination-log");
      setDefault(c, "terminationMessagePolicy", "File");
      if (Array.isArray(c.ports)) for (const p of c.ports) if (isRecord(p)) setDefault(p, "protocol", "TCP");
    }
  }
}

function defaultPodSpec(spec: Record<string, unknown>): void {
  defaultContainers(spec);
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "securityContext", {});
  setDefault(spec, "schedulerName", "default-scheduler");
}

const STRATEGIES: Record<string, Strategy> = {
  namespaces(obj) {
    // the NamespaceDefaultLabelName feature (GA in 1.22): every namespace carries its own name as a label
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kubernetes.io/metadata.name": obj.metadata.name ?? "" };
    const spec = rec(obj, "spec");
    setDefault(spec, "finalizers", ["kubernetes"]);
    obj.status = { phase: "Active" };
  },
  pods(obj) {
    const spec = rec(obj, "spec");
    defaultPodSpec(spec);
    setDefault(spec, "serviceAccountName", "default");
    spec.serviceAccount = spec.serviceAccountName;
    setDefault(spec, "enableServiceLinks", true);
    setDefault(spec, "priority", 0);
    setDefault(spec, "preemptionPolicy", "PreemptLowerPriority");
    // DefaultTolerationSeconds admission plugin
    const tolerations = Array.isArray(spec.tolerations) ? (spec.tolerations as unknown[]) : [];
    for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
      if (!tolerations.some((t) => isRecord(t) && t.key === key)) tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
    }
    spec.tolerations = tolerations;
    obj.status = { phase: "Pending", qosClass: "BestEffort" };
  },
  services(obj, ctx) {
    const spec = rec(obj, "spec");
    setDefault(spec, "type", "ClusterIP");
    setDefault(spec, "sessionAffinity", "None");
    if (spec.type !== "ExternalName") {
      if (spec.clusterIP === undefined || spec.clusterIP === "") {
        const ip = ctx.allocateClusterIP();
        if (ip) spec.clusterIP = ip;
      }
      if (typeof spec.clusterIP === "string") spec.clusterIPs = [spec.clusterIP];
      setDefault(spec, "ipFamilies", ["IPv4"]);
      setDefault(spec, "ipFamilyPolicy", "SingleStack");
      setDefault(spec, "internalTrafficPolicy", "Cluster");
    }
    if (Array.isArray(spec.ports)) {
      for (const p of spec.ports) {
        if (!isRecord(p)) continue;
        setDefault(p, "protocol", "TCP");
        setDefault(p, "targetPort", p.port);
      }
    }
    obj.status = { loadBalancer: {} };
  },
  secrets(obj) {
    setDefault(obj, "type", "Opaque");
  },
  "deployments.apps"(obj) {
    const spec = rec(obj, "spec");
    setDefault(spec, "replicas", 1);
    const strategy = rec(spec, "strategy");
    setDefault(strategy, "type", "RollingUpdate");
    if (strategy.type === "RollingUpdate") setDefault(strategy, "rollingUpdate", { maxUnavailable: "25%", maxSurge: "25%" });
    setDefault(spec, "revisionHistoryLimit", 10);
    setDefault(spec, "progressDeadlineSeconds", 600);
    const tpl = rec(spec, "template");
    defaultPodSpec(rec(tpl, "spec"));
    obj.status = {};
  },
  "replicasets.apps"(obj) {
    const spec = rec(obj, "spec");
    setDefault(spec, "replicas", 1);
    defaultPodSpec(rec(rec(spec, "template"), "spec"));
    obj.status = { replicas: 0 };
  },
  "daemonsets.apps"(obj) {
    // spec.templateGeneration, which apps/v1 carries as this annotation: 1 for a new DaemonSet
    obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), "deprecated.daemonset.template.generation": "1" };
    const spec = rec(obj, "spec");
    const strategy = rec(spec, "updateStrategy");
    setDefault(strategy, "type", "RollingUpdate");
    if (strategy.type === "RollingUpdate") setDefault(strategy, "rollingUpdate", { maxUnavailable: 1, maxSurge: 0 });
    setDefault(spec, "revisionHistoryLimit", 10);
    defaultPodSpec(rec(rec(spec, "template"), "spec"));
    obj.status = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
  },
  "customresourcedefinitions.apiextensions.k8s.io"(obj) {
    obj.status = { conditions: [], acceptedNames: { kind: "", plural: "" }, storedVersions: [] };
  },
};

/** Applies the create-time strategy of `type` (plural.group) to `obj` in place. */
export function prepareForCreate(type: { plural: string; group: string }, obj: KObject, ctx: StrategyContext): void {
  STRATEGIES[typeKey(type)]?.(obj, ctx);
}
