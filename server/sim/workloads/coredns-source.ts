/**
 * What the CoreDNS workload knows about the cluster: Services and their endpoints, as the kubernetes
 * plugin's informers hold them, read from the sandbox API server with the admin kubeconfig.
 *
 * CoreDNS watches; this source re-lists when its view is older than `maxAgeMs` (1 s) at the time of a
 * query, so an object created with kubectl resolves within a second, and nothing is fetched while
 * nobody asks. A failed list keeps the last good view, as an informer keeps its cache, and logs a
 * reflector-style error. EndpointSlices (discovery.k8s.io/v1) are read when the API serves them,
 * Endpoints otherwise — CoreDNS 1.8.6 decides the same way, and logs the same line when it falls back.
 */
import { kubeClient, loadKubeconfig, type KubeClient, type KubeResponse } from "./kubeclient.js";
import type { LineSink } from "./golog.js";

/** A Service port as DNS sees it. */
export interface DnsPort {
  name: string;
  port: number;
  protocol: string;
}

export interface DnsService {
  namespace: string;
  name: string;
  /** `ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName`. */
  type: string;
  /** Empty for headless Services (`clusterIP: None`) and ExternalName. */
  clusterIPs: string[];
  headless: boolean;
  externalName?: string | undefined;
  ports: DnsPort[];
}

export interface DnsEndpointAddress {
  ip: string;
  /** `hostname` of the endpoint (StatefulSet pods behind a headless Service). */
  hostname?: string | undefined;
}

/** One Endpoints subset or one EndpointSlice: ready addresses and their ports, for one Service. */
export interface DnsEndpoints {
  namespace: string;
  service: string;
  addresses: DnsEndpointAddress[];
  ports: DnsPort[];
}

/** The cluster as the kubernetes plugin's cache holds it. */
export interface ClusterView {
  services: DnsService[];
  endpoints: DnsEndpoints[];
  /** Unix seconds of the last change seen: the SOA serial. */
  modified: number;
}

/** Where the workload gets its view; `undefined` until the first successful sync. */
export interface ClusterSource {
  view(): Promise<ClusterView | undefined>;
  close(): void;
}

/** A fixed view (tests, or a caller that keeps it current itself through `set`). */
export function staticClusterSource(initial: Omit<ClusterView, "modified"> & { modified?: number }): ClusterSource & { set(v: Omit<ClusterView, "modified">): void } {
  let v: ClusterView = { modified: Math.floor(Date.now() / 1000), ...initial };
  return {
    view: () => Promise.resolve(v),
    set: (next) => (v = { ...next, modified: Math.floor(Date.now() / 1000) }),
    close: () => {},
  };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

function portsOf(list: unknown): DnsPort[] {
  return arr(list).map((p) => {
    const o = obj(p);
    return { name: str(o.name), port: typeof o.port === "number" ? o.port : 0, protocol: str(o.protocol) || "TCP" };
  });
}

/** CoreDNS's object.ToService: ClusterIPs (or ClusterIP), headless when `None`, ExternalName kept. */
export function serviceFromApi(item: unknown): DnsService {
  const meta = obj(obj(item).metadata);
  const spec = obj(obj(item).spec);
  const clusterIP = str(spec.clusterIP);
  const ips = arr(spec.clusterIPs).map(str).filter(Boolean);
  const type = str(spec.type) || "ClusterIP";
  const headless = clusterIP === "None";
  return {
    namespace: str(meta.namespace),
    name: str(meta.name),
    type,
    clusterIPs: headless || type === "ExternalName" ? [] : ips.length ? ips : clusterIP ? [clusterIP] : [],
    headless,
    externalName: type === "ExternalName" ? str(spec.externalName) : undefined,
    ports: portsOf(spec.ports),
  };
}

/** Endpoints subsets (ready addresses only, as CoreDNS ignores notReadyAddresses). */
export function endpointsFromApi(item: unknown): DnsEndpoints[] {
  const meta = obj(obj(item).metadata);
  return arr(obj(item).subsets).map((s) => ({
    namespace: str(meta.namespace),
    service: str(meta.name),
    addresses: arr(obj(s).addresses).map((a) => ({ ip: str(obj(a).ip), hostname: str(obj(a).hostname) || undefined })),
    ports: portsOf(obj(s).ports),
  }));
}

/** An EndpointSlice (CoreDNS's EndpointSliceToEndpoints: endpoints with `ready: false` left out). */
export function endpointSliceFromApi(item: unknown): DnsEndpoints {
  const meta = obj(obj(item).metadata);
  const addresses: DnsEndpointAddress[] = [];
  for (const e of arr(obj(item).endpoints)) {
    const ready = obj(obj(e).conditions).ready;
    if (ready === false) continue;
    for (const ip of arr(obj(e).addresses)) addresses.push({ ip: str(ip), hostname: str(obj(e).hostname) || undefined });
  }
  return { namespace: str(meta.namespace), service: str(obj(meta.labels)["kubernetes.io/service-name"]), addresses, ports: portsOf(obj(item).ports) };
}

/** Go's wording of a failed request, as client-go's reflector logs it. */
function goError(err: unknown, url: string): string {
  const e = err as { code?: string; address?: string; port?: number; path?: string; message?: string };
  const msg = e?.message ?? String(err);
  if (msg.startsWith("Get ")) return msg;
  const addr = e.address ? `${e.address}:${e.port ?? ""}` : new URL(url).host;
  const dial: Record<string, string> = {
    ECONNREFUSED: "connect: connection refused",
    EHOSTUNREACH: "connect: no route to host",
    ENETUNREACH: "connect: network is unreachable",
    ETIMEDOUT: "i/o timeout",
  };
  if (e.code && dial[e.code]) return `Get "${url}": dial tcp ${addr}: ${dial[e.code]}`;
  if (e.code === "ENOENT" && e.path) return `open ${e.path}: no such file or directory`;
  return `Get "${url}": ${msg}`;
}

/** Options of {@link apiClusterSource}. */
export interface ApiSourceOptions {
  /** The admin kubeconfig (re-read when it changes). */
  kubeconfig: string;
  /** Re-list when the view is older than this at a query; default 1000 ms. */
  maxAgeMs?: number;
  /** CoreDNS-style log lines (`[INFO] plugin/kubernetes: ...`). */
  log?: LineSink;
  /** Request timeout per list; default 5000 ms. */
  timeoutMs?: number;
  /** Injected client (tests). */
  client?: KubeClient;
  /** Injected clock (ms). */
  now?: () => number;
}

const RELIST_LOG_EVERY_MS = 30_000;
const REFLECTOR = "pkg/mod/k8s.io/client-go@v0.22.2/tools/cache/reflector.go:167";

/**
 * A source that lists Services and EndpointSlices (or Endpoints) from the API server, at most once per
 * `maxAgeMs`, sharing one list among concurrent queries. One source can serve several CoreDNS pods.
 */
export function apiClusterSource(opts: ApiSourceOptions): ClusterSource {
  const client = opts.client ?? kubeClient(opts.kubeconfig);
  const maxAge = opts.maxAgeMs ?? 1000;
  const timeout = opts.timeoutMs ?? 5000;
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => {});
  let current: ClusterView | undefined;
  let fetchedAt = -Infinity;
  let fingerprint = "";
  let inflight: Promise<void> | undefined;
  let slices: boolean | undefined;
  let lastError = { text: "", at: -Infinity };
  let closed = false;

  const server = (): string => {
    try {
      return loadKubeconfig(opts.kubeconfig).server.replace(/\/$/, "");
    } catch {
      return "https://kubernetes.default.svc";
    }
  };

  const list = async (path: string, what: string): Promise<unknown[]> => {
    let res: KubeResponse;
    try {
      res = await client.get(path, timeout);
    } catch (err) {
      // the informer's initial list, as client-go's reflector requests it
      throw new Error(`Failed to watch *${what}: failed to list *${what}: ${goError(err, `${server()}${path}?limit=500&resourceVersion=0`)}`);
    }
    if (res.status !== 200) {
      const message = str(obj(res.body).message) || `the server responded with status ${res.status}`;
      throw new Error(`Failed to watch *${what}: failed to list *${what}: ${message}`);
    }
    return arr(obj(res.body).items);
  };

  const refresh = async (): Promise<void> => {
    try {
      if (slices === undefined) {
        const res = await client.get("/apis/discovery.k8s.io/v1", timeout).catch(() => undefined);
        if (res?.status === 200) slices = true;
        else if (res?.status === 404) {
          slices = false;
          log("[INFO] plugin/kubernetes: Endpointslices API disabled. Watching Endpoints instead.");
        }
      }
      const [svcItems, epItems] = await Promise.all([
        list("/api/v1/services", "v1.Service"),
        slices ? list("/apis/discovery.k8s.io/v1/endpointslices", "v1.EndpointSlice") : list("/api/v1/endpoints", "v1.Endpoints"),
      ]);
      const services = svcItems.map(serviceFromApi);
      const endpoints = slices ? epItems.map(endpointSliceFromApi) : epItems.flatMap(endpointsFromApi);
      const fp = JSON.stringify([services, endpoints]);
      const t = now();
      if (fp !== fingerprint || !current) {
        fingerprint = fp;
        current = { services, endpoints, modified: Math.floor(t / 1000) };
      }
      fetchedAt = t;
      lastError = { text: "", at: -Infinity };
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      const t = now();
      if (text !== lastError.text || t - lastError.at >= RELIST_LOG_EVERY_MS) {
        lastError = { text, at: t };
        log(`[ERROR] plugin/kubernetes: ${REFLECTOR}: ${text}`);
      }
      // try again at the next query, but not more often than maxAge
      fetchedAt = t;
    }
  };

  return {
    view: async () => {
      if (!closed && now() - fetchedAt >= maxAge) {
        inflight ??= refresh().finally(() => (inflight = undefined));
        await inflight;
      }
      return current;
    },
    close: () => {
      closed = true;
    },
  };
}
