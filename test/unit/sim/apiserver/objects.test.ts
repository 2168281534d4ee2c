import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clone, timestamp } from "../../../../server/sim/apiserver/objects.js";

describe("clone", () => {
  it("copies JSON-safe objects deeply, as structuredClone does", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", labels: { app: "web" }, finalizers: ["a", "b"], ownerReferences: [{ uid: "u", controller: true }] },
      spec: { containers: [{ name: "c", ports: [{ containerPort: 80 }], args: [] }], nodeName: null, hostNetwork: false },
      status: { phase: "Running", restartCount: 0, empty: {}, missing: undefined },
    };
    const copy = clone(pod);
    assert.deepStrictEqual(copy, structuredClone(pod));
    assert.ok("missing" in copy.status);
    copy.metadata.labels.app = "changed";
    copy.spec.containers[0]!.ports[0]!.containerPort = 8080;
    copy.metadata.finalizers.push("c");
    assert.equal(pod.metadata.labels.app, "web");
    assert.equal(pod.spec.containers[0]!.ports[0]!.containerPort, 80);
    assert.deepEqual(pod.metadata.finalizers, ["a", "b"]);
    assert.equal(clone(null), null);
    assert.equal(clone("x"), "x");
    assert.deepEqual(clone([1, [2, { a: 3 }]]), [1, [2, { a: 3 }]]);
  });

  it("keeps a client's `__proto__` key as data, never as the copy's prototype", () => {
    const input = JSON.parse('{"metadata":{"__proto__":{"polluted":true},"name":"x"}}') as { metadata: Record<string, unknown> };
    const copy = clone(input);
    assert.equal(Object.getPrototypeOf(copy.metadata), Object.prototype);
    assert.equal((copy.metadata as { polluted?: unknown }).polluted, undefined);
    assert.deepEqual(Object.keys(copy.metadata), ["__proto__", "name"]);
    assert.deepEqual(Object.getOwnPropertyDescriptor(copy.metadata, "__proto__")?.value, { polluted: true });
  });

  it("hands anything but plain objects and arrays to structuredClone", () => {
    const when = new Date("2026-01-02T03:04:05Z");
    const copy = clone({ when, bytes: new Uint8Array([1, 2]) });
    assert.ok(copy.when instanceof Date && copy.when !== when);
    assert.equal(copy.when.toISOString(), when.toISOString());
    assert.deepEqual([...copy.bytes], [1, 2]);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: { b: 1 } });
    assert.deepEqual(clone(bare), { a: { b: 1 } });
  });
});

describe("timestamp", () => {
  it("is RFC 3339 with second precision, for the given time or now, across second boundaries", () => {
    assert.equal(timestamp(new Date("2026-11-26T01:02:03.999Z")), "2026-11-26T01:02:03Z");
    assert.equal(timestamp(new Date("2026-11-26T01:02:04.000Z")), "2026-11-26T01:02:04Z");
    assert.equal(timestamp(new Date("2026-11-26T01:02:03.001Z")), "2026-11-26T01:02:03Z");
    assert.equal(timestamp(new Date("1969-12-31T23:59:59.500Z")), "1969-12-31T23:59:59Z");
    const before = Math.floor(Date.now() / 1000);
    const now = Date.parse(timestamp()) / 1000;
    assert.ok(now >= before && now <= Math.floor(Date.now() / 1000), String(now));
    assert.throws(() => timestamp(new Date(Number.NaN)), RangeError);
  });
});
