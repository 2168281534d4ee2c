/**
 * A Store seeded from the flagship plan with the controllers running on it, and what a kubelet would
 * do to a pod (status: Running, an address, Ready), for the controller tests.
 */
import { createLogger } from "../../../../../server/log.js";
import { startControllers, type ControllerName, type Controllers } from "../../../../../server/sim/apiserver/controllers/index.js";
import type { KObject } from "../../../../../server/sim/apiserver/objects.js";
import { seedFromPlan } from "../../../../../server/sim/apiserver/seed.js";
import { Store } from "../../../../../server/sim/apiserver/store.js";
import { flagshipPlan } from "../fixtures.js";

export interface Cluster {
  store: Store;
  controllers: Controllers;
  /** The controllers' clock; `advance` moves it. */
  now: Date;
  advance(seconds: number): void;
  settled(): Promise<void>;
  stop(): void;
}

export const CREATED_AT = new Date("2024-05-01T12:00:00Z");

/** The flagship seed plus controllers (all, or `only`), settled. */
export async function cluster(opts: { only?: ControllerName[]; kubeVersion?: string } = {}): Promise<Cluster> {
  const plan = flagshipPlan();
  const store = new Store({ serviceCidr: plan.serviceCidr });
  seedFromPlan(store, plan, { kubeVersion: opts.kubeVersion ?? "v1.24.6", caCert: "PEM", createdAt: CREATED_AT });
  const c: Cluster = {
    store,
    now: new Date(),
    controllers: undefined as unknown as Controllers,
    advance(seconds) {
      c.now = new Date(c.now.getTime() + seconds * 1000);
    },
    settled: () => c.controllers.settled(),
    stop: () => c.controllers.stop(),
  };
  c.controllers = startControllers(store, { log: createLogger({}, { level: "error" }), kubeVersion: opts.kubeVersion ?? "v1.24.6", now: () => c.now, ...(opts.only ? { only: opts.only } : {}) });
  await c.settled();
  return c;
}

const ts = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** What the kubelet reports once a pod's containers run and pass readiness: PUT pods/status. */
export function markReady(store: Store, pod: KObject, ip: string, at = new Date()): KObject {
  const spec = pod.spec as { containers?: Array<{ name: string; image: string }> };
  const cond = (type: string) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: ts(at) });
  const status = {
    ...(pod.status as Record<string, unknown>),
    phase: "Running",
    conditions: [cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
    hostIP: "192.168.10.11",
    podIP: ip,
    podIPs: [{ ip }],
    startTime: ts(at),
    containerStatuses: (spec.containers ?? []).map((c) => ({ name: c.name, image: c.image, ready: true, restartCount: 0, started: true, state: { running: { startedAt: ts(at) } } })),
  };
  return store.update("pods", { ...pod, status }, { subresource: "status" });
}

/** Marks every pod `select` picks Ready at consecutive addresses from 10.233.66.<first>. */
export function markAllReady(store: Store, namespace: string, select: (p: KObject) => boolean, first = 100): number {
  let n = 0;
  for (const p of store.list("pods", { namespace }).items) {
    if (!select(p) || (p.status as { podIP?: string } | undefined)?.podIP) continue;
    markReady(store, p, `10.233.66.${first + n}`);
    n++;
  }
  return n;
}

export function deployment(name: string, replicas: number, image = "nginx:1.25", extra: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default", labels: { app: name } },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image }] } }, ...extra },
  };
}

export function labelled(app: string): (p: KObject) => boolean {
  return (p) => p.metadata.labels?.app === app;
}

export function eventsFor(store: Store, namespace: string, name: string): KObject[] {
  return store.list("events", { namespace }).items.filter((e) => (e.involvedObject as { name?: string }).name === name);
}

export function messages(events: KObject[], reason?: string): string[] {
  return events.filter((e) => !reason || e.reason === reason).map((e) => String(e.message));
}
