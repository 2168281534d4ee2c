import path from "node:path";
import { z } from "zod";
import { clusterSchema } from "../../labs/lab.js";
import { faultSpecSchema } from "../../sim/faults/schema.js";
import { boxPaths, type BoxPaths } from "./box.js";

/**
 * Where a sim sandbox keeps its state on the host. Two zones with different owners:
 *  - `<root>/` and `sandbox.json`: host root only (which host pids and ids the sandbox has);
 *  - `<root>/box/`: owned by the sandbox's own unprivileged uid, the only place the supervisor writes
 *    (plan, readiness, control sockets, the trainee's workspace and homes).
 */
export interface SandboxPaths extends BoxPaths {
  root: string;
  meta: string;
  log: string;
  /** The loopback relay of the sandbox's API server (host-side, root only). */
  relay: string;
}

export function sandboxPaths(dataDir: string, name: string): SandboxPaths {
  const root = path.join(dataDir, "sandboxes", name);
  return {
    ...boxPaths(path.join(root, "box")),
    root,
    meta: path.join(root, "sandbox.json"),
    log: path.join(root, "supervisor.log"),
    relay: path.join(root, "relay.json"),
  };
}

export const SANDBOX_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/** What the host records about a sandbox (root-owned). */
export const sandboxMetaSchema = z.object({
  name: z.string(),
  lab: z.string(),
  labDir: z.string(),
  slot: z.number().int().min(0),
  uidBase: z.number().int().min(1),
  createdAt: z.string(),
  /** Host pid of `unshare`, and of the sandbox's pid-namespace init (tini), with its start time to detect pid reuse. */
  unsharePid: z.number().int(),
  initPid: z.number().int(),
  initStart: z.string(),
});
export type SandboxMeta = z.infer<typeof sandboxMetaSchema>;

/** What the supervisor is asked to build (written by the host into box/, read inside the sandbox). */
export const supervisorSpecSchema = z.object({
  name: z.string(),
  lab: z.string(),
  kubespray: z.string(),
  cluster: clusterSchema,
  /** Inventory folder inside the box's workspace. */
  inventoryDir: z.string(),
  inventoryDisplayRoot: z.string(),
  faults: z.array(faultSpecSchema),
  /** The lab's starting Kubernetes objects (YAML texts), applied after every build. */
  manifests: z.array(z.string()).default([]),
  box: z.string(),
  /** The shared, read-only /etc of all sandboxes of this data directory (rootfs.ts ensureEtcBase). */
  etcBase: z.string(),
  /** The arguments of Node.js that start the bundled API server, before its own (programs.ts). */
  apiserverArgs: z.array(z.string()).min(1),
});
export type SupervisorSpec = z.infer<typeof supervisorSpecSchema>;

/** Written by the supervisor once every namespace and agent is up. Pids are in the sandbox's pid namespace. */
export const readySchema = z.object({
  generation: z.number().int(),
  readyAt: z.string(),
  agents: z.record(z.string(), z.number().int()),
});
export type Ready = z.infer<typeof readySchema>;

/** Progress and outcome messages from supervisor to host, one JSON object per line. */
export const supervisorEventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("phase"), phase: z.string(), detail: z.string().optional(), ms: z.number() }),
  z.object({ type: z.literal("ready"), generation: z.number().int(), ms: z.number() }),
  z.object({ type: z.literal("error"), message: z.string(), hint: z.string().optional() }),
]);
export type SupervisorEvent = z.infer<typeof supervisorEventSchema>;
