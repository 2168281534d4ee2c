/** The host checks that run before a sandbox is created: each failure names the fix. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import { preflight, which } from "../../../../server/sandboxes/sim/preflight.js";
import { distRoot } from "../../../../server/paths.js";

const me = userInfo().username;
const ids = (line: string) => () => line;
const ok = { codeRoot: distRoot, which, probeUserns: () => ({ status: 0, stderr: "" }), readIds: ids(`${me}:1073741824:16777216\n`) };

it("passes on a prepared host and returns the id range", () => {
  assert.deepEqual(preflight(ok).range, { start: 1073741824, count: 16777216 });
});

it("a host without uidmap: names newuidmap and the package to install", () => {
  assert.throws(() => preflight({ ...ok, which: (b) => (b.startsWith("new") ? null : which(b)) }), (e: Error & { hint?: string }) => {
    assert.match(e.message, /needs newuidmap, newgidmap/);
    assert.match(e.hint!, /apt-get install -y uidmap/);
    return true;
  });
});

it("a host without kubectl: says which version is needed and how to get it (Debian's own is too old)", () => {
  assert.throws(() => preflight({ ...ok, which: (b) => (b === "kubectl" ? null : which(b)) }), (e: Error & { hint?: string }) => {
    assert.match(e.message, /needs kubectl \(1\.29 or newer\)/);
    assert.match(e.hint!, /npm run bootstrap[\s\S]*pkgs\.k8s\.io/);
    return true;
  });
});

it("a host without user namespaces: says what the kernel answered and how to enable them", () => {
  assert.throws(() => preflight({ ...ok, probeUserns: () => ({ status: 1, stderr: "unshare: unshare failed: Operation not permitted\n" }) }), (e: Error & { hint?: string }) => {
    assert.match(e.message, /cannot create user namespaces: unshare: unshare failed: Operation not permitted$/);
    assert.match(e.hint!, /user\.max_user_namespaces|unprivileged_userns_clone/);
    return true;
  });
});

it("a user without a subordinate id range: prints the line to add", () => {
  assert.throws(() => preflight({ ...ok, readIds: ids("someoneelse:100000:65536\n") }), (e: Error & { hint?: string }) => {
    assert.match(e.message, new RegExp(`user ${me} has no subordinate id range`));
    assert.match(e.hint!, new RegExp(`${me}:1073741824:16777216`));
    return true;
  });
});

it("code in a folder others cannot enter is refused with the chmod to run", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-private-"));
  chmodSync(dir, 0o700);
  try {
    assert.throws(() => preflight({ ...ok, codeRoot: path.join(dir, "dist") }), (e: Error & { hint?: string }) => {
      assert.match(e.message, /cannot enter .*faultline-private-\w+ \(mode 700\)/);
      assert.match(e.hint!, /chmod o\+x/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true });
  }
});
