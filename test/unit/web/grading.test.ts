/**
 * How the web server reports objectives (server/web/grading.ts): the last recorded state of each from
 * the transitions, and the live evaluator's state merged over it. The evaluator, the store and the
 * sandbox are exercised for real in test/integration/web/grading.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { objectiveViewSchema } from "../../../shared/protocol.js";
import type { ObjectiveStatus } from "../../../server/checks/evaluator.js";
import { lastRecorded, objectiveViews, readsOnlyWriteup } from "../../../server/web/grading.js";
import { checkSchema } from "../../../server/checks/schema.js";

const LAB = [
  { id: "a", title: "A passes" },
  { id: "b", title: "B passes" },
  { id: "c", title: "C passes" },
];
const T1 = "2025-01-01T10:00:00.000Z";
const T2 = "2025-01-01T10:05:00.000Z";
const T3 = "2025-01-01T10:07:00.000Z";

function status(objective: string, state: ObjectiveStatus["state"], detail: string, since: string): ObjectiveStatus {
  return { objective, title: objective, state, detail, since: Date.parse(since), checkedAt: Date.parse(since) };
}

describe("lastRecorded", () => {
  it("keeps each objective's last transition, in the order written", () => {
    const last = lastRecorded([
      { objectiveId: "a", to: "fail", detail: "not there", at: T1 },
      { objectiveId: "b", to: "error", detail: "could not check: no answer within 2 s", at: T1 },
      { objectiveId: "a", to: "pass", detail: "there", at: T2 },
    ]);
    assert.deepEqual([...last], [
      ["a", { state: "pass", detail: "there", at: T2 }],
      ["b", { state: "error", detail: "could not check: no answer within 2 s", at: T1 }],
    ]);
  });

  it("reads a state it does not know as pending rather than passing it on", () => {
    assert.deepEqual(lastRecorded([{ objectiveId: "a", to: "green", detail: null, at: T1 }]).get("a"), { state: "pending", detail: null, at: T1 });
  });
});

describe("objectiveViews", () => {
  const recorded = lastRecorded([
    { objectiveId: "a", to: "fail", detail: "not there", at: T1 },
    { objectiveId: "a", to: "pass", detail: "there", at: T2 },
    { objectiveId: "b", to: "fail", detail: "not yet", at: T1 },
  ]);

  it("without an evaluator: the last recorded state, pending for an objective never recorded, in the lab's order", () => {
    const views = objectiveViews(LAB, recorded, null);
    assert.deepEqual(views, [
      { id: "a", title: "A passes", state: "pass", detail: "there", since: T2 },
      { id: "b", title: "B passes", state: "fail", detail: "not yet", since: T1 },
      { id: "c", title: "C passes", state: "pending", detail: null, since: null },
    ]);
    for (const v of views) objectiveViewSchema.parse(v);
  });

  it("with an evaluator: its results, since when they were recorded if the state is the one recorded", () => {
    const live = [
      status("a", "pass", "there, still", T3), // found again after a restart: it has passed since T2
      status("b", "pass", "now there", T3), // changed: since the evaluator saw it
      status("c", "error", "could not check: the sandbox is re-provisioning", T3),
    ];
    assert.deepEqual(objectiveViews(LAB, recorded, live), [
      { id: "a", title: "A passes", state: "pass", detail: "there, still", since: T2 },
      { id: "b", title: "B passes", state: "pass", detail: "now there", since: T3 },
      { id: "c", title: "C passes", state: "error", detail: "could not check: the sandbox is re-provisioning", since: T3 },
    ]);
  });

  it("an objective the evaluator has not checked yet keeps its last known state", () => {
    const live = [status("a", "pending", "IPAddressPool metallb-system/lab-pool exists", T3), status("b", "pending", "x", T3), status("c", "pending", "y", T3)];
    assert.deepEqual(objectiveViews(LAB, recorded, live), objectiveViews(LAB, recorded, null));
  });
});

describe("readsOnlyWriteup", () => {
  it("is true for a write-up check and combinations of them only: those are judged without a sandbox", () => {
    const only = (check: unknown) => readsOnlyWriteup(checkSchema.parse(check));
    assert.equal(only({ writeup: { minWords: 150 } }), true);
    assert.equal(only({ all: [{ writeup: {} }, { not: { writeup: { mentions: ["typo"] } } }] }), true);
    assert.equal(only({ any: [{ writeup: {} }] }), true);
    assert.equal(only({ all: [{ writeup: {} }, { not: { exec: { in: "pod/default/web", command: "ip route", stdout: "^blackhole" } } }] }), false);
    assert.equal(only({ file: { path: "a.txt" } }), false);
    assert.equal(only({ ipam: "blocks-disjoint" }), false);
  });
});
