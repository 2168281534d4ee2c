/**
 * Dynamic admission: the MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins of
 * kube-apiserver, reading MutatingWebhookConfiguration and ValidatingWebhookConfiguration objects
 * (admissionregistration.k8s.io/v1) from the store and calling the webhooks they name over the network.
 *
 * What a request goes through, in the real order: mutating webhooks one after the other (JSONPatch
 * answers applied; no reinvocation), then the registry's own defaulting and validation, then every
 * matching validating webhook in parallel, then the write. Matching follows
 * k8s.io/apiserver/pkg/admission/plugin/webhook: rules (operations, apiGroups, apiVersions, resources
 * with `*` and subresources, scope), namespaceSelector, objectSelector; the webhook configurations
 * themselves are never sent to webhooks, so a broken webhook can always be deleted.
 *
 * Failures are worded exactly like kube-apiserver's: a webhook that cannot be called fails the request
 * with 500 InternalError `Internal error occurred: failed calling webhook "<name>": failed to call
 * webhook: Post "https://<svc>.<ns>.svc:443/<path>?timeout=10s": <Go error>` (unless failurePolicy is
 * Ignore), a denial carries the webhook's own status (`admission webhook "<name>" denied the request:
 * <message>`). The HTTP side is in admission-client.ts, the AdmissionReview format in admission-review.ts.
 *
 * The handler uses this through `admittingStore`: the store's create/update/delete, made asynchronous
 * and admitted. Writes made directly on the Store (seed, controllers, grading) are not admitted, like
 * writes a real cluster's etcd would take without the API server.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect as netConnect } from "node:net";
import type { Logger } from "../../log.js";
import { goPathJoin, goQuote, goTlsVerifyPrefix, GoError, interpretReply, joinHostPort, parseCaBundle, postJson, UrlError, type Dialer, type WebhookTarget } from "./admission-client.js";
import { admissionReview, InvalidResponseError, reviewVersionFor, toStatusErr, verifyAdmissionResponse, type AdmissionAttributes, type AdmissionOperation } from "./admission-review.js";
import type { AuthResult } from "./handler.js";
import { isRecord, type KObject } from "./objects.js";
import { selectorMatches, type Selector } from "./selectors.js";
import { jsonPatch } from "./patch.js";
import { groupVersion, mustResourceType, RESOURCE_TYPES, type ResourceType } from "./resources.js";
import { ApiError, badRequest, invalid, isApiError, type Status } from "./status.js";
import type { DeletePreconditions, Store, TypeRef, UpdateOptions, WriteOptions } from "./store.js";

export type { AdmissionAttributes, AdmissionOperation } from "./admission-review.js";
export type { Dialer } from "./admission-client.js";

/**
 * Where the API server connects for a webhook's Service: `{host, port}` to dial, or a thrown Error whose
 * message is the Go text (`service "x" not found`). The default reads the Service from the store and
 * answers its ClusterIP, as kube-apiserver's ClusterIP service resolver does.
 */
export type ServiceResolver = (namespace: string, name: string, port: number) => { host: string; port: number };

/** Injection points, for tests and for running outside a sandbox. */
export interface AdmissionOptions {
  /** Default: the Service's ClusterIP and port from the store (the kernel's DNAT does the rest in a sandbox). */
  resolveService?: ServiceResolver;
  /** Default: `net.connect`. Tests point a ClusterIP at a local port here, so error texts keep the ClusterIP. */
  dial?: Dialer;
  /** Clock for certificate validity checks; default the system clock. */
  now?: () => Date;
}

/** What an Admission needs: the store its configurations and Services live in, a logger, the served version. */
export interface AdmissionConfig extends AdmissionOptions {
  store: Store;
  log: Logger;
  /** The served Kubernetes version: decides the Go-version-dependent wording of TLS errors. */
  kubeVersion: string;
}

interface Rule {
  operations: string[];
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  scope: string;
}


/** One webhook of a configuration, with the v1 defaults applied (what the real defaulting would have stored). */
export interface Webhook {
  configuration: string;
  name: string;
  mutating: boolean;
  clientConfig: { url?: string; service?: { namespace: string; name: string; path?: string; port: number }; caBundle: string };
  rules: Rule[];
  failurePolicy: string;
  matchPolicy: string;
  namespaceSelector: Selector | undefined;
  objectSelector: Selector | undefined;
  sideEffects: string | undefined;
  timeoutSeconds: number;
  admissionReviewVersions: string[];
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Reads the webhooks of one configuration object, applying the v1 defaults (admissionregistration/v1/defaults.go). */
export function webhooksOf(config: KObject, mutating: boolean): Webhook[] {
  const list = Array.isArray(config.webhooks) ? config.webhooks : [];
  const out: Webhook[] = [];
  for (const w of list) {
    if (!isRecord(w)) continue;
    const cc = isRecord(w.clientConfig) ? w.clientConfig : {};
    const svc = isRecord(cc.service) ? cc.service : undefined;
    const timeout = typeof w.timeoutSeconds === "number" && Number.isFinite(w.timeoutSeconds) ? Math.trunc(w.timeoutSeconds) : 10;
    out.push({
      configuration: config.metadata.name ?? "",
      name: str(w.name) ?? "",
      mutating,
      clientConfig: {
        ...(str(cc.url) !== undefined ? { url: str(cc.url)! } : {}),
        ...(svc
          ? { service: { namespace: str(svc.namespace) ?? "", name: str(svc.name) ?? "", ...(str(svc.path) !== undefined ? { path: str(svc.path)! } : {}), port: typeof svc.port === "number" && svc.port > 0 ? svc.port : 443 } }
          : {}),
        caBundle: str(cc.caBundle) ?? "",
      },
      rules: (Array.isArray(w.rules) ? w.rules : []).filter(isRecord).map((r) => ({
        operations: strings(r.operations),
        apiGroups: strings(r.apiGroups),
        apiVersions: strings(r.apiVersions),
        resources: strings(r.resources),
        scope: str(r.scope) ?? "*",
      })),
      failurePolicy: str(w.failurePolicy) ?? "Fail",
      matchPolicy: str(w.matchPolicy) ?? "Equivalent",
      namespaceSelector: isRecord(w.namespaceSelector) ? (w.namespaceSelector as Selector) : undefined,
      objectSelector: isRecord(w.objectSelector) ? (w.objectSelector as Selector) : undefined,
      sideEffects: str(w.sideEffects),
      // the API only admits 1..30; anything else stored here is clamped into that range
      timeoutSeconds: Math.min(30, Math.max(1, timeout)),
      admissionReviewVersions: strings(w.admissionReviewVersions),
    });
  }
  return out;
}

function exactOrWildcard(items: string[], requested: string): boolean {
  return items.some((i) => i === "*" || i === requested);
}

/** rules.Matcher.Matches: scope, operation, group, version, resource/subresource. */
export function ruleMatches(rule: Rule, attr: Pick<AdmissionAttributes, "operation" | "type" | "subresource" | "namespace">): boolean {
  const isNamespaces = attr.type.group === "" && attr.type.plural === "namespaces";
  switch (rule.scope) {
    case "*":
      break;
    case "Namespaced":
      if (isNamespaces || attr.namespace === "") return false;
      break;
    case "Cluster":
      if (!(isNamespaces || attr.namespace === "")) return false;
      break;
    default:
      return false;
  }
  if (!rule.operations.some((op) => op === "*" || op === attr.operation)) return false;
  if (!exactOrWildcard(rule.apiGroups, attr.type.group)) return false;
  if (!exactOrWildcard(rule.apiVersions, attr.type.version)) return false;
  return rule.resources.some((r) => {
    const slash = r.indexOf("/");
    const [res, sub] = slash >= 0 ? [r.slice(0, slash), r.slice(slash + 1)] : [r, ""];
    return (res === "*" || res === attr.type.plural) && (sub === "*" || sub === attr.subresource);
  });
}

/** The webhook configurations themselves are exempt, or no one could remove a broken webhook. */
function isExempt(t: ResourceType): boolean {
  return t.group === "admissionregistration.k8s.io" && (t.kind === "ValidatingWebhookConfiguration" || t.kind === "MutatingWebhookConfiguration");
}

/** apierrors.NewInternalError(err), with the JSON it marshals to (cause without empty fields). */
function internalErr(message: string): ApiError {
  const status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `Internal error occurred: ${message}`, reason: "InternalError", details: { causes: [{ message }] }, code: 500 };
  return new ApiError(status as unknown as Status);
}

/** webhookutil.ErrCallingWebhook: the webhook could not be asked. failurePolicy decides what it means. */
export class CallingWebhookError extends Error {
  constructor(readonly webhook: string, readonly reason: string) {
    super(`failed calling webhook ${goQuote(webhook)}: ${reason}`);
    this.name = "CallingWebhookError";
  }
}

/** The ClusterIP service resolver of kube-apiserver (k8s.io/apiserver/pkg/util/proxy ResolveCluster). */
export function clusterIPResolver(store: Store): ServiceResolver {
  return (namespace, name, port) => {
    const svc = store.tryGet("services", namespace, name);
    // the lister's NotFound for the "service" resource
    if (!svc) throw new GoError(`service ${goQuote(name)} not found`);
    const spec = isRecord(svc.spec) ? svc.spec : {};
    const type = str(spec.type) ?? "ClusterIP";
    const clusterIP = str(spec.clusterIP) ?? "";
    if (type === "ClusterIP" && clusterIP === "None") throw new GoError(`cannot route to service with ClusterIP "None"`);
    if (type === "ClusterIP" || type === "LoadBalancer" || type === "NodePort") {
      const ports = Array.isArray(spec.ports) ? spec.ports.filter(isRecord) : [];
      if (!ports.some((p) => p.port === port)) throw new GoError(`no service port ${port} found for service ${goQuote(name)}`);
      return { host: clusterIP, port };
    }
    if (type === "ExternalName") return { host: str(spec.externalName) ?? "", port };
    throw new GoError(`unsupported service type ${goQuote(type)}`);
  };
}

const defaultDial: Dialer = (host, port) => netConnect({ host, port });

/**
 * The two webhook admission plugins of one API server.
 *
 * @example
 * const admission = new Admission({ store, log, kubeVersion: "v1.24.6" });
 * const obj = await admission.mutate(attr);          // mutating webhooks, patches applied
 * await admission.validate({ ...attr, object: obj }); // validating webhooks, in parallel
 */
export class Admission {
  private readonly resolveService: ServiceResolver;
  private readonly dial: Dialer;
  private readonly now: () => Date;
  private readonly tlsPrefix: boolean;

  constructor(private readonly cfg: AdmissionConfig) {
    this.resolveService = cfg.resolveService ?? clusterIPResolver(cfg.store);
    this.dial = cfg.dial ?? defaultDial;
    this.now = cfg.now ?? (() => new Date());
    this.tlsPrefix = goTlsVerifyPrefix(cfg.kubeVersion);
  }

  /** Whether any webhook configuration exists: without one, writes skip admission entirely. */
  active(): boolean {
    const s = this.cfg.store;
    return s.list("validatingwebhookconfigurations.admissionregistration.k8s.io", { limit: 1 }).items.length > 0 || s.list("mutatingwebhookconfigurations.admissionregistration.k8s.io", { limit: 1 }).items.length > 0;
  }

  /** The webhooks of every configuration, configurations in name order, webhooks in listed order. */
  webhooks(mutating: boolean): Webhook[] {
    const type = mutating ? "mutatingwebhookconfigurations.admissionregistration.k8s.io" : "validatingwebhookconfigurations.admissionregistration.k8s.io";
    return this.cfg.store.list(type).items.flatMap((c) => webhooksOf(c, mutating));
  }

  /**
   * Every type this server serves. Read through `store.types` (the CRD-aware registry) when the store
   * has one, so this module does not depend on when that registry landed; else the built-ins.
   */
  private served(): readonly ResourceType[] {
    const registry = (this.cfg.store as unknown as { types?: { all(): readonly ResourceType[] } }).types;
    return registry?.all() ?? RESOURCE_TYPES;
  }

  /**
   * ShouldCallHook: selectors first, rules next; a selector that cannot be evaluated (its namespace is
   * gone, a bad operator) is an error only for a webhook whose rules match. Returns the type the webhook
   * is called for: the request's own, or with matchPolicy Equivalent another served version of the
   * same resource that a rule names; undefined when the webhook is not called.
   */
  private shouldCall(h: Webhook, attr: AdmissionAttributes): ResourceType | undefined {
    let selectorError: ApiError | undefined;
    let nsMatch = true;
    try {
      nsMatch = this.matchNamespace(h, attr);
    } catch (err) {
      selectorError = isApiError(err) ? err : internalErr(err instanceof Error ? err.message : String(err));
    }
    if (!nsMatch && !selectorError) return undefined;
    let objMatch = true;
    try {
      // object.Matcher: the new or the old object must match; an absent one (DELETE, CREATE) never does
      const sel = h.objectSelector;
      if (sel && !isEmptySelector(sel)) {
        objMatch = (attr.object !== undefined && selectorMatches(sel, attr.object.metadata.labels)) || (attr.oldObject !== undefined && selectorMatches(sel, attr.oldObject.metadata.labels));
      }
    } catch (err) {
      selectorError ??= internalErr(err instanceof Error ? err.message : String(err));
    }
    if (!objMatch && !selectorError) return undefined;
    let invokedAs: ResourceType | undefined = h.rules.some((r) => ruleMatches(r, attr)) ? attr.type : undefined;
    if (!invokedAs && h.matchPolicy === "Equivalent") {
      // the same group and resource in another served version (a CRD's v1beta1 and v1beta2, say)
      for (const e of this.served()) {
        if (e.group !== attr.type.group || e.plural !== attr.type.plural || e.version === attr.type.version) continue;
        if (h.rules.some((r) => ruleMatches(r, { ...attr, type: e }))) {
          invokedAs = e;
          break;
        }
      }
    }
    if (!invokedAs) return undefined;
    if (selectorError) throw selectorError;
    return invokedAs;
  }

  /** namespace.Matcher.MatchNamespaceSelector, labels from the request's own object for a Namespace create/update. */
  private matchNamespace(h: Webhook, attr: AdmissionAttributes): boolean {
    const isNamespaces = attr.type.group === "" && attr.type.plural === "namespaces";
    // cluster-scoped objects other than namespaces are never exempted by a namespaceSelector
    if (attr.namespace === "" && !isNamespaces) return true;
    if (!h.namespaceSelector || isEmptySelector(h.namespaceSelector)) return true;
    let labels: Record<string, string> | undefined;
    if (isNamespaces && attr.subresource === "" && (attr.operation === "CREATE" || attr.operation === "UPDATE")) labels = attr.object?.metadata.labels;
    else labels = this.cfg.store.get("namespaces", undefined, attr.namespace).metadata.labels;
    return selectorMatches(h.namespaceSelector, labels);
  }

  /**
   * Runs the mutating webhooks in order and returns the object with their patches applied (the input
   * itself when nothing matched). Throws the ApiError the request fails with.
   */
  async mutate(attr: AdmissionAttributes, warn: (w: string) => void = () => {}): Promise<KObject | undefined> {
    if (isExempt(attr.type)) return attr.object;
    let object = attr.object;
    for (const h of this.webhooks(true)) {
      const current = { ...attr, object };
      const invokedAs = this.shouldCall(h, current);
      if (!invokedAs) continue;
      try {
        object = await this.callMutating(h, current, invokedAs, warn);
      } catch (err) {
        const failure = this.failure(h, err);
        if (failure) throw failure;
      }
    }
    return object;
  }

  /**
   * Calls every matching validating webhook at once and waits for all; the first failure to arrive
   * fails the request, as the real dispatcher returns the first error off its channel.
   */
  async validate(attr: AdmissionAttributes, warn: (w: string) => void = () => {}): Promise<void> {
    if (isExempt(attr.type)) return;
    const relevant: Array<[Webhook, ResourceType]> = [];
    for (const h of this.webhooks(false)) {
      const invokedAs = this.shouldCall(h, attr);
      if (invokedAs) relevant.push([h, invokedAs]);
    }
    if (relevant.length === 0) return;
    const errors: ApiError[] = [];
    await Promise.all(
      relevant.map(async ([h, invokedAs]) => {
        try {
          await this.call(h, attr, invokedAs, warn);
        } catch (err) {
          const failure = this.failure(h, err);
          if (failure) errors.push(failure);
        }
      }),
    );
    if (errors.length) throw errors[0]!;
  }

  /** What a failed call means for the request: undefined when failurePolicy Ignore lets it pass. */
  private failure(h: Webhook, err: unknown): ApiError | undefined {
    const log = this.cfg.log;
    if (err instanceof CallingWebhookError) {
      if (h.failurePolicy === "Ignore") {
        log.warn("apiserver.admission.failing_open", { webhook: h.name, configuration: h.configuration, error: err.message });
        return undefined;
      }
      log.warn("apiserver.admission.failing_closed", { webhook: h.name, configuration: h.configuration, error: err.message });
      return internalErr(err.message);
    }
    if (isApiError(err)) {
      log.debug("apiserver.admission.rejected", { webhook: h.name, message: err.status.message });
      return err;
    }
    log.error("apiserver.admission.error", { webhook: h.name, err });
    return internalErr(err instanceof Error ? err.message : String(err));
  }

  /** The request target client-go's webhook ClientManager builds for a clientConfig. */
  private target(h: Webhook): WebhookTarget {
    const cc = h.clientConfig;
    let roots;
    try {
      roots = parseCaBundle(Buffer.from(cc.caBundle, "base64").toString("utf8"));
    } catch (err) {
      throw new CallingWebhookError(h.name, `could not get REST client: ${(err as Error).message}`);
    }
    if (cc.service) {
      const svc = cc.service;
      const serverName = `${svc.name}.${svc.namespace}.svc`;
      const hostHeader = joinHostPort(serverName, svc.port);
      const path = goPathJoin("/", svc.path ?? "");
      return { base: `https://${hostHeader}${path}`, hostHeader, path, https: true, serverName, roots, resolve: () => this.resolveService(svc.namespace, svc.name, svc.port) };
    }
    if (cc.url === undefined || cc.url === "") throw new CallingWebhookError(h.name, "could not get REST client: webhook configuration must have either service or URL");
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(cc.url);
    if (!m) throw new CallingWebhookError(h.name, `could not get REST client: Unparsable URL: parse ${goQuote(cc.url)}: missing protocol scheme`);
    const scheme = m[1]!.toLowerCase();
    const host = m[2]!;
    const hp = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(host);
    const hostname = (hp?.[1] ?? host).replace(/^\[|\]$/g, "");
    const port = hp?.[2] ? Number(hp[2]) : scheme === "http" ? 80 : 443;
    const path = goPathJoin("/", m[3]!);
    return { base: `${scheme}://${host}${path}`, hostHeader: host, path, https: scheme !== "http", serverName: hostname, roots, resolve: () => ({ host: hostname, port }) };
  }

  /** callHook: one POST of an AdmissionReview, checked; resolves with the verdict of an allowed request. */
  private async call(h: Webhook, attr: AdmissionAttributes, invokedAs: ResourceType, warn: (w: string) => void): Promise<ReturnType<typeof verifyAdmissionResponse>> {
    if (attr.dryRun) {
      if (h.sideEffects === undefined) throw new CallingWebhookError(h.name, "Webhook SideEffects is nil");
      if (h.sideEffects !== "None" && h.sideEffects !== "NoneOnDryRun") throw badRequest(`admission webhook ${goQuote(h.name)} does not support dry run`);
    }
    const version = reviewVersionFor(h.admissionReviewVersions);
    if (!version) throw new CallingWebhookError(h.name, "could not create admission objects: webhook does not accept v1 or v1beta1 AdmissionReview");
    const target = this.target(h);
    const { uid, body } = admissionReview(attr, version, invokedAs);
    let decoded: unknown;
    try {
      const reply = await postJson(target, Buffer.from(JSON.stringify(body)), {
        dial: this.dial,
        timeoutMs: h.timeoutSeconds * 1000,
        timeoutParam: h.timeoutSeconds,
        tlsVerifyPrefix: this.tlsPrefix,
        now: this.now,
      });
      decoded = interpretReply(reply);
    } catch (err) {
      if (err instanceof UrlError || err instanceof GoError) throw new CallingWebhookError(h.name, `failed to call webhook: ${err.message}`);
      throw err;
    }
    let result;
    try {
      result = verifyAdmissionResponse(uid, version, h.mutating, decoded);
    } catch (err) {
      if (err instanceof InvalidResponseError) throw new CallingWebhookError(h.name, `received invalid webhook response: ${err.message}`);
      throw err;
    }
    for (const w of result.warnings) warn(w);
    if (!result.allowed) throw toStatusErr(h.name, result.result);
    return result;
  }

  /** callAttrMutatingHook: the call, then the JSONPatch applied to the object the webhook was sent. */
  private async callMutating(h: Webhook, attr: AdmissionAttributes, invokedAs: ResourceType, warn: (w: string) => void): Promise<KObject | undefined> {
    const result = await this.call(h, attr, invokedAs, warn);
    if (!result.patch || result.patch.length === 0) return attr.object;
    let ops: unknown;
    try {
      ops = JSON.parse(result.patch.toString("utf8"));
      if (!Array.isArray(ops)) throw new Error("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
    } catch (err) {
      throw new CallingWebhookError(h.name, `received undecodable patch in webhook response: ${(err as Error).message}`);
    }
    if (ops.length === 0) return attr.object;
    if (!attr.object) throw internalErr(`admission webhook ${goQuote(h.name)} attempted to modify the object, which is not supported for this operation`);
    if (result.patchType !== "JSONPatch") throw new CallingWebhookError(h.name, `unsupported patch type ${goQuote(result.patchType)}`);
    // the patch applies to the object as the webhook was sent it (in the version it was called for)
    const sent = asVersion(attr.object, invokedAs);
    let patched: unknown;
    try {
      patched = jsonPatch(sent, ops);
    } catch (err) {
      throw internalErr(isApiError(err) ? err.status.message ?? err.message : String(err));
    }
    if (!isRecord(patched) || !isRecord(patched.metadata) || patched.apiVersion !== sent.apiVersion || patched.kind !== sent.kind) {
      throw internalErr(`admission webhook ${goQuote(h.name)} returned a patch that does not yield a ${sent.kind}`);
    }
    return asVersion(patched as KObject, attr.type);
  }
}

/** An object in another version of its resource: conversion strategy None changes apiVersion only. */
function asVersion(o: KObject, t: ResourceType): KObject {
  const gv = groupVersion(t);
  return o.apiVersion === gv ? o : { ...o, apiVersion: gv };
}

function isEmptySelector(sel: Selector): boolean {
  return Object.keys(isRecord(sel.matchLabels) ? sel.matchLabels : {}).length === 0 && (!Array.isArray(sel.matchExpressions) || sel.matchExpressions.length === 0);
}

/** The store as the REST handlers write through it: create/update/delete admitted, everything else as is. */
export type AdmittingStore = Omit<Store, "create" | "update" | "delete"> & {
  create(type: TypeRef, input: KObject, opts?: WriteOptions): Promise<KObject>;
  update(type: TypeRef, input: KObject, opts?: UpdateOptions): Promise<KObject>;
  delete(type: TypeRef, namespace: string | undefined, name: string, opts?: { preconditions?: DeletePreconditions; dryRun?: boolean }): Promise<KObject>;
};

/** What `admittingStore` needs of the handler context. */
export interface AdmissionContext {
  store: Store;
  admission?: Admission;
  authenticate(req: IncomingMessage): AuthResult;
}

function resolveType(t: TypeRef): ResourceType {
  return typeof t === "string" ? mustResourceType(t) : t;
}

/** A header-safe warning as k8s.io/apiserver/pkg/warning formats it: `299 - "<text>"`. */
function warningHeader(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, " ");
  return `299 - "${clean.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * The store for one REST request, with its writes admitted: mutating webhooks, the registry's checks (a
 * dry run of the store write), validating webhooks, then the write itself. The request supplies what
 * admission needs to know: the user (userInfo), PUT or PATCH, and the query's dryRun/fieldManager.
 * Webhook warnings become `Warning` headers on `res`, which kubectl prints as `Warning: ...`.
 *
 * @example
 * const store = admittingStore(ctx, req, res);
 * const created = await store.create(t, obj, { dryRun });
 */
export function admittingStore(ctx: AdmissionContext, req: IncomingMessage, res: ServerResponse): AdmittingStore {
  const store = ctx.store;
  const admission = ctx.admission;
  const url = new URL(req.url ?? "/", "https://apiserver.invalid");
  const q = url.searchParams;
  const warn = (w: string) => {
    if (!res.headersSent) res.appendHeader("Warning", warningHeader(w));
  };

  const user = (): AdmissionAttributes["userInfo"] => {
    const auth = ctx.authenticate(req);
    if (auth === "anonymous" || auth === "invalid") return { username: "system:anonymous", groups: ["system:unauthenticated"] };
    // the authenticator union adds system:authenticated to every authenticated user
    return { username: auth.name, groups: auth.groups.includes("system:authenticated") ? auth.groups : [...auth.groups, "system:authenticated"] };
  };
  const options = (kind: string, dryRun: boolean, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const o: Record<string, unknown> = { kind, apiVersion: "meta.k8s.io/v1", ...extra };
    if (dryRun) o.dryRun = ["All"];
    const fm = q.get("fieldManager");
    if (fm && kind !== "DeleteOptions") o.fieldManager = fm;
    const fv = q.get("fieldValidation");
    if (fv && kind !== "DeleteOptions") o.fieldValidation = fv;
    return o;
  };
  const attrsFor = (t: ResourceType, operation: AdmissionOperation, namespace: string | undefined, name: string, subresource: string, dryRun: boolean, opts: Record<string, unknown>): AdmissionAttributes => ({
    operation,
    type: t,
    subresource,
    // for a Namespace, the request's namespace is its own name (the rules' scope logic relies on it)
    namespace: t.group === "" && t.plural === "namespaces" ? name : t.namespaced ? namespace ?? "" : "",
    name,
    object: undefined,
    oldObject: undefined,
    dryRun,
    options: opts,
    userInfo: user(),
  });

  const create = async (type: TypeRef, input: KObject, opts: WriteOptions = {}): Promise<KObject> => {
    const t = resolveType(type);
    if (!admission?.active()) return store.create(t, input, opts);
    const ns = t.namespaced ? input.metadata?.namespace : undefined;
    // NamespaceLifecycle runs before the webhooks: a create in a missing namespace is a 404 first
    if (t.namespaced && ns) store.get("namespaces", undefined, ns);
    const attr = attrsFor(t, "CREATE", ns, input.metadata?.name ?? "", "", Boolean(opts.dryRun), options("CreateOptions", Boolean(opts.dryRun)));
    const mutated = (await admission.mutate({ ...attr, object: input }, warn)) ?? input;
    let prepared: KObject;
    let exists: ApiError | undefined;
    try {
      prepared = store.create(t, mutated, { ...opts, dryRun: true });
    } catch (err) {
      // the registry finds the name taken only at the storage write, after the validating webhooks
      if (!isApiError(err) || err.status.reason !== "AlreadyExists") throw err;
      exists = err;
      prepared = mutated;
    }
    await admission.validate({ ...attr, object: prepared }, warn);
    if (exists) throw exists;
    if (opts.dryRun) return prepared;
    // keep the name the validating webhooks saw when it came from generateName
    return store.create(t, { ...mutated, metadata: { ...mutated.metadata, name: prepared.metadata.name } }, opts);
  };

  const update = async (type: TypeRef, input: KObject, opts: UpdateOptions = {}): Promise<KObject> => {
    const t = resolveType(type);
    if (!admission?.active()) return store.update(t, input, opts);
    const name = input.metadata?.name ?? "";
    const ns = t.namespaced ? input.metadata?.namespace : undefined;
    const old = store.tryGet(t, ns, name);
    if (!old) {
      if (t.createOnUpdate && !opts.subresource) {
        const { resourceVersion: _rv, ...meta } = input.metadata;
        // a PUT that creates is admitted as a CREATE (with CreateOptions), as the update handler does
        return create(t, { ...input, metadata: meta }, opts);
      }
      return store.get(t, ns, name);
    }
    const dryRun = Boolean(opts.dryRun);
    const attr = attrsFor(t, "UPDATE", ns, name, opts.subresource ?? "", dryRun, options(req.method === "PATCH" ? "PatchOptions" : "UpdateOptions", dryRun));
    const mutated = (await admission.mutate({ ...attr, object: input, oldObject: old }, warn)) ?? input;
    if (mutated.metadata.name !== name) {
      throw invalid(t, name, [{ field: "metadata.name", type: "FieldValueInvalid", value: mutated.metadata.name ?? "", detail: "field is immutable" }]);
    }
    if (t.namespaced && mutated.metadata.namespace !== ns) {
      throw invalid(t, name, [{ field: "metadata.namespace", type: "FieldValueInvalid", value: mutated.metadata.namespace ?? "", detail: "field is immutable" }]);
    }
    const prepared = store.update(t, mutated, { ...opts, dryRun: true });
    await admission.validate({ ...attr, object: prepared, oldObject: old }, warn);
    if (dryRun) return prepared;
    return store.update(t, mutated, opts);
  };

  const del = async (type: TypeRef, namespace: string | undefined, name: string, opts: { preconditions?: DeletePreconditions; dryRun?: boolean } = {}): Promise<KObject> => {
    const t = resolveType(type);
    if (!admission?.active()) return store.delete(t, namespace, name, opts);
    const dryRun = Boolean(opts.dryRun);
    const attr = attrsFor(t, "DELETE", namespace, name, "", dryRun, options("DeleteOptions", dryRun, opts.preconditions ? { preconditions: opts.preconditions } : {}));
    // the delete handler runs mutating admission before it reads the object: no oldObject yet
    await admission.mutate(attr, warn);
    // not found and failed preconditions come before the validating webhooks, as in the registry
    const old = store.delete(t, namespace, name, { ...opts, dryRun: true });
    await admission.validate({ ...attr, oldObject: old }, warn);
    if (dryRun) return old;
    return store.delete(t, namespace, name, opts);
  };

  return new Proxy(store, {
    get(target, prop) {
      if (prop === "create") return create;
      if (prop === "update") return update;
      if (prop === "delete") return del;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as unknown as AdmittingStore;
}
