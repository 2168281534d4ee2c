/**
 * Real HTTPS webhook servers on 127.0.0.1 for the admission tests, with certificates from pki.ts for
 * the name the API server verifies (`metallb-webhook-service.metallb-system.svc`), and a dialer that
 * sends the webhook Service's ClusterIP to them, as the kernel's DNAT does in a sandbox.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { connect, type Socket } from "node:net";
import path from "node:path";
import { createCa, issue, type KeyPair } from "../../../../server/sim/apiserver/pki.js";

/** The webhook Service of the flagship seed and the name its certificate must carry. */
export const SVC = { namespace: "metallb-system", name: "metallb-webhook-service", clusterIP: "10.233.0.10", port: 443 };
export const SVC_DNS = `${SVC.name}.${SVC.namespace}.svc`;

export interface WebhookPki {
  ca: KeyPair;
  /** Serving certificate for SVC_DNS signed by `ca`. */
  serving: KeyPair;
  /** A different CA with the same subject (a regenerated CA: Go's hint case). */
  sameNameCa: KeyPair;
  /** A different CA with a different subject. */
  otherCa: KeyPair;
  /** A certificate from `ca` for a name that is not SVC_DNS. */
  wrongName: KeyPair;
  /** A certificate from `ca` naming SVC_DNS only in its Common Name (no SAN extension). */
  cnOnly: KeyPair;
}

/** Makes the CAs and certificates (pki.ts, ECDSA P-256) under `dir`. */
export async function webhookPki(dir: string): Promise<WebhookPki> {
  const d = (n: string) => path.join(dir, n);
  const ca = await createCa(d("ca"), "ca", "metallb-webhook-ca");
  const [serving, wrongName, cnOnly, sameNameCa, otherCa] = await Promise.all([
    issue(d("ca"), "ca", "serving", `/CN=${SVC_DNS}`, [SVC_DNS]),
    issue(d("ca"), "ca", "wrong", "/CN=webhook-service.metallb-system.svc", ["webhook-service.metallb-system.svc"]),
    issue(d("ca"), "ca", "cn-only", `/CN=${SVC_DNS}`),
    createCa(d("same"), "ca", "metallb-webhook-ca"),
    createCa(d("other"), "ca", "someone-else-ca"),
  ]);
  return { ca, serving, sameNameCa, otherCa, wrongName, cnOnly };
}

export const b64 = (s: string) => Buffer.from(s).toString("base64");

/** One request a webhook received. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  servername: string | undefined;
  review: any;
}

/** What a test webhook does with a review: answer it, answer raw bytes, or never answer. */
export type Behaviour = (review: any, req: IncomingMessage) => { response?: Record<string, unknown>; raw?: { status: number; type: string; body: string }; hang?: boolean };

export interface TestWebhook {
  port: number;
  calls: Received[];
  behaviour: Behaviour;
  close(): Promise<void>;
}

/** An answer as controller-runtime's webhook library writes it. */
export function answer(review: any, response: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: review.request.uid, ...response } };
}

export const allow: Behaviour = (review) => ({ response: answer(review, { allowed: true }) });
export const hang: Behaviour = () => ({ hang: true });

function serve(server: Server | HttpServer, behaviourRef: { behaviour: Behaviour }, calls: Received[], hanging: Set<ServerResponse>) {
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let review: any;
      try {
        review = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        review = undefined;
      }
      const servername = (req.socket as { servername?: string | false }).servername || undefined;
      calls.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, servername, review });
      const what = behaviourRef.behaviour(review, req);
      if (what.hang) {
        hanging.add(res);
        return;
      }
      if (what.raw) {
        res.writeHead(what.raw.status, { "Content-Type": what.raw.type });
        res.end(what.raw.body);
        return;
      }
      const body = JSON.stringify(what.response);
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
}

/** An HTTPS webhook on 127.0.0.1:0 serving `pair`. */
export async function startWebhook(pair: KeyPair, behaviour: Behaviour = allow): Promise<TestWebhook> {
  const server = createServer({ key: pair.key, cert: pair.cert });
  return listen(server, behaviour);
}

/** A plain-HTTP server where an HTTPS webhook was expected. */
export async function startPlainHttp(behaviour: Behaviour = allow): Promise<TestWebhook> {
  return listen(createHttpServer(), behaviour);
}

async function listen(server: Server | HttpServer, behaviour: Behaviour): Promise<TestWebhook> {
  const calls: Received[] = [];
  const hanging = new Set<ServerResponse>();
  const hook: TestWebhook = {
    port: 0,
    calls,
    behaviour,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.close(() => resolve());
        (server as HttpServer).closeAllConnections?.();
      }),
  };
  serve(server, hook, calls, hanging);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  hook.port = typeof addr === "object" && addr ? addr.port : 0;
  return hook;
}

/** A port that nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = createHttpServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const addr = s.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * A Dialer that sends `clusterIP:port` to whatever `routes` says now (tests change it between cases),
 * like the DNAT rule of a Service: error texts keep the ClusterIP the API server dialed.
 */
export function dnatDialer(routes: Map<string, number>): (host: string, port: number) => Socket {
  return (host, port) => {
    const local = routes.get(`${host}:${port}`);
    if (local === undefined) return connect({ host, port });
    return connect({ host: "127.0.0.1", port: local });
  };
}

/** A webhook entry of a (Validating|Mutating)WebhookConfiguration pointing at the flagship webhook Service. */
export function webhookEntry(name: string, ca: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    clientConfig: { service: { namespace: SVC.namespace, name: SVC.name, path: "/validate" }, caBundle: b64(ca) },
    rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"] }],
    failurePolicy: "Fail",
    sideEffects: "None",
    admissionReviewVersions: ["v1"],
    timeoutSeconds: 1,
    ...over,
  };
}
