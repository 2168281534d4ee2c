/** Shapes shared by the built-in workloads. */

/** A workload that is listening. */
export interface RunningWorkload {
  /** The port actually listened on. */
  port: number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}
