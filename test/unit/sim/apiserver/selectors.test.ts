import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mustResourceType } from "../../../../server/sim/apiserver/resources.js";
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from "../../../../server/sim/apiserver/selectors.js";
import { statusOf } from "./fixtures.js";

describe("label selectors", () => {
  const labels = { app: "web", tier: "front", version: "3" };
  const cases: Array<[string, boolean]> = [
    ["", true],
    ["app=web", true],
    ["app==web", true],
    ["app!=web", false],
    ["app!=db", true],
    ["missing!=x", true],
    ["app in (db, web)", true],
    ["app notin (web)", false],
    ["missing notin (web)", true],
    ["tier", true],
    ["!tier", false],
    ["!missing", true],
    ["version>2", true],
    ["version<2", false],
    ["app=web,tier=back", false],
    ["app=web, tier=front", true],
  ];
  for (const [sel, want] of cases) {
    it(`"${sel}" ${want ? "matches" : "does not match"}`, () => assert.equal(matchLabels(parseLabelSelector(sel), labels), want));
  }

  it("rejects malformed selectors with BadRequest, never another exception", () => {
    for (const bad of ["app in (a,", "app in ()", "=x", "app=(", "a b", "version>x", "!", "app notin x", "a=b=c"]) {
      const st = statusOf(() => parseLabelSelector(bad));
      assert.equal(st.code, 400, bad);
      assert.match(st.message!, /^unable to parse requirement: /, bad);
    }
  });
});

describe("field selectors", () => {
  const pods = mustResourceType("pods");
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "default" }, spec: { nodeName: "worker-1" }, status: { phase: "Running" } };

  it("matches metadata and the pod fields the real registry supports", () => {
    assert.equal(matchFields(parseFieldSelector("spec.nodeName=worker-1,status.phase!=Pending", pods), pods, pod), true);
    assert.equal(matchFields(parseFieldSelector("metadata.name==q", pods), pods, pod), false);
    assert.equal(matchFields(parseFieldSelector("spec.hostNetwork=false", pods), pods, pod), true);
  });

  it("words unsupported fields like the real server: conversion funcs vs the generic message", () => {
    assert.equal(statusOf(() => parseFieldSelector("foo=bar", pods)).message, "field label not supported: foo");
    assert.equal(statusOf(() => parseFieldSelector("foo=bar", mustResourceType("configmaps"))).message, '"foo" is not a known field selector: only "metadata.name", "metadata.namespace"');
    assert.equal(statusOf(() => parseFieldSelector("nonsense", pods)).message, "invalid selector: 'nonsense'; can't understand 'nonsense'");
  });

  it("honours backslash escapes", () => {
    const sel = parseFieldSelector("metadata.name=a\\,b", pods);
    assert.deepEqual(sel, [{ field: "metadata.name", op: "=", value: "a,b" }]);
  });
});
