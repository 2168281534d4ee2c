/**
 * The CoreDNS workload without an API server: the wire codec (fixtures in test/fixtures/dns), the
 * kubernetes plugin's answers over a fixed view, the API source with a fake client, and the unix
 * socket framing (one connection per UDP datagram; length-prefixed TCP).
 */
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { projectRoot } from "../../../../server/paths.js";
import { apiClusterSource, staticClusterSource, type ClusterView } from "../../../../server/sim/workloads/coredns-source.js";
import { kubesprayPluginConfig } from "../../../../server/sim/workloads/coredns-kubernetes.js";
import {
  COREFILE, corednsBanner, corednsRelays, corednsSockets, isCoreDnsPod, respondDns, startCoreDns, type ResponderOptions,
} from "../../../../server/sim/workloads/coredns.js";
import {
  EDNS_DO, RCODE, TYPE, buildMessage, nameText, parseMessage, parseName, scanMessage, type Edns, type Message, type ResourceRecord,
} from "../../../../server/sim/workloads/dns-wire.js";
import type { KubeClient } from "../../../../server/sim/workloads/kubeclient.js";

const FIX = path.join(projectRoot, "test", "fixtures", "dns");
const fixture = (name: string) => readFileSync(path.join(FIX, name));

const port = (name: string, p: number, protocol = "TCP") => ({ name, port: p, protocol });
const VIEW: ClusterView = {
  modified: 1700000000,
  services: [
    { namespace: "default", name: "kubernetes", type: "ClusterIP", clusterIPs: ["10.233.0.1"], headless: false, ports: [port("https", 443)] },
    { namespace: "kube-system", name: "coredns", type: "ClusterIP", clusterIPs: ["10.233.0.3"], headless: false, ports: [port("dns", 53, "UDP"), port("dns-tcp", 53)] },
    { namespace: "default", name: "hello-world", type: "ClusterIP", clusterIPs: ["10.233.0.11"], headless: false, ports: [port("http", 80)] },
    { namespace: "default", name: "db", type: "ClusterIP", clusterIPs: [], headless: true, ports: [port("pg", 5432)] },
    { namespace: "default", name: "empty", type: "ClusterIP", clusterIPs: ["10.233.0.20"], headless: false, ports: [] },
    { namespace: "default", name: "ext", type: "ExternalName", clusterIPs: [], headless: false, externalName: "example.com", ports: [] },
    { namespace: "default", name: "alias", type: "ExternalName", clusterIPs: [], headless: false, externalName: "kubernetes.default.svc.cluster.local", ports: [] },
  ],
  endpoints: [
    { namespace: "kube-system", service: "coredns", addresses: [{ ip: "10.233.64.129" }, { ip: "10.233.65.1" }], ports: [port("dns", 53, "UDP"), port("dns-tcp", 53)] },
    { namespace: "default", service: "hello-world", addresses: [{ ip: "10.233.66.3" }, { ip: "10.233.66.129" }], ports: [port("http", 8080)] },
    { namespace: "default", service: "db", addresses: [{ ip: "10.233.65.5", hostname: "db-0" }, { ip: "10.233.65.6" }], ports: [port("pg", 5432)] },
  ],
};

function query(name: string, type: number, opts: { edns?: Edns | false; rd?: boolean; id?: number } = {}): Buffer {
  const m: Message = {
    id: opts.id ?? 4242, qr: false, opcode: 0, aa: false, tc: false, rd: opts.rd ?? true, ra: false, z: false, ad: false, cd: false, rcode: 0,
    question: [{ name: parseName(name), type, class: 1 }], answer: [], authority: [], additional: [],
    edns: opts.edns === false ? undefined : (opts.edns ?? { udpSize: 1232, version: 0, flags: 0, options: [{ code: 10, data: Buffer.from("0123456789abcdef", "hex") }] }),
  };
  return buildMessage(m);
}

const responder = (over: Partial<ResponderOptions> = {}): ResponderOptions => ({
  plugin: kubesprayPluginConfig(["10.233.64.129"]),
  view: async () => VIEW,
  upstream: "192.168.10.1",
  podIP: "10.233.64.129",
  random: () => 0,
  ...over,
});

async function ask(name: string, type: number, opts: { edns?: Edns | false; transport?: "udp" | "tcp"; r?: Partial<ResponderOptions>; view?: ClusterView | undefined } = {}) {
  const view = "view" in opts ? opts.view : VIEW;
  const res = await respondDns(query(name, type, opts), opts.transport ?? "udp", { ...responder(opts.r), view: async () => view });
  assert.ok(res.reply, "a reply");
  return { res, msg: parseMessage(res.reply) };
}

const text = (rr: ResourceRecord): string => {
  const d = rr.data;
  const body =
    d.kind === "ip" ? d.ip
    : d.kind === "name" ? nameText(d.target)
    : d.kind === "srv" ? `${d.priority} ${d.weight} ${d.port} ${nameText(d.target)}`
    : d.kind === "soa" ? `${nameText(d.mname)} ${nameText(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`
    : d.kind === "txt" ? d.texts.map((t) => JSON.stringify(t)).join(" ")
    : d.bytes.toString("hex");
  return `${nameText(rr.name)} ${rr.ttl} ${Object.entries(TYPE).find(([, v]) => v === rr.type)?.[0]} ${body}`;
};
const texts = (rrs: ResourceRecord[]) => rrs.map(text);
const SOA = (zone = "cluster.local.") => `${zone} 5 SOA ns.dns.${zone} hostmaster.${zone} 1700000000 7200 1800 86400 5`;

describe("DNS wire format", () => {
  it("parses dig's query: RD+AD, one question, EDNS 1232 with a client cookie", () => {
    const m = parseMessage(fixture("dig-a.bin"));
    assert.equal(m.rd, true);
    assert.equal(m.ad, true);
    assert.deepEqual(m.question, [{ name: ["kubernetes", "default", "svc", "cluster", "local"], type: TYPE.A, class: 1 }]);
    assert.equal(m.edns?.udpSize, 1232);
    assert.deepEqual(m.edns?.options.map((o) => [o.code, o.data.length]), [[10, 8]]);
    assert.equal(m.additional.length, 1, "the OPT record stays in additional too");
  });

  it("knows when a message read from a stream is complete", () => {
    const q = fixture("dig-a.bin");
    for (let n = 0; n < q.length; n++) assert.equal(scanMessage(q.subarray(0, n)), "incomplete", `prefix of ${n}`);
    assert.equal(scanMessage(q), q.length);
    assert.equal(scanMessage(Buffer.concat([q, Buffer.from("junk")])), q.length);
    assert.equal(scanMessage(fixture("reserved-label-type.bin")), "malformed");
  });

  it("round-trips every record shape it writes", () => {
    const rrs: ResourceRecord[] = [
      { name: ["a", "b"], type: TYPE.A, class: 1, ttl: 5, data: { kind: "ip", ip: "10.0.0.1" } },
      { name: ["a", "b"], type: TYPE.AAAA, class: 1, ttl: 5, data: { kind: "ip", ip: "fd00::1" } },
      { name: ["a", "b"], type: TYPE.CNAME, class: 1, ttl: 5, data: { kind: "name", target: ["c", "b"] } },
      { name: ["a", "b"], type: TYPE.SRV, class: 1, ttl: 5, data: { kind: "srv", priority: 0, weight: 50, port: 53, target: ["c", "b"] } },
      { name: ["b"], type: TYPE.SOA, class: 1, ttl: 5, data: { kind: "soa", mname: ["ns", "b"], rname: ["h", "b"], serial: 4294967295, refresh: 1, retry: 2, expire: 3, minimum: 4 } },
      { name: ["a", "b"], type: TYPE.TXT, class: 1, ttl: 28800, data: { kind: "txt", texts: ["1.1.0", ""] } },
    ];
    const m = parseMessage(query("a.b", TYPE.ANY));
    m.qr = true;
    m.answer = rrs;
    assert.deepEqual(parseMessage(buildMessage(m)).answer, rrs);
  });

  it("compresses and then truncates with TC to fit the limit, keeping the OPT record", () => {
    const m = parseMessage(query("many.default.svc.cluster.local", TYPE.A));
    m.qr = true;
    m.answer = Array.from({ length: 60 }, (_, i) => ({ name: m.question[0]!.name, type: TYPE.A, class: 1, ttl: 5, data: { kind: "ip" as const, ip: `10.0.0.${i}` } }));
    const full = buildMessage(m);
    assert.ok(full.length > 2000);
    const fitted = buildMessage(m, 512);
    assert.ok(fitted.length <= 512, `${fitted.length} bytes`);
    const back = parseMessage(fitted);
    assert.equal(back.tc, true);
    assert.ok(back.answer.length > 20 && back.answer.length < 60, `${back.answer.length} answers fit once compressed`);
    assert.equal(back.edns?.udpSize, 1232);
    assert.equal(parseMessage(buildMessage(m, 4096)).tc, false, "compression alone is enough for 4096");
  });

  it("prints names like miekg", () => {
    assert.equal(nameText([]), ".");
    assert.equal(nameText(["a.b", "c d", "x\u0001"]), "a\\.b.c\\032d.x\\001.");
  });
});

describe("malformed messages (test/fixtures/dns)", () => {
  const cases: Array<[string, null | { rcode: number; questions: number; opcode?: number }]> = [
    ["short.bin", null],
    ["response-bit.bin", null],
    ["opcode-update.bin", { rcode: RCODE.NOTIMP, questions: 0, opcode: 5 }],
    ["two-questions.bin", { rcode: RCODE.FORMERR, questions: 0 }],
    ["three-additional.bin", { rcode: RCODE.FORMERR, questions: 0 }],
    ["header-only.bin", { rcode: RCODE.SERVFAIL, questions: 0 }],
    ["label-overrun.bin", { rcode: RCODE.FORMERR, questions: 0 }],
    ["pointer-loop.bin", { rcode: RCODE.FORMERR, questions: 0 }],
    ["reserved-label-type.bin", { rcode: RCODE.FORMERR, questions: 0 }],
    ["name-too-long.bin", { rcode: RCODE.FORMERR, questions: 0 }],
    ["truncated-type.bin", { rcode: RCODE.FORMERR, questions: 0 }],
    ["missing-additional.bin", { rcode: RCODE.FORMERR, questions: 1 }],
    ["bad-opt-option.bin", { rcode: RCODE.FORMERR, questions: 1 }],
    ["edns-version-1.bin", { rcode: RCODE.BADVERS, questions: 1 }],
    ["no-class.bin", { rcode: RCODE.NOERROR, questions: 1 }],
  ];
  for (const [file, want] of cases) {
    it(`${file}: ${want === null ? "dropped" : `rcode ${want.rcode}`}`, async () => {
      const wire = fixture(file);
      const res = await respondDns(wire, "udp", responder());
      if (want === null) return assert.equal(res.reply, null);
      assert.ok(res.reply);
      const m = parseMessage(res.reply);
      assert.equal(m.rcode, want.rcode);
      assert.equal(m.qr, true);
      assert.equal(m.id, wire.readUInt16BE(0));
      assert.equal(m.question.length, want.questions);
      assert.equal(m.opcode, want.opcode ?? 0);
      assert.equal(m.rd, true, "RD is copied");
      if (want.rcode === RCODE.BADVERS) assert.equal(m.edns?.version, 0);
      else if (want.rcode !== RCODE.NOERROR) assert.equal(m.edns, undefined);
    });
  }

  it("survives every truncation and single-byte corruption of a real query", async () => {
    const q = fixture("dig-a.bin");
    const r = responder();
    for (let n = 0; n <= q.length; n++) await respondDns(q.subarray(0, n), "udp", r);
    for (let i = 0; i < q.length; i++) {
      for (const b of [0x00, 0x3f, 0xc0, 0xff]) {
        const c = Buffer.from(q);
        c[i] = b;
        await respondDns(c, "tcp", r);
      }
    }
  });
});

describe("answers (kubernetes cluster.local, pods insecure)", () => {
  it("A of a ClusterIP Service: its ClusterIP, authoritative, TTL 5, no RA, OPT and cookie echoed", async () => {
    const { msg, res } = await ask("kubernetes.default.svc.cluster.local", TYPE.A);
    assert.deepEqual(texts(msg.answer), ["kubernetes.default.svc.cluster.local. 5 A 10.233.0.1"]);
    assert.equal(msg.rcode, RCODE.NOERROR);
    assert.equal(msg.aa, true);
    assert.equal(msg.rd, true);
    assert.equal(msg.ra, false);
    assert.equal(msg.id, 4242);
    assert.deepEqual(msg.question, [{ name: parseName("kubernetes.default.svc.cluster.local"), type: TYPE.A, class: 1 }]);
    assert.equal(msg.edns?.udpSize, 1232);
    assert.deepEqual(msg.edns?.options.map((o) => [o.code, o.data.toString("hex")]), [[10, "0123456789abcdef"]]);
    assert.equal(res.delayMs, 0);
    assert.equal(res.error, undefined);
  });

  it("matches names case-insensitively and answers in the query's spelling", async () => {
    const { msg } = await ask("KUBERNETES.Default.SVC.Cluster.LOCAL", TYPE.A);
    assert.deepEqual(texts(msg.answer), ["KUBERNETES.Default.SVC.Cluster.LOCAL. 5 A 10.233.0.1"]);
    const nx = await ask("nope.default.svc.Cluster.LOCAL", TYPE.A);
    assert.deepEqual(texts(nx.msg.authority), [SOA("Cluster.LOCAL.")]);
    const srv = await ask("_HTTPS._TCP.kubernetes.default.svc.CLUSTER.local", TYPE.SRV);
    assert.deepEqual(texts(srv.msg.answer), ["_HTTPS._TCP.kubernetes.default.svc.CLUSTER.local. 5 SRV 0 100 443 kubernetes.default.svc.CLUSTER.local."]);
  });

  it("A of a headless Service: the ready endpoints; of an endpoint name: that endpoint", async () => {
    const { msg } = await ask("db.default.svc.cluster.local", TYPE.A);
    assert.deepEqual(texts(msg.answer).sort(), ["db.default.svc.cluster.local. 5 A 10.233.65.5", "db.default.svc.cluster.local. 5 A 10.233.65.6"]);
    assert.deepEqual(texts((await ask("db-0.db.default.svc.cluster.local", TYPE.A)).msg.answer), ["db-0.db.default.svc.cluster.local. 5 A 10.233.65.5"]);
    assert.deepEqual(texts((await ask("10-233-66-3.hello-world.default.svc.cluster.local", TYPE.A)).msg.answer), ["10-233-66-3.hello-world.default.svc.cluster.local. 5 A 10.233.66.3"]);
    assert.equal((await ask("10-9-9-9.hello-world.default.svc.cluster.local", TYPE.A)).msg.rcode, RCODE.NXDOMAIN);
  });

  it("loadbalance shuffles addresses", async () => {
    const first = await ask("db.default.svc.cluster.local", TYPE.A, { r: { random: () => 0 } });
    const last = await ask("db.default.svc.cluster.local", TYPE.A, { r: { random: () => 0.99 } });
    assert.notDeepEqual(texts(first.msg.answer), texts(last.msg.answer));
  });

  it("SRV: named port and protocol, with or without underscores, every port without them", async () => {
    const { msg } = await ask("_https._tcp.kubernetes.default.svc.cluster.local", TYPE.SRV);
    assert.deepEqual(texts(msg.answer), ["_https._tcp.kubernetes.default.svc.cluster.local. 5 SRV 0 100 443 kubernetes.default.svc.cluster.local."]);
    assert.deepEqual(texts(msg.additional.filter((r) => r.type !== TYPE.OPT)), ["kubernetes.default.svc.cluster.local. 5 A 10.233.0.1"]);
    assert.equal((await ask("https.tcp.kubernetes.default.svc.cluster.local", TYPE.SRV)).msg.answer.length, 1);
    const all = await ask("coredns.kube-system.svc.cluster.local", TYPE.SRV);
    // both ports (dns/UDP, dns-tcp/TCP) count for the weight; one record per (target, port) remains
    assert.deepEqual(texts(all.msg.answer), ["coredns.kube-system.svc.cluster.local. 5 SRV 0 50 53 coredns.kube-system.svc.cluster.local."]);
    const nx = await ask("_http._udp.kubernetes.default.svc.cluster.local", TYPE.SRV);
    assert.equal(nx.msg.rcode, RCODE.NXDOMAIN);
  });

  it("SRV of a headless Service: one target per endpoint, hostname or dashed IP", async () => {
    const { msg } = await ask("_pg._tcp.db.default.svc.cluster.local", TYPE.SRV);
    assert.deepEqual(texts(msg.answer).sort(), [
      "_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 50 5432 10-233-65-6.db.default.svc.cluster.local.",
      "_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
    ]);
    assert.deepEqual(texts(msg.additional.filter((r) => r.type !== TYPE.OPT)).sort(), [
      "10-233-65-6.db.default.svc.cluster.local. 5 A 10.233.65.6",
      "db-0.db.default.svc.cluster.local. 5 A 10.233.65.5",
    ]);
  });

  it("pods insecure: a-b-c-d.<ns>.pod answers the address, whether or not such a pod exists", async () => {
    assert.deepEqual(texts((await ask("10-233-66-3.default.pod.cluster.local", TYPE.A)).msg.answer), ["10-233-66-3.default.pod.cluster.local. 5 A 10.233.66.3"]);
    assert.deepEqual(texts((await ask("1-2-3-4.nowhere.pod.cluster.local", TYPE.A)).msg.answer), ["1-2-3-4.nowhere.pod.cluster.local. 5 A 1.2.3.4"]);
    assert.equal((await ask("web.default.pod.cluster.local", TYPE.A)).msg.rcode, RCODE.NXDOMAIN);
    assert.equal((await ask("1-2-3.default.pod.cluster.local", TYPE.A)).msg.rcode, RCODE.NXDOMAIN);
    assert.equal((await ask("10-233-66-3.default.pod.cluster.local", TYPE.AAAA)).msg.rcode, RCODE.NOERROR, "NODATA");
  });

  it("PTR: a ClusterIP names its Service, an endpoint IP its endpoint; others fall through to forward", async () => {
    assert.deepEqual(texts((await ask("11.0.233.10.in-addr.arpa", TYPE.PTR)).msg.answer), ["11.0.233.10.in-addr.arpa. 5 PTR hello-world.default.svc.cluster.local."]);
    assert.deepEqual(texts((await ask("3.66.233.10.in-addr.arpa", TYPE.PTR)).msg.answer), ["3.66.233.10.in-addr.arpa. 5 PTR 10-233-66-3.hello-world.default.svc.cluster.local."]);
    assert.deepEqual(texts((await ask("5.65.233.10.in-addr.arpa", TYPE.PTR)).msg.answer), ["5.65.233.10.in-addr.arpa. 5 PTR db-0.db.default.svc.cluster.local."]);
    const unknown = await ask("130.66.233.10.in-addr.arpa", TYPE.PTR, { r: { forwardTimeoutMs: 1234 } });
    assert.equal(unknown.msg.rcode, RCODE.SERVFAIL);
    assert.equal(unknown.res.delayMs, 1234);
    assert.match(unknown.res.error ?? "", /^\[ERROR\] plugin\/errors: 2 130\.66\.233\.10\.in-addr\.arpa\. PTR: read udp 10\.233\.64\.129:\d+->192\.168\.10\.1:53: i\/o timeout$/);
  });

  it("NXDOMAIN with the zone's SOA for unknown names in cluster.local", async () => {
    for (const name of ["nope.default.svc.cluster.local", "foo.cluster.local", "a.b.c.d.e.svc.cluster.local", "empty.default.svc.cluster.local"]) {
      const { msg } = await ask(name, TYPE.A);
      assert.equal(msg.rcode, RCODE.NXDOMAIN, name);
      assert.equal(msg.aa, true);
      assert.deepEqual(msg.answer, []);
      assert.deepEqual(texts(msg.authority), [SOA()], name);
    }
  });

  it("NODATA (NOERROR, SOA, no answers) for existing names without the asked type", async () => {
    for (const [name, type] of [
      ["kubernetes.default.svc.cluster.local", TYPE.AAAA],
      ["kubernetes.default.svc.cluster.local", TYPE.MX],
      ["kubernetes.default.svc.cluster.local", 65],
      ["default.svc.cluster.local", TYPE.A],
      ["svc.cluster.local", TYPE.A],
      ["cluster.local", TYPE.A],
    ] as const) {
      const { msg } = await ask(name, type);
      assert.equal(msg.rcode, RCODE.NOERROR, `${name} ${type}`);
      assert.deepEqual(msg.answer, []);
      assert.deepEqual(texts(msg.authority), [SOA()]);
    }
    assert.equal((await ask("nope.default.svc.cluster.local", TYPE.AAAA)).msg.rcode, RCODE.NXDOMAIN);
  });

  it("SOA, NS, ns.dns and dns-version like CoreDNS", async () => {
    assert.deepEqual(texts((await ask("cluster.local", TYPE.SOA)).msg.answer), [SOA()]);
    const ns = await ask("cluster.local", TYPE.NS);
    assert.deepEqual(texts(ns.msg.answer), ["cluster.local. 5 NS coredns.kube-system.svc.cluster.local."]);
    assert.deepEqual(texts(ns.msg.additional.filter((r) => r.type !== TYPE.OPT)), ["coredns.kube-system.svc.cluster.local. 5 A 10.233.0.3"]);
    assert.deepEqual(texts((await ask("ns.dns.cluster.local", TYPE.A)).msg.answer), ["ns.dns.cluster.local. 5 A 10.233.0.3"]);
    assert.deepEqual(texts((await ask("dns-version.cluster.local", TYPE.TXT)).msg.answer), ['dns-version.cluster.local. 28800 TXT "1.1.0"']);
    assert.equal((await ask("cluster.local", TYPE.AXFR)).msg.rcode, RCODE.REFUSED);
  });

  it("ExternalName: a CNAME, chased inside the cluster, waiting for the upstream outside it", async () => {
    const ext = await ask("ext.default.svc.cluster.local", TYPE.A, { r: { forwardTimeoutMs: 700 } });
    assert.deepEqual(texts(ext.msg.answer), ["ext.default.svc.cluster.local. 5 CNAME example.com."]);
    assert.equal(ext.res.delayMs, 700);
    const alias = await ask("alias.default.svc.cluster.local", TYPE.A);
    assert.deepEqual(texts(alias.msg.answer), ["alias.default.svc.cluster.local. 5 CNAME kubernetes.default.svc.cluster.local.", "kubernetes.default.svc.cluster.local. 5 A 10.233.0.1"]);
    assert.equal(alias.res.delayMs, 0);
  });

  it("names outside the cluster: SERVFAIL once forward gives up, logged by `errors`", async () => {
    const { msg, res } = await ask("example.com", TYPE.A);
    assert.equal(msg.rcode, RCODE.SERVFAIL);
    assert.equal(msg.aa, false);
    assert.equal(msg.ra, false);
    assert.deepEqual(msg.answer, []);
    assert.equal(res.delayMs, 5000);
    assert.match(res.error ?? "", /^\[ERROR\] plugin\/errors: 2 example\.com\. A: read udp 10\.233\.64\.129:\d+->192\.168\.10\.1:53: i\/o timeout$/);
  });

  it("before the first list: SERVFAIL (with SOA) where it would say NXDOMAIN; pod names still answer", async () => {
    const { msg } = await ask("kubernetes.default.svc.cluster.local", TYPE.A, { view: undefined });
    assert.equal(msg.rcode, RCODE.SERVFAIL);
    assert.deepEqual(texts(msg.authority), [SOA("cluster.local.").replace("1700000000", "0")]);
    assert.equal((await ask("1-2-3-4.default.pod.cluster.local", TYPE.A, { view: undefined })).msg.answer.length, 1);
  });

  it("EDNS: no OPT without one in the query, DO kept, only supported options echoed", async () => {
    assert.equal((await ask("kubernetes.default.svc.cluster.local", TYPE.A, { edns: false })).msg.edns, undefined);
    const { msg } = await ask("kubernetes.default.svc.cluster.local", TYPE.A, {
      edns: { udpSize: 4096, version: 0, flags: EDNS_DO | 0x0001, options: [{ code: 8, data: Buffer.from([0, 1, 24, 0, 10, 0, 0]) }, { code: 10, data: Buffer.alloc(8, 7) }] },
    });
    assert.equal(msg.edns?.udpSize, 4096);
    assert.equal(msg.edns?.flags, EDNS_DO);
    assert.deepEqual(msg.edns?.options.map((o) => o.code), [10]);
  });

  it("fits UDP replies to 512 bytes (or the EDNS size) with TC; TCP carries everything", async () => {
    const many: ClusterView = {
      ...VIEW,
      endpoints: [{ namespace: "default", service: "db", addresses: Array.from({ length: 60 }, (_, i) => ({ ip: `10.233.70.${i}` })), ports: [port("pg", 5432)] }],
    };
    const plain = await ask("db.default.svc.cluster.local", TYPE.A, { view: many, edns: false });
    assert.equal(plain.msg.tc, true);
    assert.ok(plain.res.reply!.length <= 512);
    const big = await ask("db.default.svc.cluster.local", TYPE.A, { view: many, edns: { udpSize: 4096, version: 0, flags: 0, options: [] } });
    assert.equal(big.msg.tc, false);
    assert.equal(big.msg.answer.length, 60);
    const tcp = await ask("_pg._tcp.db.default.svc.cluster.local", TYPE.SRV, { view: many, edns: false, transport: "tcp" });
    assert.equal(tcp.msg.tc, false);
    assert.equal(tcp.msg.answer.length, 60);
    assert.equal(tcp.msg.additional.length, 60);
  });
});

describe("apiClusterSource", () => {
  const SERVICES = {
    items: [
      { metadata: { namespace: "default", name: "web" }, spec: { type: "ClusterIP", clusterIP: "10.233.0.50", clusterIPs: ["10.233.0.50"], ports: [{ name: "http", port: 80, protocol: "TCP" }] } },
      { metadata: { namespace: "default", name: "db" }, spec: { type: "ClusterIP", clusterIP: "None", ports: [{ port: 5432 }] } },
      { metadata: { namespace: "default", name: "ext" }, spec: { type: "ExternalName", externalName: "example.com" } },
    ],
  };
  const ENDPOINTS = {
    items: [{ metadata: { namespace: "default", name: "db" }, subsets: [{ addresses: [{ ip: "10.233.65.5", hostname: "db-0" }], notReadyAddresses: [{ ip: "10.233.65.9" }], ports: [{ port: 5432, protocol: "TCP" }] }] }],
  };
  const SLICES = {
    items: [
      {
        metadata: { namespace: "default", name: "db-abc", labels: { "kubernetes.io/service-name": "db" } },
        endpoints: [{ addresses: ["10.233.65.5"], hostname: "db-0", conditions: { ready: true } }, { addresses: ["10.233.65.9"], conditions: { ready: false } }],
        ports: [{ name: "", port: 5432, protocol: "TCP" }],
      },
    ],
  };

  function fakeClient(routes: Record<string, { status: number; body?: unknown } | Error>) {
    const calls: string[] = [];
    const get: KubeClient["get"] = async (p) => {
      calls.push(p);
      const r = routes[p];
      if (r instanceof Error) throw r;
      return r ? { status: r.status, body: r.body } : { status: 404, body: { kind: "Status", message: "the server could not find the requested resource" } };
    };
    const client: KubeClient = { get, request: (_method, p) => get(p), stream: (_p, _line, end) => (end(new Error("no watch here")), () => {}), closeIdle: () => {} };
    return { client, calls };
  }

  it("reads Services and Endpoints when discovery.k8s.io is not served, and says so", async () => {
    const { client } = fakeClient({ "/api/v1/services": { status: 200, body: SERVICES }, "/api/v1/endpoints": { status: 200, body: ENDPOINTS } });
    const lines: string[] = [];
    const src = apiClusterSource({ kubeconfig: "/nonexistent", client, log: (l) => lines.push(l), now: () => 5_000_000 });
    const v = await src.view();
    assert.deepEqual(lines, ["[INFO] plugin/kubernetes: Endpointslices API disabled. Watching Endpoints instead."]);
    assert.deepEqual(v?.services.map((s) => [s.name, s.clusterIPs, s.headless, s.externalName]), [
      ["web", ["10.233.0.50"], false, undefined],
      ["db", [], true, undefined],
      ["ext", [], false, "example.com"],
    ]);
    assert.deepEqual(v?.endpoints, [{ namespace: "default", service: "db", addresses: [{ ip: "10.233.65.5", hostname: "db-0" }], ports: [{ name: "", port: 5432, protocol: "TCP" }] }]);
    assert.equal(v?.modified, 5000);
  });

  it("reads EndpointSlices when served, leaving out endpoints that are not ready", async () => {
    const { client } = fakeClient({
      "/apis/discovery.k8s.io/v1": { status: 200, body: {} },
      "/api/v1/services": { status: 200, body: SERVICES },
      "/apis/discovery.k8s.io/v1/endpointslices": { status: 200, body: SLICES },
    });
    const v = await apiClusterSource({ kubeconfig: "/nonexistent", client }).view();
    assert.deepEqual(v?.endpoints, [{ namespace: "default", service: "db", addresses: [{ ip: "10.233.65.5", hostname: "db-0" }], ports: [{ name: "", port: 5432, protocol: "TCP" }] }]);
  });

  it("re-lists only when the view is older than maxAgeMs; the serial moves only on change", async () => {
    let t = 1_000_000;
    const routes: Record<string, { status: number; body?: unknown }> = { "/api/v1/services": { status: 200, body: SERVICES }, "/api/v1/endpoints": { status: 200, body: ENDPOINTS } };
    const { client, calls } = fakeClient(routes);
    const src = apiClusterSource({ kubeconfig: "/nonexistent", client, now: () => t, maxAgeMs: 1000 });
    const [a, b] = await Promise.all([src.view(), src.view()]);
    assert.equal(a, b);
    const lists = () => calls.filter((c) => c === "/api/v1/services").length;
    assert.equal(lists(), 1, "concurrent queries share one list");
    t += 999;
    await src.view();
    assert.equal(lists(), 1);
    t += 1;
    assert.equal((await src.view())?.modified, 1000, "unchanged: same serial");
    assert.equal(lists(), 2);
    routes["/api/v1/services"] = { status: 200, body: { items: SERVICES.items.slice(0, 1) } };
    t += 5000;
    const changed = await src.view();
    assert.equal(changed?.services.length, 1);
    assert.equal(changed?.modified, 1006);
  });

  it("keeps the last view when a list fails, and logs like client-go's reflector", async () => {
    let t = 0;
    const routes: Record<string, { status: number; body?: unknown } | Error> = { "/api/v1/services": { status: 200, body: SERVICES }, "/api/v1/endpoints": { status: 200, body: ENDPOINTS } };
    const { client } = fakeClient(routes);
    const lines: string[] = [];
    const src = apiClusterSource({ kubeconfig: "/nonexistent", client, now: () => t, log: (l) => lines.push(l) });
    const first = await src.view();
    routes["/api/v1/services"] = Object.assign(new Error("connect ECONNREFUSED 192.168.10.10:6443"), { code: "ECONNREFUSED", address: "192.168.10.10", port: 6443 });
    t += 2000;
    assert.equal(await src.view(), first);
    t += 2000;
    await src.view();
    const errors = lines.filter((l) => l.startsWith("[ERROR]"));
    assert.equal(errors.length, 1, "the same error is not repeated within 30 s");
    assert.match(errors[0]!, /^\[ERROR\] plugin\/kubernetes: pkg\/mod\/k8s\.io\/client-go@v0\.22\.2\/tools\/cache\/reflector\.go:167: Failed to watch \*v1\.Service: failed to list \*v1\.Service: Get "https:\/\/.*\/api\/v1\/services\?limit=500&resourceVersion=0": dial tcp 192\.168\.10\.10:6443: connect: connection refused$/);
  });
});

describe("startCoreDns on unix sockets", () => {
  let dir: string;
  let dns: Awaited<ReturnType<typeof startCoreDns>>;
  const lines: string[] = [];
  let sockets: ReturnType<typeof corednsSockets>;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-coredns-"));
    sockets = corednsSockets(dir, "0");
    dns = await startCoreDns({ sockets, source: staticClusterSource(VIEW), podIP: "10.233.64.129", upstream: "192.168.10.1", forwardTimeoutMs: 50, loopProbe: false, log: (l) => lines.push(l) });
  });

  after(async () => {
    await dns?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** What socat UDP4-RECVFROM does: the datagram on a fresh connection, optionally half-closed. */
  function datagram(bytes: Buffer, halfClose: boolean): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const s = connect(sockets.udp, () => {
        s.write(bytes);
        if (halfClose) s.end();
      });
      const chunks: Buffer[] = [];
      s.on("data", (d: Buffer) => chunks.push(d));
      s.on("end", () => {
        resolve(Buffer.concat(chunks));
        s.end();
      });
      s.on("error", reject);
    });
  }

  it("logs CoreDNS's start-up lines", () => {
    assert.deepEqual(lines.slice(0, 4), corednsBanner());
    assert.match(lines[1]!, /^\[INFO\] plugin\/reload: Running configuration MD5 = [0-9a-f]{32}$/);
    assert.ok(COREFILE.includes("kubernetes cluster.local in-addr.arpa ip6.arpa {"));
  });

  it("answers a datagram as soon as its records have arrived, and closes", async () => {
    const reply = parseMessage(await datagram(query("kubernetes.default.svc.cluster.local", TYPE.A), false));
    assert.deepEqual(texts(reply.answer), ["kubernetes.default.svc.cluster.local. 5 A 10.233.0.1"]);
  });

  it("answers an incomplete datagram at end of input, and drops what it must drop", async () => {
    assert.equal(parseMessage(await datagram(fixture("header-only.bin"), true)).rcode, RCODE.SERVFAIL);
    assert.equal((await datagram(fixture("short.bin"), true)).length, 0);
    const forwarded = parseMessage(await datagram(query("example.com", TYPE.A), true));
    assert.equal(forwarded.rcode, RCODE.SERVFAIL);
    assert.match(lines.at(-1)!, /plugin\/errors: 2 example\.com\. A: read udp/);
  });

  it("answers length-prefixed TCP queries in order on one connection", async () => {
    const frame = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
    const got = await new Promise<Buffer>((resolve, reject) => {
      const s = connect(sockets.tcp, () => s.end(Buffer.concat([frame(query("kubernetes.default.svc.cluster.local", TYPE.A, { id: 1 })), frame(query("nope.default.svc.cluster.local", TYPE.A, { id: 2 }))])));
      const chunks: Buffer[] = [];
      s.on("data", (d: Buffer) => chunks.push(d));
      s.on("end", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
    });
    const first = parseMessage(got.subarray(2, 2 + got.readUInt16BE(0)));
    const rest = got.subarray(2 + got.readUInt16BE(0));
    const second = parseMessage(rest.subarray(2, 2 + rest.readUInt16BE(0)));
    assert.deepEqual([first.id, first.rcode, second.id, second.rcode], [1, RCODE.NOERROR, 2, RCODE.NXDOMAIN]);
  });

  it("serves /health and /ready", async () => {
    const get = (socketPath: string, p: string) =>
      new Promise<{ code: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ socketPath, path: p }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
      });
    assert.deepEqual(await get(sockets.health, "/health"), { code: 200, body: "OK" });
    assert.deepEqual(await get(sockets.ready, "/ready"), { code: 200, body: "OK" });
    assert.equal((await get(sockets.health, "/metrics")).code, 404);
  });
});

describe("startCoreDns without the API", () => {
  it("waits for the first list, logging like the kubernetes plugin, then serves unsynced", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "faultline-coredns-"));
    const lines: string[] = [];
    const sockets = corednsSockets(dir, "1");
    const dns = await startCoreDns({ sockets: { udp: sockets.udp, ready: sockets.ready }, source: { view: async () => undefined, close: () => {} }, startupTimeoutMs: 1200, loopProbe: false, log: (l) => lines.push(l) });
    try {
      assert.deepEqual(lines.slice(0, 2), ["[INFO] plugin/kubernetes: waiting for Kubernetes API before starting server", "[INFO] plugin/kubernetes: waiting for Kubernetes API before starting server"]);
      assert.equal(lines[2], "[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API");
      assert.deepEqual(lines.slice(3), corednsBanner());
      const ready = await new Promise<number>((resolve, reject) => httpRequest({ socketPath: sockets.ready, path: "/ready" }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on("error", reject).end());
      assert.equal(ready, 503);
    } finally {
      await dns.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("supervisor hooks", () => {
  it("recognizes kubespray's CoreDNS pods", () => {
    assert.equal(isCoreDnsPod({ namespace: "kube-system", labels: { "k8s-app": "kube-dns" } }), true);
    assert.equal(isCoreDnsPod({ namespace: "default", labels: { "k8s-app": "kube-dns" } }), false);
    assert.equal(isCoreDnsPod({ namespace: "kube-system", labels: { "k8s-app": "nodelocaldns" } }), false);
  });

  it("gives the socat lines that own the pod's ports", () => {
    const s = corednsSockets("/b/w", "4");
    assert.deepEqual(corednsRelays(s).map((r) => [r.port, r.protocol, r.argv.join(" ")]), [
      [53, "UDP", "socat -b 65535 -t 10 UDP4-RECVFROM:53,fork UNIX-CONNECT:/b/w/4-dns-udp.sock"],
      [53, "TCP", "socat -b 65535 -t 10 TCP-LISTEN:53,fork,reuseaddr,nodelay UNIX-CONNECT:/b/w/4-dns-tcp.sock"],
      [8080, "TCP", "socat TCP-LISTEN:8080,fork,reuseaddr UNIX-CONNECT:/b/w/4-health.sock"],
      [8181, "TCP", "socat TCP-LISTEN:8181,fork,reuseaddr UNIX-CONNECT:/b/w/4-ready.sock"],
    ]);
  });
});
