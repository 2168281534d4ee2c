import { readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../../../../server/paths.js";
import type { KObject } from "../../../../server/sim/apiserver/objects.js";
import { ApiError } from "../../../../server/sim/apiserver/status.js";
import type { ClusterPlan } from "../../../../server/sim/plan.js";

export const FIXTURES = path.join(projectRoot, "test", "fixtures", "apiserver");

/** The flagship lab's plan (7 nodes, 13 pods, 4 services) as buildPlan computed it from the fixed inventory. */
export function flagshipPlan(): ClusterPlan {
  return JSON.parse(readFileSync(path.join(FIXTURES, "flagship-plan.json"), "utf8")) as ClusterPlan;
}

export function fixture(...parts: string[]): Buffer {
  return readFileSync(path.join(FIXTURES, ...parts));
}

export function ns(name: string): KObject {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name } };
}

export function cm(namespace: string, name: string, data: Record<string, string> = {}, labels?: Record<string, string>): KObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace, ...(labels ? { labels } : {}) }, data };
}

/** The Status an ApiError carries, for asserting on code, reason and message together. */
export function statusOf(fn: () => unknown): { code: number; reason: string | undefined; message: string | undefined } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return { code: err.status.code, reason: err.status.reason, message: err.status.message };
    throw err;
  }
  throw new Error("expected an ApiError, nothing was thrown");
}
