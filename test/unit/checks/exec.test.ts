/**
 * The exec check with real processes (support.ts localExec runs them on this host for `node/local`),
 * and the command shell that runs them in sim sandboxes (sim-shell.ts): its command lines run by a
 * real bash, with argv that needs quoting, and their framed results parsed back from any pieces.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { execArgv } from "../../../server/checks/kinds/exec.js";
import { runCheck } from "../../../server/checks/kinds/index.js";
import { execCheckSchema, type CheckSpec } from "../../../server/checks/schema.js";
import { commandLine, ResultReader, SHELL_ARGV, SHELL_INIT, shellQuote, type ShellResult } from "../../../server/checks/sim-shell.js";
import { fakeContext, localExec } from "./support.js";

const exec = (spec: Record<string, unknown>): CheckSpec => ({ exec: execCheckSchema.parse({ in: "node/local", ...spec }) });
const ctx = fakeContext({ exec: localExec() });

describe("exec check", () => {
  it("passes on the expected exit code and matching stdout (multiline regex)", async () => {
    assert.deepEqual(await runCheck(exec({ command: "printf 'a\\nblackhole 10.233.64.0/24\\n'", stdout: "^blackhole 10\\.233\\." }), ctx), {
      status: "pass",
      detail: "`printf 'a\\nblackhole 10.233.64.0/24\\n'` in node/local exited 0 with matching output",
    });
    assert.equal((await runCheck(exec({ command: ["sh", "-c", "exit 3"], exitCode: 3 }), ctx)).status, "pass");
  });

  it("fails with the exit code and stderr, or with the output that did not match", async () => {
    assert.deepEqual(await runCheck(exec({ command: "echo nope >&2; exit 1" }), ctx), {
      status: "fail",
      detail: "`echo nope >&2; exit 1` in node/local exited 1, expected 0: nope",
    });
    assert.deepEqual(await runCheck(exec({ command: ["echo", "via 192.168.10.13"], stdout: "blackhole" }), ctx), {
      status: "fail",
      detail: "`echo via 192.168.10.13` in node/local: output does not match /blackhole/: via 192.168.10.13",
    });
  });

  it("a command that outlives its timeout is killed inside (coreutils timeout) and fails", async () => {
    const started = Date.now();
    assert.deepEqual(await runCheck(exec({ command: "sleep 10", timeout: "300ms" }), ctx), {
      status: "fail",
      detail: "`sleep 10` in node/local did not finish within 300 ms",
    });
    assert.ok(Date.now() - started < 3000);
    assert.deepEqual(execArgv(execCheckSchema.parse({ in: "node/x", command: "true", timeout: "5s" })), ["timeout", "-k", "1", "5", "sh", "-c", "true"]);
  });

  it("a target that does not exist is could-not-check", async () => {
    assert.deepEqual(await runCheck({ exec: execCheckSchema.parse({ in: "pod/default/gone", command: "true" }) }, ctx), {
      status: "error",
      detail: 'could not check: sandbox "unit" has no pod/default/gone',
    });
  });
});

describe("the command shell's protocol, run by a real bash", () => {
  /** A local bash fed the shell's lines, as sim-shell.ts feeds the one in a sandbox target. */
  async function viaShell(commands: Array<{ argv: string[]; timeoutMs: number }>, chunk = Infinity) {
    const sh = spawn(SHELL_ARGV[0]!, SHELL_ARGV.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
    const reader = new ResultReader();
    const results: ShellResult[] = [];
    // Fed in pieces of `chunk` bytes: a result may be split anywhere.
    sh.stdout.on("data", (d: Buffer) => {
      for (let i = 0; i < d.length; i += Math.min(chunk, d.length)) results.push(...reader.push(d.subarray(i, i + Math.min(chunk, d.length))));
    });
    sh.stdin.write(SHELL_INIT);
    commands.forEach((c, i) => sh.stdin.write(commandLine(i + 1, c.argv, c.timeoutMs)));
    sh.stdin.end('rm -rf "$T"\n');
    await new Promise((r) => sh.on("close", r));
    return results;
  }

  it("argv reaches the command unchanged: quotes, spaces, newlines, $, globs, UTF-8; output comes back byte for byte", async () => {
    const tricky = ["it's", "a b", "line1\nline2\n", "$HOME", "*", "\\", "", "é ü ✓", "@@faultline 9 0 1 1"];
    for (const chunk of [Infinity, 1, 7]) {
      const [r] = await viaShell([{ argv: ["printf", "%s|", ...tricky], timeoutMs: 5000 }], chunk);
      assert.deepEqual(r, { id: 1, code: 0, stdout: tricky.join("|") + "|", stderr: "" }, `in pieces of ${chunk}`);
    }
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });

  it("exit codes, stderr, trailing newlines, commands that are not builtins (exit cannot end the shell), and the timeout's 124", async () => {
    const rs = await viaShell([
      { argv: ["sh", "-c", "echo out; echo; echo err >&2; exit 7"], timeoutMs: 5000 },
      { argv: ["exit", "9"], timeoutMs: 5000 },
      { argv: ["sleep", "5"], timeoutMs: 200 },
      { argv: ["cat"], timeoutMs: 5000 },
    ]);
    assert.deepEqual(rs[0], { id: 1, code: 7, stdout: "out\n\n", stderr: "err\n" });
    assert.equal(rs[1]!.id, 2);
    assert.equal(rs[1]!.code, 127, "`exit` is run as a program (there is none), not as the shell's builtin");
    assert.deepEqual({ id: rs[2]!.id, code: rs[2]!.code }, { id: 3, code: 124 });
    assert.deepEqual(rs[3], { id: 4, code: 0, stdout: "", stderr: "" }, "stdin is /dev/null, not the shell's input");
  });

  it("each stream is capped at 1 MiB", async () => {
    const [r] = await viaShell([{ argv: ["head", "-c", "1500000", "/dev/zero"], timeoutMs: 5000 }]);
    assert.equal(r!.code, 0);
    assert.equal(r!.stdout.length, 0, "NUL bytes cannot be held by bash variables: dropped");
    const [big] = await viaShell([{ argv: ["sh", "-c", "yes | head -c 1500000"], timeoutMs: 5000 }]);
    assert.equal(Buffer.byteLength(big!.stdout), 1024 * 1024);
  });
});
