/**
 * kube-controller-manager and kube-scheduler inside the API server process: the controllers a lab
 * cluster needs, each a module here, all reading and writing the Store directly.
 *
 * | module              | upstream                               |
 * |---------------------|----------------------------------------|
 * | scheduler.ts        | kube-scheduler (default profile)       |
 * | replicaset.ts       | replicaset controller                  |
 * | deployment.ts       | deployment controller                  |
 * | daemonset.ts        | daemonset controller                   |
 * | endpoints.ts        | endpoints controller                   |
 * | endpointslice.ts    | endpointslice controller               |
 * | garbagecollector.ts | garbage collector                      |
 *
 * The namespace controller's work is the store's own (deleting a namespace removes everything in it,
 * store.ts), and every namespace's default ServiceAccount and kube-root-ca.crt come from the API
 * server (index.ts), so neither is here.
 *
 * Every controller sees each store event synchronously, queues the keys it concerns, and reconciles
 * them on a later turn (queue.ts): bursts coalesce per key, a controller's own writes come back as
 * events and find nothing left to do, and nothing is written that did not change. A freshly seeded
 * cluster is already what the controllers would have made: starting them on it writes nothing.
 *
 * @example
 * const controllers = startControllers(store, { log, kubeVersion: "v1.24.6" });
 * store.create("deployments.apps", deployment);
 * await controllers.settled();   // ReplicaSet created, pods created and bound
 * controllers.stop();
 */
import type { Logger } from "../../../log.js";
import type { Store } from "../store.js";
import type { Controller, ControllerContext } from "./context.js";
import { daemonSetController } from "./daemonset.js";
import { deploymentController } from "./deployment.js";
import { endpointsController } from "./endpoints.js";
import { endpointSliceController } from "./endpointslice.js";
import { garbageCollector } from "./garbagecollector.js";
import { WorkQueue } from "./queue.js";
import { EventRecorder } from "./recorder.js";
import { replicaSetController } from "./replicaset.js";
import { schedulerController } from "./scheduler.js";

const FACTORIES = {
  garbagecollector: garbageCollector,
  scheduler: schedulerController,
  deployment: deploymentController,
  replicaset: replicaSetController,
  daemonset: daemonSetController,
  endpoints: endpointsController,
  endpointslice: endpointSliceController,
} satisfies Record<string, (ctx: ControllerContext) => Controller>;

export type ControllerName = keyof typeof FACTORIES;
export const CONTROLLER_NAMES = Object.keys(FACTORIES) as ControllerName[];

export interface ControllerOptions {
  log: Logger;
  /** kube_version of the cluster; default v1.24.6. */
  kubeVersion?: string;
  now?: () => Date;
  /** Run only these (tests); default all. */
  only?: ControllerName[];
  /**
   * Leave the first full pass over the existing objects to a later `resync()` call (the sandbox's API
   * server: after it listens). Events are handled from the start either way.
   */
  deferResync?: boolean;
}

export interface Controllers {
  /** Unsubscribes from the store and drops queued work and timers. */
  stop(): void;
  /** Resolves once no controller has work queued (timed retries, such as progress deadlines, not counted). */
  settled(): Promise<void>;
  /**
   * Queues every existing object for its controllers, as their informers' first list does; done by
   * startControllers unless deferResync. Later calls do nothing.
   */
  resync(): void;
}

/** The node the control plane runs on (for the scheduler's reportingInstance), or the first node. */
function controlPlaneNode(store: Store): string {
  const nodes = store.list("nodes").items;
  const cp = nodes.find((n) => n.metadata.labels?.["node-role.kubernetes.io/control-plane"] !== undefined) ?? nodes[0];
  return cp?.metadata.name ?? "localhost";
}

export function startControllers(store: Store, opts: ControllerOptions): Controllers {
  const log = opts.log.child({ component: "controllers" });
  const now = opts.now ?? (() => new Date());
  const queues: WorkQueue[] = [];
  const ctx: ControllerContext = {
    store,
    log,
    now,
    recorder: new EventRecorder(store, now, log),
    kubeVersion: opts.kubeVersion ?? "v1.24.6",
    schedulerInstance: `default-scheduler-${controlPlaneNode(store)}`,
    queue(name, sync) {
      const q = new WorkQueue(name, sync, log);
      queues.push(q);
      return q;
    },
  };
  const names = opts.only ?? CONTROLLER_NAMES;
  const controllers = CONTROLLER_NAMES.filter((n) => names.includes(n)).map((n) => FACTORIES[n](ctx));
  const unsubscribe = store.subscribe((e) => {
    for (const c of controllers) {
      try {
        c.observe(e);
      } catch (err) {
        log.warn("controller.observe_failed", { controller: c.name, err });
      }
    }
  });
  // What events rely on (the garbage collector's index of owners) is built at once; the first pass,
  // which queues every existing object, finds nothing to do on a freshly seeded store (see above) but
  // costs ~50 ms of CPU: the sandbox's API server runs it once it listens.
  for (const c of controllers) c.index?.();
  let resynced = false;
  const resync = () => {
    if (resynced) return;
    resynced = true;
    for (const c of controllers) c.start();
  };
  if (!opts.deferResync) resync();
  log.debug("controllers.started", { controllers: controllers.map((c) => c.name), resync: resynced ? "done" : "deferred" });
  return {
    resync,
    stop() {
      resynced = true; // a resync after stop() would queue work nobody runs
      unsubscribe();
      for (const q of queues) q.stop();
    },
    async settled() {
      // a bounded number of turns: a key that keeps coming back is slowed down by its queue, not waited for
      for (let i = 0; i < 10_000; i++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (!queues.some((q) => q.busy())) return;
      }
    },
  };
}

export type { Controller, ControllerContext } from "./context.js";
