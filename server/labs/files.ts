/**
 * What a lab's front matter says about files, checked against the disk: the workspace and the
 * inventory inside it, each solution's solve.sh, concept pages; and a dry run of provisioning
 * (kubespray's evaluation of the inventory, the plan, each fault against it) without namespaces.
 */
import { constants } from "node:fs";
import { access, cp, mkdtemp, readdir, readFile, realpath, rm, stat } from "node:fs/promises";
import { parseAllDocuments } from "yaml";
import { tmpdir } from "node:os";
import path from "node:path";
import { FaultlineError } from "../errors.js";
import { buildPlan } from "../sim/build-plan.js";
import { findFaultKind, type FaultSpec } from "../sim/faults/index.js";
import { evaluateInventory } from "../sim/kubespray/evaluate.js";
import { didYouMean } from "../sim/faults/support.js";
import type { LabProblem, Path, ProblemContext } from "./problems.js";
import type { ClusterSpec } from "./schema.js";
import { locate } from "./yaml-errors.js";

/** A path as messages show it: relative to the working directory, like the README's own location. */
export const shown = (p: string): string => path.relative(process.cwd(), p) || p;

/** `to` is not `from` nor below it (lexically). */
function outside(from: string, to: string): boolean {
  const rel = path.relative(from, to);
  return rel === ".." || rel.startsWith(".." + path.sep) || path.isAbsolute(rel);
}

const isDir = async (p: string) => (await stat(p).catch(() => null))?.isDirectory() === true;

export interface WorkspacePaths {
  workspaceDir: string;
  /** Inventory folder relative to the workspace (that is where the trainee edits it). */
  inventoryInWorkspace: string;
}

/**
 * The workspace exists, and the inventory is a folder inside it (symlinks resolved: the workspace is
 * copied into the sandbox, a link out of it would not be). Paths are undefined when a problem is found.
 */
export async function workspaceProblems(ctx: ProblemContext, dir: string, workspace: string, inventory: string): Promise<{ problems: LabProblem[]; paths?: WorkspacePaths }> {
  const workspaceDir = path.resolve(dir, workspace);
  const inventoryDir = path.resolve(dir, inventory);
  const notInside = (): LabProblem => ({
    location: locate(ctx.y, ["cluster", "inventory"]),
    message: `the inventory must live inside the workspace (${workspace}) so the trainee can edit it`,
    hint: `move it under ${workspace}`,
  });
  if (outside(workspaceDir, inventoryDir)) return { problems: [notInside()] };
  for (const [key, p] of [["workspace", workspaceDir], ["cluster.inventory", inventoryDir]] as const) {
    if (!(await isDir(p))) {
      const problem = { location: locate(ctx.y, key.split(".")), message: `${key} folder ${path.relative(dir, p)} does not exist in ${shown(dir)}`, hint: "create it or fix the path" };
      return { problems: [problem] };
    }
  }
  if (outside(await realpath(workspaceDir), await realpath(inventoryDir))) return { problems: [notInside()] };
  return { problems: [], paths: { workspaceDir, inventoryInWorkspace: path.relative(workspaceDir, inventoryDir) } };
}

/**
 * Each solution folder is inside the lab folder but not in the workspace (the trainee would get it),
 * and holds an executable solve.sh, plus writeup.md when an objective checks the write-up.
 * `given` says whether `solutions:` was written (else the default is in force and has no line).
 */
export async function solutionProblems(
  ctx: ProblemContext,
  dir: string,
  solutions: readonly string[],
  opts: { given: boolean; workspaceDir: string | undefined; writeupObjective: string | undefined },
): Promise<{ problems: LabProblem[]; solutionDirs: string[] }> {
  const problems: LabProblem[] = [];
  const solutionDirs: string[] = [];
  for (const [i, s] of solutions.entries()) {
    const where: Path = opts.given ? ["solutions", i] : [];
    const problem = (message: string, hint: string) => problems.push({ location: locate(ctx.y, where), message: opts.given ? `solutions.${i}: ${message}` : message, hint });
    const abs = path.resolve(dir, s);
    const rel = path.relative(dir, abs);
    if (outside(dir, abs) || rel === "") {
      problem(`solution folder ${s} is not inside the lab folder`, "put each solution in a folder of its own next to README.md, e.g. solution/");
      continue;
    }
    if (opts.workspaceDir && !outside(opts.workspaceDir, abs)) {
      problem(`solution folder ${s} is inside the workspace, which is copied to the trainee`, "move it next to the workspace, e.g. solution/");
      continue;
    }
    if (!(await isDir(abs))) {
      problem(
        `solution folder ${s} does not exist in ${shown(dir)}${opts.given ? "" : " (every lab needs one; solution/ is the default)"}`,
        `create ${path.join(rel, "solve.sh")}, or list the solution folders with \`solutions: [...]\` (see "Solutions" in docs/lab-format.md)`,
      );
      continue;
    }
    const script = path.join(abs, "solve.sh");
    const st = await stat(script).catch(() => null);
    if (!st?.isFile()) {
      problem(`${shown(script)} does not exist`, "write solve.sh: it runs on the control-plane node, in ~/workspace, with kubectl configured (see \"Solutions\" in docs/lab-format.md)");
      continue;
    }
    if ((st.mode & 0o100) === 0) {
      problem(`${shown(script)} is not executable`, `chmod +x ${shown(script)} (git keeps the mode: commit it as 100755)`);
      continue;
    }
    if (opts.writeupObjective && !(await access(path.join(abs, "writeup.md"), constants.R_OK).then(() => true, () => false))) {
      problem(
        `${shown(path.join(abs, "writeup.md"))} does not exist, but objective ${opts.writeupObjective} checks the write-up`,
        "write a model write-up there: `lab test` submits it as the trainee's write-up",
      );
      continue;
    }
    solutionDirs.push(abs);
  }
  return { problems, solutionDirs };
}

/** Each concept names a page `<contentRoot>/concepts/<id>.md`. */
export async function conceptProblems(ctx: ProblemContext, concepts: readonly string[], contentRoot: string): Promise<{ problems: LabProblem[]; conceptPages: string[] }> {
  const folder = path.join(contentRoot, "concepts");
  const pages = concepts.map((id) => path.join(folder, `${id}.md`));
  if (!concepts.length) return { problems: [], conceptPages: [] };
  const existing = await readdir(folder).then((names) => names.filter((n) => n.endsWith(".md")).map((n) => n.slice(0, -3)), () => null);
  const problems = concepts.flatMap((id, i): LabProblem[] => {
    if (existing?.includes(id)) return [];
    const near = existing && didYouMean(id, existing);
    return [{
      location: locate(ctx.y, ["concepts", i]),
      message: existing
        ? `concepts.${i}: no concept page ${shown(pages[i]!)}`
        : `concepts.${i}: no concept page ${shown(pages[i]!)}: there is no ${shown(folder)}/ folder yet`,
      hint: near ? `did you mean ${near}?` : `write ${shown(pages[i]!)}, or remove "${id}" from concepts`,
    }];
  });
  return { problems, conceptPages: problems.length ? [] : pages };
}

/**
 * A FaultlineError as a problem at `fallback`, or at its own leading `file:line:col: ` when `ownLocation`
 * (files in a temporary copy are no location to show). Anything else is a bug: rethrown.
 */
function located(err: unknown, fallback: string, prefix: string, ownLocation = true): LabProblem {
  if (!(err instanceof FaultlineError)) throw err;
  const m = ownLocation ? /^(\S+:\d+:\d+): ([\s\S]*)$/.exec(err.message) : null;
  return m ? { location: m[1]!, message: m[2]!, hint: err.hint ?? "" } : { location: fallback, message: prefix + err.message, hint: err.hint ?? "" };
}

/**
 * What `sandbox up` would find before creating anything: kubespray's evaluation of the inventory and
 * the plan (node prefix, pool size, CIDRs), then, on a copy of the inventory, each fault injected or
 * applied to that plan.
 */
export async function provisioningProblems(
  ctx: ProblemContext,
  lab: { id: string; cluster: ClusterSpec; inventoryDir: string; faults: ReadonlyArray<[number, FaultSpec]> },
): Promise<LabProblem[]> {
  const where = locate(ctx.y, ["cluster", "inventory"]);
  const plan = async (inventoryDir: string, displayRoot: string) =>
    buildPlan(lab.id, lab.cluster, await evaluateInventory(inventoryDir, lab.cluster.kubespray, { displayRoot }));
  try {
    await plan(lab.inventoryDir, process.cwd());
  } catch (e) {
    return [located(e, where, "cluster.inventory: ")];
  }
  if (!lab.faults.length) return [];
  const tmp = await mkdtemp(path.join(tmpdir(), "faultline-validate-"));
  const problems: LabProblem[] = [];
  try {
    const copy = path.join(tmp, "inventory");
    await cp(lab.inventoryDir, copy, { recursive: true });
    const atFault = (i: number, e: unknown) => problems.push(located(e, locate(ctx.y, ["faults", i]), `faults.${i}: `, false));
    for (const [i, spec] of lab.faults) {
      const kind = findFaultKind(spec.kind);
      if (kind.stage === "inventory") await kind.inject(spec, copy).catch((e: unknown) => atFault(i, e));
    }
    if (problems.length) return problems;
    let faulted;
    try {
      faulted = await plan(copy, tmp);
    } catch (e) {
      return [located(e, locate(ctx.y, ["faults"]), "with the inventory faults injected: ", false)];
    }
    for (const [i, spec] of lab.faults) {
      const kind = findFaultKind(spec.kind);
      try {
        if (kind.stage === "dataplane") kind.apply(spec, faulted);
      } catch (e) {
        atFault(i, e);
      }
    }
    return problems;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Each manifest is a YAML file inside the lab folder whose documents are Kubernetes objects (apiVersion,
 * kind, metadata.name). Returns their texts in order, for the sandbox to apply after every build.
 */
export async function manifestProblems(ctx: ProblemContext, dir: string, manifests: readonly string[]): Promise<{ problems: LabProblem[]; texts: string[] }> {
  const problems: LabProblem[] = [];
  const texts: string[] = [];
  for (const [i, rel] of manifests.entries()) {
    const at = locate(ctx.y, ["manifests", i]);
    const file = path.resolve(dir, rel);
    if (outside(dir, file)) {
      problems.push({ location: at, message: `manifest ${rel} is outside the lab folder`, hint: "keep the lab's manifests in its folder, e.g. setup/" });
      continue;
    }
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      problems.push({ location: at, message: `manifest ${rel} does not exist in ${shown(dir)}`, hint: "create it or fix the path" });
      continue;
    }
    const docs = parseAllDocuments(text);
    const docList = Array.isArray(docs) ? docs : [docs];
    const bad = docList.flatMap((d, n) => {
      if (d.errors.length) return [`document ${n + 1}: not valid YAML: ${d.errors[0]!.message.split("\n")[0]}`];
      const o = d.toJS() as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } } | null;
      if (o === null) return [];
      if (typeof o.apiVersion !== "string" || typeof o.kind !== "string" || typeof o.metadata?.name !== "string") return [`document ${n + 1} is not a Kubernetes object (apiVersion, kind and metadata.name are required)`];
      return [];
    });
    if (bad.length) {
      problems.push({ location: at, message: `manifest ${rel}: ${bad[0]}`, hint: "each YAML document must be a Kubernetes object, as `kubectl apply -f` takes it" });
      continue;
    }
    texts.push(text);
  }
  return { problems, texts };
}
