/**
 * all / any / not over leaves whose results are known: file checks on a context where `yes` exists,
 * `no` does not, and `broken` cannot be read (could not check). Order, short-circuits, and how
 * "could not check" combines with "not yet".
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeCheck, runCheck } from "../../../server/checks/kinds/index.js";
import { checkSchema, type CheckSpec } from "../../../server/checks/schema.js";
import { CouldNotCheck } from "../../../server/checks/types.js";
import { fakeContext } from "./support.js";

const read: string[] = [];
const ctx = fakeContext({
  readWorkspaceFile: async (rel) => {
    read.push(rel);
    if (rel === "broken") throw new CouldNotCheck("broken: EACCES");
    return rel === "yes" ? "x" : null;
  },
});
const yes = { file: { path: "yes" } };
const no = { file: { path: "no" } };
const broken = { file: { path: "broken" } };
const check = (c: unknown): CheckSpec => checkSchema.parse(c);
async function run(c: unknown) {
  read.length = 0;
  const r = await runCheck(check(c), ctx);
  return { ...r, read: [...read] };
}

describe("all / any / not", () => {
  it("all: passes when every child passes; stops at the first that fails", async () => {
    assert.deepEqual(await run({ all: [yes, yes] }), { status: "pass", detail: "yes exists; yes exists", read: ["yes", "yes"] });
    assert.deepEqual(await run({ all: [yes, no, broken] }), { status: "fail", detail: "no does not exist", read: ["yes", "no"] });
  });

  it("all: 'not yet' wins over 'could not check'; else could-not-check wins over pass", async () => {
    assert.deepEqual(await run({ all: [broken, no] }), { status: "fail", detail: "no does not exist", read: ["broken", "no"] });
    assert.deepEqual(await run({ all: [broken, yes] }), { status: "error", detail: "could not check: broken: EACCES", read: ["broken", "yes"] });
  });

  it("any: passes at the first child that passes; fails with every reason; could-not-check if one might have passed", async () => {
    assert.deepEqual(await run({ any: [no, yes, broken] }), { status: "pass", detail: "yes exists", read: ["no", "yes"] });
    assert.deepEqual(await run({ any: [no, { file: { path: "yes", exists: false } }] }), {
      status: "fail",
      detail: "none holds: no does not exist; yes still exists",
      read: ["no", "yes"],
    });
    assert.equal((await run({ any: [no, broken] })).status, "error");
  });

  it("not: swaps pass and fail, keeps could-not-check", async () => {
    assert.deepEqual(await run({ not: yes }), { status: "fail", detail: "should not hold, but does: yes exists", read: ["yes"] });
    assert.deepEqual(await run({ not: no }), { status: "pass", detail: "as expected, no does not exist", read: ["no"] });
    assert.equal((await run({ not: broken })).status, "error");
  });

  it("nests, and describes itself", async () => {
    const c = { all: [yes, { not: { any: [no, broken] } }] };
    assert.equal((await run(c)).status, "error");
    assert.equal(describeCheck(check(c)), "yes exists and not: no exists or broken exists");
  });
});
