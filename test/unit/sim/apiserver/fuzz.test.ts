/**
 * Hostile input: malformed paths, queries, bodies and media types. The server answers each with a 4xx
 * Status, never a 500 or a crash, and keeps serving afterwards. Its own server, because fuzzed DELETEs
 * may remove seeded objects other tests rely on.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHarness, type Harness, type Reply } from "./harness.js";

let h: Harness;
const call: Harness["call"] = (...args) => h.call(...args);

before(async () => {
  h = await startHarness();
});

after(() => h?.close());

describe("fuzz", () => {
  it("never crashes or answers 500 on fuzzed paths, queries and bodies", async () => {
    const paths = ["/", "//", "/api/v1/namespaces/%ZZ/pods", "/api/v1/namespaces/default/pods/%2e%2e", "/apis/../../etc/passwd", "/api/v1/pods?labelSelector=(((", "/api/v1/pods?fieldSelector=%00", "/api/v1/pods?limit=abc", "/api/v1/pods?watch=1&resourceVersion=zz&timeoutSeconds=1", "/api/v1/namespaces/default/pods?continue=!!!", "/api/v1/nodes?includeObject=Everything", "/apis/apps/v1/namespaces/default/deployments/x/status/extra", "/api/v1/namespaces/a/b/c/d/e/f", "/openapi/v2", "/api/v1/watch/namespaces/default/pods/x?timeoutSeconds=1", "/apis/apps", "/apis/nope/v1"];
    const bodies = ["", "null", "[]", "42", '"str"', "{}", '{"metadata":null}', '{"metadata":{"name":["x"]}}', '{"metadata":{"name":"' + "a".repeat(300) + '"}}', '{"metadata":{"name":"x","ownerReferences":[{}]}}', "\u0000\u0001", "k8s\u0000garbage", "{\"a\":" + "[".repeat(5000) + "]".repeat(5000) + "}", "---\n- yaml: [", '{"metadata":{"name":"x"},"data":{"__proto__":{"polluted":"yes"}}}'];
    const types = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "application/merge-patch+json", "bogus"];
    const codes = new Set<number>();
    const failures: string[] = [];
    const note = (what: string, r: Reply) => {
      codes.add(r.code);
      if (r.code >= 500) failures.push(`${what} -> ${r.code} ${r.text.slice(0, 200)}`);
    };
    for (const p of paths) for (const m of ["GET", "DELETE"]) note(`${m} ${p}`, await call(m, p, { headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" } }));
    for (const b of bodies) {
      for (const t of types) {
        for (const [m, p] of [["POST", "/api/v1/namespaces/default/configmaps"], ["PUT", "/api/v1/namespaces/default/configmaps/x"], ["PATCH", "/api/v1/namespaces/default/configmaps/x"], ["POST", "/apis/apps/v1/namespaces/default/deployments"]] as const) {
          note(`${m} ${p} ${t} ${JSON.stringify(b.slice(0, 40))}`, await call(m, p, { body: b, headers: { "content-type": t } }));
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(codes.has(400) && codes.has(404) && codes.has(415));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // still serving
    assert.equal((await call("GET", "/api/v1/nodes")).json().items.length, 7);
  });
});
