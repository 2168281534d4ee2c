/**
 * The MetalLB controller's validating webhook server (v0.13.7, the version kubespray v2.20 installs),
 * as a standalone workload: HTTPS on 0.0.0.0:9443 with a certificate from the sandbox CA for the
 * webhook Service's DNS names, serving the paths of `metallb-webhook-configuration` with
 * AdmissionReview v1 and MetalLB's real validation (see metallb-config.ts).
 *
 * Wire behaviour follows controller-runtime v0.13 (which MetalLB v0.13 embeds): HTTP 200 with the
 * AdmissionReview JSON and no Content-Type of its own (Go sniffs `text/plain; charset=utf-8`); a denial
 * is `status: {code: 403, reason: <MetalLB's error>}`; malformed requests get `status.code 400` with a
 * message; unknown paths get Go's `404 page not found`; plain HTTP on the TLS port gets Go's
 * `Client sent an HTTP request to an HTTPS server.`.
 *
 * Existing pools come from the API server at request time (the real controller reads its informer
 * cache; same data, one request later). A 404 from the API — the metallb.io CRDs not served yet — means
 * no pools.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import path from "node:path";
import { Duplex, PassThrough } from "node:stream";
import { FaultlineError, withContext } from "../../errors.js";
import { issue, type KeyPair } from "../apiserver/pki.js";
import { GoLogger, goJson } from "./golog.js";
import type { RunningWorkload } from "./types.js";
import { kubeClient, type KubeClient } from "./kubeclient.js";
import {
  METALLB_NAMESPACE,
  decodeError,
  listWithUpdate,
  validateL2Advertisement,
  validatePools,
  type IPAddressPool,
  type L2Advertisement,
  type LegacyAddressPool,
  type ObjectMeta,
} from "./metallb-config.js";

/** The MetalLB release whose behaviour this webhook reproduces by default (images.ts installs this tag). */
export const METALLB_VERSION = "0.13.7";

/**
 * Which MetalLB generation to behave like. They differ where a trainee can see it:
 * - v0.13 (controller-runtime v0.12/0.13): a denial carries MetalLB's text in `status.reason`, so
 *   kubectl prints `Error from server (<text>): error when creating ...`; zap `ts` is epoch seconds;
 *   the legacy AddressPool webhook is served.
 * - v0.14 (controller-runtime ≥ v0.15): `reason: Forbidden` and the text in `message`, so kubectl
 *   prints `Error from server (Forbidden): ...`; zap `ts` is RFC 3339; no AddressPool webhook.
 */
export type MetallbRelease = "v0.13" | "v0.14";

const VERSION_OF: Record<MetallbRelease, string> = { "v0.13": METALLB_VERSION, "v0.14": "0.14.5" };

/** Webhook paths MetalLB registers, by the resource they validate. */
export const WEBHOOK_PATHS = {
  ipaddresspools: "/validate-metallb-io-v1beta1-ipaddresspool",
  l2advertisements: "/validate-metallb-io-v1beta1-l2advertisement",
  addresspools: "/validate-metallb-io-v1beta1-addresspool",
  bgppeers: "/validate-metallb-io-v1beta2-bgppeer",
  bfdprofiles: "/validate-metallb-io-v1beta1-bfdprofile",
  bgpadvertisements: "/validate-metallb-io-v1beta1-bgpadvertisement",
  communities: "/validate-metallb-io-v1beta1-community",
} as const;

/** The webhook Service names: `metallb-webhook-service` (v0.14+, chart) and `webhook-service` (v0.13, kubespray). */
export const WEBHOOK_SERVICE_NAMES = ["metallb-webhook-service", "webhook-service"];

/** DNS names the serving certificate covers: each Service name as `.svc` and `.svc.cluster.local`. */
export function webhookDnsNames(namespace: string = METALLB_NAMESPACE): string[] {
  return WEBHOOK_SERVICE_NAMES.flatMap((s) => [`${s}.${namespace}.svc`, `${s}.${namespace}.svc.cluster.local`]);
}

/** Why a stored serving certificate cannot be reused, or null when it can. */
function unusable(pair: KeyPair, caPem: string, names: string[]): string | null {
  try {
    const cert = new X509Certificate(pair.cert);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return "not signed by the CA";
    if (!cert.checkPrivateKey(createPrivateKey(pair.key))) return "key does not match";
    if (Date.parse(cert.validTo) < Date.now() + 24 * 3600 * 1000) return "expires within a day";
    const sans = new Set((cert.subjectAltName ?? "").split(", "));
    const missing = names.find((n) => !sans.has(`DNS:${n}`));
    return missing ? `does not cover ${missing}` : null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Where the serving certificate lives and what it is. */
export interface WebhookCert extends KeyPair {
  certFile: string;
  keyFile: string;
}

/**
 * The webhook's serving certificate in `certDir` as `<certName>.crt/.key`, signed by the CA
 * `<caName>.crt/.key` there (the sandbox CA in `<box>/pki`): reused when it is signed by that CA,
 * matches its key, covers `dnsNames` and is not about to expire; issued with pki.ts `issue()`
 * otherwise, and its signature checked against the CA before use.
 */
export async function ensureWebhookCert(certDir: string, opts: { caName?: string; certName?: string; dnsNames?: string[] } = {}): Promise<WebhookCert> {
  const caName = opts.caName ?? "ca";
  const certName = opts.certName ?? "metallb-webhook";
  const names = opts.dnsNames ?? webhookDnsNames();
  const caFile = path.join(certDir, `${caName}.crt`);
  const certFile = path.join(certDir, `${certName}.crt`);
  const keyFile = path.join(certDir, `${certName}.key`);
  if (!existsSync(caFile) || !existsSync(path.join(certDir, `${caName}.key`))) {
    throw new FaultlineError(`no CA ${caName}.crt/${caName}.key in ${certDir}`, "the API server creates the sandbox CA in <box>/pki; start the workload after it, or pass --cert-dir");
  }
  const caPem = readFileSync(caFile, "utf8");
  if (existsSync(certFile) && existsSync(keyFile)) {
    const pair = { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
    if (unusable(pair, caPem, names) === null) return { ...pair, certFile, keyFile };
  }
  let pair: KeyPair;
  try {
    pair = await issue(certDir, caName, certName, `/CN=${names[0]}`, names);
  } catch (err) {
    throw withContext("webhook serving certificate", err);
  }
  const why = unusable(pair, caPem, names);
  if (why) throw new FaultlineError(`the webhook certificate just issued in ${certDir} is unusable: ${why}`);
  return { ...pair, certFile, keyFile };
}

/** The pools of the MetalLB namespace, as the webhook validates against them. */
export interface ClusterPools {
  pools: IPAddressPool[];
  legacy: LegacyAddressPool[];
}

/** What request handling needs besides the request. */
export interface WebhookContext {
  /** MetalLB's namespace; configuration objects elsewhere are refused. */
  namespace: string;
  /** The cluster's IPAddressPools and legacy AddressPools; rejects with the reason when they cannot be read. */
  listPools(): Promise<ClusterPools>;
  log: GoLogger;
  /** Which MetalLB generation to answer like; default v0.13. */
  release?: MetallbRelease;
}

/** An HTTP answer. */
export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Result {
  allowed: boolean;
  code: number;
  reason?: string;
  message?: string;
}

const allowed = (): Result => ({ allowed: true, code: 200 });
/** admission.Denied: before controller-runtime v0.15 the text went into `reason` (PR #1539 moved it to `message`). */
const deniedAs = (release: MetallbRelease, text: string): Result => (release === "v0.13" ? { allowed: false, code: 403, reason: text } : { allowed: false, code: 403, reason: "Forbidden", message: text });
const errored = (code: number, text: string): Result => ({ allowed: false, code, message: text });

const GO_TEXT = "text/plain; charset=utf-8";

/** The AdmissionReview answer, keys in Go's struct order, HTML-escaped as encoding/json does, newline-terminated. */
function review(apiVersion: string, uid: string, r: Result): HttpReply {
  const status: Record<string, unknown> = { metadata: {} };
  if (r.message !== undefined) status.message = r.message;
  if (r.reason !== undefined) status.reason = r.reason;
  status.code = r.code;
  const body = { kind: "AdmissionReview", apiVersion, response: { uid, allowed: r.allowed, status } };
  return { status: 200, headers: { "content-type": GO_TEXT }, body: goJson(body) + "\n" };
}

const MAX_REQUEST = 7 * 1024 * 1024;

interface AdmissionRequest {
  uid?: string;
  operation?: string;
  namespace?: string;
  object?: unknown;
  oldObject?: unknown;
}

type Op = "create" | "update" | "delete";

/** The object under review and its operation, or a 400 when it does not decode. */
function decodeObject(req: AdmissionRequest, structName: string, stringLists: string[]): { op: Op; obj: Record<string, unknown> } | { result: Result } | null {
  const op = typeof req.operation === "string" ? req.operation.toLowerCase() : undefined;
  if (op !== "create" && op !== "update" && op !== "delete") return null;
  const raw = op === "delete" ? req.oldObject : req.object;
  if (raw === undefined || raw === null) return { result: errored(400, "there is no content to decode") };
  const err = decodeError(raw, structName, stringLists);
  if (err) return { result: errored(400, err) };
  return { op, obj: raw as Record<string, unknown> };
}

function metaOf(obj: Record<string, unknown>): ObjectMeta {
  const m = obj.metadata;
  return m && typeof m === "object" ? (m as ObjectMeta) : {};
}

/**
 * Per kind: the Go struct decoded into (for decode errors), its []string fields, and the `webhook`
 * values MetalLB's debug and error lines carry. Caller line numbers in the lines are illustrative.
 */
const KINDS: Record<keyof typeof WEBHOOK_PATHS, { struct: string; lists: string[]; logName: string; errName: string }> = {
  ipaddresspools: { struct: "IPAddressPool", lists: ["addresses"], logName: "ipaddresspool", errName: "ipAddress" },
  addresspools: { struct: "AddressPool", lists: ["addresses"], logName: "addressPool", errName: "addressPool" },
  l2advertisements: { struct: "L2Advertisement", lists: ["ipAddressPools", "interfaces"], logName: "l2advertisement", errName: "l2advertisement" },
  bgppeers: { struct: "BGPPeer", lists: [], logName: "bgppeer", errName: "bgppeer" },
  bfdprofiles: { struct: "BFDProfile", lists: [], logName: "bfdprofile", errName: "bfdprofile" },
  bgpadvertisements: { struct: "BGPAdvertisement", lists: ["ipAddressPools", "communities", "peers"], logName: "bgpadvertisement", errName: "bgpadvertisement" },
  communities: { struct: "Community", lists: [], logName: "community", errName: "community" },
};

/**
 * One decoded request against its kind's rules. Pools and L2Advertisements get MetalLB's validation;
 * the other kinds only the namespace rule (their deeper checks are not modelled).
 */
async function validate(kind: keyof typeof WEBHOOK_PATHS, req: AdmissionRequest, ctx: WebhookContext): Promise<Result> {
  const spec = KINDS[kind];
  const denied = (text: string) => deniedAs(ctx.release ?? "v0.13", text);
  const decoded = decodeObject(req, spec.struct, spec.lists);
  // controller-runtime's validating handler allows what it has no branch for (CONNECT, empty operation)
  if (decoded === null) return allowed();
  if ("result" in decoded) return decoded.result;
  const { op, obj } = decoded;
  if (op === "delete") return allowed();
  const meta = metaOf(obj);
  // kube-apiserver always sets metadata.namespace before admission; fall back for hand-made reviews
  const namespace = meta.namespace ?? req.namespace ?? "";
  const name = meta.name ?? "";
  ctx.log.gokit("debug", { action: op, caller: `${spec.logName}_webhook.go:41`, name, namespace, webhook: spec.logName });
  if (op === "create" && namespace !== ctx.namespace) return denied(`resource must be created in ${ctx.namespace} namespace`);

  let problem: string | null = null;
  if (kind === "ipaddresspools" || kind === "addresspools") {
    let cluster: ClusterPools;
    try {
      cluster = await ctx.listPools();
    } catch (err) {
      return denied(err instanceof Error ? err.message : String(err));
    }
    problem =
      kind === "ipaddresspools"
        ? validatePools(listWithUpdate(cluster.pools, obj as IPAddressPool), cluster.legacy)
        : validatePools(cluster.pools, listWithUpdate(cluster.legacy, obj as LegacyAddressPool));
  } else if (kind === "l2advertisements") {
    problem = validateL2Advertisement(obj as L2Advertisement);
  }
  if (problem === null) return allowed();
  ctx.log.gokit("error", { action: op, caller: `${spec.logName}_webhook.go:64`, error: problem, name, namespace, webhook: spec.errName });
  return denied(problem);
}

const KIND_BY_PATH = new Map<string, keyof typeof WEBHOOK_PATHS>(Object.entries(WEBHOOK_PATHS).map(([k, p]) => [p, k as keyof typeof WEBHOOK_PATHS]));

/**
 * Answers one HTTP request to the webhook server (routing, controller-runtime's request checks,
 * AdmissionReview decoding, validation). Never throws: internal failures become a 500 review.
 *
 * @example await handleWebhookRequest("/validate-metallb-io-v1beta1-ipaddresspool", "application/json", body, ctx)
 */
export async function handleWebhookRequest(urlPath: string, contentType: string | undefined, body: Buffer, ctx: WebhookContext): Promise<HttpReply> {
  const kind = KIND_BY_PATH.get(urlPath);
  // v0.14 removed the AddressPool CRD and its webhook
  if (!kind || (kind === "addresspools" && ctx.release === "v0.14")) return { status: 404, headers: { "content-type": GO_TEXT, "x-content-type-options": "nosniff" }, body: "404 page not found\n" };
  const fail = (msg: string, err: string, code = 400): HttpReply => {
    ctx.log.zap("error", "controller-runtime.webhook.webhooks", msg, { webhook: urlPath, error: err });
    return review("admission.k8s.io/v1", "", errored(code, err));
  };
  if (body.length === 0) return fail("bad request", "request body is empty");
  if (body.length > MAX_REQUEST) return fail("unable to read the body from the incoming request; limit reached", `request entity is too large; limit is ${MAX_REQUEST} bytes`, 413);
  // Go compares the header verbatim: "application/json; charset=utf-8" is refused too
  if (contentType !== "application/json") return fail("unable to process a request with unknown content type", `contentType=${contentType ?? ""}, expected application/json`);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch (err) {
    return fail("unable to decode the request", `couldn't get version/kind; json parse error: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return fail("unable to decode the request", "couldn't get version/kind; json parse error: json: cannot unmarshal into Go value of type struct");
  const ar = doc as { apiVersion?: unknown; request?: unknown };
  // answer in the version asked (controller-runtime echoes the request's GVK; v1 when absent)
  const apiVersion = ar.apiVersion === "admission.k8s.io/v1beta1" ? "admission.k8s.io/v1beta1" : "admission.k8s.io/v1";
  const req = (ar.request && typeof ar.request === "object" ? ar.request : {}) as AdmissionRequest;
  const uid = typeof req.uid === "string" ? req.uid : "";
  try {
    return review(apiVersion, uid, await validate(kind, req, ctx));
  } catch (err) {
    ctx.log.zap("error", "controller-runtime.webhook.webhooks", "unable to handle the request", { webhook: urlPath, error: String(err) });
    return review(apiVersion, uid, errored(500, err instanceof Error ? err.message : String(err)));
  }
}

/** Items of a list response, or [] for a 404 (the resource is not served: no CRD yet). */
async function listItems<T>(client: KubeClient, apiPath: string, what: string): Promise<T[]> {
  try {
    const r = await client.get(apiPath);
    if (r.status === 404) return [];
    const body = r.body as { items?: T[]; message?: string } | undefined;
    if (r.status !== 200) throw new Error(body?.message ?? `the server responded with status ${r.status}`);
    return Array.isArray(body?.items) ? body.items : [];
  } catch (err) {
    // errors.Wrapf(err, "Failed to get existing %s objects") in MetalLB v0.13
    throw new Error(`Failed to get existing ${what} objects: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * A pool lister reading the MetalLB namespace through the API server with the kubeconfig at
 * `kubeconfigPath`; without a kubeconfig the cluster is taken to have no pools.
 */
export function apiPoolLister(kubeconfigPath: string | undefined, namespace: string = METALLB_NAMESPACE): () => Promise<ClusterPools> {
  if (!kubeconfigPath) return async () => ({ pools: [], legacy: [] });
  const client = kubeClient(kubeconfigPath);
  const base = `/apis/metallb.io/v1beta1/namespaces/${encodeURIComponent(namespace)}`;
  return async () => ({
    pools: await listItems<IPAddressPool>(client, `${base}/ipaddresspools`, "IPAddressPool"),
    legacy: await listItems<LegacyAddressPool>(client, `${base}/addresspools`, "AddressPool"),
  });
}

/** Options of {@link startMetallbWebhook}. */
export interface MetallbWebhookOptions {
  /** Listen address; default 0.0.0.0 (the pod's every address, as the controller listens). */
  host?: string;
  /** Default 9443 (the Service's targetPort); 0 picks a free port. */
  port?: number;
  /** Listen on this unix socket instead (the sim sandbox: a socat in the pod's namespace owns port 9443). */
  path?: string;
  /** Folder with the signing CA; the serving certificate is kept there too. */
  certDir: string;
  /** Base name of the CA files in certDir; default "ca". */
  caName?: string;
  /** Base name of the serving certificate files; default "metallb-webhook". */
  certName?: string;
  /** Admin kubeconfig for reading existing pools; absent means the cluster has none. */
  kubeconfig?: string;
  /** MetalLB's namespace; default metallb-system. */
  namespace?: string;
  /** Where log lines go; default stdout. */
  log?: (line: string) => void;
  /** `--log-level` of the controller; default info (the manifest's), which hides per-request debug lines. */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Which MetalLB generation to behave like; default v0.13 (the image the labs install). */
  release?: MetallbRelease;
  /** Injected clock for log timestamps (tests). */
  now?: () => Date;
}

/** First bytes of an HTTP/1 request, as Go's tlsRecordHeaderLooksLikeHTTP tests them. */
const HTTP_STARTS = ["GET /", "HEAD ", "POST ", "PUT /", "OPTIO"];

/**
 * A TCP front that hands TLS connections to `tls` and answers plain HTTP the way Go's net/http does on
 * a TLS port, so `curl http://<pod>:9443/...` from a pod shell shows what it shows against MetalLB.
 * Node cannot peek at a socket, and bytes already read cannot be pushed back under a TLS handle, so a
 * TLS connection continues as a stream that replays the first chunk, then the rest of the socket.
 */
function sniffingFront(tls: HttpsServer, sockets: Set<Socket>): NetServer {
  return createNetServer((socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.once("data", (head: Buffer) => {
      socket.pause();
      if (head[0] === 0x16) {
        const replay = new PassThrough();
        replay.write(head);
        socket.pipe(replay);
        const stream = Duplex.from({ readable: replay, writable: socket });
        stream.on("error", () => socket.destroy());
        stream.on("close", () => socket.destroy());
        tls.emit("connection", stream);
        socket.resume();
        return;
      }
      if (HTTP_STARTS.includes(head.subarray(0, 5).toString("latin1"))) {
        socket.end("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
      } else {
        socket.destroy();
      }
    });
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    // keep reading (the client is still sending) but hold no more than the limit plus one chunk
    if (size <= MAX_REQUEST) chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks);
}

/**
 * Starts the webhook server: makes or reuses the serving certificate, logs MetalLB's start-up lines,
 * listens. Rejects with a FaultlineError when the certificate cannot be made or the port is taken.
 *
 * @example const w = await startMetallbWebhook({ certDir: "<box>/pki", kubeconfig: "<box>/kubernetes/cp-1/admin.conf" })
 */
export async function startMetallbWebhook(opts: MetallbWebhookOptions): Promise<RunningWorkload> {
  const host = opts.host ?? "0.0.0.0";
  const port = opts.port ?? 9443;
  const namespace = opts.namespace ?? METALLB_NAMESPACE;
  const release = opts.release ?? "v0.13";
  const version = VERSION_OF[release];
  const log = new GoLogger(opts.log ?? ((l) => process.stdout.write(l + "\n")), opts.logLevel ?? "info", opts.now, release === "v0.14");
  const cert = await ensureWebhookCert(opts.certDir, { ...(opts.caName ? { caName: opts.caName } : {}), ...(opts.certName ? { certName: opts.certName } : {}), dnsNames: webhookDnsNames(namespace) });
  const ctx: WebhookContext = { namespace, listPools: apiPoolLister(opts.kubeconfig, namespace), log, release };

  log.gokit("info", { caller: "main.go:141", msg: `MetalLB controller starting version ${version} (commit v${version}, branch main)`, version });
  log.gokit("info", { caller: "k8s.go:388", msg: "Starting Manager", op: "Run" });
  for (const [k, p] of Object.entries(WEBHOOK_PATHS)) if (k !== "addresspools" || release === "v0.13") log.zap("info", "controller-runtime.webhook", "Registering webhook", { path: p });

  const tls = createHttpsServer({ key: cert.key, cert: cert.cert, minVersion: "TLSv1.2" }, (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      let reply: HttpReply;
      try {
        const body = await readBody(req);
        const urlPath = (req.url ?? "/").split("?")[0]!;
        reply = await handleWebhookRequest(urlPath, req.headers["content-type"], body, ctx);
      } catch (err) {
        reply = { status: 500, headers: { "content-type": GO_TEXT }, body: `${err instanceof Error ? err.message : String(err)}\n` };
      }
      if (res.writableEnded || res.destroyed) return;
      // Go sends small bodies with a Content-Length, not chunked
      res.writeHead(reply.status, { ...reply.headers, "content-length": String(Buffer.byteLength(reply.body)) });
      res.end(reply.body);
    })();
  });
  tls.on("tlsClientError", () => {});
  tls.on("clientError", (_err, socket) => socket.destroy());
  const sockets = new Set<Socket>();
  const front = sniffingFront(tls, sockets);

  let actual = port;
  try {
    await new Promise<void>((resolve, reject) => {
      front.once("error", reject);
      const ready = () => {
        front.off("error", reject);
        resolve();
      };
      if (opts.path) front.listen(opts.path, ready);
      else front.listen(port, host, ready);
    });
  } catch (err) {
    throw withContext(`the webhook server cannot listen on ${host}:${port}`, err);
  }
  const addr = front.address();
  actual = typeof addr === "object" && addr ? addr.port : port;
  log.zap("info", "controller-runtime.webhook.webhooks", "Starting webhook server");
  log.zap("info", "controller-runtime.certwatcher", "Updated current TLS certificate");
  log.zap("info", "controller-runtime.webhook", "Serving webhook server", { host: host === "0.0.0.0" ? "" : host, port: actual });

  return {
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        front.close(() => resolve());
        tls.closeAllConnections();
        tls.close();
        for (const s of sockets) s.destroy();
      }),
  };
}
