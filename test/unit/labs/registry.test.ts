/**
 * The registry the server loads at start-up, and the `lab validate` / `lab ls` commands: invalid labs
 * are refused with their reasons, valid ones stay available.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { FaultlineError } from "../../../server/errors.js";
import { formatDuration, listLabs, validateLabs } from "../../../server/labs/cli.js";
import { findLab, loadAllLabs } from "../../../server/labs/registry.js";
import { projectRoot } from "../../../server/paths.js";

const fixtures = path.join(projectRoot, "test", "fixtures", "labs");
const rel = (p: string) => path.relative(process.cwd(), p);

/** A labs folder with one valid lab, one invalid lab, a folder without README.md, and a hidden folder. */
let root: string;
before(() => {
  root = mkdtempSync(path.join(tmpdir(), "faultline-registry-"));
  cpSync(path.join(fixtures, "small-ok"), path.join(root, "small-ok"), { recursive: true });
  cpSync(path.join(fixtures, "bad-level"), path.join(root, "bad-level"), { recursive: true });
  mkdirSync(path.join(root, "empty"));
  mkdirSync(path.join(root, ".git"));
});
after(() => rmSync(root, { recursive: true, force: true }));

function output(): { write: (t: string) => void; text: () => string } {
  let text = "";
  return { write: (t) => void (text += t), text: () => text };
}

describe("loadAllLabs and findLab", () => {
  it("serves the valid labs and lists the invalid ones with their problems", async () => {
    const reg = await loadAllLabs({ labsRoot: root });
    assert.deepEqual(reg.labs.map((l) => l.id), ["small-ok"]);
    assert.deepEqual(reg.invalid.map((l) => path.basename(l.dir)), ["bad-level", "empty"]);
    assert.deepEqual(reg.invalid[0]!.errors.map((e) => e.message), ['level: Invalid option: expected one of "intro"|"intermediate"|"advanced"; did you mean "intermediate"?']);
    assert.match(reg.invalid[1]!.errors[0]!.message, /^lab "empty" not found \(no .*empty\/README\.md\)$/);
    assert.equal(findLab(reg, "small-ok").title, "fixture: a small healthy cluster");
  });

  it("refuses an invalid lab, saying why and how to see every problem", async () => {
    const reg = await loadAllLabs({ labsRoot: root });
    assert.throws(() => findLab(reg, "bad-level"), (e: unknown) => {
      assert.ok(e instanceof FaultlineError);
      assert.equal(e.message, `lab "bad-level" is not available: ${rel(path.join(root, "bad-level", "README.md"))}:5:8: level: Invalid option: expected one of "intro"|"intermediate"|"advanced"; did you mean "intermediate"?`);
      assert.equal(e.hint, `run \`faultline lab validate ${rel(path.join(root, "bad-level"))}\` for every problem and its fix`);
      return true;
    });
    assert.throws(() => findLab(reg, "nope"), /^FaultlineError: no lab "nope"$/);
  });

  it("an absent labs folder is no labs", async () => {
    assert.deepEqual(await loadAllLabs({ labsRoot: path.join(root, "absent") }), { labs: [], invalid: [] });
  });
});

describe("lab ls", () => {
  it("id, level, duration and title; invalid labs marked with the command that explains", async () => {
    const out = output();
    assert.equal(await listLabs(out.write, { labsRoot: root }), 0);
    assert.equal(
      out.text(),
      [
        "ID         LEVEL  DURATION  TITLE",
        `bad-level  -      -         INVALID: 1 problem, see \`faultline lab validate ${rel(path.join(root, "bad-level"))}\``,
        `empty      -      -         INVALID: 1 problem, see \`faultline lab validate ${rel(path.join(root, "empty"))}\``,
        "small-ok   intro  10m       fixture: a small healthy cluster",
        "",
      ].join("\n"),
    );
  });

  it("durations read as written", () => {
    assert.deepEqual([5_400_000, 3_600_000, 45_000, 1500, 0].map(formatDuration), ["90m", "1h", "45s", "1500ms", "0ms"]);
  });
});

describe("lab validate", () => {
  it("prints each problem with its fix, and a summary; exit code 1", async () => {
    const out = output();
    assert.equal(await validateLabs([path.join(fixtures, "bad-hint"), path.join(fixtures, "small-ok")], out.write), 1);
    assert.equal(
      out.text(),
      `${rel(path.join(fixtures, "bad-hint", "README.md"))}:25:17: hints.1: unknown key "txt"; did you mean "text"?\n` +
        "  fix: hints.1 takes text, after\n" +
        "2 labs checked: 1 valid, 1 invalid (1 problem)\n",
    );
  });

  it("no paths: every folder in the labs folder; a folder of labs stands for each lab in it", async () => {
    const all = output();
    assert.equal(await validateLabs([], all.write, { labsRoot: root }), 1);
    assert.match(all.text(), /\n3 labs checked: 1 valid, 2 invalid \(2 problems\)\n$/);
    const folder = output();
    assert.equal(await validateLabs([root], folder.write), 1);
    assert.match(folder.text(), /\n2 labs checked: 1 valid, 1 invalid \(1 problem\)\n$/); // only folders with a README.md
  });

  it("an id, or a README.md path, names the lab too", async () => {
    const out = output();
    assert.equal(await validateLabs(["webhook-to-kernel", path.join(fixtures, "small-ok", "README.md")], out.write), 0);
    assert.equal(out.text(), "2 labs checked: 2 valid, 0 invalid\n");
  });

  it("the command: the bundled labs pass (exit 0), a broken fixture fails precisely (exit 1)", () => {
    const cli = path.join(projectRoot, "bin", "faultline.js");
    assert.match(execFileSync(process.execPath, [cli, "lab", "validate"], { encoding: "utf8" }), /^(\d+) labs? checked: \1 valid, 0 invalid\n$/);
    const bad = spawnSync(process.execPath, [cli, "lab", "validate", path.join(fixtures, "probe-unknown-node")], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.equal(
      bad.stdout,
      `${rel(path.join(fixtures, "probe-unknown-node", "README.md"))}:19:27: objectives.0.check.probe.from: node cp-2 does not exist; nodes are cp-1, worker-1, worker-2\n` +
        "  fix: did you mean cp-1?\n" +
        "1 lab checked: 0 valid, 1 invalid (1 problem)\n",
    );
    const usage = spawnSync(process.execPath, [cli, "lab", "frobnicate"], { encoding: "utf8" });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /unknown lab command "frobnicate"/);
  });
});
