/**
 * CoreDNS 1.8.6's `kubernetes` plugin as kubespray configures it — `kubernetes cluster.local
 * in-addr.arpa ip6.arpa { pods insecure; fallthrough in-addr.arpa ip6.arpa }`, default TTL 5 — over a
 * {@link ClusterView}. Follows the plugin's ServeDNS, Records/findServices/findPods, Reverse and the
 * shared backend lookups (plugin.A, AAAA, SRV, PTR, TXT, CNAME, NS, SOA), including their quirks:
 *
 * - A ClusterIP Service answers A with its ClusterIP (one record however many ports); a headless one
 *   with its ready endpoints' IPs; `<endpoint>.<svc>.<ns>.svc` with the endpoint whose hostname (or
 *   dashed IP) matches. A ClusterIP Service without ports is NXDOMAIN, as is a headless one without
 *   ready endpoints.
 * - SRV `_<port-name>._<proto>.<svc>.<ns>.svc` (underscores optional; both omitted means every port),
 *   priority 0, weight 100/n, the target's A record in the additional section.
 * - `a-b-c-d.<anything>.pod` answers a.b.c.d without checking that such a pod exists (pods insecure).
 * - PTR for a ClusterIP gives the Service's name; for an endpoint IP `<hostname-or-dashed-ip>.<svc>.<ns>.svc`;
 *   any other in-addr.arpa/ip6.arpa name falls through to `forward` (there is no PTR for a pod that
 *   backs no Service: CoreDNS has none either).
 * - Names in the zone that do not exist: NXDOMAIN with the zone's SOA (`ns.dns.<zone>
 *   hostmaster.<zone>`, serial = last change seen, 7200 1800 86400 5) in authority; existing names
 *   without data of the asked type: NOERROR with the SOA (NODATA). Before the first successful list
 *   such answers are SERVFAIL instead.
 * - `dns-version.<zone>` TXT "1.1.0"; `<zone>` NS `<coredns svc>.<ns>.svc.<zone>` (found through the
 *   Service whose endpoints include the CoreDNS pod's IP) and `ns.dns.<zone>` A.
 * - Names are matched case-insensitively; owner names keep the query's case, and so does the zone in
 *   targets and the SOA.
 */
import { ipString, isV4, parseIP } from "./goaddr.js";
import { CLASS_IN, RCODE, TYPE, lowerName, sameName, type Name, type Question, type ResourceRecord } from "./dns-wire.js";
import type { ClusterView, DnsEndpointAddress, DnsEndpoints, DnsService } from "./coredns-source.js";

/** The plugin's configuration. */
export interface KubernetesPluginConfig {
  /** Authoritative zones, lower case (`cluster.local`, `in-addr.arpa`, `ip6.arpa`). */
  zones: Name[];
  /** Zones whose name errors go to the next plugin (`fallthrough in-addr.arpa ip6.arpa`). */
  fallthrough: Name[];
  /** Record TTL (`ttl`, default 5). */
  ttl: number;
  /** The CoreDNS pod's own addresses (for NS records). */
  localIPs: string[];
}

/** kubespray's: `kubernetes cluster.local in-addr.arpa ip6.arpa { pods insecure; fallthrough in-addr.arpa ip6.arpa }`. */
export function kubesprayPluginConfig(localIPs: string[] = [], domain = "cluster.local"): KubernetesPluginConfig {
  const reverse = [["in-addr", "arpa"], ["ip6", "arpa"]];
  return { zones: [domain.split("."), ...reverse], fallthrough: reverse, ttl: 5, localIPs };
}

/** What the plugin did with a query. */
export type PluginOutcome =
  /** Not its zone, or a name error in a fallthrough zone: the next plugin (forward) answers. */
  | { kind: "next" }
  /** It wrote nothing and returned this code: the server answers with a bare reply (REFUSED for AXFR, SERVFAIL). */
  | { kind: "rcode"; rcode: number }
  /**
   * It wrote this reply (authoritative). `upstreamLookups` counts CNAME targets outside the cluster that
   * the plugin asked the upstream about (ExternalName Services): each waits for forward to give up.
   */
  | { kind: "reply"; rcode: number; answer: ResourceRecord[]; authority: ResourceRecord[]; additional: ResourceRecord[]; upstreamLookups: number };

/** A record source as CoreDNS's msg.Service: an address (or a CNAME target, or TXT) under a name. */
interface Entry {
  host: string;
  port: number;
  /** msg.Domain(key): the name this entry stands for (SRV target, NS name). */
  key: Name;
  ttl: number;
  text?: string;
}

class NameError extends Error {}
const noItems = () => new NameError("no items found");

const SCHEMA_VERSION = "1.1.0";

type HostType = "A" | "AAAA" | "CNAME" | "TXT";

function hostType(e: Entry): { what: HostType; ip: string } {
  const ip = parseIP(e.host);
  if (ip === null) return { what: e.text ? "TXT" : "CNAME", ip: "" };
  return { what: isV4(ip) ? "A" : "AAAA", ip: ipString(ip) };
}

function endpointHostname(a: DnsEndpointAddress): string {
  if (a.hostname) return a.hostname;
  if (a.ip.includes(".")) return a.ip.replaceAll(".", "-");
  if (a.ip.includes(":")) return a.ip.replaceAll(":", "-");
  return "";
}

const eqFold = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const matchPortProto = (aPort: string, bPort: string, aProto: string, bProto: string) =>
  (eqFold(aPort, bPort) || aPort === "") && (eqFold(aProto, bProto) || aProto === "");

interface RecordRequest {
  port: string;
  protocol: string;
  endpoint: string;
  service: string;
  namespace: string;
  podOrSvc: "" | "pod" | "svc";
}

/** plugin/kubernetes parse.go: `[_port._proto.|endpoint.]service.namespace.(svc|pod)` under the zone. */
function parseRequest(base: Name): RecordRequest {
  const r: RecordRequest = { port: "", protocol: "", endpoint: "", service: "", namespace: "", podOrSvc: "" };
  if (base.length === 0 || (base.length === 1 && (base[0] === "svc" || base[0] === "pod"))) return r;
  let last = base.length - 1;
  const kind = base[last]!;
  if (kind !== "svc" && kind !== "pod") throw new NameError("invalid request");
  r.podOrSvc = kind;
  if (--last < 0) return r;
  r.namespace = base[last]!;
  if (--last < 0) return r;
  r.service = base[last]!;
  if (--last < 0) return r;
  const strip = (s: string) => (s.startsWith("_") ? s.slice(1) : s);
  if (last === 0) r.endpoint = base[0]!;
  else if (last === 1) {
    r.protocol = strip(base[1]!);
    r.port = strip(base[0]!);
  } else throw new NameError("invalid request");
  return r;
}

function isReverse(name: Name): boolean {
  const n = name.length;
  return n >= 2 && name[n - 1] === "arpa" && (name[n - 2] === "in-addr" || name[n - 2] === "ip6");
}

/** dnsutil.ExtractAddressFromReverse, on a lower-case name. */
function addressFromReverse(name: Name): string {
  const n = name.length;
  if (n < 2 || name[n - 1] !== "arpa") return "";
  const head = name.slice(0, n - 2).reverse();
  if (name[n - 2] === "in-addr") {
    const ip = parseIP(head.join("."));
    return ip !== null && isV4(ip) ? ipString(ip) : "";
  }
  if (name[n - 2] === "ip6") {
    if (head.length !== 32 || head.some((h) => !/^[0-9a-f]$/.test(h))) return "";
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(head.slice(i, i + 4).join(""));
    const ip = parseIP(groups.join(":"));
    return ip === null ? "" : ipString(ip);
  }
  return "";
}

const isSubdomain = (parent: Name, child: Name) =>
  child.length >= parent.length && sameName(child.slice(child.length - parent.length), parent);

/** The plugin zone (spelled as in the query) a name belongs to: the longest matching one, or null. */
export function pluginZone(cfg: KubernetesPluginConfig, qname: Name): Name | null {
  let best: Name | null = null;
  for (const z of cfg.zones) {
    if (isSubdomain(z, qname) && (!best || z.length > best.length)) best = z;
  }
  return best ? qname.slice(qname.length - best.length) : null;
}

/** The plugin over one view. `view` undefined: the informers have not synced yet. */
export class KubernetesPlugin {
  constructor(
    private readonly cfg: KubernetesPluginConfig,
    private readonly view: ClusterView | undefined,
  ) {}

  private get services(): DnsService[] {
    return this.view?.services ?? [];
  }

  private endpointsOf(namespace: string, name: string): DnsEndpoints[] {
    return (this.view?.endpoints ?? []).filter((e) => e.namespace === namespace && e.service === name);
  }

  private findPods(r: RecordRequest, zone: Name): Entry[] {
    const podname = r.service;
    if (podname === "") return [];
    const dashes = podname.split("-").length - 1;
    const text = dashes === 3 && !podname.includes("--") ? podname.replaceAll("-", ".") : podname.replaceAll("-", ":");
    const ip = parseIP(text);
    if (ip === null) throw noItems();
    return [{ host: ipString(ip), port: 0, key: [podname, r.namespace, "pod", ...zone], ttl: this.cfg.ttl }];
  }

  private findServices(r: RecordRequest, zone: Name): Entry[] {
    if (r.service === "") return [];
    let found = false;
    const out: Entry[] = [];
    const ttl = this.cfg.ttl;
    for (const svc of this.services) {
      if (!(eqFold(r.namespace, svc.namespace) && eqFold(r.service, svc.name))) continue;
      const key = [svc.name, svc.namespace, "svc", ...zone];
      if (svc.type === "ExternalName") {
        if (r.endpoint !== "" || !svc.externalName) continue;
        const e: Entry = { host: svc.externalName, port: 0, key, ttl };
        if (hostType(e).what === "CNAME") {
          out.push(e);
          found = true;
        }
        continue;
      }
      if (svc.headless || r.endpoint !== "") {
        for (const ep of this.endpointsOf(svc.namespace, svc.name)) {
          for (const addr of ep.addresses) {
            const host = endpointHostname(addr);
            if (r.endpoint !== "" && !eqFold(r.endpoint, host)) continue;
            for (const p of ep.ports) {
              if (!matchPortProto(r.port, p.name, r.protocol, p.protocol)) continue;
              out.push({ host: addr.ip, port: p.port, key: [host, ...key], ttl });
              found = true;
            }
          }
        }
        continue;
      }
      for (const p of svc.ports) {
        if (!matchPortProto(r.port, p.name, r.protocol, p.protocol)) continue;
        found = true;
        for (const ip of svc.clusterIPs) out.push({ host: ip, port: p.port, key, ttl });
      }
    }
    if (!found) throw noItems();
    return out;
  }

  /** Kubernetes.Records. */
  private records(name: Name, zone: Name): Entry[] {
    const lname = lowerName(name);
    const r = parseRequest(lname.slice(0, lname.length - zone.length));
    if (r.podOrSvc === "") return [];
    if (isReverse(lname)) throw noItems();
    return r.podOrSvc === "pod" ? this.findPods(r, zone) : this.findServices(r, zone);
  }

  /** The A/AAAA records naming the cluster DNS service(s) that front this pod, or the pod itself. */
  private nsAddrs(zone: Name): Array<{ name: Name; ip: string }> {
    const out: Array<{ name: Name; ip: string }> = [];
    for (const local of this.cfg.localIPs) {
      for (const ep of this.view?.endpoints ?? []) {
        if (!ep.addresses.some((a) => a.ip === local)) continue;
        for (const svc of this.services.filter((s) => s.namespace === ep.namespace && s.name === ep.service)) {
          const svcName = [svc.name, svc.namespace, "svc", ...zone];
          if (svc.headless) for (const a of ep.addresses) out.push({ name: [endpointHostname(a), ...svcName], ip: a.ip });
          else for (const ip of svc.clusterIPs) out.push({ name: svcName, ip });
        }
      }
    }
    if (out.length === 0) for (const ip of this.cfg.localIPs) out.push({ name: ["ns", "dns", ...zone], ip });
    return out;
  }

  /** Kubernetes.Services: the TXT and NS special cases, then Records. */
  private lookup(name: Name, qtype: number, zone: Name): Entry[] {
    const lname = lowerName(name);
    const ttl = this.cfg.ttl;
    if (qtype === TYPE.TXT) {
      const base = lname.slice(0, lname.length - zone.length);
      if (base.length === 1 && base[0] === "dns-version") return [{ host: "", port: 0, key: name, ttl: 28800, text: SCHEMA_VERSION }];
      let existing: Entry[] = [];
      try {
        existing = this.records(name, zone);
      } catch {
        // a name error here is the NXDOMAIN below
      }
      if (existing.length > 0) return [];
      throw noItems();
    }
    if (qtype === TYPE.NS) return this.nsAddrs(zone).map((a) => ({ host: a.ip, port: 0, key: a.name, ttl }));
    // isDefaultNS compares the lower-cased name with the zone as the query spelled it
    if (lname.join(".") === ["ns", "dns", ...zone].join(".")) return this.nsAddrs(zone).map((a) => ({ host: a.ip, port: 0, key: name, ttl }));
    const entries = this.records(name, zone);
    return qtype === TYPE.SRV ? entries.filter((e) => hostType(e).what !== "CNAME") : entries;
  }

  private address(qname: Name, zone: Name, want: "A" | "AAAA", previous: ResourceRecord[], counter: { upstream: number }): ResourceRecord[] {
    const entries = this.lookup(qname, want === "A" ? TYPE.A : TYPE.AAAA, zone);
    const records: ResourceRecord[] = [];
    const dup = new Set<string>();
    for (const e of entries) {
      const { what, ip } = hostType(e);
      if (what === "CNAME") {
        const target = e.host.replace(/\.$/, "").split(".");
        if (sameName(target, qname)) continue;
        const cname: ResourceRecord = { name: qname, type: TYPE.CNAME, class: CLASS_IN, ttl: e.ttl, data: { kind: "name", target } };
        if (previous.length > 7) continue;
        if (previous.some((p) => p.type === TYPE.CNAME && p.data.kind === "name" && sameName(p.data.target, target))) continue;
        if (isSubdomain(zone, target)) {
          try {
            const next = this.address(target, zone, want, [...previous, cname], counter);
            if (next.length > 0) records.push(cname, ...next);
          } catch {
            // as CoreDNS: an error resolving the target drops the CNAME
          }
          continue;
        }
        // outside the cluster: the upstream is asked (and, in a sandbox, never answers)
        counter.upstream++;
        records.push(cname);
        continue;
      }
      if (what === want && !dup.has(e.host)) {
        dup.add(e.host);
        records.push({ name: qname, type: want === "A" ? TYPE.A : TYPE.AAAA, class: CLASS_IN, ttl: e.ttl, data: { kind: "ip", ip } });
      }
    }
    return records;
  }

  private srv(qname: Name, zone: Name): { records: ResourceRecord[]; extra: ResourceRecord[] } {
    const entries = this.lookup(qname, TYPE.SRV, zone);
    const weight = Math.max(1, Math.floor(100 / Math.max(entries.length, 1)));
    const records: ResourceRecord[] = [];
    const extra: ResourceRecord[] = [];
    const seen = new Set<string>();
    for (const e of entries) {
      const { what, ip } = hostType(e);
      if (what !== "A" && what !== "AAAA") continue;
      const target = e.key;
      const t = target.join(".");
      if (!seen.has(`${t}|${e.port}`)) {
        seen.add(`${t}|${e.port}`);
        records.push({ name: qname, type: TYPE.SRV, class: CLASS_IN, ttl: e.ttl, data: { kind: "srv", priority: 0, weight, port: e.port, target } });
      }
      if (!seen.has(`${t}|${ip}`)) {
        seen.add(`${t}|${ip}`);
        extra.push({ name: target, type: what === "A" ? TYPE.A : TYPE.AAAA, class: CLASS_IN, ttl: e.ttl, data: { kind: "ip", ip } });
      }
    }
    return { records, extra };
  }

  private ptr(qname: Name, zone: Name): ResourceRecord[] {
    const lname = lowerName(qname);
    const ip = addressFromReverse(lname);
    let targets: Name[];
    if (ip === "") {
      targets = this.records(qname, zone)
        .filter((e) => parseIP(e.host) === null)
        .map((e) => e.host.replace(/\.$/, "").split("."));
    } else {
      targets = this.reverse(ip);
      if (targets.length === 0) throw noItems();
    }
    const dup = new Set<string>();
    const out: ResourceRecord[] = [];
    for (const t of targets) {
      const k = t.join(".");
      if (dup.has(k)) continue;
      dup.add(k);
      out.push({ name: qname, type: TYPE.PTR, class: CLASS_IN, ttl: this.cfg.ttl, data: { kind: "name", target: t } });
    }
    return out;
  }

  /** serviceRecordForIP: the first Service with this ClusterIP, else every endpoint with this IP. */
  private reverse(ip: string): Name[] {
    const primary = this.cfg.zones[0]!;
    const svc = this.services.find((s) => s.clusterIPs.includes(ip));
    if (svc) return [[svc.name, svc.namespace, "svc", ...primary]];
    const out: Name[] = [];
    for (const ep of this.view?.endpoints ?? []) {
      for (const a of ep.addresses) if (a.ip === ip) out.push([endpointHostname(a), ep.service, ep.namespace, "svc", ...primary]);
    }
    return out;
  }

  private soa(zone: Name): ResourceRecord {
    const ttl = Math.min(300, this.cfg.ttl);
    return {
      name: zone,
      type: TYPE.SOA,
      class: CLASS_IN,
      ttl,
      data: { kind: "soa", mname: ["ns", "dns", ...zone], rname: ["hostmaster", ...zone], serial: (this.view?.modified ?? 0) >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: this.cfg.ttl },
    };
  }

  /** handler.go ServeDNS. */
  serve(q: Question): PluginOutcome {
    const qname = q.name;
    const zone = pluginZone(this.cfg, qname);
    if (!zone) return { kind: "next" };
    let answer: ResourceRecord[] = [];
    let extra: ResourceRecord[] = [];
    const counter = { upstream: 0 };
    try {
      switch (q.type) {
        case TYPE.A:
          answer = this.address(qname, zone, "A", [], counter);
          break;
        case TYPE.AAAA:
          answer = this.address(qname, zone, "AAAA", [], counter);
          break;
        case TYPE.TXT:
          answer = this.lookup(qname, TYPE.TXT, zone)
            .filter((e) => hostType(e).what === "TXT")
            .map((e) => ({ name: qname, type: TYPE.TXT, class: CLASS_IN, ttl: e.ttl, data: { kind: "txt", texts: [e.text!] } }));
          break;
        case TYPE.CNAME: {
          const first = this.lookup(qname, TYPE.CNAME, zone)[0];
          if (first && parseIP(first.host) === null) answer = [{ name: qname, type: TYPE.CNAME, class: CLASS_IN, ttl: first.ttl, data: { kind: "name", target: first.host.replace(/\.$/, "").split(".") } }];
          break;
        }
        case TYPE.PTR:
          answer = this.ptr(qname, zone);
          break;
        case TYPE.MX:
          // no mail records in Kubernetes: only the name error matters
          this.lookup(qname, TYPE.MX, zone);
          break;
        case TYPE.SRV: {
          const r = this.srv(qname, zone);
          answer = r.records;
          extra = r.extra;
          break;
        }
        case TYPE.SOA:
          if (qname.join(".") === zone.join(".")) answer = [this.soa(zone)];
          break;
        case TYPE.AXFR:
        case TYPE.IXFR:
          return { kind: "rcode", rcode: RCODE.REFUSED };
        default:
          if (q.type === TYPE.NS && sameName(qname, zone)) {
            const seen = new Set<string>();
            for (const e of this.lookup(qname, TYPE.NS, zone)) {
              const { what, ip } = hostType(e);
              if (what !== "A" && what !== "AAAA") continue;
              extra.push({ name: e.key, type: what === "A" ? TYPE.A : TYPE.AAAA, class: CLASS_IN, ttl: e.ttl, data: { kind: "ip", ip } });
              const k = e.key.join(".");
              if (seen.has(k)) continue;
              seen.add(k);
              answer.push({ name: qname, type: TYPE.NS, class: CLASS_IN, ttl: e.ttl, data: { kind: "name", target: e.key } });
            }
            break;
          }
          // a fake A lookup tells NODATA from NXDOMAIN
          this.address(qname, zone, "A", [], counter);
      }
    } catch (err) {
      if (!(err instanceof NameError)) throw err;
      const lname = lowerName(qname);
      if (this.cfg.fallthrough.some((z) => isSubdomain(z, lname))) return { kind: "next" };
      const rcode = this.view ? RCODE.NXDOMAIN : RCODE.SERVFAIL;
      return { kind: "reply", rcode, answer: [], authority: [this.soa(zone)], additional: [], upstreamLookups: counter.upstream };
    }
    if (answer.length === 0) return { kind: "reply", rcode: RCODE.NOERROR, answer: [], authority: [this.soa(zone)], additional: [], upstreamLookups: counter.upstream };
    return { kind: "reply", rcode: RCODE.NOERROR, answer, authority: [], additional: extra, upstreamLookups: counter.upstream };
  }
}
