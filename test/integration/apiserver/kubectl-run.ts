/** The real kubectl (/usr/bin/kubectl, v1.32 for this v1.24 server) as the integration tests run it. */
import { execFile } from "node:child_process";

export const KUBECTL = "/usr/bin/kubectl";

export interface Run {
  code: number;
  out: string;
}

/** Runs kubectl with its own HOME (no shared discovery cache) and a timeout; stdout and stderr together. */
export function kubectl(kubeconfig: string, home: string, args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(KUBECTL, args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, KUBECONFIG: kubeconfig }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, out: stdout + stderr });
    });
    child.stdin?.end(stdin ?? "");
  });
}
