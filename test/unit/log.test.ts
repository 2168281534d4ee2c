/**
 * The logger reads FAULTLINE_LOG and FAULTLINE_LOG_LEVEL when it writes its first line, not when it is
 * created: the sandbox programs create theirs at module level, which runs while `npm run build` makes
 * their startup snapshots, with the build's environment (server/sandboxes/sim/program-main.ts).
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { createLogger } from "../../server/log.js";

const saved = { FAULTLINE_LOG: process.env.FAULTLINE_LOG, FAULTLINE_LOG_LEVEL: process.env.FAULTLINE_LOG_LEVEL };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe("createLogger", () => {
  it("takes its format and level from the environment of its first line", () => {
    delete process.env.FAULTLINE_LOG;
    delete process.env.FAULTLINE_LOG_LEVEL;
    const lines: string[] = [];
    const log = createLogger({ component: "t" }, { write: (l) => lines.push(l) });
    process.env.FAULTLINE_LOG = "json";
    process.env.FAULTLINE_LOG_LEVEL = "warn";
    log.info("dropped");
    log.warn("kept", { n: 1 });
    assert.equal(lines.length, 1);
    assert.deepEqual({ ...JSON.parse(lines[0]!), time: "-" }, { time: "-", level: "warn", event: "kept", component: "t", n: 1 });
    // Settled by then: later changes of the environment do not change a logger's format mid-stream.
    process.env.FAULTLINE_LOG = "text";
    log.error("still json");
    assert.equal(JSON.parse(lines[1]!).event, "still json");
  });

  it("options given to it win over the environment", () => {
    process.env.FAULTLINE_LOG_LEVEL = "error";
    const lines: string[] = [];
    const log = createLogger({}, { json: false, level: "debug", write: (l) => lines.push(l) });
    log.debug("shown", { a: "b" });
    assert.deepEqual(lines, ["debug shown a=b"]);
  });
});
