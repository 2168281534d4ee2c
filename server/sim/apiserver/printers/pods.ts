import { AGE, NAME, age, arr, col, get, num, text, type Printer } from "./printer.js";

/** printPod: READY, STATUS as the kubelet state reads, RESTARTS with "(x ago)". */
export const podPrinter: Printer = {
  columns: [
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    AGE,
    col("IP", "string", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1),
    col("Node", "string", "NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the scheduler simply schedules this pod onto that node, assuming that it fits resource requirements.", 1),
    col("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.", 1),
    col("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates", 1),
  ],
  cells(o, now) {
    const spec = o.spec;
    const status = o.status;
    let restarts = 0;
    const total = arr(get(spec, "containers")).length;
    let ready = 0;
    let lastRestart = 0;
    let reason = text(get(status, "phase"));
    if (text(get(status, "reason"))) reason = text(get(status, "reason"));

    let initializing = false;
    const inits = arr(get(status, "initContainerStatuses"));
    const initTotal = arr(get(spec, "initContainers")).length;
    for (let i = 0; i < inits.length; i++) {
      const c = inits[i];
      restarts += num(get(c, "restartCount"));
      const term = get(c, "state", "terminated");
      const waiting = get(c, "state", "waiting");
      if (term && num(get(term, "exitCode")) === 0) continue;
      if (term) {
        const r = text(get(term, "reason"));
        reason = r ? `Init:${r}` : num(get(term, "signal")) ? `Init:Signal:${num(get(term, "signal"))}` : `Init:ExitCode:${num(get(term, "exitCode"))}`;
      } else if (waiting && text(get(waiting, "reason")) && text(get(waiting, "reason")) !== "PodInitializing") {
        reason = `Init:${text(get(waiting, "reason"))}`;
      } else {
        reason = `Init:${i}/${initTotal}`;
      }
      initializing = true;
      break;
    }
    if (!initializing) {
      restarts = 0;
      let hasRunning = false;
      const cs = arr(get(status, "containerStatuses"));
      for (let i = cs.length - 1; i >= 0; i--) {
        const c = cs[i];
        restarts += num(get(c, "restartCount"));
        const finished = Date.parse(text(get(c, "lastState", "terminated", "finishedAt")));
        if (!Number.isNaN(finished) && finished > lastRestart) lastRestart = finished;
        const waiting = get(c, "state", "waiting");
        const term = get(c, "state", "terminated");
        if (waiting && text(get(waiting, "reason"))) reason = text(get(waiting, "reason"));
        else if (term && text(get(term, "reason"))) reason = text(get(term, "reason"));
        else if (term) reason = num(get(term, "signal")) ? `Signal:${num(get(term, "signal"))}` : `ExitCode:${num(get(term, "exitCode"))}`;
        else if (get(c, "ready") === true && get(c, "state", "running")) {
          hasRunning = true;
          ready++;
        }
      }
      if (reason === "Completed" && hasRunning) {
        const readyCond = arr(get(status, "conditions")).some((c) => get(c, "type") === "Ready" && get(c, "status") === "True");
        reason = readyCond ? "Running" : "NotReady";
      }
    }
    if (o.metadata.deletionTimestamp && text(get(status, "reason")) === "NodeLost") reason = "Unknown";
    else if (o.metadata.deletionTimestamp) reason = "Terminating";

    const restartText = lastRestart ? `${restarts} (${age(new Date(lastRestart).toISOString(), now)} ago)` : String(restarts);
    const podIP = text(get(status, "podIPs", 0, "ip")) || text(get(status, "podIP")) || "<none>";
    const gates = arr(get(spec, "readinessGates"));
    let gatesText = "<none>";
    if (gates.length) {
      const conds = arr(get(status, "conditions"));
      const trueGates = gates.filter((g) => conds.some((c) => get(c, "type") === get(g, "conditionType") && get(c, "status") === "True")).length;
      gatesText = `${trueGates}/${gates.length}`;
    }
    return [
      o.metadata.name,
      `${ready}/${total}`,
      reason,
      restartText,
      age(o.metadata.creationTimestamp, now),
      podIP,
      text(get(spec, "nodeName")) || "<none>",
      text(get(status, "nominatedNodeName")) || "<none>",
      gatesText,
    ];
  },
};
