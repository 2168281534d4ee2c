/**
 * The official client's dynamic objects API, with what checks and the evaluator need on top: an
 * AbortSignal per call (a check's time limit), the collection path of a kind (for watches), and the
 * translation of the client's errors into "not found" / "could not check" with a readable reason.
 */
import { Agent, type AgentOptions } from "node:https";
import { createSecureContext, type SecureContext } from "node:tls";
import { ApiException, KubeConfig, KubernetesObjectApi, type KubernetesObject, type RequestContext } from "@kubernetes/client-node";
import { CouldNotCheck } from "./types.js";

/**
 * A KubeConfig whose connections are cheap to make and to keep. client-node makes a new agent for
 * every request, so a new TLS context (the key, certificate and CA parsed again: ~5 ms of CPU) and a
 * new connection each time; an evaluator per session, re-checking every few seconds, pays that over
 * and over, and most when the host is busy. Here requests share one keep-alive agent (idle connections
 * close after `idleMs`, so nothing lingers once checks stop), and every connection, watches' included,
 * uses one TLS context made once. Watches keep a connection each, as the client makes them.
 */
export class SharedAgentKubeConfig extends KubeConfig {
  #secure: SecureContext | null = null;
  #requests: Agent | null = null;
  #watches: Agent | null = null;

  constructor(readonly idleMs = 30_000) {
    super();
  }

  /** The options of an agent the client made, with the TLS context made once; null for a proxy agent. */
  #options(made: unknown): AgentOptions | null {
    if (!(made instanceof Agent) || made.constructor !== Agent) return null;
    const o = made.options;
    this.#secure ??= createSecureContext({ ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase });
    return { ...o, secureContext: this.#secure };
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const options = this.#options(context.getAgent());
    if (!options) return;
    this.#requests ??= new Agent({ ...options, keepAlive: true, timeout: this.idleMs });
    context.setAgent(this.#requests);
  }

  override async applyToFetchOptions(opts: Parameters<KubeConfig["applyToFetchOptions"]>[0]): ReturnType<KubeConfig["applyToFetchOptions"]> {
    const init = await super.applyToFetchOptions(opts);
    const options = this.#options(init.agent);
    if (options) init.agent = this.#watches ??= new Agent(options);
    return init;
  }

  /** Closes the agents' connections (idle ones close by themselves after `idleMs`). */
  destroy(): void {
    this.#requests?.destroy();
    this.#watches?.destroy();
    this.#requests = this.#watches = null;
  }
}

/** KubernetesObjectApi plus a per-call signal and the collection path of a kind. */
export class ObjectsApi extends KubernetesObjectApi {
  /** For a KubeConfig, with the current context's namespace as the default, like the base class. */
  static forConfig(kc: KubeConfig): ObjectsApi {
    const api = kc.makeApiClient(ObjectsApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  /** The same client (and discovery cache) whose requests abort with `signal`. */
  withSignal(signal: AbortSignal): ObjectsApi {
    // Shares this client's configuration and discovery cache; the signal is kept in a side table.
    const bound = Object.create(this) as ObjectsApi;
    signals.set(bound, signal);
    return bound;
  }

  /** `/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools`; all namespaces without one. */
  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    return this.specUriPath({ apiVersion, kind, metadata: namespace ? { namespace } : {} }, "list");
  }

  protected override requestPromise<T extends KubernetesObject>(requestContext: RequestContext, type?: string, options?: Parameters<KubernetesObjectApi["create"]>[4]): Promise<T> {
    const signal = signals.get(this);
    if (signal) requestContext.setSignal(signal as never);
    return super.requestPromise<T>(requestContext, type, options);
  }
}

const signals = new WeakMap<object, AbortSignal>();

/** An admin KubeConfig and objects API from kubeconfig text. */
export function kubeHandleFromString(kubeconfig: string): { config: SharedAgentKubeConfig; objects: ObjectsApi } {
  const config = new SharedAgentKubeConfig();
  config.loadFromString(kubeconfig);
  return { config, objects: ObjectsApi.forConfig(config) };
}

/** The HTTP status of a client error (ApiException), or undefined for network and other errors. */
export function httpStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? (err.code as number) : undefined;
}

/** True when the API server does not serve the kind at all (no such group/version, or no such kind in it). */
export function isUnknownKind(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : "";
  return /^Unrecognized API version and kind/.test(msg) || (/^Failed to fetch resource metadata/.test(msg) && httpStatus(err) === 404);
}

/** The `message` of a Kubernetes Status in an ApiException's body, if there is one. */
function statusMessage(err: ApiException<unknown>): string | undefined {
  const body = err.body;
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      return typeof parsed.message === "string" ? parsed.message : body.slice(0, 200) || undefined;
    } catch {
      return body.slice(0, 200) || undefined;
    }
  }
  if (body && typeof body === "object" && typeof (body as { message?: unknown }).message === "string") return (body as { message: string }).message;
  return undefined;
}

/** A system error code (ECONNREFUSED, ECONNRESET, ...) anywhere in the cause chain. */
function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    const errno = (e as { errno?: unknown }).errno;
    if (typeof errno === "string" && /^E[A-Z]+$/.test(errno)) return errno;
  }
  return undefined;
}

/**
 * The "could not check" for an error of the client that is not an answer about the object: the API
 * server unreachable (with the system error), refusing us (401/403), failing (5xx), or anything else.
 */
export function apiUnavailable(err: unknown): CouldNotCheck {
  if (err instanceof CouldNotCheck) return err;
  const status = httpStatus(err);
  if (status !== undefined) {
    const msg = statusMessage(err as ApiException<unknown>);
    return new CouldNotCheck(`the API server answered ${status}${msg ? `: ${msg}` : ""}`, { cause: err });
  }
  const code = errorCode(err);
  if (code) return new CouldNotCheck(`API server unreachable (${code})`, { cause: err });
  if (err instanceof Error && (err.name === "AbortError" || /aborted/i.test(err.message))) {
    return new CouldNotCheck("the API server did not answer in time", { cause: err });
  }
  return new CouldNotCheck(`API request failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`, { cause: err });
}
