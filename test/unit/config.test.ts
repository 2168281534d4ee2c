/**
 * Configuration: global flags split out of argv ("what the user gave"), then merged with the
 * environment and defaults ("with defaults"). Flags win over the environment; the environment is
 * passed in, never read at import time.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { loadConfig, parseGlobalFlags, userConfigSchema } from "../../server/config.js";
import { FaultlineError } from "../../server/errors.js";
import { projectRoot } from "../../server/paths.js";

describe("parseGlobalFlags", () => {
  it("takes --data-dir DIR and leaves the command", () => {
    assert.deepEqual(parseGlobalFlags(["--data-dir", "/var/lib/faultline", "sandbox", "ls"]), {
      given: { dataDir: "/var/lib/faultline" },
      rest: ["sandbox", "ls"],
    });
  });

  it("takes --data-dir=DIR, keeping any '=' in the value", () => {
    assert.deepEqual(parseGlobalFlags(["sandbox", "--data-dir=/srv/a=b", "ls"]), { given: { dataDir: "/srv/a=b" }, rest: ["sandbox", "ls"] });
  });

  it("finds the flag after the command too, and the last one wins", () => {
    assert.deepEqual(parseGlobalFlags(["sandbox", "ls", "--data-dir", "/a", "--data-dir", "/b"]), { given: { dataDir: "/b" }, rest: ["sandbox", "ls"] });
  });

  it("passes other flags through untouched, with or without '='", () => {
    const argv = ["sandbox", "up", "webhook-to-kernel", "--name", "x", "--json", "--name=y"];
    assert.deepEqual(parseGlobalFlags(argv), { given: {}, rest: argv });
  });

  it("no arguments: nothing given", () => {
    assert.deepEqual(parseGlobalFlags([]), { given: {}, rest: [] });
  });

  it("a flag without a value names the flag and shows an example", () => {
    for (const argv of [["sandbox", "ls", "--data-dir"], ["--data-dir="], ["--data-dir", ""]]) {
      assert.throws(() => parseGlobalFlags(argv), (e: unknown) => {
        assert.ok(e instanceof FaultlineError, argv.join(" "));
        assert.equal(e.message, "--data-dir needs a value");
        assert.equal(e.hint, "e.g. --data-dir /var/lib/faultline");
        return true;
      });
    }
  });

  it("stops at `--`: what follows belongs to the command `sandbox exec` runs", () => {
    const argv = ["sandbox", "exec", "box", "node/cp-1", "--", "grep", "-r", "x", "--data-dir", "/tmp"];
    assert.deepEqual(parseGlobalFlags(argv), { given: {}, rest: argv });
  });
});

describe("loadConfig", () => {
  it("defaults: .faultline/ in the project, plain-text logs", () => {
    assert.deepEqual(loadConfig({}, {}), { dataDir: path.join(projectRoot, ".faultline"), logJson: false });
  });

  it("reads FAULTLINE_DATA_DIR and FAULTLINE_LOG from the environment it is given", () => {
    assert.deepEqual(loadConfig({}, { FAULTLINE_DATA_DIR: "/srv/faultline", FAULTLINE_LOG: "json" }), { dataDir: "/srv/faultline", logJson: true });
    assert.equal(loadConfig({}, { FAULTLINE_LOG: "text" }).logJson, false);
  });

  it("flags win over the environment", () => {
    const env = { FAULTLINE_DATA_DIR: "/from/env", FAULTLINE_LOG: "json" };
    assert.deepEqual(loadConfig({ dataDir: "/from/flag", logJson: false }, env), { dataDir: "/from/flag", logJson: false });
    assert.equal(loadConfig({ dataDir: "/from/flag" }, env).logJson, true, "a key the flags leave out still comes from the environment");
  });

  it("an empty FAULTLINE_DATA_DIR counts as unset", () => {
    assert.equal(loadConfig({}, { FAULTLINE_DATA_DIR: "" }).dataDir, path.join(projectRoot, ".faultline"));
  });

  it("a relative data dir is resolved against the working directory", () => {
    assert.equal(loadConfig({ dataDir: "data" }, {}).dataDir, path.resolve("data"));
    assert.equal(loadConfig({}, { FAULTLINE_DATA_DIR: "./env-data" }).dataDir, path.resolve("env-data"));
  });

  it("uses the environment passed in, not process.env", () => {
    const saved = process.env.FAULTLINE_DATA_DIR;
    process.env.FAULTLINE_DATA_DIR = "/from/process/env";
    try {
      assert.equal(loadConfig({}, {}).dataDir, path.join(projectRoot, ".faultline"));
      assert.equal(loadConfig({}).dataDir, "/from/process/env", "process.env is only the default argument");
    } finally {
      if (saved === undefined) delete process.env.FAULTLINE_DATA_DIR;
      else process.env.FAULTLINE_DATA_DIR = saved;
    }
  });
});

describe("userConfigSchema", () => {
  it("accepts only the known keys", () => {
    assert.equal(userConfigSchema.safeParse({ dataDir: "/x", logJson: true }).success, true);
    assert.equal(userConfigSchema.safeParse({ datadir: "/x" }).success, false);
    assert.equal(userConfigSchema.safeParse({ dataDir: "" }).success, false);
  });
});
