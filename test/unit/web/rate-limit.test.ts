/** The login limiter: a sliding window of failures per key, with a fake clock. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FailureLimiter, humanDuration } from "../../../server/web/auth/rate-limit.js";

describe("FailureLimiter", () => {
  it("blocks a key after max failures in the window, until the oldest leaves it", () => {
    let now = 0;
    const l = new FailureLimiter({ max: 3, windowMs: 1000 }, () => now);
    for (const t of [0, 100, 200]) {
      assert.equal(l.retryAfterMs("k"), 0);
      now = t;
      l.fail("k");
    }
    assert.equal(l.retryAfterMs("k"), 800, "until the failure at 0 is 1000 ms old");
    assert.equal(l.retryAfterMs("other"), 0, "keys are counted apart");
    now = 1000;
    assert.equal(l.retryAfterMs("k"), 0);
  });

  it("reset forgets a key; prune drops keys with no failure in the window", () => {
    let now = 0;
    const l = new FailureLimiter({ max: 1, windowMs: 1000 }, () => now);
    l.fail("a");
    l.fail("b");
    l.reset("a");
    assert.equal(l.retryAfterMs("a"), 0);
    assert.ok(l.retryAfterMs("b") > 0);
    now = 5000;
    l.prune();
    assert.equal((l as unknown as { failures: Map<string, number[]> }).failures.size, 0);
  });

  it("humanDuration", () => {
    assert.equal(humanDuration(1), "1 second");
    assert.equal(humanDuration(45_000), "45 seconds");
    assert.equal(humanDuration(14 * 60_000 + 1), "15 minutes");
  });
});
