/**
 * subordinateRange reads the running user's line of /etc/subuid or /etc/subgid through an injected
 * reader, so every file shape is tested without touching the host's files. (preflight-host.test.ts
 * covers the host checks built on it.)
 */
import assert from "node:assert/strict";
import { userInfo } from "node:os";
import { describe, it } from "node:test";
import { distRoot } from "../../../../server/paths.js";
import { IDS_PER_SANDBOX, preflight, subordinateRange, which } from "../../../../server/sandboxes/sim/preflight.js";

const me = userInfo();

/** A reader returning `text` for any file, recording which files were asked for. */
function reader(text: string): { read: (f: string) => string; asked: string[] } {
  const asked: string[] = [];
  return { read: (f) => (asked.push(f), text), asked };
}

describe("subordinateRange", () => {
  it("reads the file it is asked for and returns the user's start and count", () => {
    for (const file of ["/etc/subuid", "/etc/subgid"] as const) {
      const r = reader(`${me.username}:1073741824:16777216\n`);
      assert.deepEqual(subordinateRange(file, r), { start: 1073741824, count: 16777216 });
      assert.deepEqual(r.asked, [file]);
    }
  });

  it("finds the user among others, by name or by numeric uid", () => {
    const others = "alice:100000:65536\nbob:165536:65536\n";
    assert.deepEqual(subordinateRange("/etc/subuid", reader(`${others}${me.username}:231072:65536\n`)), { start: 231072, count: 65536 });
    assert.deepEqual(subordinateRange("/etc/subuid", reader(`${others}${me.uid}:296608:65536\n`)), { start: 296608, count: 65536 });
  });

  it("does not match a user whose name merely starts with ours", () => {
    assert.equal(subordinateRange("/etc/subuid", reader(`${me.username}x:100000:65536\nx${me.username}:100000:65536\n`)), null);
  });

  it("of several usable lines for the user, takes the first", () => {
    assert.deepEqual(subordinateRange("/etc/subuid", reader(`${me.username}:100000:65536\n${me.username}:300000:65536\n`)), { start: 100000, count: 65536 });
  });

  it("tolerates indentation, trailing blanks, CRLF line ends and a missing final newline", () => {
    assert.deepEqual(subordinateRange("/etc/subuid", reader(`\r\n  ${me.username}:100000:65536  \r\n`)), { start: 100000, count: 65536 });
    assert.deepEqual(subordinateRange("/etc/subuid", reader(`${me.username}:100000:65536`)), { start: 100000, count: 65536 });
  });

  it("skips the user's lines that lack a start or a count", () => {
    assert.equal(subordinateRange("/etc/subuid", reader(`${me.username}\n${me.username}:100000\n${me.username}::65536\n`)), null);
    assert.deepEqual(subordinateRange("/etc/subuid", reader(`${me.username}:100000\n${me.username}:200000:65536\n`)), { start: 200000, count: 65536 });
  });

  it("null when the user has no line, the file is empty, or it cannot be read", () => {
    assert.equal(subordinateRange("/etc/subuid", reader("alice:100000:65536\n")), null);
    assert.equal(subordinateRange("/etc/subuid", reader("")), null);
    const unreadable = () => {
      throw Object.assign(new Error("EACCES: permission denied, open '/etc/subuid'"), { code: "EACCES" });
    };
    assert.equal(subordinateRange("/etc/subuid", { read: unreadable }), null);
  });

  it("a line whose numbers are not numbers is skipped", () => {
    assert.equal(subordinateRange("/etc/subuid", reader(`${me.username}:100000:lots\n`)), null);
  });
});

describe("preflight with several subordinate ranges", () => {
  it("passes when a later line of the user is large enough", () => {
    const ids = `${me.username}:100000:1000\n${me.username}:1073741824:16777216\n`;
    const ok = { codeRoot: distRoot, which, probeUserns: () => ({ status: 0, stderr: "" }), readIds: () => ids };
    assert.ok(preflight(ok).range.count >= IDS_PER_SANDBOX);
  });
});
