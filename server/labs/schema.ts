/**
 * The one declaration of a lab's front matter (docs/lab-format.md is its reference, and a unit test
 * keeps the two in step). Objectives' checks come from server/checks/schema.ts, faults from
 * server/sim/faults; what zod cannot see (names the topology lacks, files, regexes) is checked by
 * consistency.ts and files.ts.
 *
 * @example
 * labFrontMatterSchema.parse(yaml) // { id: "webhook-to-kernel", level: "advanced", duration: 5400000, ... }
 */
import { z } from "zod";
import { durationSchema, objectiveSchema } from "../checks/schema.js";
import { faultSpecSchema } from "../sim/faults/schema.js";

/** Lowercase words joined by dashes: lab ids, concept ids, node names' shape. */
const slug = (what: string) => z.string().regex(/^[a-z0-9][a-z0-9-]*$/, `${what} are lowercase words joined by dashes, e.g. webhook-to-kernel`);

const nodeSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, "node names are lowercase DNS labels up to 32 characters"),
  role: z.enum(["control-plane", "worker"]).default("worker"),
  /** `count: 6` with name `worker` expands to worker-1 .. worker-6. */
  count: z.number().int().min(1).max(50).optional(),
});

const podSchema = z.strictObject({
  namespace: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/),
  name: z.string().regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/).max(63),
  node: z.string(),
  labels: z.record(z.string(), z.string()).default({}),
});

const servicePortSchema = z.strictObject({
  name: z.string().optional(),
  port: z.number().int().min(1).max(65535),
  targetPort: z.number().int().min(1).max(65535).optional(),
  protocol: z.enum(["TCP", "UDP"]).default("TCP"),
});

const serviceSchema = z.strictObject({
  namespace: z.string(),
  name: z.string().regex(/^[a-z]([a-z0-9-]*[a-z0-9])?$/).max(63),
  clusterIP: z.string().optional(),
  selector: z.record(z.string(), z.string()).default({}),
  /** Endpoints that are not pods, e.g. the `kubernetes` Service pointing at the control plane. */
  nodeEndpoints: z.array(z.string()).default([]),
  ports: z.array(servicePortSchema).min(1),
});

export const clusterSchema = z.strictObject({
  /** kubespray version whose defaults and semantics apply, e.g. v2.19. */
  kubespray: z.string().default("v2.19"),
  /** The VMs' network (Terraform's subnet): .1 is the gateway, nodes get .10 upwards in order. */
  nodeNetwork: z.string().default("192.168.10.0/24"),
  nodes: z.array(nodeSchema).min(1),
  /** Ansible inventory folder (group_vars/...) relative to the lab folder. */
  inventory: z.string(),
  /** The order in which calico-node starts on the nodes and so claims blocks. Default: node order. */
  blockClaimOrder: z.array(z.string()).optional(),
  addons: z.array(z.string()).default([]),
  pods: z.array(podSchema).default([]),
  services: z.array(serviceSchema).default([]),
});

export type ClusterSpec = z.infer<typeof clusterSchema>;

/** The names one `nodes` entry stands for: `{name: worker, count: 6}` is worker-1 .. worker-6. */
export function nodeNames(n: ClusterSpec["nodes"][number]): string[] {
  return n.count === undefined ? [n.name] : Array.from({ length: n.count }, (_, k) => `${n.name}-${k + 1}`);
}

/**
 * A duration a person reads (`90m`, `1h`): the unit is required, since a bare `90` would be 90 ms.
 * Parsed to milliseconds like checks' timeouts.
 */
const humanDurationSchema = z
  .string({ error: "write a duration with its unit: 90m, 1h, 45s" })
  // durationSchema also takes numbers; only strings reach it here.
  .pipe(durationSchema as unknown as z.ZodType<number, string>);

export const LEVELS = ["intro", "intermediate", "advanced"] as const;
export const DRIVERS = ["sim", "kind", "vsphere"] as const;

/** `{text, after?}`: shown `after` the lab started; without `after`, available when the trainee asks. */
export const hintSchema = z.strictObject({
  text: z.string().min(1),
  after: humanDurationSchema.optional(),
});

/** The default solution folder; each solution folder holds an executable `solve.sh`. */
export const DEFAULT_SOLUTION = "solution/";

/** The keys only the sandbox needs; `sandbox up` reads these and ignores the rest. */
const sandboxShape = {
  id: slug("lab ids"),
  title: z.string().min(1),
  cluster: clusterSchema,
  /** The trainee's workspace, relative to the lab folder: copied to ~/workspace on every node. */
  workspace: z.string().min(1).default("files/"),
  faults: z.array(faultSpecSchema).default([]),
  /**
   * Kubernetes objects applied through the API server after every build, in order: the lab's starting
   * state (a NetworkPolicy, a Deployment scaled to zero...). YAML files relative to the lab folder.
   */
  manifests: z.array(z.string().min(1)).default([]),
};

/** Every key a lab's front matter may set, in the order docs/lab-format.md documents them. */
export const labFrontMatterSchema = z.strictObject({
  id: sandboxShape.id,
  title: sandboxShape.title,
  /** One line for the catalog. */
  summary: z.string().min(1).max(200).regex(/^[^\n]*$/, "a summary is one line (up to 200 characters)"),
  level: z.enum(LEVELS),
  /** How long the lab takes a trainee who knows the prerequisites, e.g. 90m. */
  duration: humanDurationSchema,
  tags: z.array(z.string().regex(/^[a-z0-9][a-z0-9.+-]*$/, "tags are lowercase words, e.g. networking")).default([]),
  /** Where the lab can run. */
  drivers: z.array(z.enum(DRIVERS)).min(1).default(["sim"]),
  cluster: sandboxShape.cluster,
  workspace: sandboxShape.workspace,
  faults: sandboxShape.faults,
  manifests: sandboxShape.manifests,
  /** In suggested order; ids unique. */
  objectives: z.array(objectiveSchema).min(1),
  hints: z.array(hintSchema).default([]),
  /** Folders relative to the lab folder, each with an executable solve.sh (and writeup.md when an objective checks the write-up). */
  solutions: z.array(z.string().min(1)).min(1).default([DEFAULT_SOLUTION]),
  /** Ids of pages content/concepts/<id>.md the lab builds on. */
  concepts: z.array(slug("concept ids")).default([]),
  /** What the write-up should cover; shown above the write-up editor. */
  writeup: z.string().min(1).optional(),
});

/** What `sandbox up` validates: the sandbox's keys, strictly; any other key is left to `lab validate`. */
export const sandboxFrontMatterSchema = z.looseObject(sandboxShape);

export type LabFrontMatter = z.output<typeof labFrontMatterSchema>;
export type SandboxFrontMatter = z.output<typeof sandboxFrontMatterSchema>;
export type Hint = z.output<typeof hintSchema>;

/** The top-level keys, for "did you mean" and the docs test. */
export const LAB_KEYS = Object.keys(labFrontMatterSchema.shape) as Array<keyof LabFrontMatter>;
