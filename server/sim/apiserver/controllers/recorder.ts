/**
 * Events as the controllers record them, in the two shapes a v1.24 cluster stores (the same shapes
 * seed/events.ts uses for the start-up events):
 * - kube-controller-manager's controllers use client-go's core/v1 recorder: `source.component`,
 *   first/lastTimestamp and `count`; an identical event again bumps count and lastTimestamp of the
 *   same object (the EventCorrelator's dedup);
 * - the scheduler uses the events.k8s.io/v1 recorder: `eventTime` (microseconds), `action`,
 *   reportingComponent/Instance and null timestamps; an identical event again becomes a `series`.
 * Names are `<object>.<hex nanoseconds>`. Recording never fails the caller: an event that cannot be
 * written (its namespace is going away) is logged at debug and dropped, as a real recorder drops it.
 */
import type { Logger } from "../../../log.js";
import { timestamp, type KObject } from "../objects.js";
import type { Store } from "../store.js";

export type EventType = "Normal" | "Warning";

/** RFC 3339 with microseconds, as metav1.MicroTime marshals. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class EventRecorder {
  private seq = 0;
  /** dedup key -> `namespace/name` of the event that stands for it */
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly now: () => Date,
    private readonly log: Logger,
  ) {}

  /** core/v1 event from a kube-controller-manager controller (`source.component`, e.g. replicaset-controller). */
  event(component: string, obj: KObject, type: EventType, reason: string, message: string): void {
    const ts = timestamp(this.now());
    this.record(["v1", component, type, reason, message], obj, reason, message, (e) => ({ ...e, count: (typeof e.count === "number" ? e.count : 1) + 1, lastTimestamp: ts }), {
      source: { component },
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: "",
    });
  }

  /** events.k8s.io/v1 event (the scheduler's): `action` and `note`, reported by controller/instance. */
  eventV1(reporting: { controller: string; instance: string }, obj: KObject, type: EventType, reason: string, action: string, note: string): void {
    const message = note.length > 1024 ? note.slice(0, 1021) + "..." : note;
    const at = microTime(this.now());
    const series = (e: KObject) => {
      const prev = e.series as { count?: unknown } | undefined;
      return { ...e, series: { count: typeof prev?.count === "number" ? prev.count + 1 : 2, lastObservedTime: at } };
    };
    this.record(["events.k8s.io", reporting.controller, type, reason, action, message], obj, reason, message, series, {
      source: {},
      firstTimestamp: null,
      lastTimestamp: null,
      type,
      eventTime: at,
      action,
      reportingComponent: reporting.controller,
      reportingInstance: reporting.instance,
    });
  }

  /**
   * Records an event about `obj`: the one already recorded for the same `identity` is changed by
   * `again`, else a new one is created with the common fields plus `fields`.
   */
  private record(identity: string[], obj: KObject, reason: string, message: string, again: (e: KObject) => KObject, fields: Record<string, unknown>): void {
    const involved = reference(obj);
    const namespace = obj.metadata.namespace ?? "default";
    const key = [...identity, namespace, involved.kind, involved.name, involved.uid].join("\0");
    if (this.bump(key, namespace, again)) return;
    this.create(key, { apiVersion: "v1", kind: "Event", metadata: { name: this.name(obj), namespace }, involvedObject: involved, reason, message, ...fields });
  }

  private name(obj: KObject): string {
    const nanos = BigInt(this.now().getTime()) * 1_000_000n + BigInt(this.seq++ % 1_000_000);
    return `${obj.metadata.name}.${nanos.toString(16)}`;
  }

  /** Updates the event recorded for `key` if it still exists; false if there is none. */
  private bump(key: string, namespace: string, change: (e: KObject) => KObject): boolean {
    const name = this.seen.get(key);
    if (!name) return false;
    const existing = this.store.tryGet("events", namespace, name);
    if (!existing) {
      this.seen.delete(key);
      return false;
    }
    try {
      this.store.update("events", change(existing), { keepStatus: true });
      return true;
    } catch (err) {
      this.log.debug("controller.event_update_failed", { event: name, err });
      return false;
    }
  }

  private create(key: string, ev: KObject): void {
    try {
      const created = this.store.create("events", ev, { keepStatus: true });
      if (this.seen.size > 5000) this.seen.clear();
      this.seen.set(key, created.metadata.name!);
    } catch (err) {
      this.log.debug("controller.event_dropped", { reason: ev.reason, err });
    }
  }
}

/** ref.GetReference: the involvedObject of an event about `o`. */
function reference(o: KObject): Record<string, string> {
  return {
    kind: o.kind,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    name: o.metadata.name ?? "",
    uid: o.metadata.uid ?? "",
    apiVersion: o.apiVersion,
    resourceVersion: o.metadata.resourceVersion ?? "",
  };
}
