/**
 * The check kinds, by name, and the three things the evaluator asks of any check tree: run it (each
 * leaf within its time limit, failures of the sandbox turned into "error"), say what it checks, and
 * say what should make it run again.
 *
 * @example
 * ```ts
 * const result = await runCheck({ ipam: "blocks-disjoint" }, ctx);
 * // { status: "fail", detail: "cp-1's tunnel address 10.233.64.3 lies in 10.233.64.0/24, a block affine to worker-3 (...)" }
 * ```
 */
import type { CheckKind, CheckResult, CheckSpec } from "../schema.js";
import { CouldNotCheck, formatMs, type CheckContext, type CheckKindModule, type Nested, type SpecOf, type Trigger } from "../types.js";
import { all, any, not } from "./combinators.js";
import { exec } from "./exec.js";
import { file } from "./file.js";
import { ipam } from "./ipam.js";
import { kube } from "./kube.js";
import { probe } from "./probe.js";
import { writeup } from "./writeup.js";

export const KINDS: { [K in CheckKind]: CheckKindModule<K> } = { kube, probe, exec, file, ipam, writeup, all, any, not };

/** The kind of a parsed check (its one key) and its body. */
export function kindOf(spec: CheckSpec): { kind: CheckKind; body: unknown } {
  const kind = Object.keys(spec)[0] as CheckKind;
  return { kind, body: (spec as Record<string, unknown>)[kind] };
}

function moduleOf(spec: CheckSpec): { mod: CheckKindModule<CheckKind>; body: SpecOf<CheckKind> } {
  const { kind, body } = kindOf(spec);
  const mod = KINDS[kind] as unknown as CheckKindModule<CheckKind> | undefined;
  if (!mod) throw new CouldNotCheck(`unknown check kind ${JSON.stringify(kind)}`);
  return { mod, body: body as SpecOf<CheckKind> };
}

const nested: Nested = { run: runCheck, describe: describeCheck, triggers: checkTriggers };

/** "could not check: <reason>" for anything a check threw. */
export function errorResult(err: unknown): CheckResult {
  const msg = err instanceof CouldNotCheck ? err.message : err instanceof Error ? err.message.split("\n")[0]! : String(err);
  return { status: "error", detail: `could not check: ${msg}` };
}

/** The context with another signal (everything else inherited, methods included). */
export function withSignal(ctx: CheckContext, signal: AbortSignal): CheckContext {
  return Object.create(ctx, { signal: { value: signal, enumerable: true } }) as CheckContext;
}

/**
 * Runs a check tree. Leaves run within their kind's time limit (the context's signal aborts at the
 * limit); the promise always resolves, with "error" for a sandbox that could not answer.
 */
export async function runCheck(spec: CheckSpec, ctx: CheckContext): Promise<CheckResult> {
  let limit: number | null;
  let mod: CheckKindModule<CheckKind>;
  let body: SpecOf<CheckKind>;
  try {
    ({ mod, body } = moduleOf(spec));
    limit = mod.timeoutMs(body);
  } catch (err) {
    return errorResult(err);
  }
  if (ctx.signal.aborted) return errorResult(new CouldNotCheck("the evaluator stopped"));
  if (limit === null) return mod.run(body, ctx, nested).catch(errorResult);
  // One controller per run, aborted by the parent's signal or the time limit. (Not AbortSignal.any:
  // on Node 20 it keeps a reference per call on the long-lived parent signal.)
  const run = new AbortController();
  const stop = () => run.abort();
  ctx.signal.addEventListener("abort", stop, { once: true });
  const t = setTimeout(stop, limit);
  const aborted = new Promise<CheckResult>((resolve) =>
    run.signal.addEventListener("abort", () => resolve(errorResult(new CouldNotCheck(ctx.signal.aborted ? "the evaluator stopped" : `no answer within ${formatMs(limit)}`))), { once: true }),
  );
  try {
    return await Promise.race([mod.run(body, withSignal(ctx, run.signal), nested).catch(errorResult), aborted]);
  } finally {
    clearTimeout(t);
    ctx.signal.removeEventListener("abort", stop);
  }
}

export function describeCheck(spec: CheckSpec): string {
  try {
    const { mod, body } = moduleOf(spec);
    return mod.describe(body, nested);
  } catch {
    return JSON.stringify(spec);
  }
}

export function checkTriggers(spec: CheckSpec): Trigger[] {
  const { mod, body } = moduleOf(spec);
  return mod.triggers(body, nested);
}
