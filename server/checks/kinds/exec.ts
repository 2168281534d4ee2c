/**
 * `exec`: a command in a node or pod exits with the expected code, and its output matches.
 *
 * @example
 * ```yaml
 * # worker-3 no longer blackholes the control plane's tunnel address
 * check: {exec: {in: node/worker-3, command: "ip route get 10.233.64.3", stdout: "via 192\\.168\\.10\\.10"}}
 * # the pod resolves the Service name (argv form: run as is, no shell)
 * check: {exec: {in: pod/default/netshoot, command: [dig, +short, hello-world.default.svc.cluster.local], stdout: "^10\\."}}
 * ```
 *
 * A string runs through `sh -c`; a list runs as is. The command runs under coreutils `timeout`
 * inside the sandbox, so a command that hangs is killed there (exit 124: "did not finish within 5 s",
 * which is a fail, not a could-not-check). `stdout` is a regular expression (JavaScript syntax,
 * multiline: `^` and `$` match at line ends) that stdout must match. A target that does not exist or a
 * sandbox being re-provisioned is "could not check".
 */
import type { CheckResult, ExecCheck } from "../schema.js";
import { formatMs, type CheckContext, type CheckKindModule } from "../types.js";

/** What the check runs: the command under `timeout` (KILL one second after TERM). */
export function execArgv(spec: ExecCheck): string[] {
  const argv = typeof spec.command === "string" ? ["sh", "-c", spec.command] : spec.command;
  return ["timeout", "-k", "1", `${Math.max(0.1, spec.timeout / 1000)}`, ...argv];
}

function shown(spec: ExecCheck): string {
  const text = typeof spec.command === "string" ? spec.command : spec.command.join(" ");
  return `\`${text.length > 60 ? text.slice(0, 57) + "..." : text}\` in ${spec.in}`;
}

function excerpt(text: string): string {
  const t = text.trim().replace(/\s+/g, " ");
  return t.length > 160 ? t.slice(0, 157) + "..." : t;
}

export async function runExec(spec: ExecCheck, ctx: CheckContext): Promise<CheckResult> {
  // The outer limit only catches a sandbox that does not answer; `timeout` inside ends the command.
  const r = await ctx.exec(spec.in, execArgv(spec), { timeoutMs: spec.timeout + 3000 });
  if (r.timedOut || r.code === 124) return { status: "fail", detail: `${shown(spec)} did not finish within ${formatMs(spec.timeout)}` };
  if (r.code !== spec.exitCode) {
    const why = excerpt(r.stderr) || excerpt(r.stdout);
    return { status: "fail", detail: `${shown(spec)} exited ${r.code}, expected ${spec.exitCode}${why ? `: ${why}` : ""}` };
  }
  if (spec.stdout !== undefined && !new RegExp(spec.stdout, "m").test(r.stdout)) {
    return { status: "fail", detail: `${shown(spec)}: output does not match /${spec.stdout}/: ${excerpt(r.stdout) || "(empty)"}` };
  }
  return { status: "pass", detail: `${shown(spec)} exited ${r.code}${spec.stdout !== undefined ? ` with matching output` : ""}` };
}

export const exec: CheckKindModule<"exec"> = {
  kind: "exec",
  describe: (spec) => `${shown(spec)} exits ${spec.exitCode}${spec.stdout !== undefined ? ` printing /${spec.stdout}/` : ""}`,
  triggers: () => [{ type: "poll" }, { type: "state" }],
  timeoutMs: (spec) => spec.timeout + 5000,
  run: (spec, ctx) => runExec(spec, ctx),
};
