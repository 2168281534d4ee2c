import { formatLabelSelector } from "../selectors.js";
import { AGE, NAME, age, col, containerCells, formatLabels, get, num, type Printer } from "./printer.js";

const CONTAINERS = col("Containers", "string", "Names of each container in the template.", 1);
const IMAGES = col("Images", "string", "Images referenced by each container in the template.", 1);
const SELECTOR = col("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", 1);

export const deploymentPrinter: Printer = {
  columns: [
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
    col("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
  ],
  cells(o, now) {
    const [containers, images] = containerCells(get(o, "spec", "template", "spec"));
    return [
      o.metadata.name,
      `${num(get(o, "status", "readyReplicas"))}/${num(get(o, "spec", "replicas"))}`,
      num(get(o, "status", "updatedReplicas")),
      num(get(o, "status", "availableReplicas")),
      age(o.metadata.creationTimestamp, now),
      containers,
      images,
      formatLabelSelector(get(o, "spec", "selector")),
    ];
  },
};

export const replicaSetPrinter: Printer = {
  columns: [
    NAME,
    col("Desired", "integer", "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"),
    col("Current", "integer", "Replicas is the most recently oberved number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"),
    col("Ready", "integer", "The number of ready replicas for this replica set."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
  ],
  cells(o, now) {
    const [containers, images] = containerCells(get(o, "spec", "template", "spec"));
    return [
      o.metadata.name,
      num(get(o, "spec", "replicas")),
      num(get(o, "status", "replicas")),
      num(get(o, "status", "readyReplicas")),
      age(o.metadata.creationTimestamp, now),
      containers,
      images,
      formatLabelSelector(get(o, "spec", "selector")),
    ];
  },
};

export const daemonSetPrinter: Printer = {
  columns: [
    NAME,
    col("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    col("Ready", "integer", "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
    col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    col("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
    col("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
  ],
  cells(o, now) {
    const [containers, images] = containerCells(get(o, "spec", "template", "spec"));
    return [
      o.metadata.name,
      num(get(o, "status", "desiredNumberScheduled")),
      num(get(o, "status", "currentNumberScheduled")),
      num(get(o, "status", "numberReady")),
      num(get(o, "status", "updatedNumberScheduled")),
      num(get(o, "status", "numberAvailable")),
      formatLabels(get(o, "spec", "template", "spec", "nodeSelector")),
      age(o.metadata.creationTimestamp, now),
      containers,
      images,
      formatLabelSelector(get(o, "spec", "selector")),
    ];
  },
};
