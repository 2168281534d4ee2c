/**
 * The one declaration of what a lab objective's `check:` may say. The lab loader validates front
 * matter with it (so `faultline lab validate` reports file:line:column), and every check kind's module
 * (server/checks/kinds/*.ts) receives its own parsed part. A check is a one-key object naming its kind:
 *
 * ```yaml
 * check: {kube: {apiVersion: metallb.io/v1beta1, kind: IPAddressPool, namespace: metallb-system, name: lab-pool}}
 * check: {probe: {from: node/cp-1, to: svc/metallb-system/metallb-webhook-service, port: 443, expect: open}}
 * check: {all: [{ipam: blocks-disjoint}, {file: {path: inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml, yaml: kube_network_node_prefix, equals: 25}}]}
 * ```
 */
import { z } from "zod";

/** A place commands run from: `node/<name>` or `pod/<namespace>/<name>`. */
export const targetSchema = z
  .string()
  .regex(/^(node\/[a-z0-9-]+|pod\/[a-z0-9-]+\/[a-z0-9.-]+)$/, "a target is node/<name> or pod/<namespace>/<name>");

/** What a probe aims at: a Service, a pod, a node, or a literal IPv4 address. */
export const destinationSchema = z
  .string()
  .regex(
    /^(svc\/[a-z0-9-]+\/[a-z0-9-]+|pod\/[a-z0-9-]+\/[a-z0-9.-]+|node\/[a-z0-9-]+|\d{1,3}(\.\d{1,3}){3})$/,
    "a probe destination is svc/<namespace>/<name>, pod/<namespace>/<name>, node/<name> or an IPv4 address",
  );

/** Milliseconds, written as a number or with a unit: `2s`, `500ms`, `1m`. */
export const durationSchema = z.union([
  z.number().int().min(0),
  z.string().regex(/^\d+(ms|s|m|h)$/, "a duration is a number with a unit: 500ms, 10s, 15m, 1h"),
]).transform((v) => (typeof v === "number" ? v : parseDuration(v)));

export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
}

export const kubeCheckSchema = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  namespace: z.string().optional(),
  /** One object by name, or every object matching `labelSelector` (`count` then bounds how many). */
  name: z.string().optional(),
  labelSelector: z.string().optional(),
  /** A partial object every selected object must contain (kuttl/chainsaw-style subset match). */
  match: z.record(z.string(), z.unknown()).optional(),
  /** The object (or every object matching the selector) must not exist. */
  absent: z.boolean().default(false),
  count: z.strictObject({ min: z.number().int().min(0).optional(), max: z.number().int().min(0).optional() }).optional(),
});

export const probeCheckSchema = z.strictObject({
  from: targetSchema,
  to: destinationSchema,
  /** tcp (a connect), http (a GET, `status` compared) or icmp (ping). Default: tcp with a port, icmp without. */
  protocol: z.enum(["tcp", "http", "icmp"]).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** For http: https (certificate not verified) or http; default https on port 443, http otherwise. */
  scheme: z.enum(["http", "https"]).optional(),
  path: z.string().default("/"),
  /** open: connects / answers; closed: refused or unreachable at once; timeout: no answer at all. */
  expect: z.enum(["open", "closed", "timeout"]).default("open"),
  /** For http: the status code expected (default any 2xx/3xx). */
  status: z.number().int().min(100).max(599).optional(),
  timeout: durationSchema.default(2000),
});

export const execCheckSchema = z.strictObject({
  in: targetSchema,
  /** A list is run as is; a string through `sh -c`. */
  command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
  exitCode: z.number().int().min(0).max(255).default(0),
  /** A regular expression stdout must match. */
  stdout: z.string().optional(),
  timeout: durationSchema.default(5000),
});

export const fileCheckSchema = z.strictObject({
  /** Relative to the trainee's workspace (`~/workspace` on every node). */
  path: z.string().min(1),
  exists: z.boolean().default(true),
  /** A dotted path into the YAML document, e.g. `kube_network_node_prefix` or `spec.addresses.0`. */
  yaml: z.string().optional(),
  equals: z.unknown().optional(),
  /** A regular expression the file (or the value at `yaml`) must match. */
  matches: z.string().optional(),
});

export const IPAM_PREDICATES = ["blocks-disjoint", "no-borrowing", "no-borrowed-tunnel-addresses", "every-node-has-a-block"] as const;
export const ipamCheckSchema = z.enum(IPAM_PREDICATES);

export const writeupCheckSchema = z.strictObject({
  minWords: z.number().int().min(0).default(0),
  /** Terms the write-up must mention (case-insensitive). */
  mentions: z.array(z.string()).default([]),
});

export type KubeCheck = z.output<typeof kubeCheckSchema>;
export type ProbeCheck = z.output<typeof probeCheckSchema>;
export type ExecCheck = z.output<typeof execCheckSchema>;
export type FileCheck = z.output<typeof fileCheckSchema>;
export type IpamCheck = z.output<typeof ipamCheckSchema>;
export type WriteupCheck = z.output<typeof writeupCheckSchema>;

export type CheckSpec =
  | { kube: KubeCheck }
  | { probe: ProbeCheck }
  | { exec: ExecCheck }
  | { file: FileCheck }
  | { ipam: IpamCheck }
  | { writeup: WriteupCheck }
  | { all: CheckSpec[] }
  | { any: CheckSpec[] }
  | { not: CheckSpec };

/** The kinds, for "did you mean" and the docs. */
export const CHECK_KINDS = ["kube", "probe", "exec", "file", "ipam", "writeup", "all", "any", "not"] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

export const checkSchema: z.ZodType<CheckSpec> = z.lazy(() =>
  z.union([
    z.strictObject({ kube: kubeCheckSchema }),
    z.strictObject({ probe: probeCheckSchema }),
    z.strictObject({ exec: execCheckSchema }),
    z.strictObject({ file: fileCheckSchema }),
    z.strictObject({ ipam: ipamCheckSchema }),
    z.strictObject({ writeup: writeupCheckSchema }),
    z.strictObject({ all: z.array(checkSchema).min(1) }),
    z.strictObject({ any: z.array(checkSchema).min(1) }),
    z.strictObject({ not: checkSchema }),
  ]),
) as z.ZodType<CheckSpec>;

export const objectiveSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "objective ids are lowercase words joined by dashes"),
  title: z.string().min(1),
  check: checkSchema,
  /** Objectives that must FAIL right after provisioning (`lab test` asserts it); default true. */
  initiallyFailing: z.boolean().default(true),
});
export type Objective = z.output<typeof objectiveSchema>;

/** The outcome of one evaluation: distinct "not yet" and "could not check". */
export type CheckResult =
  | { status: "pass"; detail?: string }
  | { status: "fail"; detail: string }
  | { status: "error"; detail: string };
