/**
 * The environment of every process started inside a sandbox, whoever starts it (the driver's shells and
 * `sandbox exec`, the API server's `kubectl exec`): nothing of the server's environment leaks in.
 * A module of its own, without dependencies, so the API server process can import it cheaply.
 */
export const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/faultline/bin";

export function sandboxEnv(term: string | null = "xterm-256color"): Record<string, string> {
  return {
    PATH: SANDBOX_PATH,
    HOME: "/root",
    USER: "root",
    LOGNAME: "root",
    SHELL: "/bin/bash",
    ...(term ? { TERM: term } : {}),
    LANG: "C.UTF-8",
  };
}
