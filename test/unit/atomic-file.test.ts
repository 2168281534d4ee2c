import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { writeFileAtomic } from "../../server/atomic-file.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "faultline-atomic-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the new content replaces the file whole, and no temporary file stays", () => {
  const f = path.join(dir, "ready.json");
  writeFileAtomic(f, JSON.stringify({ generation: 1 }));
  writeFileAtomic(f, JSON.stringify({ generation: 2, agents: { "node/cp-1": 42 } }));
  assert.deepEqual(JSON.parse(readFileSync(f, "utf8")), { generation: 2, agents: { "node/cp-1": 42 } });
  assert.deepEqual(readdirSync(dir), ["ready.json"]);
});

test("a reader that opened the old file reads it whole: the file is replaced, never truncated", () => {
  const f = path.join(dir, "plan.json");
  const old = JSON.stringify({ nodes: Array.from({ length: 500 }, (_, i) => `node-${i}`) });
  writeFileAtomic(f, old);
  const inode = statSync(f).ino;
  const fd = openSync(f, "r");
  writeFileAtomic(f, "{}");
  const buf = Buffer.alloc(old.length + 10);
  const n = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  assert.equal(buf.subarray(0, n).toString(), old);
  assert.notEqual(statSync(f).ino, inode);
  assert.equal(readFileSync(f, "utf8"), "{}");
});

test("options such as the mode are applied", () => {
  const f = path.join(dir, "secret");
  writeFileAtomic(f, "x", { mode: 0o600 });
  assert.equal(statSync(f).mode & 0o777, 0o600 & ~process.umask());
});
