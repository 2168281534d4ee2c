/**
 * The cluster DNS of a sim sandbox: CoreDNS 1.8.6 (the image kubespray v2.19 deploys) with kubespray's
 * Corefile, answering for `cluster.local` from the sandbox API server (see coredns-kubernetes.ts for
 * the records and their quirks, coredns-source.ts for how the cluster is read).
 *
 * What the rest of the Corefile contributes, and how this workload reproduces it:
 * - `forward . /etc/resolv.conf`: every name outside the plugin's zones (and reverse names it does not
 *   know: `fallthrough`) goes upstream. CoreDNS's pod uses the node's resolv.conf (dnsPolicy
 *   Default) and a sandbox has no upstream DNS, so forward tries until its 5 s deadline and the client
 *   gets SERVFAIL, while `errors` logs `[ERROR] plugin/errors: 2 <name> <type>: read udp
 *   <pod>:<port>-><upstream>: i/o timeout` — what an air-gapped CoreDNS does. (REFUSED would need
 *   an ACL the Corefile does not have.) The same wait applies to ExternalName targets outside the
 *   cluster, and to the `loop` plugin's start-up probe, whose failures are logged for 30 s.
 * - `loadbalance`: address records of a NOERROR answer are shuffled.
 * - `health` (:8080/health → OK) and `ready` (:8181/ready → OK once the API has been listed).
 * - The server itself (miekg/dns): QR=1 ignored, opcodes other than QUERY/NOTIFY → NOTIMP, a question
 *   count other than 1 (or more than 1 answer/authority or 2 additional records) → FORMERR, unparsable
 *   → FORMERR, a bare header → SERVFAIL, EDNS version ≠ 0 → BADVERS; replies carry the query's OPT
 *   (its UDP size, DO, and the cookie/NSID/padding options echoed) and are fitted to 512 bytes or the
 *   advertised size over UDP (compressed, then truncated with TC), 64 KiB over TCP. Cluster answers are
 *   authoritative without RA (so dig warns "recursion requested but not available", as with CoreDNS).
 * - Not modelled: `cache 30` (answers are computed afresh, TTLs do not count down), `prometheus :9153`,
 *   `reload` (the Corefile is fixed), and the `log` plugin, which kubespray does not enable: no line per
 *   query, as in a real cluster.
 */
import { createHash } from "node:crypto";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import path from "node:path";
import { FaultlineError, withContext } from "../../errors.js";
import { apiClusterSource, type ClusterSource, type ClusterView } from "./coredns-source.js";
import { KubernetesPlugin, kubesprayPluginConfig, pluginZone, type KubernetesPluginConfig } from "./coredns-kubernetes.js";
import {
  DnsParseError, EDNS_DO, OPCODE, RCODE, TYPE, buildMessage, headerMessage, lowerName, nameText, parseMessage, readHeader, scanMessage, typeName,
  type Message, type Question, type ResourceRecord,
} from "./dns-wire.js";
import type { LineSink } from "./golog.js";
import type { RunningWorkload } from "./types.js";

export const COREDNS_VERSION = "1.8.6";

/** kubespray v2.19's Corefile with its defaults (coredns-config.yml.j2), as `kubectl -n kube-system get cm coredns` shows it. */
export const COREFILE = `.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . /etc/resolv.conf {
      prefer_udp
      max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;

/**
 * What CoreDNS 1.8.6 prints when it starts: the server block, the reload plugin's digest of the
 * Corefile (MD5 in 1.8.x; SHA512 only from 1.9), the version, and the build (go1.17.1, commit 13a9191).
 */
export function corednsBanner(corefile: string = COREFILE): string[] {
  const md5 = createHash("md5").update(corefile).digest("hex");
  return [".:53", `[INFO] plugin/reload: Running configuration MD5 = ${md5}`, `CoreDNS-${COREDNS_VERSION}`, "linux/amd64, go1.17.1, 13a9191"];
}

/** Ports of the CoreDNS container (kubespray's Deployment and its probes). */
export const COREDNS_PORTS = { dns: 53, health: 8080, ready: 8181 } as const;

/** The unix sockets one CoreDNS pod's workload listens on, one per relayed port and transport. */
export interface CoreDnsSockets {
  /** DNS over UDP: one connection per datagram (socat UDP4-RECVFROM,fork). */
  udp: string;
  /** DNS over TCP: RFC 1035 4.2.2 length-prefixed messages, a stream per TCP connection. */
  tcp: string;
  /** HTTP, `GET /health`. */
  health: string;
  /** HTTP, `GET /ready`. */
  ready: string;
}

/** Socket paths in `dir` named `<stem>-dns-udp.sock` etc. (keep `dir` short: a unix path fits in 108 bytes). */
export function corednsSockets(dir: string, stem: string): CoreDnsSockets {
  const p = (what: string) => path.join(dir, `${stem}-${what}.sock`);
  return { udp: p("dns-udp"), tcp: p("dns-tcp"), health: p("health"), ready: p("ready") };
}

/** A relay the supervisor starts in the pod's network namespace: `nsenter --net=<netns> -- <argv>`. */
export interface CoreDnsRelay {
  port: number;
  protocol: "UDP" | "TCP";
  argv: string[];
}

/**
 * How long a relay keeps a UDP exchange open after socat considers the datagram delivered (its
 * `-t`): socat half-closes the unix side right after writing the datagram and, by default, gives the
 * reply only 0.5 s. A forwarded name is answered after {@link FORWARD_TIMEOUT_MS}, so the relays wait longer.
 */
export const RELAY_LINGER_S = 10;

/** socat's default transfer block is 8192 bytes; a larger reply would leave as several datagrams. */
export const RELAY_BLOCK = 65535;

/**
 * The socat command lines that own the pod's ports, to run in its network namespace:
 *
 *     socat -b 65535 -t 10 UDP4-RECVFROM:53,fork UNIX-CONNECT:<udp sock>
 *     socat -b 65535 -t 10 TCP-LISTEN:53,fork,reuseaddr UNIX-CONNECT:<tcp sock>
 *     socat TCP-LISTEN:8080,fork,reuseaddr UNIX-CONNECT:<health sock>
 *     socat TCP-LISTEN:8181,fork,reuseaddr UNIX-CONNECT:<ready sock>
 *
 * @example for (const r of corednsRelays(corednsSockets(dir, "7"))) spawn("nsenter", [`--net=/run/netns/${pod.netns}`, "--", ...r.argv])
 */
export function corednsRelays(s: CoreDnsSockets): CoreDnsRelay[] {
  const dns = ["-b", String(RELAY_BLOCK), "-t", String(RELAY_LINGER_S)];
  return [
    { port: COREDNS_PORTS.dns, protocol: "UDP", argv: ["socat", ...dns, `UDP4-RECVFROM:${COREDNS_PORTS.dns},fork`, `UNIX-CONNECT:${s.udp}`] },
    { port: COREDNS_PORTS.dns, protocol: "TCP", argv: ["socat", ...dns, `TCP-LISTEN:${COREDNS_PORTS.dns},fork,reuseaddr,nodelay`, `UNIX-CONNECT:${s.tcp}`] },
    { port: COREDNS_PORTS.health, protocol: "TCP", argv: ["socat", `TCP-LISTEN:${COREDNS_PORTS.health},fork,reuseaddr`, `UNIX-CONNECT:${s.health}`] },
    { port: COREDNS_PORTS.ready, protocol: "TCP", argv: ["socat", `TCP-LISTEN:${COREDNS_PORTS.ready},fork,reuseaddr`, `UNIX-CONNECT:${s.ready}`] },
  ];
}

/** Whether a pod is one of kubespray's CoreDNS replicas (kube-system, `k8s-app: kube-dns`). */
export function isCoreDnsPod(pod: { namespace: string; labels?: Record<string, string> | undefined }): boolean {
  return pod.namespace === "kube-system" && pod.labels?.["k8s-app"] === "kube-dns";
}

/** forward's overall deadline per query (plugin/forward defaultTimeout). */
export const FORWARD_TIMEOUT_MS = 5000;

/** How a query is answered, independent of the transport's framing. */
export interface ResponderOptions {
  plugin: KubernetesPluginConfig;
  /** The cluster as last listed (asked only for names in the plugin's zones). */
  view: () => Promise<ClusterView | undefined>;
  /** The upstream nameserver from the pod's resolv.conf (`ip` or `ip:port`), for the error text. */
  upstream?: string | undefined;
  /** The pod's address, the source of forwarded queries in the error text. */
  podIP?: string | undefined;
  /** How long forward takes to give up; default {@link FORWARD_TIMEOUT_MS}. */
  forwardTimeoutMs?: number | undefined;
  /** Random numbers in [0, 1) for loadbalance and ephemeral ports (tests pass a fixed one). */
  random?: (() => number) | undefined;
}

/** What to send back, when, and what `errors` logs. `reply` null: drop the message. */
export interface DnsResponse {
  reply: Buffer | null;
  delayMs: number;
  error?: string | undefined;
}

/** EDNS options CoreDNS copies from the query's OPT into the reply (request.supportedOptions). */
const ECHOED_OPTIONS = new Set([3, 9, 10, 11, 12]);

function replyTo(req: Message): Message {
  return {
    id: req.id, qr: true, opcode: req.opcode, aa: false, tc: false, rd: req.rd, ra: false, z: false, ad: false, cd: req.cd, rcode: RCODE.NOERROR,
    question: req.question.slice(0, 1), answer: [], authority: [], additional: [],
  };
}

/** request.SizeAndDo: the query's OPT, version 0, flags but the low byte, supported options only. */
function addEdns(reply: Message, req: Message): Message {
  if (req.edns) reply.edns = { udpSize: req.edns.udpSize, version: 0, flags: req.edns.flags & 0xff00, options: req.edns.options.filter((o) => ECHOED_OPTIONS.has(o.code)) };
  return reply;
}

function maxSize(req: Message, transport: "udp" | "tcp"): number {
  if (transport === "tcp") return 65535;
  return req.edns ? Math.max(512, req.edns.udpSize) : 512;
}

/** loadbalance's round robin: CNAMEs, then other records, then shuffled addresses, then shuffled MX. */
function roundRobin(rrs: ResourceRecord[], random: () => number): ResourceRecord[] {
  const shuffle = (a: ResourceRecord[]) => {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
  const by = (f: (t: number) => boolean) => rrs.filter((r) => f(r.type));
  const addr = (t: number) => t === TYPE.A || t === TYPE.AAAA;
  return [
    ...by((t) => t === TYPE.CNAME),
    ...by((t) => t !== TYPE.CNAME && !addr(t) && t !== TYPE.MX),
    ...shuffle(by(addr)),
    ...shuffle(by((t) => t === TYPE.MX)),
  ];
}

/** miekg's answer to a message it will not unpack: the query's header, QR set, AA and Z clear. */
function rejection(wire: Buffer, rcode: number, question: Question[] = []): Buffer {
  const m = headerMessage(readHeader(wire));
  m.qr = true;
  m.aa = false;
  m.z = false;
  if (rcode !== RCODE.NOTIMP) m.opcode = OPCODE.QUERY;
  m.rcode = rcode;
  m.question = question;
  return buildMessage(m);
}

function forwardError(o: ResponderOptions): string {
  if (!o.upstream) return "no healthy proxies";
  const random = o.random ?? Math.random;
  const u = o.upstream;
  const upstream = /^[^:]+:\d+$/.test(u) || /^\[.*\]:\d+$/.test(u) ? u : u.includes(":") ? `[${u}]:53` : `${u}:53`;
  const port = 32768 + Math.floor(random() * 28232);
  return `read udp ${o.podIP ?? "0.0.0.0"}:${port}->${upstream}: i/o timeout`;
}

function errorsLine(q: Question, error: string): string {
  return `[ERROR] plugin/errors: ${RCODE.SERVFAIL} ${nameText(lowerName(q.name))} ${typeName(q.type)}: ${error}`;
}

/**
 * Answers one DNS message as CoreDNS would, over `transport` (which decides the size limit).
 *
 * @example const { reply } = await respondDns(queryBytes, "udp", { plugin: kubesprayPluginConfig(), view: async () => view })
 */
export async function respondDns(wire: Buffer, transport: "udp" | "tcp", o: ResponderOptions): Promise<DnsResponse> {
  const none: DnsResponse = { reply: null, delayMs: 0 };
  if (wire.length < 12) return none;
  const h = readHeader(wire);
  if (h.flags & 0x8000) return none;
  const opcode = (h.flags >> 11) & 0xf;
  if (opcode !== OPCODE.QUERY && opcode !== OPCODE.NOTIFY) return { reply: rejection(wire, RCODE.NOTIMP), delayMs: 0 };
  if (h.qdcount !== 1 || h.ancount > 1 || h.nscount > 1 || h.arcount > 2) return { reply: rejection(wire, RCODE.FORMERR), delayMs: 0 };
  let req: Message;
  try {
    req = parseMessage(wire);
  } catch (err) {
    if (err instanceof DnsParseError) return { reply: rejection(wire, RCODE.FORMERR, err.partial.question), delayMs: 0 };
    throw err;
  }
  const size = maxSize(req, transport);
  const q = req.question[0];
  if (!q) return { reply: buildMessage({ ...replyTo(req), rcode: RCODE.SERVFAIL }, size), delayMs: 0 };
  if (req.edns && req.edns.version !== 0) {
    const m = { ...replyTo(req), rcode: RCODE.BADVERS, edns: { udpSize: req.edns.udpSize, version: 0, flags: req.edns.flags & EDNS_DO, options: [] } };
    return { reply: buildMessage(m, size), delayMs: 0 };
  }
  const forwardMs = o.forwardTimeoutMs ?? FORWARD_TIMEOUT_MS;
  const bare = (rcode: number) => buildMessage(addEdns({ ...replyTo(req), rcode }, req), size);
  try {
    const inZone = pluginZone(o.plugin, q.name) !== null;
    const outcome = inZone ? new KubernetesPlugin(o.plugin, await o.view()).serve(q) : ({ kind: "next" } as const);
    if (outcome.kind === "next") return { reply: bare(RCODE.SERVFAIL), delayMs: forwardMs, error: errorsLine(q, forwardError(o)) };
    if (outcome.kind === "rcode") return { reply: bare(outcome.rcode), delayMs: 0 };
    const m: Message = { ...replyTo(req), aa: true, rcode: outcome.rcode, answer: outcome.answer, authority: outcome.authority, additional: outcome.additional };
    if (m.rcode === RCODE.NOERROR) {
      const random = o.random ?? Math.random;
      m.answer = roundRobin(m.answer, random);
      m.authority = roundRobin(m.authority, random);
      m.additional = roundRobin(m.additional, random);
    }
    return { reply: buildMessage(addEdns(m, req), size), delayMs: outcome.upstreamLookups * forwardMs };
  } catch (err) {
    // a record that cannot be written (an ExternalName with an overlong label) or a bug: SERVFAIL, as a Go error would give
    return { reply: bare(RCODE.SERVFAIL), delayMs: 0, error: errorsLine(q, err instanceof Error ? err.message : String(err)) };
  }
}

/** Options of {@link startCoreDns}. */
export interface CoreDnsOptions {
  /** The unix sockets to listen on (see {@link corednsSockets}); `udp` is required, the others optional. */
  sockets: Partial<CoreDnsSockets> & { udp: string };
  /** The admin kubeconfig the cluster is read with (ignored when `source` is given). */
  kubeconfig?: string;
  /** Where the cluster comes from instead (tests; or one source shared by several replicas). */
  source?: ClusterSource;
  /** The pod's IP: NS records, and the source address in forward's errors. */
  podIP?: string;
  /** The upstream from the pod's /etc/resolv.conf (the node's: CoreDNS runs with dnsPolicy Default). */
  upstream?: string;
  /** Default {@link FORWARD_TIMEOUT_MS}. */
  forwardTimeoutMs?: number;
  /** Re-list the API when the view is older than this at a query; default 1000 ms. */
  maxAgeMs?: number;
  /** How long start-up waits for the first list before serving unsynced; default 5000 ms. */
  startupTimeoutMs?: number;
  /** Emulate the loop plugin's start-up probe (logged forward errors for 30 s); default true. */
  loopProbe?: boolean;
  /** Where log lines go (they become `kubectl logs`); default stdout. */
  log?: LineSink;
  random?: () => number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The loop plugin's probe name: two random int63 labels. */
function probeName(random: () => number): string {
  const int63 = () => String(BigInt(Math.floor(random() * 2 ** 31)) * 4294967296n + BigInt(Math.floor(random() * 2 ** 32)));
  return `${int63()}.${int63()}.`;
}

/**
 * Starts CoreDNS on unix sockets, after the first list of the cluster (or 5 s of trying, as the
 * kubernetes plugin waits at start-up). Relays in the pod's network namespace own the ports; their
 * exact command lines come from {@link corednsRelays}:
 *
 *     socat -b 65535 -t 10 UDP4-RECVFROM:53,fork UNIX-CONNECT:<sockets.udp>
 *     socat -b 65535 -t 10 TCP-LISTEN:53,fork,reuseaddr UNIX-CONNECT:<sockets.tcp>
 *     socat TCP-LISTEN:8080,fork,reuseaddr UNIX-CONNECT:<sockets.health>
 *     socat TCP-LISTEN:8181,fork,reuseaddr UNIX-CONNECT:<sockets.ready>
 *
 * UDP: socat forks per datagram, writes the datagram to a fresh unix connection and half-closes it;
 * whatever comes back (written here in one piece) is sent as the one reply datagram, from port 53.
 * `-t 10` keeps the child waiting for replies that take forward's 5 s; `-b 65535` keeps a reply larger
 * than socat's 8 KiB default block in one datagram. A message is answered as soon as the header's
 * counts of records have arrived, or at end of input when they never do (then it is malformed).
 * TCP: the stream is passed through, 2-byte length prefixes and all; queries are answered in order.
 *
 * @example const dns = await startCoreDns({ sockets: corednsSockets(dir, "3"), kubeconfig: adminConf, podIP: pod.address, upstream: plan.nodeNetwork.gateway, log })
 */
export async function startCoreDns(opts: CoreDnsOptions): Promise<RunningWorkload> {
  const log = opts.log ?? ((l) => process.stdout.write(l + "\n"));
  const random = opts.random ?? Math.random;
  let source = opts.source;
  if (!source) {
    if (!opts.kubeconfig) throw new FaultlineError("CoreDNS needs a kubeconfig or a cluster source");
    source = apiClusterSource({ kubeconfig: opts.kubeconfig, maxAgeMs: opts.maxAgeMs ?? 1000, log });
  }
  const src = source;
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let closed = false;
  const later = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  let synced = false;
  const view = async () => {
    const v = await src.view();
    if (v) synced = true;
    return v;
  };

  // kubernetes plugin onStart: wait for the informers, logging every 500 ms, at most 5 s
  const startupMs = opts.startupTimeoutMs ?? 5000;
  const started = Date.now();
  let nextLog = 500;
  while (!(await view())) {
    const elapsed = Date.now() - started;
    if (elapsed >= startupMs) {
      log("[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API");
      break;
    }
    if (elapsed >= nextLog) {
      log("[INFO] plugin/kubernetes: waiting for Kubernetes API before starting server");
      nextLog += 500;
    }
    await sleep(100);
  }

  const responder: ResponderOptions = {
    plugin: kubesprayPluginConfig(opts.podIP ? [opts.podIP] : []),
    view,
    upstream: opts.upstream,
    podIP: opts.podIP,
    forwardTimeoutMs: opts.forwardTimeoutMs,
    random,
  };

  const answer = async (wire: Buffer, transport: "udp" | "tcp"): Promise<Buffer | null> => {
    let r: DnsResponse;
    try {
      r = await respondDns(wire, transport, responder);
    } catch (err) {
      log(`[ERROR] plugin/errors: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
    if (r.delayMs > 0) await later(r.delayMs);
    if (r.error && !closed) log(r.error);
    return r.reply;
  };

  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    // a relay that goes away mid-answer (client gone, socat timed out) is not our problem
    s.on("error", () => s.destroy());
  };

  const udp = createNetServer({ allowHalfOpen: true }, (s) => {
    track(s);
    let buf = Buffer.alloc(0);
    let taken = false;
    s.setTimeout((RELAY_LINGER_S + 5) * 1000, () => s.destroy());
    const take = () => {
      if (taken) return;
      taken = true;
      void answer(buf, "udp").then((reply) => {
        if (s.destroyed) return;
        if (reply) s.end(reply);
        else s.end();
      });
    };
    s.on("data", (d: Buffer) => {
      if (taken) return;
      buf = Buffer.concat([buf, d]);
      const end = scanMessage(buf);
      if (end !== "incomplete" || buf.length >= 65535) take();
    });
    s.on("end", take);
  });

  const tcp = createNetServer({ allowHalfOpen: true }, (s) => {
    track(s);
    let buf = Buffer.alloc(0);
    let queue = Promise.resolve();
    let pending = 0;
    let ended = false;
    // miekg's idle timeout for TCP connections
    s.setTimeout(8000, () => s.end());
    const done = () => {
      if (ended && pending === 0 && !s.destroyed) s.end();
    };
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        pending++;
        queue = queue.then(async () => {
          const reply = await answer(msg, "tcp");
          if (reply && !s.destroyed) {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(reply.length);
            s.write(Buffer.concat([len, reply]));
          }
          pending--;
          done();
        });
      }
    });
    s.on("end", () => {
      ended = true;
      done();
    });
  });

  const textServer = (route: string, body: () => Promise<{ code: number; text: string }>): HttpServer =>
    createHttpServer((req, res) => {
      req.resume();
      const reply = (code: number, text: string) => {
        res.writeHead(code, { "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(text)) });
        res.end(text);
      };
      if ((req.url ?? "/").split("?")[0] !== route) return reply(404, "404 page not found\n");
      body().then((b) => reply(b.code, b.text), () => reply(503, "kubernetes"));
    });
  const health = textServer("/health", async () => ({ code: 200, text: "OK" }));
  const ready = textServer("/ready", async () => ((await view()) || synced ? { code: 200, text: "OK" } : { code: 503, text: "kubernetes" }));

  const servers: Array<[NetServer | HttpServer, string | undefined]> = [
    [udp, opts.sockets.udp],
    [tcp, opts.sockets.tcp],
    [health, opts.sockets.health],
    [ready, opts.sockets.ready],
  ];
  const listening: Array<NetServer | HttpServer> = [];
  const closeAll = async () => {
    closed = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const s of sockets) s.destroy();
    for (const s of [health, ready]) s.closeAllConnections();
    await Promise.all(listening.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (!opts.source) src.close();
  };
  for (const [server, at] of servers) {
    if (!at) continue;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(at, () => {
          server.off("error", reject);
          resolve();
        });
      });
      listening.push(server);
    } catch (err) {
      await closeAll();
      throw withContext(`CoreDNS cannot listen on ${at}`, err);
    }
  }

  for (const line of corednsBanner()) log(line);

  if (opts.loopProbe ?? true) {
    // the loop plugin asks itself `<random>.<random>. HINFO` (2 s client timeout, 1 s pause) for 30 s;
    // each attempt is forwarded and fails, and `errors` logs it
    const name = probeName(random);
    const probe: Question = { name: name.slice(0, -1).split("."), type: TYPE.HINFO, class: 1 };
    const forwardMs = opts.forwardTimeoutMs ?? FORWARD_TIMEOUT_MS;
    for (let at = 0; at < 30_000; at += 3000) {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!closed) log(errorsLine(probe, forwardError(responder)));
      }, at + forwardMs);
      t.unref();
      timers.add(t);
    }
  }

  return { port: COREDNS_PORTS.dns, close: closeAll };
}
