/**
 * `faultline lab test` against real sandboxes: the flagship passes with its solution (what CI runs for
 * every bundled lab), and a fixture whose solution fixes nothing fails for the right reasons: an
 * objective that already passes at the start, and one that never passes.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createLogger } from "../../../server/log.js";
import { testLab } from "../../../server/labs/lab-test.js";
import { cleanup, fixtureLab, testDriver } from "../../support/sandbox.js";

const driver = testDriver();
const log = createLogger({}, { level: "error" });

describe("faultline lab test", { timeout: 300_000 }, () => {
  after(() => cleanup(driver));

  it("the flagship: every objective fails at the start and passes after its solution", async () => {
    const r = await testLab("webhook-to-kernel", { driver, log });
    assert.equal(r.ok, true, JSON.stringify(r.solutions.map((s) => s.failures)));
    const s = r.solutions[0]!;
    assert.ok(s.initial.every((o) => o.state === "fail"), JSON.stringify(s.initial));
    assert.ok(s.final.every((o) => o.state === "pass"));
    assert.equal(driver.list().length, 0, "the sandbox is torn down");
  });

  it("a solution that fixes nothing: reported with what passed too early and what never passed", async () => {
    const r = await testLab(fixtureLab("labtest-unsolved"), { driver, log, passTimeoutMs: 3000 });
    assert.equal(r.ok, false);
    const failures = r.solutions[0]!.failures;
    assert.ok(failures.some((f) => /^blocks-disjoint: passes before anything was fixed/.test(f)), failures.join("\n"));
    assert.ok(failures.some((f) => /^marker: does not pass 3 s after solve\.sh: /.test(f)), failures.join("\n"));
    assert.equal(driver.list().length, 0);
  });
});
