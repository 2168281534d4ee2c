/**
 * What every controller gets from startControllers, and what it offers back: an `observe` hook that
 * sees every store event synchronously (it may only queue keys there, never write: other listeners,
 * watches among them, have not seen the event yet) and a `start` that queues everything it owns.
 */
import type { Logger } from "../../../log.js";
import type { Store, StoreEvent } from "../store.js";
import { WorkQueue } from "./queue.js";
import type { EventRecorder } from "./recorder.js";

export interface ControllerContext {
  store: Store;
  recorder: EventRecorder;
  log: Logger;
  now(): Date;
  /** kube_version of the cluster ("v1.24.6"): texts that changed between versions follow it. */
  kubeVersion: string;
  /** The scheduler's reportingInstance: `default-scheduler-<control-plane node>`. */
  schedulerInstance: string;
  /** A work queue registered with the manager (so `settled()` waits for it). */
  queue(name: string, sync: (key: string) => void): WorkQueue;
}

export interface Controller {
  readonly name: string;
  observe(e: StoreEvent): void;
  /** Builds what observe() relies on from the objects already stored; called before any event. */
  index?(): void;
  /** Queues every existing object it manages, as an informer's first list does (Controllers.resync). */
  start(): void;
}
