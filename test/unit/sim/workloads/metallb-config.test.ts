/**
 * MetalLB's pool validation: Go's address parsing and printing, and the exact denial texts MetalLB
 * v0.13/v0.14 produce (internal/config/config.go), which reach the trainee through kubectl unchanged.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { goQuote, ipString, netString, parseCIDR, parseIP } from "../../../../server/sim/workloads/goaddr.js";
import { listWithUpdate, parseAddresses, validateL2Advertisement, validatePools, type IPAddressPool } from "../../../../server/sim/workloads/metallb-config.js";

const pool = (name: string, addresses: string[] | null): IPAddressPool => ({ metadata: { name, namespace: "metallb-system" }, spec: { addresses } });

function nets(cidr: string): string[] {
  const r = parseAddresses(cidr);
  if ("error" in r) throw new Error(r.error);
  return r.nets.map(netString);
}

function parseError(cidr: string): string {
  const r = parseAddresses(cidr);
  assert.ok("error" in r, `${cidr} should not parse`);
  return r.error;
}

describe("Go address semantics", () => {
  it("parses CIDRs like net.ParseCIDR and prints the masked network", () => {
    assert.equal(netString(parseCIDR("10.1.2.3/24")!), "10.1.2.0/24");
    assert.equal(netString(parseCIDR("192.168.10.200/32")!), "192.168.10.200/32");
    assert.equal(netString(parseCIDR("2001:DB8::1/64")!), "2001:db8::/64");
    assert.equal(netString(parseCIDR("0.0.0.0/0")!), "0.0.0.0/0");
    // IPv4-mapped IPv6 is IPv6 to ParseCIDR but prints as IPv4 with the prefix beyond ::ffff:0:0/96
    assert.equal(netString(parseCIDR("::ffff:10.0.0.0/104")!), "10.0.0.0/8");
    for (const bad of ["10.0.0.0", "10.0.0.0/33", "010.0.0.0/8", "10.0.0.0/-1", "10.0.0.0/ 8", "10.0.0/8", "1.2.3.4.5/32", "::1/129", "fe80::1%eth0/64", "2001:db8:::1/64", "/24", "10.0.0.0/24x"]) {
      assert.equal(parseCIDR(bad), null, bad);
    }
  });

  it("parses IPs like net.ParseIP, rejecting leading zeros and zones", () => {
    assert.equal(parseIP("192.168.010.1"), null);
    assert.equal(parseIP("fe80::1%eth0"), null);
    assert.equal(parseIP("1.2.3"), null);
    assert.equal(parseIP("::ffff:1.2.3.4"), parseIP("1.2.3.4"));
    assert.equal(ipString(parseIP("::1.2.3.4")!), "::102:304");
  });

  it("prints IPv6 like net.IP.String: first longest zero run, no single-group ::", () => {
    assert.equal(ipString(parseIP("2001:db8:0:0:1:0:0:1")!), "2001:db8::1:0:0:1");
    assert.equal(ipString(parseIP("2001:db8:0:1:1:1:1:1")!), "2001:db8:0:1:1:1:1:1");
    assert.equal(ipString(parseIP("0:0:0:0:0:0:0:0")!), "::");
    assert.equal(ipString(parseIP("1::")!), "1::");
    assert.equal(ipString(parseIP("FFFF:0:0:0:0:0:0:1")!), "ffff::1");
  });

  it("quotes like strconv.Quote", () => {
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote("tab\there\n"), '"tab\\there\\n"');
    assert.equal(goQuote("\u0001\u007f"), '"\\x01\\x7f"');
    assert.equal(goQuote("héllo ✓"), '"héllo ✓"');
    assert.equal(goQuote("\u200b"), '"\\u200b"');
  });
});

describe("MetalLB ParseCIDR", () => {
  it("summarises a range into the prefixes that cover it", () => {
    assert.deepEqual(nets("192.168.10.200-192.168.10.220"), ["192.168.10.200/29", "192.168.10.208/29", "192.168.10.216/30", "192.168.10.220/32"]);
    assert.deepEqual(nets("10.0.0.0-10.0.0.255"), ["10.0.0.0/24"]);
    assert.deepEqual(nets("10.0.0.7-10.0.0.7"), ["10.0.0.7/32"]);
    assert.deepEqual(nets(" 10.0.0.1 - 10.0.0.2 "), ["10.0.0.1/32", "10.0.0.2/32"]);
    assert.deepEqual(nets("2001:db8::-2001:db8::ff"), ["2001:db8::/120"]);
    assert.deepEqual(nets("255.255.255.254-255.255.255.255"), ["255.255.255.254/31"]);
  });

  it("words bad CIDRs and ranges exactly like MetalLB", () => {
    assert.equal(parseError("10.0.0.0/33"), 'invalid CIDR "10.0.0.0/33"');
    assert.equal(parseError("192.168.10.0"), 'invalid CIDR "192.168.10.0"');
    assert.equal(parseError("192.168.10.x-192.168.10.20"), 'invalid IP range "192.168.10.x-192.168.10.20": invalid start IP "192.168.10.x"');
    // the untrimmed side is quoted, the trimmed one parsed
    assert.equal(parseError("10.0.0.1 - 10.0.0"), 'invalid IP range "10.0.0.1 - 10.0.0": invalid end IP " 10.0.0"');
    assert.equal(parseError("10.0.0.1-10.0.0.2-10.0.0.3"), 'invalid IP range "10.0.0.1-10.0.0.2-10.0.0.3": invalid end IP "10.0.0.2-10.0.0.3"');
    assert.equal(parseError("192.168.10.220-192.168.10.200"), 'invalid IP range "192.168.10.220-192.168.10.200": start IP "192.168.10.220" is after the end IP "192.168.10.200"');
    assert.equal(parseError("2001:db8::ff-2001:db8::1"), 'invalid IP range "2001:db8::ff-2001:db8::1": start IP "2001:db8::ff" is after the end IP "2001:db8::1"');
  });

  it("compares range ends in Go's 16-byte form, so mixed families either fail or parse to nothing", () => {
    // ::ffff:10.0.0.1 sorts after ::1
    assert.equal(parseError("10.0.0.1-::1"), 'invalid IP range "10.0.0.1-::1": start IP "10.0.0.1" is after the end IP "::1"');
    // ipaddr.Summarize returns no prefixes for mixed families; MetalLB accepts the (empty) range
    assert.deepEqual(nets("10.0.0.1-2001:db8::1"), []);
  });
});

describe("MetalLB pool validation", () => {
  it("accepts disjoint pools, including adjacent ranges", () => {
    assert.equal(validatePools([pool("a", ["192.168.10.0/25"]), pool("b", ["192.168.10.128-192.168.10.255", "10.0.0.0/8"])]), null);
    assert.equal(validatePools([pool("v6", ["2001:db8::/64"]), pool("v4", ["0.0.0.0/0"])]), null);
  });

  it("denies an overlap with an existing pool, naming the new pool's first overlapping prefix", () => {
    const existing = [pool("lab-pool", ["192.168.10.192/26"])];
    assert.equal(
      validatePools(listWithUpdate(existing, pool("reserved", ["192.168.10.230-192.168.10.239"]))),
      'CIDR "192.168.10.230/31" in pool "reserved" overlaps with already defined CIDR "192.168.10.192/26"',
    );
    assert.equal(validatePools(listWithUpdate(existing, pool("wide", ["192.168.0.0/16"]))), 'CIDR "192.168.0.0/16" in pool "wide" overlaps with already defined CIDR "192.168.10.192/26"');
    assert.equal(validatePools(listWithUpdate(existing, pool("same", ["192.168.10.192/26"]))), 'CIDR "192.168.10.192/26" in pool "same" overlaps with already defined CIDR "192.168.10.192/26"');
  });

  it("denies overlaps inside one pool", () => {
    assert.equal(validatePools([pool("p", ["10.0.0.0/24", "10.0.0.128-10.0.0.130"])]), 'CIDR "10.0.0.128/31" in pool "p" overlaps with already defined CIDR "10.0.0.0/24"');
  });

  it("validates an update in place, so a pool never overlaps its old self", () => {
    const existing = [pool("a", ["10.0.0.0/24"]), pool("b", ["10.0.1.0/24"])];
    assert.equal(validatePools(listWithUpdate(existing, pool("a", ["10.0.0.0/23"]))), 'CIDR "10.0.1.0/24" in pool "b" overlaps with already defined CIDR "10.0.0.0/23"');
    assert.equal(validatePools(listWithUpdate(existing, pool("a", ["10.0.0.0/25"]))), null);
  });

  it("wraps parse errors like poolsFor does", () => {
    assert.equal(validatePools([pool("lab-pool", ["192.168.10.300/32"])]), 'parsing address pool lab-pool: invalid CIDR "192.168.10.300/32" in pool "lab-pool": invalid CIDR "192.168.10.300/32"');
    assert.equal(validatePools([pool("empty", [])]), "parsing address pool empty: pool has no prefixes defined");
    assert.equal(validatePools([pool("null", null)]), "parsing address pool null: pool has no prefixes defined");
    assert.equal(validatePools([{ spec: { addresses: ["10.0.0.0/8"] } }]), "parsing address pool : missing pool name");
    // an earlier invalid pool is reported before a later overlap
    assert.equal(validatePools([pool("x", ["bad"]), pool("y", ["10.0.0.0/8"])]), 'parsing address pool x: invalid CIDR "bad" in pool "x": invalid CIDR "bad"');
  });

  it("checks legacy AddressPools after IPAddressPools", () => {
    const legacy = (name: string, addresses: string[], protocol?: string) => ({ metadata: { name }, spec: { addresses, ...(protocol ? { protocol } : {}) } });
    assert.equal(validatePools([pool("a", ["10.0.0.0/24"])], [legacy("old", ["10.0.0.0/28"], "layer2")]), 'CIDR "10.0.0.0/28" in pool "old" overlaps with already defined CIDR "10.0.0.0/24"');
    assert.equal(validatePools([], [legacy("old", ["10.0.0.0/28"])]), "parsing address pool old: address pool is missing the protocol field");
    assert.equal(validatePools([], [legacy("old", ["10.0.0.0/28"], "arp")]), 'parsing address pool old: unknown protocol "arp"');
    assert.equal(validatePools([pool("same", ["10.0.0.0/24"])], [legacy("same", ["10.1.0.0/24"], "bgp")]), 'duplicate definition of pool "same"');
  });
});

describe("MetalLB L2Advertisement validation", () => {
  it("denies pools and selectors named twice, with Go's %q rendering", () => {
    assert.equal(validateL2Advertisement({ spec: { ipAddressPools: ["a", "b"] } }), null);
    assert.equal(validateL2Advertisement({ spec: { ipAddressPools: ["a", "b", "a"] } }), 'duplicate definition of ipAddressPools "a"');
    assert.equal(
      validateL2Advertisement({ spec: { nodeSelectors: [{ matchLabels: { zone: "a", rack: "1" } }, { matchLabels: { rack: "1", zone: "a" } }] } }),
      'duplicate definition of nodeSelectors {map["rack":"1" "zone":"a"] []}',
    );
    assert.equal(
      validateL2Advertisement({ spec: { ipAddressPoolSelectors: [{ matchExpressions: [{ key: "k", operator: "In", values: ["b", "a"] }] }, { matchExpressions: [{ key: "k", operator: "In", values: ["a", "b"] }] }] } }),
      'duplicate definition of ipAddressPoolSelectors {map[] [{"k" "In" ["a" "b"]}]}',
    );
    assert.equal(validateL2Advertisement({ spec: { nodeSelectors: [{ matchExpressions: [{ key: "k", operator: "In", values: ["x", "x"] }] }] } }), 'duplicate definition of match expression value in label selector "x"');
  });
});
