/**
 * List-then-watch of one resource, like client-go's reflector: a full list, then a watch from the list's
 * resourceVersion; when the watch ends (server closed it, 410 Gone, the API server restarted) it lists
 * again after a short pause and reports what changed in between as events. The consumer sees one
 * ordered stream of ADDED/MODIFIED/DELETED with whole objects, and `synced` once after every list.
 */
import type { KubeClient } from "./kubeclient.js";

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export type InformerEvent = "ADDED" | "MODIFIED" | "DELETED";

export interface InformerOptions {
  /** A list path, e.g. `/api/v1/pods` or `/apis/discovery.k8s.io/v1/endpointslices`. */
  path: string;
  onEvent(type: InformerEvent, obj: KubeObject): void;
  /** After each (re-)list has been delivered. */
  onSynced?(): void;
  /** A list or watch failed; the informer retries by itself. */
  onError?(err: Error): void;
  /** Pause before re-listing after a failure (ms); default 200. */
  retryMs?: number;
}

export interface Informer {
  /** The current objects by `<namespace>/<name>` (or `<name>` when cluster-scoped). */
  readonly cache: ReadonlyMap<string, KubeObject>;
  /** Resolves after the first list has been delivered. */
  readonly synced: Promise<void>;
  stop(): void;
}

export function objectKey(o: { metadata: { name: string; namespace?: string | undefined } }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export function startInformer(client: KubeClient, opts: InformerOptions): Informer {
  const cache = new Map<string, KubeObject>();
  let stopped = false;
  let abort: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;
  let markSynced: () => void = () => {};
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  const sep = opts.path.includes("?") ? "&" : "?";

  const retry = (err: Error | undefined) => {
    if (stopped) return;
    if (err) opts.onError?.(err);
    timer = setTimeout(() => void list(), opts.retryMs ?? 200);
  };

  const apply = (type: InformerEvent, obj: KubeObject) => {
    const key = objectKey(obj);
    if (type === "DELETED") {
      if (!cache.delete(key)) return;
    } else {
      const had = cache.has(key);
      cache.set(key, obj);
      type = had ? "MODIFIED" : "ADDED";
    }
    opts.onEvent(type, obj);
  };

  const list = async (): Promise<void> => {
    if (stopped) return;
    let res;
    try {
      res = await client.get(opts.path, 10_000);
    } catch (e) {
      return retry(e as Error);
    }
    const body = res.body as { items?: KubeObject[]; metadata?: { resourceVersion?: string } } | undefined;
    if (res.status !== 200 || !body || !Array.isArray(body.items)) return retry(new Error(`GET ${opts.path}: HTTP ${res.status}`));
    if (stopped) return;
    const seen = new Set<string>();
    for (const item of body.items) {
      seen.add(objectKey(item));
      const old = cache.get(objectKey(item));
      if (!old || old.metadata.resourceVersion !== item.metadata.resourceVersion) apply("ADDED", item);
    }
    for (const [key, old] of [...cache]) if (!seen.has(key)) apply("DELETED", old);
    opts.onSynced?.();
    markSynced();
    const rv = body.metadata?.resourceVersion ?? "";
    abort = client.stream(
      `${opts.path}${sep}watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}`,
      (line) => {
        let ev: { type?: string; object?: KubeObject };
        try {
          ev = JSON.parse(line) as { type?: string; object?: KubeObject };
        } catch {
          return;
        }
        if (ev.type === "ADDED" || ev.type === "MODIFIED" || ev.type === "DELETED") {
          if (ev.object?.metadata?.name) apply(ev.type, ev.object);
        } else if (ev.type === "ERROR") {
          // 410 Gone and friends: the watch cannot continue from here; the stream end triggers a re-list.
          abort?.();
        }
      },
      (err) => {
        abort = null;
        retry(err);
      },
    );
  };
  void list();
  return {
    cache,
    synced,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      abort?.();
    },
  };
}

type Subscriber = Pick<InformerOptions, "onEvent" | "onError">;
interface Shared {
  informer: Informer;
  subscribers: Set<Subscriber>;
  /** The first list has been delivered: a new subscriber is owed what the cache holds. */
  synced: boolean;
}

/**
 * Informers shared among the components of one process, as client-go's SharedInformerFactory shares
 * them among a binary's controllers: one list and one watch per path however many follow it (the
 * kubelet and Felix both follow every pod). Each subscriber gets every event; one that subscribes after
 * the first list gets what the cache holds as ADDED events first, as a handler added to a running
 * client-go informer does. The list and watch stop when the last subscriber stops.
 */
export class SharedInformers {
  readonly #client: KubeClient;
  readonly #byPath = new Map<string, Shared>();

  constructor(client: KubeClient) {
    this.#client = client;
  }

  subscribe(path: string, sub: Subscriber): Informer {
    const entry = this.#byPath.get(path) ?? this.#start(path);
    if (entry.synced) {
      // Not at once: the subscriber is still being set up while subscribe() runs. A microtask runs
      // before any further watch event is read, so the order of events is kept.
      queueMicrotask(() => {
        if (!entry.subscribers.has(sub)) return;
        for (const obj of entry.informer.cache.values()) sub.onEvent("ADDED", obj);
      });
    }
    entry.subscribers.add(sub);
    return {
      cache: entry.informer.cache,
      synced: entry.informer.synced,
      stop: () => {
        if (!entry.subscribers.delete(sub) || entry.subscribers.size) return;
        entry.informer.stop();
        if (this.#byPath.get(path) === entry) this.#byPath.delete(path);
      },
    };
  }

  #start(path: string): Shared {
    const subscribers = new Set<Subscriber>();
    const informer = startInformer(this.#client, {
      path,
      onEvent: (type, obj) => {
        for (const s of [...subscribers]) s.onEvent(type, obj);
      },
      onError: (err) => {
        for (const s of [...subscribers]) s.onError?.(err);
      },
      // called from the list's callback, never during startInformer(), so `entry` exists by then
      onSynced: () => (entry.synced = true),
    });
    const entry: Shared = { informer, subscribers, synced: false };
    this.#byPath.set(path, entry);
    return entry;
  }
}
