/**
 * The lab loader: `labs/<id>/README.md` is YAML front matter (docs/lab-format.md, declared in
 * schema.ts) and markdown instructions. `loadLab` returns the whole lab or every problem found, each
 * at its file:line:column with a fix; `loadLabSandboxSpec` reads only what a sandbox needs and throws
 * the first problem in that part, so a lab in progress can still be brought up.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { z } from "zod";
import { objectiveSchema } from "../checks/schema.js";
import { FaultlineError } from "../errors.js";
import { labsRoot, projectRoot } from "../paths.js";
import { faultSpecSchema, type FaultSpec } from "../sim/faults/schema.js";
import { checksIn, clusterProblems, faultTopologyProblems, objectiveProblems } from "./consistency.js";
import { conceptProblems, manifestProblems, provisioningProblems, shown, solutionProblems, workspaceProblems, type WorkspacePaths } from "./files.js";
import { checkProblems, faultProblems, isMapping, problemsFromZod, type LabProblem, type Path, type ProblemContext } from "./problems.js";
import { labFrontMatterSchema, sandboxFrontMatterSchema, type ClusterSpec, type LabFrontMatter } from "./schema.js";
import { YAML_SYNTAX_HINT, locate, readLocatedYaml } from "./yaml-errors.js";

export { clusterSchema, nodeNames, type ClusterSpec, type LabFrontMatter } from "./schema.js";
export type { LabProblem } from "./problems.js";

/** What a sandbox needs from a lab: topology, inventory and faults. */
export interface LabSandboxSpec {
  id: string;
  title: string;
  dir: string;
  cluster: ClusterSpec;
  workspaceDir: string;
  /** Inventory folder relative to the workspace (that is where the trainee edits it). */
  inventoryInWorkspace: string;
  faults: FaultSpec[];
  /** The texts of the lab's `manifests`, in order: applied through the API server after every build. */
  manifests: string[];
}

/**
 * A valid lab: its front matter with defaults filled in (durations in milliseconds), the markdown
 * body, and the paths its keys resolve to.
 *
 * @example
 * const res = await loadLab("webhook-to-kernel");
 * if (res.ok) res.lab.solutionDirs; // ["/srv/faultline/labs/webhook-to-kernel/solution"]
 */
export interface Lab extends LabFrontMatter, WorkspacePaths {
  dir: string;
  /** The README.md the lab was read from. */
  readme: string;
  /** The instructions: markdown after the front matter. */
  body: string;
  /** Absolute folders, one per `solutions` entry, each holding an executable solve.sh. */
  solutionDirs: string[];
  /** Absolute paths of the `concepts` pages. */
  conceptPages: string[];
}

export type LabLoadResult = { ok: true; lab: Lab } | { ok: false; dir: string; errors: LabProblem[] };

export interface LoadOptions {
  /** Where bare ids are looked up; default labs/ in the project. */
  labsRoot?: string;
  /** Where concept pages live (`<contentRoot>/concepts/<id>.md`); default content/ in the project. */
  contentRoot?: string;
}

/** A lab that cannot be served: the first problem as the message, all of them in `problems`. */
export class LabInvalidError extends FaultlineError {
  constructor(readonly problems: LabProblem[]) {
    const first = problems[0]!;
    // A problem with no line (a lab that is not there) reads better without its folder in front.
    super(position(first.location)[1] ? `${first.location}: ${first.message}` : first.message, first.hint);
    this.name = "LabInvalidError";
  }
}

/** A bare id is a folder of `root`; anything with a slash is a folder path. */
export function labDir(idOrDir: string, root = labsRoot): string {
  return idOrDir.includes("/") ? path.resolve(idOrDir) : path.join(root, idOrDir);
}

const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;
const NO_FRONT_MATTER_HINT = "start the file with a line `---`, the lab's YAML (id, title, cluster, ...), then a line `---`";

/** Splits `---\n<yaml>\n---\n<markdown>`; returns the YAML and the line it starts on. */
export function splitFrontMatter(file: string, text: string): { yaml: string; lineOffset: number; body: string } {
  const m = FRONT_MATTER.exec(text);
  if (!m) throw new FaultlineError(`${file}:1:1: no front matter`, NO_FRONT_MATTER_HINT);
  return { yaml: m[1]!, lineOffset: 1, body: text.slice(m[0].length) };
}

/** The README read and its front matter parsed as YAML; or the problems that stopped it. */
async function readLab(dir: string): Promise<{ readme: string; ctx: ProblemContext; body: string } | { problems: LabProblem[] }> {
  const readme = path.join(dir, "README.md");
  const file = shown(readme);
  const text = await readFile(readme, "utf8").catch(() => null);
  if (text === null) {
    return { problems: [{ location: shown(dir), message: `lab "${path.basename(dir)}" not found (no ${readme})`, hint: "run `faultline lab ls` for the bundled labs, or pass a lab folder path" }] };
  }
  const m = FRONT_MATTER.exec(text);
  if (!m) return { problems: [{ location: `${file}:1:1`, message: "no front matter", hint: NO_FRONT_MATTER_HINT }] };
  const { y, errors } = readLocatedYaml(file, m[1]!, 1);
  // Only the first: what a YAML parser says after a syntax error is mostly that error's echo.
  if (errors[0]) return { problems: [{ ...errors[0], hint: YAML_SYNTAX_HINT }] };
  const root: unknown = y.doc.toJS();
  if (!isMapping(root)) {
    return { problems: [{ location: locate(y, []), message: "the front matter is not a mapping of keys", hint: "write `key: value` lines: id, title, cluster, ... (see docs/lab-format.md)" }] };
  }
  return { readme, ctx: { y, root }, body: text.slice(m[0].length) };
}

/**
 * zod's issues for the whole front matter, except inside checks and faults: those are validated by
 * kind (problems.ts), which says "unknown check kind kubee; did you mean kube?" where zod would say
 * "Invalid input".
 */
function schemaProblems(ctx: ProblemContext, schema: z.ZodType): LabProblem[] {
  const root = ctx.root as Record<string, unknown>;
  const res = schema.safeParse(root);
  const list = (key: string): unknown[] => (Array.isArray(root[key]) ? (root[key] as unknown[]) : []);
  const faults = list("faults");
  // The sandbox's schema has no objectives: their checks are not its business.
  const checked = schema === labFrontMatterSchema ? list("objectives").map((o) => (isMapping(o) ? o["check"] : undefined)) : [];
  const byKind = (p: Path) =>
    (p[0] === "faults" && typeof p[1] === "number" && p[1] < faults.length) ||
    (p[0] === "objectives" && typeof p[1] === "number" && p[2] === "check" && checked[p[1]] !== undefined);
  const issues = (res.error?.issues ?? []).filter((i) => !byKind(i.path as Path));
  return [
    ...problemsFromZod(ctx, schema, [], root, issues, (p) => `see \`${String(p[0] ?? "the front matter")}\` in docs/lab-format.md`),
    ...faults.flatMap((f, i) => faultProblems(ctx, f, ["faults", i])),
    ...checked.flatMap((c, i) => (c === undefined ? [] : checkProblems(ctx, c, ["objectives", i, "check"]))),
  ];
}

/** The entries of the list at `key` that pass `schema`, with their indices. */
function validItems<T>(root: Record<string, unknown>, key: string, schema: z.ZodType<T>): Array<[number, T]> {
  const list = root[key];
  if (!Array.isArray(list)) return [];
  return list.flatMap((v, i): Array<[number, T]> => {
    const res = schema.safeParse(v);
    return res.success ? [[i, res.data]] : [];
  });
}

/** The value of top-level `key` if it passes its own schema (defaults applied), else undefined. */
function validPart<K extends keyof LabFrontMatter>(root: Record<string, unknown>, key: K): LabFrontMatter[K] | undefined {
  const res = labFrontMatterSchema.shape[key].safeParse(root[key]);
  return res.success ? (res.data as LabFrontMatter[K]) : undefined;
}

/** "file:12:5" → [file, 12, 5], for sorting problems in reading order. */
function position(location: string): [string, number, number] {
  const m = /^(.*?):(\d+):(\d+)$/.exec(location);
  return m ? [m[1]!, Number(m[2]), Number(m[3])] : [location, 0, 0];
}

function inReadingOrder(problems: LabProblem[]): LabProblem[] {
  return problems
    .map((p) => ({ p, at: position(p.location) }))
    .sort((a, b) => a.at[0].localeCompare(b.at[0]) || a.at[1] - b.at[1] || a.at[2] - b.at[2])
    .map(({ p }) => p);
}

/**
 * Loads `labs/<id>/README.md` (or a lab folder path) with every problem collected: syntax, keys and
 * types (with "did you mean"), names the cluster lacks, duplicate objective ids, regexes, durations,
 * CIDRs, missing files, and what kubespray and the faults would make of the inventory.
 */
export async function loadLab(idOrDir: string, opts: LoadOptions = {}): Promise<LabLoadResult> {
  const dir = labDir(idOrDir, opts.labsRoot);
  const src = await readLab(dir);
  if ("problems" in src) return { ok: false, dir, errors: src.problems };
  const { ctx } = src;
  const root = ctx.root as Record<string, unknown>;
  const problems = schemaProblems(ctx, labFrontMatterSchema);

  const id = validPart(root, "id");
  if (id !== undefined && id !== path.basename(dir)) {
    problems.push({ location: locate(ctx.y, ["id"]), message: `id: "${id}" is not the lab's folder name (${path.basename(dir)})`, hint: "name the folder after the id: the id is the lab's address" });
  }
  const cluster = validPart(root, "cluster");
  const topology = cluster && clusterProblems(ctx, cluster);
  const faults = validItems(root, "faults", faultSpecSchema);
  const objectives = validItems(root, "objectives", objectiveSchema);
  problems.push(...(topology?.problems ?? []), ...objectiveProblems(ctx, objectives, topology?.topo));
  if (topology) problems.push(...faultTopologyProblems(ctx, faults, topology.topo));

  const workspace = validPart(root, "workspace");
  const ws = workspace !== undefined && cluster ? await workspaceProblems(ctx, dir, workspace, cluster.inventory) : undefined;
  const writeupObjective = objectives.find(([, o]) => checksIn(o.check).some((c) => "writeup" in c))?.[1].id;
  const solutions = validPart(root, "solutions");
  const sol = solutions && (await solutionProblems(ctx, dir, solutions, { given: root["solutions"] !== undefined, workspaceDir: ws?.paths?.workspaceDir, writeupObjective }));
  const concepts = validPart(root, "concepts");
  const con = concepts && (await conceptProblems(ctx, concepts, opts.contentRoot ?? path.join(projectRoot, "content")));
  const manifests = validPart(root, "manifests");
  const man = manifests && (await manifestProblems(ctx, dir, manifests));
  problems.push(...(ws?.problems ?? []), ...(sol?.problems ?? []), ...(con?.problems ?? []), ...(man?.problems ?? []));

  // The dry run is only meaningful (and its errors only helpful) once the rest is right.
  if (!problems.length && cluster && ws?.paths && id !== undefined) {
    const inventoryDir = path.join(ws.paths.workspaceDir, ws.paths.inventoryInWorkspace);
    problems.push(...(await provisioningProblems(ctx, { id, cluster, inventoryDir, faults })));
  }
  if (problems.length) return { ok: false, dir, errors: inReadingOrder(problems) };

  const data = labFrontMatterSchema.parse(root);
  return { ok: true, lab: { ...data, ...ws!.paths!, dir, readme: src.readme, body: src.body, solutionDirs: sol!.solutionDirs, conceptPages: con!.conceptPages } };
}

/** Loads the part of `labs/<id>/README.md` (or a folder path) a sandbox needs; throws its first problem. */
export async function loadLabSandboxSpec(idOrDir: string): Promise<LabSandboxSpec> {
  const dir = labDir(idOrDir);
  const src = await readLab(dir);
  if ("problems" in src) throw new LabInvalidError(src.problems);
  const { ctx } = src;
  const problems = schemaProblems(ctx, sandboxFrontMatterSchema);
  const res = sandboxFrontMatterSchema.safeParse(ctx.root);
  if (!res.success) throw new LabInvalidError(inReadingOrder(problems));
  const data = res.data;
  const topology = clusterProblems(ctx, data.cluster);
  problems.push(...topology.problems, ...faultTopologyProblems(ctx, [...data.faults.entries()], topology.topo));
  const ws = await workspaceProblems(ctx, dir, data.workspace, data.cluster.inventory);
  const man = await manifestProblems(ctx, dir, data.manifests);
  problems.push(...ws.problems, ...man.problems);
  if (problems.length || !ws.paths) throw new LabInvalidError(inReadingOrder(problems));
  return { id: data.id, title: data.title, dir, cluster: data.cluster, ...ws.paths, faults: data.faults, manifests: man.texts };
}
