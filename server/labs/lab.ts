import { readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { FaultlineError } from "../errors.js";
import { labsRoot } from "../paths.js";
import { faultSpecSchema } from "../sim/faults/schema.js";
import { parseLocatedYaml, parseWithSchema, locate, type LocatedYaml } from "./yaml-errors.js";

/**
 * The part of a lab's front matter the sandbox needs: topology, inventory and faults.
 * The full lab format (objectives, hints, solutions) is documented in docs/lab-format.md.
 */
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

const frontMatterSchema = z.looseObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  title: z.string(),
  cluster: clusterSchema,
  workspace: z.string().default("files/"),
  faults: z.array(faultSpecSchema).default([]),
});

export type ClusterSpec = z.infer<typeof clusterSchema>;
export type LabFrontMatter = z.infer<typeof frontMatterSchema>;

export interface LabSandboxSpec {
  id: string;
  title: string;
  dir: string;
  cluster: ClusterSpec;
  workspaceDir: string;
  /** Inventory folder relative to the workspace (that is where the trainee edits it). */
  inventoryInWorkspace: string;
  faults: LabFrontMatter["faults"];
}

/** Splits `---\n<yaml>\n---\n<markdown>`; returns the YAML and the line it starts on. */
export function splitFrontMatter(file: string, text: string): { yaml: string; lineOffset: number; body: string } {
  const m = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!m) {
    throw new FaultlineError(
      `${file}:1:1: no front matter`,
      "start the file with a line `---`, the lab's YAML (id, title, cluster, ...), then a line `---`",
    );
  }
  return { yaml: m[1]!, lineOffset: 1, body: text.slice(m[0].length) };
}

/** Loads `labs/<id>/README.md` (or a folder path) and returns what a sandbox needs from it. */
export async function loadLabSandboxSpec(idOrDir: string): Promise<LabSandboxSpec> {
  const dir = idOrDir.includes("/") ? path.resolve(idOrDir) : path.join(labsRoot, idOrDir);
  const file = path.join(dir, "README.md");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new FaultlineError(`lab "${idOrDir}" not found (no ${file})`, "run `faultline lab ls` for the bundled labs, or pass a lab folder path");
  }
  const rel = path.relative(process.cwd(), file) || file;
  const fm = splitFrontMatter(rel, text);
  const y = parseLocatedYaml(rel, fm.yaml, fm.lineOffset);
  const data = parseWithSchema(y, frontMatterSchema, "see docs/lab-format.md for the keys a lab may set");

  checkTopology(y, data.cluster);

  const workspaceDir = path.resolve(dir, data.workspace);
  const inventoryDir = path.resolve(dir, data.cluster.inventory);
  const outside = (from: string, to: string) => {
    const rel = path.relative(from, to);
    return rel === ".." || rel.startsWith(".." + path.sep) || path.isAbsolute(rel);
  };
  const notInside = () =>
    new FaultlineError(
      `${locate(y, ["cluster", "inventory"])}: the inventory must live inside the workspace (${data.workspace}) so the trainee can edit it`,
      `move it under ${data.workspace}`,
    );
  if (outside(workspaceDir, inventoryDir)) throw notInside();
  for (const [key, p] of [["workspace", workspaceDir], ["cluster.inventory", inventoryDir]] as const) {
    const st = await stat(p).catch(() => null);
    if (!st?.isDirectory()) {
      throw new FaultlineError(`${locate(y, key.split("."))}: ${key} folder ${path.relative(dir, p)} does not exist in ${dir}`, "create it or fix the path");
    }
  }
  // Symlinks are resolved too: the workspace is copied into the sandbox, a link out of it would not be.
  if (outside(await realpath(workspaceDir), await realpath(inventoryDir))) throw notInside();
  const inventoryInWorkspace = path.relative(workspaceDir, inventoryDir);
  return { id: data.id, title: data.title, dir, cluster: data.cluster, workspaceDir, inventoryInWorkspace, faults: data.faults };
}

/** The names one `nodes` entry stands for: `{name: worker, count: 6}` is worker-1 .. worker-6. */
export function nodeNames(n: ClusterSpec["nodes"][number]): string[] {
  return n.count === undefined ? [n.name] : Array.from({ length: n.count }, (_, k) => `${n.name}-${k + 1}`);
}

/**
 * Topology mistakes the schema cannot see, reported at their line: a node named twice after `count`
 * expansion, pods or the claim order naming nodes that do not exist.
 */
function checkTopology(y: LocatedYaml, cluster: ClusterSpec): void {
  const names: string[] = [];
  cluster.nodes.forEach((n, i) => {
    for (const name of nodeNames(n)) {
      if (names.includes(name)) {
        throw new FaultlineError(
          `${locate(y, ["cluster", "nodes", i])}: node "${name}" is declared twice (after count expansion)`,
          "give every node a unique name; {name: worker, count: 2} makes worker-1 and worker-2",
        );
      }
      names.push(name);
    }
  });
  const known = `nodes are ${names.join(", ")}`;
  cluster.pods.forEach((p, i) => {
    if (!names.includes(p.node)) throw new FaultlineError(`${locate(y, ["cluster", "pods", i, "node"])}: pod ${p.namespace}/${p.name} is on node "${p.node}", which does not exist`, known);
  });
  (cluster.blockClaimOrder ?? []).forEach((n, i) => {
    if (!names.includes(n)) throw new FaultlineError(`${locate(y, ["cluster", "blockClaimOrder", i])}: node "${n}" does not exist`, known);
  });
}
