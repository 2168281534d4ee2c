import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { Launcher } from "../../../../server/sandboxes/sim/launcher.js";

const root = mkdtempSync(path.join(os.tmpdir(), "faultline-launcher-"));
const launcher = new Launcher(path.join(root, "files"));
after(() => {
  launcher.close();
  rmSync(root, { recursive: true, force: true });
});

/** Whether `pid` is a running (not zombie) process. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

test("run passes input and returns stdout, like spawnRunner", async () => {
  assert.equal(await launcher.run(["tr", "a-z", "A-Z"], "netns add pod_a\n"), "NETNS ADD POD_A\n");
  assert.equal(await launcher.run(["printf", "%s|", "it's", "$HOME", "two words", "ünï"]), "it's|$HOME|two words|ünï|");
});

test("a failing command rejects with its exit status and its own stderr", async () => {
  await assert.rejects(launcher.run(["sh", "-c", "echo 'RTNETLINK answers: File exists' >&2; exit 2"]), /sh -c .* failed \(exit 2\): RTNETLINK answers: File exists/);
});

test("a missing tool is exit 127 with the hint to install the sandbox tools", async () => {
  await assert.rejects(launcher.run(["no-such-tool-here"]), (e: Error & { hint?: string }) => {
    assert.match(e.message, /no-such-tool-here failed \(exit 127\):.*not found/);
    assert.match(e.hint ?? "", /npm run bootstrap/);
    return true;
  });
});

test("run leaves no files behind", async () => {
  await launcher.run(["true"], "x");
  assert.deepEqual(readdirSync(launcher.dir), []);
});

test("jobs never read the launcher's own input", async () => {
  // `cat` without stdinFile reads /dev/null: it ends at once instead of swallowing later commands.
  const job = launcher.start(["cat"]);
  assert.equal(await job.exited, 0);
  assert.equal(await launcher.run(["echo", "still here"]), "still here\n");
});

test("many jobs ending at once are all reported, each with its own status", async () => {
  const codes = await Promise.all(Array.from({ length: 60 }, (_, i) => launcher.start(["sh", "-c", `exit ${i % 7}`]).exited));
  assert.deepEqual(codes, Array.from({ length: 60 }, (_, i) => i % 7));
});

test("a job has its own pid (exec all the way), extra descriptors, and dies on kill", async () => {
  const info = path.join(root, "info.json");
  const job = launcher.start(["sh", "-c", 'echo "{\\"child-pid\\": $$}" >&3; exec sleep 60'], { writeFds: { 3: info } });
  const pid = await job.pid;
  for (let i = 0; i < 200 && !existsSync(info); i++) await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < 200 && !readFileSync(info, "utf8").includes("}"); i++) await new Promise((r) => setTimeout(r, 10));
  // `exec` all the way down: the pid reported is the command's own, not a wrapper's.
  assert.deepEqual(JSON.parse(readFileSync(info, "utf8")), { "child-pid": pid });
  assert.ok(alive(pid));
  assert.equal(job.exitCode, null);
  await job.kill();
  assert.equal(job.exitCode, 128 + 9);
  assert.equal(alive(pid), false);
});

test("a long-lived job has no waiting subshell; its end is seen in /proc, reaped by bash", async () => {
  const job = launcher.start(["sleep", "60"], { longLived: true });
  const pid = await job.pid;
  assert.ok(job.running());
  // Its parent is the launcher's bash itself, not a per-job subshell.
  const ppid = Number(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]);
  assert.match(readFileSync(`/proc/${ppid}/cmdline`, "utf8"), /^bash\0--noprofile/);
  await job.kill();
  assert.equal(job.running(), false);
  assert.equal(job.exitCode, -1);
  // Reaped, not left a zombie.
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(existsSync(`/proc/${pid}`), false);
});

test("a long-lived job that dies by itself is seen as ended", async () => {
  const job = launcher.start(["sh", "-c", "exit 3"], { longLived: true });
  await job.pid;
  for (let i = 0; i < 200 && job.running(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(job.running(), false);
  assert.equal(await job.exited, -1);
});

test("once the launcher is gone, new jobs fail at once and waiting ones are released", async () => {
  const l = new Launcher(path.join(root, "gone"));
  const waiting = l.start(["sleep", "60"]);
  const pid = await waiting.pid;
  l.close();
  assert.equal(await waiting.exited, 127);
  await assert.rejects(l.run(["true"]), /true was not started: the sandbox's launcher was closed/);
  assert.equal(await l.start(["true"]).exited, 127);
  process.kill(pid, "SIGKILL");
});
