/**
 * `probe`: can a node or pod reach a Service, pod, node or address, with the tools a trainee would use,
 * run inside the sandbox: `nc -z` (tcp), `curl` (http), `ping` (icmp).
 *
 * @example
 * ```yaml
 * # the API server's node reaches the MetalLB webhook (the flagship's symptom: it times out)
 * check: {probe: {from: node/cp-1, to: svc/metallb-system/metallb-webhook-service, port: 443, expect: open}}
 * # hello-world answers HTTP 200 through its Service
 * check: {probe: {from: pod/default/netshoot, to: svc/default/hello-world, protocol: http, port: 80, status: 200}}
 * # a default-deny policy drops traffic to the pod: the connection times out (it is not refused)
 * check: {probe: {from: node/worker-1, to: pod/default/web, port: 80, expect: timeout}}
 * # worker-3 can ping cp-1's node address
 * check: {probe: {from: node/worker-3, to: node/cp-1}}
 * ```
 *
 * Destinations: `svc/<ns>/<name>` is its ClusterIP (read from the API; `port` is the Service's port),
 * `pod/<ns>/<name>` its podIP (API), `node/<name>` its node address (the plan; the Node's InternalIP
 * where there is no plan). A destination that does not exist, or has no address yet, is "fail".
 *
 * Outcomes, as the kernel reports them to the tool:
 * - open: the TCP handshake completed (http: and an HTTP answer came; icmp: an echo reply came);
 * - closed: refused (RST, ICMP port unreachable) or unreachable at once: no route / network unreachable
 *   (EHOSTUNREACH, ENETUNREACH, also ICMP host unreachable), a `prohibit` route (EACCES), a `blackhole`
 *   route for a locally originated packet (EINVAL: "Invalid argument");
 * - timeout: nothing came back within `timeout` (dropped on the way there or back).
 * For http, `status` (default: any 2xx or 3xx) must match too; a TCP connection that gives no HTTP
 * answer in time is open, without a status. `scheme` defaults to https on port 443 (certificates are
 * not verified), http otherwise.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { CheckResult, ProbeCheck } from "../schema.js";
import { apiUnavailable, httpStatus } from "../kube-client.js";
import { CouldNotCheck, formatMs, type CheckContext, type CheckKindModule, type ExecOutcome, type Trigger } from "../types.js";

export type ProbeState = "open" | "closed" | "timeout";

/** What one probe saw: a state and the tool's reason; `error` when the tool itself failed. */
export type ProbeOutcome = { state: ProbeState; reason: string; status?: number } | { error: string };

/** The protocol a probe uses: tcp with a port, icmp without, unless `protocol` says. */
export function probeProtocol(spec: Pick<ProbeCheck, "protocol" | "port">): "tcp" | "http" | "icmp" {
  return spec.protocol ?? (spec.port === undefined ? "icmp" : "tcp");
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The port a probe connects to (none for icmp) and, for http, the scheme. */
export function probePort(spec: ProbeCheck): { port?: number; scheme?: "http" | "https" } {
  const protocol = probeProtocol(spec);
  if (protocol === "icmp") return {};
  if (protocol === "tcp") return { port: spec.port! };
  const port = spec.port ?? (spec.scheme === "https" ? 443 : 80);
  return { port, scheme: spec.scheme ?? (port === 443 ? "https" : "http") };
}

/** The command a probe runs in its source, for an address. */
export function probeArgv(spec: ProbeCheck, ip: string): string[] {
  const s = String(seconds(spec.timeout));
  const { port, scheme } = probePort(spec);
  switch (probeProtocol(spec)) {
    case "tcp":
      return ["nc", "-z", "-v", "-n", "-w", s, ip, String(port)];
    case "http": {
      const url = `${scheme}://${ip}:${port}${spec.path.startsWith("/") ? "" : "/"}${spec.path}`;
      return ["curl", "-sS", "-v", "-k", "-o", "/dev/null", "-w", "%{http_code}", "--connect-timeout", s, "--max-time", s, url];
    }
    case "icmp":
      return ["ping", "-c", "1", "-n", "-W", s, ip];
  }
}

/** The errno text of a failed connect, as nc/curl/ping print it, mapped to "closed" reasons. */
const CLOSED_REASONS: Array<[RegExp, string]> = [
  [/Connection refused/, "connection refused"],
  [/No route to host|Host Unreachable/i, "no route to host"],
  [/Network is unreachable|Net Unreachable/i, "network unreachable"],
  [/Invalid argument/, "invalid argument (a blackhole route)"],
  [/Permission denied|Packet filtered|Do you want to ping broadcast/, "administratively prohibited"],
  [/Port Unreachable/i, "port unreachable"],
];

function closedReason(text: string): string | undefined {
  return CLOSED_REASONS.find(([re]) => re.test(text))?.[1];
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop() ?? "";
}

/**
 * OpenBSD netcat `nc -z -v -n -w S ip port`: exit 0 "succeeded"; exit 1 with "failed: <errno text>" or
 * "timed out: Operation now in progress".
 */
export function classifyTcp(r: ExecOutcome): ProbeOutcome {
  const text = r.stdout + r.stderr;
  if (r.code === 0 && /succeeded|open/.test(text)) return { state: "open", reason: "connected" };
  if (/timed out/.test(text) || r.timedOut) return { state: "timeout", reason: "no answer" };
  const reason = closedReason(text);
  if (r.code !== 0 && reason) return { state: "closed", reason };
  return { error: `nc exited ${r.code}: ${lastLine(text) || "no output"}` };
}

/**
 * `curl -sS -v -o /dev/null -w %{http_code}`: exit 0 with the status on stdout; 7 could not connect
 * (the errno text is in -v's "Immediate connect fail ...: X" or "connect to ... failed: X"); 28 timed
 * out (open when -v says "Connected to", i.e. no HTTP answer in time); 52/56/35 the connection was
 * made and then closed, reset, or TLS failed (open, no status).
 */
export function classifyHttp(r: ExecOutcome): ProbeOutcome {
  const connected = /^\* Connected to /m.test(r.stderr);
  const code = Number(r.stdout.trim().slice(-3));
  if (r.code === 0 && code >= 100) return { state: "open", reason: `answered ${code}`, status: code };
  if (r.code === 7) {
    const errno = /(?:Immediate connect fail for [^:]+|connect to .* failed): (.+)$/m.exec(r.stderr)?.[1] ?? "";
    return { state: "closed", reason: closedReason(errno) ?? closedReason(r.stderr) ?? "could not connect" };
  }
  if (r.code === 28 || r.timedOut) return connected ? { state: "open", reason: "connected, but no HTTP answer in time" } : { state: "timeout", reason: "no answer" };
  if (connected && [35, 52, 56].includes(r.code)) return { state: "open", reason: `connected, then ${lastLine(r.stderr).replace(/^curl: \(\d+\) /, "")}` };
  if (r.code === 56 || r.code === 52) return { state: "closed", reason: "connection reset" };
  return { error: `curl exited ${r.code}: ${lastLine(r.stderr) || "no output"}` };
}

/**
 * `ping -c 1 -n -W S`: exit 0 a reply; exit 1 no reply ("0 received") or an ICMP error ("From ...
 * Destination Host Unreachable"); exit 2 the kernel refused at once ("ping: connect: Invalid argument").
 */
export function classifyIcmp(r: ExecOutcome): ProbeOutcome {
  const text = r.stdout + r.stderr;
  if (r.code === 0) return { state: "open", reason: "echo reply" };
  const reason = closedReason(text);
  if (reason && (r.code === 1 || r.code === 2)) return { state: "closed", reason };
  if ((r.code === 1 && / 0 received/.test(text)) || r.timedOut) return { state: "timeout", reason: "no reply" };
  return { error: `ping exited ${r.code}: ${lastLine(text) || "no output"}` };
}

export function classifyProbe(protocol: "tcp" | "http" | "icmp", r: ExecOutcome): ProbeOutcome {
  return protocol === "tcp" ? classifyTcp(r) : protocol === "http" ? classifyHttp(r) : classifyIcmp(r);
}

/** Whether what was seen is what the check expects; the detail says what was seen either way. */
export function judgeProbe(spec: ProbeCheck, outcome: Exclude<ProbeOutcome, { error: string }>, shown: string): CheckResult {
  const protocol = probeProtocol(spec);
  const seen = `${outcome.state} (${outcome.reason})`;
  const expectedStatus = spec.status === undefined ? "2xx/3xx" : String(spec.status);
  if (outcome.state !== spec.expect) {
    const wait = outcome.state === "timeout" ? ` within ${formatMs(spec.timeout)}` : "";
    return { status: "fail", detail: `${shown}: ${seen}${wait}, expected ${spec.expect}` };
  }
  if (protocol === "http" && spec.expect === "open") {
    const ok = outcome.status !== undefined && (spec.status === undefined ? outcome.status >= 200 && outcome.status < 400 : outcome.status === spec.status);
    if (!ok) return { status: "fail", detail: `${shown}: ${outcome.status === undefined ? outcome.reason : `answered ${outcome.status}`}, expected ${expectedStatus}` };
  }
  return { status: "pass", detail: `${shown}: ${seen}` };
}

/** The destination's address: from the API (svc, pod), the plan or the Node (node), or literal. */
async function resolve(spec: ProbeCheck, ctx: CheckContext): Promise<{ ip: string } | { missing: string }> {
  const [kind, a, b] = spec.to.split("/");
  if (!a) return { ip: spec.to };
  if (kind === "node") {
    const plan = await ctx.plan();
    const planned = plan?.nodes.find((n) => n.name === a);
    if (planned) return { ip: planned.address };
    if (plan) return { missing: `node ${a} does not exist` };
  }
  const header = kind === "node"
    ? { apiVersion: "v1", kind: "Node", metadata: { name: a } }
    : { apiVersion: "v1", kind: kind === "svc" ? "Service" : "Pod", metadata: { namespace: a, name: b! } };
  type Addressed = KubernetesObject & { spec?: { clusterIP?: string }; status?: { podIP?: string; addresses?: Array<{ type?: string; address?: string }> } };
  const gone = { missing: `${header.kind} ${b ? `${a}/${b}` : a} does not exist` };
  // The evaluator's watch of the namespace has it (the probe's triggers watch Services and Pods there).
  const cached = b ? ctx.watched?.get("v1", header.kind, a, b) : undefined;
  if (cached === null) return gone;
  let obj = cached as Addressed | undefined;
  if (!obj) {
    try {
      obj = await ctx.kube().objects.withSignal(ctx.signal).read<Addressed>(header);
    } catch (err) {
      if (httpStatus(err) === 404) return gone;
      throw apiUnavailable(err);
    }
  }
  const ip = kind === "svc" ? obj.spec?.clusterIP : kind === "pod" ? obj.status?.podIP : obj.status?.addresses?.find((x) => x.type === "InternalIP")?.address;
  if (!ip || ip === "None") return { missing: kind === "svc" ? `Service ${a}/${b} has no ClusterIP (headless)` : `${header.kind} ${b ? `${a}/${b}` : a} has no address yet` };
  return { ip };
}

export async function runProbe(spec: ProbeCheck, ctx: CheckContext): Promise<CheckResult> {
  const protocol = probeProtocol(spec);
  if (protocol === "tcp" && spec.port === undefined) throw new CouldNotCheck("a tcp probe needs a port");
  const dest = await resolve(spec, ctx);
  if ("missing" in dest) return { status: "fail", detail: `cannot probe ${spec.to}: ${dest.missing}` };
  // The tool's own limit is whole seconds; the outer limit only catches a tool that hangs.
  const r = await ctx.exec(spec.from, probeArgv(spec, dest.ip), { timeoutMs: seconds(spec.timeout) * 1000 + 3000 });
  const outcome = classifyProbe(protocol, r);
  if ("error" in outcome) throw new CouldNotCheck(`${spec.from}: ${outcome.error}`);
  const { port } = probePort(spec);
  const at = `${dest.ip}${port === undefined ? "" : `:${port}`}`;
  const shown = `${protocol} ${spec.from} -> ${spec.to === dest.ip ? at : `${spec.to} (${at})`}`;
  return judgeProbe(spec, outcome, shown);
}

export const probe: CheckKindModule<"probe"> = {
  kind: "probe",
  describe: (spec) => `${spec.from} reaches ${spec.to}${spec.port ? `:${spec.port}` : ""} over ${probeProtocol(spec)}: ${spec.expect}${spec.status ? ` (${spec.status})` : ""}`,
  triggers: (spec) => {
    const out: Trigger[] = [{ type: "poll" }, { type: "state" }, { type: "settle" }];
    const watch = (kind: string, namespace: string, apiVersion = "v1") => out.push({ type: "kube", apiVersion, kind, namespace });
    const [toKind, toNs] = spec.to.split("/");
    if (toKind === "svc" && toNs) watch("Service", toNs), watch("Endpoints", toNs);
    if (toKind === "pod" && toNs) watch("Pod", toNs);
    const [fromKind, fromNs] = spec.from.split("/");
    if (fromKind === "pod" && fromNs && !(toKind === "pod" && toNs === fromNs)) watch("Pod", fromNs);
    out.push({ type: "kube", apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" });
    return out;
  },
  timeoutMs: (spec) => seconds(spec.timeout) * 1000 + 5000,
  run: (spec, ctx) => runProbe(spec, ctx),
};
