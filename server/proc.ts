/**
 * SIGKILLs a process's whole group (our detached children lead their own), or the process alone when
 * it has no group of its own; a process that is already gone is not an error.
 */
export function killProcessGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}
