/**
 * `faultline serve`'s options: flags over environment over defaults, validated once, and every bad
 * value reported under the name the user typed.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { loadConfig, loadServeConfig, parseServeFlags } from "../../../server/config.js";
import { FaultlineError } from "../../../server/errors.js";
import { projectRoot } from "../../../server/paths.js";

const base = loadConfig({ dataDir: "/srv/faultline" }, {});

function fails(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FaultlineError);
    assert.equal(e.message, message);
    return true;
  });
}

describe("serve config", () => {
  it("defaults: loopback:8080, SQLite, the bundled labs, 20 sandboxes, 2 per user, 30 minutes idle", () => {
    assert.deepEqual(loadServeConfig(base, {}, {}), {
      dataDir: "/srv/faultline", logJson: false, host: "127.0.0.1", port: 8080, publicUrl: "http://127.0.0.1:8080", databaseUrl: null,
      labsDir: path.join(projectRoot, "labs"), maxSandboxes: 20, maxSandboxesPerUser: 2, idleTimeoutMs: 30 * 60_000, trustProxy: false,
    });
  });

  it("flags win over the environment, which wins over defaults", () => {
    const env = { FAULTLINE_PORT: "9000", FAULTLINE_HOST: "0.0.0.0", DATABASE_URL: "postgres://u:p@db/faultline", FAULTLINE_IDLE_TIMEOUT: "2h" };
    const c = loadServeConfig(base, parseServeFlags(["--port", "9100", "--public-url=https://labs.example.com/", "--trust-proxy"]), env);
    assert.equal(c.port, 9100);
    assert.equal(c.host, "0.0.0.0");
    assert.equal(c.publicUrl, "https://labs.example.com");
    assert.equal(c.databaseUrl, "postgres://u:p@db/faultline");
    assert.equal(c.idleTimeoutMs, 2 * 3_600_000);
    assert.equal(c.trustProxy, true);
    assert.equal(loadServeConfig(base, {}, { FAULTLINE_HOST: "0.0.0.0" }).publicUrl, "http://localhost:8080");
  });

  it("errors name the flag or the variable, and the value", () => {
    fails(() => loadServeConfig(base, parseServeFlags(["--port", "abc"]), {}), '--port: expected a number 1-65535, got "abc"');
    fails(() => loadServeConfig(base, {}, { FAULTLINE_PORT: "70000" }), 'FAULTLINE_PORT: expected a number 1-65535, got "70000"');
    fails(() => loadServeConfig(base, parseServeFlags(["--public-url", "ftp://x"]), {}), '--public-url: expected an http(s) URL such as https://labs.example.com, got "ftp://x"');
    fails(() => loadServeConfig(base, {}, { DATABASE_URL: "mysql://x" }), 'DATABASE_URL: expected a postgres:// or postgresql:// URL, got "mysql://x"');
    fails(() => loadServeConfig(base, parseServeFlags(["--idle-timeout", "30"]), {}), '--idle-timeout: expected a duration with its unit, e.g. 30m or 2h (at least 1m), got "30"');
    fails(() => loadServeConfig(base, parseServeFlags(["--idle-timeout", "10s"]), {}), '--idle-timeout: expected a duration with its unit, e.g. 30m or 2h (at least 1m), got "10s"');
    fails(() => loadServeConfig(base, parseServeFlags(["--max-sandboxes", "0"]), {}), '--max-sandboxes: expected a whole number 1-1000, got "0"');
  });

  it("unknown arguments and missing values are refused", () => {
    fails(() => parseServeFlags(["--prot", "80"]), 'serve: unknown argument "--prot"');
    fails(() => parseServeFlags(["--port"]), "--port needs a value");
    fails(() => parseServeFlags(["--port", "--host", "x"]), "--port needs a value");
  });

  it("an empty environment variable counts as unset", () => {
    assert.equal(loadServeConfig(base, {}, { FAULTLINE_PORT: "" }).port, 8080);
  });
});
