/**
 * What a check kind gets to look at a sandbox with, and what it declares about itself. The sim driver
 * implements {@link CheckContext} today (sim-context.ts); a kind (Docker) driver implements the same
 * interface later, and every check written against it works there unchanged: Kubernetes objects go
 * through @kubernetes/client-node, commands through the driver's exec, files through the workspace.
 */
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { ClusterPlan } from "../sim/plan.js";
import type { CheckKind, CheckResult, CheckSpec } from "./schema.js";
import type { ObjectsApi } from "./kube-client.js";

/** What one command run inside the sandbox produced. */
export interface ExecOutcome {
  code: number;
  stdout: string;
  stderr: string;
  /** True when the command was killed for exceeding its time limit (then `code` is 124). */
  timedOut: boolean;
}

/** The sandbox's API server through the official client: the same calls work against kind. */
export interface KubeHandle {
  config: KubeConfig;
  objects: ObjectsApi;
}

/**
 * A sandbox as checks see it. Methods throw {@link CouldNotCheck} when the sandbox cannot answer
 * (not running, being re-provisioned, a target that does not exist): the result is then "error"
 * ("could not check"), never "fail" ("not yet").
 *
 * `signal` aborts when the evaluator stops or the running check's time is up; long operations pass it on.
 */
export interface CheckContext {
  /** The sandbox's name, for messages. */
  readonly sandbox: string;
  readonly signal: AbortSignal;
  /** The API server, with admin credentials. */
  kube(): KubeHandle;
  /**
   * Runs argv in `target` (`node/<name>` or `pod/<namespace>/<name>`) and collects its output. The
   * command is killed after `timeoutMs` (then `timedOut` is true).
   */
  exec(target: string, argv: string[], opts: { timeoutMs: number }): Promise<ExecOutcome>;
  /**
   * A file of the trainee's workspace (`~/workspace` on every node), by a path relative to it; null when
   * it does not exist. Confined to the workspace: absolute paths, `..` and symlinks that lead out of it
   * are refused (CouldNotCheck), as are files that are not regular files or larger than 1 MiB.
   */
  readWorkspaceFile(rel: string): Promise<string | null>;
  /** The simulator's plan (addresses, blocks, IPAM state); null for drivers that do not simulate. */
  plan(): Promise<ClusterPlan | null>;
  /** The trainee's write-up, or null while there is none. */
  writeup(): Promise<string | null>;
  /** The workspace's folder on the host, watched by the evaluator; null when it cannot be watched. */
  readonly workspaceDir: string | null;
  /**
   * Calls `onChange` when the sandbox's own state changes (the plan's IPAM state, a finished
   * re-provisioning). Returns the unsubscribe function. Optional: without it the evaluator polls.
   */
  watchState?(onChange: () => void): () => void;
  /** Releases what the context holds (the sim context's shells, which also end by themselves when idle). */
  close?(): void;
  /**
   * Objects the evaluator keeps from its watches (set by the evaluator on the context it hands to
   * checks). Checks may read a named object here instead of asking the API server.
   */
  readonly watched?: ObjectCache;
}

/** Objects kept current by list + watch (an informer's cache). */
export interface ObjectCache {
  /**
   * The object as the last watch event left it; null when a synced watch of its kind and namespace
   * knows it does not exist; undefined when no synced watch covers it (ask the API server).
   */
  get(apiVersion: string, kind: string, namespace: string, name: string): KubernetesObject | null | undefined;
}

/** Thrown where the sandbox cannot be asked: the check's result is "error", with this message. */
export class CouldNotCheck extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CouldNotCheck";
  }
}

/**
 * What should make the evaluator re-run a check promptly (besides its periodic resync):
 * - `kube`: an event on a watch of that kind (in `namespace`, or cluster-wide when absent);
 * - `workspace`: a change to the workspace file `path`;
 * - `state`: the sandbox's own state changed (plan, re-provisioning): {@link CheckContext.watchState};
 * - `poll`: nothing announces a change (the network, a command's output): re-run every few seconds;
 * - `settle`: the check looks at the dataplane, which follows the API a moment later: after an API
 *   event, run it shortly after rather than at once.
 */
export type Trigger =
  | { type: "kube"; apiVersion: string; kind: string; namespace?: string }
  | { type: "workspace"; path: string }
  | { type: "state" }
  | { type: "poll" }
  | { type: "settle" }
  /** The trainee's write-up was saved (the web app calls `evaluateNow({ trigger: "writeup" })`). */
  | { type: "writeup" };

/** The check of kind K as parsed by schema.ts: `SpecOf<"kube">` is KubeCheck, `SpecOf<"all">` CheckSpec[]. */
export type SpecOf<K extends CheckKind> = CheckSpec extends infer U ? (U extends { [P in K]: infer S } ? S : never) : never;

/** How combinators reach their children (the registry lives in kinds/index.ts). */
export interface Nested {
  run(spec: CheckSpec, ctx: CheckContext): Promise<CheckResult>;
  describe(spec: CheckSpec): string;
  triggers(spec: CheckSpec): Trigger[];
}

/**
 * One check kind: a module in kinds/ exports one of these.
 *
 * @example A kind that passes when the sandbox has a plan (for illustration only).
 * ```ts
 * export const hasPlan: CheckKindModule<"ipam"> = {
 *   kind: "ipam",
 *   describe: () => "the sandbox has a plan",
 *   triggers: () => [{ type: "state" }],
 *   timeoutMs: () => 2000,
 *   run: async (_spec, ctx) => ((await ctx.plan()) ? { status: "pass" } : { status: "fail", detail: "no plan" }),
 * };
 * ```
 */
export interface CheckKindModule<K extends CheckKind> {
  readonly kind: K;
  /** One line saying what passes, e.g. "IPAddressPool metallb-system/lab-pool exists". */
  describe(spec: SpecOf<K>, nested: Nested): string;
  triggers(spec: SpecOf<K>, nested: Nested): Trigger[];
  /**
   * How long one run may take before its result is "error" (could not check). Null for combinators:
   * each of their children keeps its own limit.
   */
  timeoutMs(spec: SpecOf<K>): number | null;
  /** Never rejects for a normal "not yet": returns fail. Throws CouldNotCheck (or anything) for "error". */
  run(spec: SpecOf<K>, ctx: CheckContext, nested: Nested): Promise<CheckResult>;
}

/** "2 s", "500 ms", "1.5 s": durations in messages. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}
