/**
 * Contexts for unit tests of checks: every part a test does not give answers "could not check", so a
 * check that reaches for something unexpected shows up as an error result, not as a pass.
 */
import { spawn } from "node:child_process";
import { kubeHandleFromString } from "../../../server/checks/kube-client.js";
import { CouldNotCheck, type CheckContext, type ExecOutcome } from "../../../server/checks/types.js";
import type { Harness } from "../sim/apiserver/harness.js";

export function fakeContext(parts: Partial<CheckContext> = {}): CheckContext {
  return {
    sandbox: "unit",
    signal: new AbortController().signal,
    workspaceDir: null,
    kube: () => {
      throw new CouldNotCheck("no API server in this test");
    },
    exec: async () => {
      throw new CouldNotCheck("no sandbox in this test");
    },
    readWorkspaceFile: async () => null,
    plan: async () => null,
    writeup: async () => null,
    ...parts,
  };
}

/**
 * An exec that runs argv on this host for the target `node/local` (any other target does not exist),
 * killed after timeoutMs: real processes, real exit codes and output.
 */
export function localExec(): CheckContext["exec"] {
  return (target, argv, { timeoutMs }) => {
    if (target !== "node/local") return Promise.reject(new CouldNotCheck(`sandbox "unit" has no ${target}`));
    return new Promise<ExecOutcome>((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => ((timedOut = true), child.kill("SIGKILL")), timeoutMs);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 137, stdout, stderr, timedOut });
      });
    });
  };
}

/** The admin KubeConfig and objects API of a unit-test API server (test/unit/sim/apiserver/harness.ts). */
export function harnessKube(h: Harness): ReturnType<typeof kubeHandleFromString> {
  return kubeHandleFromString(h.api.kubeconfig(`https://127.0.0.1:${h.api.port}`));
}
