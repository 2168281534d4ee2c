/**
 * A Kubernetes-compatible API server for one sim sandbox: HTTPS with a per-instance CA and client
 * certificates, discovery, an in-memory store seeded from the sandbox plan, REST verbs, Table output and
 * watches — enough that the real kubectl cannot tell it from kube-apiserver for what the labs need —
 * plus, in the same process, the scheduler and kube-controller-manager's controllers (controllers/).
 *
 * It is a plain module: it listens wherever it is told (the sandbox runs it in the control-plane
 * namespace on `<cp address>:6443`; tests run it on 127.0.0.1:0) and knows nothing of namespaces.
 *
 * @example
 * const api = await startApiServer({ host: "127.0.0.1", port: 0, plan, certDir, log });
 * writeFileSync(kubeconfigPath, api.kubeconfig(`https://127.0.0.1:${api.port}`));
 * api.store.list("pods", { namespace: "metallb-system" });
 * await api.close();
 */
import { createServer, type Server } from "node:https";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import type { TLSSocket } from "node:tls";
import { FaultlineError, withContext } from "../../errors.js";
import type { Logger } from "../../log.js";
import { release } from "../kubespray/versions.js";
import type { ClusterPlan } from "../plan.js";
import { Admission, type AdmissionOptions } from "./admission.js";
import { startControllers, type ControllerName, type Controllers } from "./controllers/index.js";
import type { Duplex } from "node:stream";
import { handleUpgrade } from "./exec.js";
import { handle, type AuthResult, type HandlerContext } from "./handler.js";
import { kubeconfigYaml } from "./kubeconfig.js";
import { ensurePki, type Pki } from "./pki.js";
import { namespaceDefaults, seedFromPlan } from "./seed.js";
import { isApiError } from "./status.js";
import { Store } from "./store.js";
import type { WatchRegistry } from "./watch.js";

export interface ApiServerOptions {
  /** Address to listen on; an IP here also goes into the serving certificate's SANs. */
  host: string;
  /** 0 picks a free port (tests); the sandbox uses 6443. */
  port: number;
  /** The sandbox plan the cluster state is seeded from. */
  plan: ClusterPlan;
  /** Where the CA, serving and admin certificates live; reused when already there. */
  certDir: string;
  log: Logger;
  /** kube_version as kubespray evaluated it; defaults to the kubespray release's default. */
  kubeVersion?: string;
  /** More names/IPs the serving certificate must cover (e.g. the control plane's address when host is 0.0.0.0). */
  extraSANs?: string[];
  /** Answer aggregated discovery (apidiscovery.k8s.io/v2); default true. False serves plain discovery only. */
  aggregatedDiscovery?: boolean;
  /** creationTimestamp of the seeded objects; default now. */
  createdAt?: Date;
  /** How admission webhooks are reached; default: a Service's ClusterIP from the store, dialed for real. */
  admission?: AdmissionOptions;
  /** Where workloads write `<namespace>_<pod>.log`, served by `kubectl logs`; without it logs are empty. */
  logsDir?: string;
  /** Agent pids by target (`pod/<ns>/<name>`, from <box>/ready.json), for `kubectl exec`; without it exec is refused. */
  agents?: () => Record<string, number>;
  /**
   * The in-process controllers (scheduler, ReplicaSet, Deployment, DaemonSet, Endpoints, EndpointSlice,
   * garbage collector): true (default) runs them all, a list only those, false none (a frozen store).
   */
  controllers?: boolean | ControllerName[];
  /**
   * Leave the controllers' first pass over the seeded objects to `resyncControllers()` (the sandbox's
   * API server process: once it listens, off the way to a ready sandbox). Default: at once.
   */
  deferControllerResync?: boolean;
}

/** A running API server. */
export interface ApiServer {
  /** The port actually listened on. */
  port: number;
  /** An admin kubeconfig (embedded CA, client certificate and key) for a server URL such as https://127.0.0.1:6443. */
  kubeconfig(server: string): string;
  /** The object store behind the REST API, for controllers and grading in the same process. */
  store: Store;
  /** Resolves once the controllers have no work queued (at once when they do not run). */
  settled(): Promise<void>;
  /** The cluster CA certificate (PEM). */
  caCert: string;
  /** Ends watches, closes connections and stops listening. */
  close(): Promise<void>;
}

function defaultKubeVersion(plan: ClusterPlan): string {
  try {
    return release(plan.kubesprayVersion).kubeVersion;
  } catch {
    return "v1.24.6";
  }
}

/** x509 authentication as kube-apiserver does it: a verified certificate is the user (CN) in groups (O). */
function authenticate(req: IncomingMessage): AuthResult {
  const sock = req.socket as TLSSocket;
  const peer = typeof sock.getPeerCertificate === "function" ? sock.getPeerCertificate() : undefined;
  if (!peer || Object.keys(peer).length === 0) return "anonymous";
  if (!sock.authorized) return "invalid";
  const subject = (peer.subject ?? {}) as unknown as Record<string, string | string[] | undefined>;
  const cn = subject.CN;
  const o = subject.O;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name) return "invalid";
  return { name, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] };
}

/**
 * Starts the API server: certificates (created or reused in certDir), the store seeded from the plan,
 * HTTPS listening on host:port. Rejects with a FaultlineError if certificates cannot be made or the
 * address is taken.
 */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  return (await prepareApiServer(opts)).listen();
}

/** An API server with its certificates, seeded store and running controllers, not listening yet. */
export interface PreparedApiServer {
  store: Store;
  /** The cluster CA certificate (PEM). */
  caCert: string;
  /** An admin kubeconfig for a server URL, as ApiServer.kubeconfig. */
  kubeconfig(server: string): string;
  /** Listens on host:port (the address must exist by then). Rejects, stopping the controllers, if it cannot. */
  listen(): Promise<ApiServer>;
  /** The controllers' first pass, when deferControllerResync put it off (Controllers.resync). */
  resyncControllers(): void;
}

/** What the API server holds besides its HTTPS server: certificates, the seeded store, the controllers. */
export interface ClusterState {
  log: Logger;
  pki: Pki;
  kubeVersion: string;
  store: Store;
  controllers: Controllers | undefined;
  /** An admin kubeconfig for a server URL, as ApiServer.kubeconfig. */
  kubeconfig(server: string): string;
}

/**
 * The API server's state without its HTTPS server, which the sandbox's startup snapshot cannot hold
 * (its warm-up runs this: main.ts).
 */
export async function prepareClusterState(
  opts: Pick<ApiServerOptions, "host" | "extraSANs" | "certDir" | "plan" | "log" | "kubeVersion" | "createdAt" | "controllers" | "deferControllerResync">,
): Promise<ClusterState> {
  const log = opts.log.child({ component: "apiserver", sandbox: opts.plan.sandbox });
  const sans = [opts.host, ...(opts.extraSANs ?? [])];
  const pki = await ensurePki(opts.certDir, sans);
  const kubeVersion = opts.kubeVersion ?? defaultKubeVersion(opts.plan);

  const store = new Store({ serviceCidr: opts.plan.serviceCidr, log });
  // the namespace controllers' part: every namespace gets its default ServiceAccount and kube-root-ca.crt
  store.subscribe((e) => {
    if (e.type !== "ADDED" || e.resource.kind !== "Namespace") return;
    const ts = typeof e.object.metadata.creationTimestamp === "string" ? e.object.metadata.creationTimestamp : undefined;
    for (const [type, obj] of namespaceDefaults(e.object.metadata.name!, pki.ca.cert, ts)) {
      try {
        store.create(type, obj, { keepStatus: true });
      } catch (err) {
        if (!isApiError(err) || err.code !== 409) log.warn("apiserver.namespace_defaults_failed", { namespace: e.object.metadata.name, err });
      }
    }
  });
  seedFromPlan(store, opts.plan, { kubeVersion, caCert: pki.ca.cert, createdAt: opts.createdAt ?? new Date() });
  const wanted = opts.controllers ?? true;
  const controllers =
    wanted === false
      ? undefined
      : startControllers(store, {
          log,
          kubeVersion,
          ...(Array.isArray(wanted) ? { only: wanted } : {}),
          ...(opts.deferControllerResync ? { deferResync: true } : {}),
        });
  return { log, pki, kubeVersion, store, controllers, kubeconfig: (url) => kubeconfigYaml(url, pki.ca.cert, pki.admin) };
}

/**
 * Everything of startApiServer but listening: the sandbox's API server process does this while the
 * supervisor is still programming the network, and listens once the control plane's address is up.
 */
export async function prepareApiServer(opts: ApiServerOptions): Promise<PreparedApiServer> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new FaultlineError(`api server port ${opts.port} is not a port number`);
  const { log, pki, kubeVersion, store, controllers, kubeconfig } = await prepareClusterState(opts);

  const watches: WatchRegistry = new Set();
  let port = opts.port;
  const advertised = isIP(opts.host) && opts.host !== "0.0.0.0" && opts.host !== "::" ? opts.host : (opts.extraSANs ?? []).find((s) => isIP(s)) ?? "127.0.0.1";
  const ctx: HandlerContext = {
    store,
    log,
    kubeVersion,
    serverAddress: () => `${advertised}:${port}`,
    authenticate,
    aggregatedDiscovery: opts.aggregatedDiscovery ?? true,
    watches,
    admission: new Admission({ store, log, kubeVersion, ...opts.admission }),
    logsDir: opts.logsDir,
  };

  const server: Server = createServer(
    {
      key: pki.serving.key,
      cert: pki.serving.cert,
      ca: [pki.ca.cert],
      // ask for a client certificate but let the handler decide: no certificate is anonymous, a bad one is 401
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
    },
    (req, res) => {
      void handle(ctx, req, res);
    },
  );
  // any request with an Upgrade header comes here instead of the request handler: kubectl exec's WebSocket
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => handleUpgrade({ store, log, authenticate, agents: opts.agents }, req, socket, head));
  server.on("clientError", (err, socket) => {
    // malformed HTTP: answer like Go's net/http would, then drop the connection
    log.debug("apiserver.client_error", { err });
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request");
    else socket.destroy();
  });
  server.on("tlsClientError", (err) => log.debug("apiserver.tls_error", { err }));
  server.keepAliveTimeout = 65_000;

  const listen = async (): Promise<ApiServer> => {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port, opts.host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      controllers?.stop();
      throw withContext(`api server cannot listen on ${opts.host}:${opts.port}`, err);
    }
    const addr = server.address();
    port = typeof addr === "object" && addr ? addr.port : opts.port;
    server.on("error", (err) => log.error("apiserver.server_error", { err }));
    log.info("apiserver.listening", { host: opts.host, port, kubeVersion });

    return {
      port,
      store,
      settled: () => controllers?.settled() ?? Promise.resolve(),
      caCert: pki.ca.cert,
      kubeconfig,
      close: () =>
        new Promise<void>((resolve) => {
          controllers?.stop();
          for (const w of [...watches]) w.end();
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  };
  return {
    store,
    caCert: pki.ca.cert,
    kubeconfig,
    listen,
    resyncControllers: () => controllers?.resync(),
  };
}

export { Store } from "./store.js";
export type { StoreEvent, ListOptions, ListResult, WatchOptions } from "./store.js";
export { RESOURCE_TYPES, resourceType } from "./resources.js";
export type { ResourceType } from "./resources.js";
export type { KObject } from "./objects.js";
