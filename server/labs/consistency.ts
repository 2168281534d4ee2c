/**
 * Mistakes the schema cannot see, found from the front matter alone: names the cluster does not have
 * (nodes declared twice, pods on missing nodes, probes and execs aimed at missing nodes or pods,
 * faults on missing nodes), CIDRs that do not parse, duplicate objective ids, regular expressions
 * that do not compile. Each function gets only the parts that passed the schema, so one bad
 * objective does not hide another's mistakes.
 */
import type { CheckSpec, Objective } from "../checks/schema.js";
import { checkFaults, type FaultSpec, type Topology } from "../sim/faults/index.js";
import { checkCidr, checkNode, checkPod } from "../sim/faults/support.js";
import { fromSpecProblem, type LabProblem, type Path, type ProblemContext } from "./problems.js";
import { nodeNames, type ClusterSpec } from "./schema.js";
import { locate } from "./yaml-errors.js";

const CLUSTER_HINT = "see `cluster` in docs/lab-format.md";

/** The cluster's own consistency, and the names it will have (for checking everything that names them). */
export function clusterProblems(ctx: ProblemContext, cluster: ClusterSpec): { topo: Topology; problems: LabProblem[] } {
  const problems: LabProblem[] = [];
  const nodes: string[] = [];
  cluster.nodes.forEach((n, i) => {
    for (const name of nodeNames(n)) {
      if (nodes.includes(name)) {
        problems.push({
          location: locate(ctx.y, ["cluster", "nodes", i]),
          message: `node "${name}" is declared twice (after count expansion)`,
          hint: "give every node a unique name; {name: worker, count: 2} makes worker-1 and worker-2",
        });
      } else nodes.push(name);
    }
  });
  const topo: Topology = { nodes, pods: cluster.pods.map((p) => `${p.namespace}/${p.name}`) };
  const named: Array<[Path, string]> = [
    ...cluster.pods.map((p, i): [Path, string] => [["pods", i, "node"], p.node]),
    ...(cluster.blockClaimOrder ?? []).map((n, i): [Path, string] => [["blockClaimOrder", i], n]),
    ...cluster.services.flatMap((s, i) => s.nodeEndpoints.map((n, j): [Path, string] => [["services", i, "nodeEndpoints", j], n])),
  ];
  for (const [path, name] of named) for (const p of checkNode(name, topo, path)) problems.push(fromSpecProblem(ctx, ["cluster"], p, CLUSTER_HINT));
  for (const p of checkCidr(cluster.nodeNetwork, ["nodeNetwork"])) problems.push(fromSpecProblem(ctx, ["cluster"], p, CLUSTER_HINT));
  return { topo, problems };
}

/** Faults naming nodes or pods the cluster lacks, or CIDRs that do not parse. `faults` are [index, spec]. */
export function faultTopologyProblems(ctx: ProblemContext, faults: ReadonlyArray<[number, FaultSpec]>, topo: Topology): LabProblem[] {
  return faults.flatMap(([i, spec]) =>
    checkFaults([spec], topo).map((p) => fromSpecProblem(ctx, ["faults", i], { ...p, path: p.path.slice(1) }, `see \`${spec.kind}\` in docs/faults.md`)),
  );
}

/**
 * Duplicate ids, regexes that do not compile and targets the cluster lacks, in `objectives` given as
 * [index, objective]. Without a topology (the cluster did not parse) targets are not checked.
 */
export function objectiveProblems(ctx: ProblemContext, objectives: ReadonlyArray<[number, Objective]>, topo: Topology | undefined): LabProblem[] {
  const problems: LabProblem[] = [];
  const seen = new Map<string, number>();
  for (const [i, o] of objectives) {
    const first = seen.get(o.id);
    if (first === undefined) seen.set(o.id, i);
    else {
      problems.push({
        location: locate(ctx.y, ["objectives", i, "id"]),
        message: `objectives.${i}.id: duplicate objective id "${o.id}" (objectives.${first} has it)`,
        hint: "give every objective its own id: progress and the timeline are recorded by id",
      });
    }
    walkChecks(o.check, ["objectives", i, "check"], (c, path) => problems.push(...leafProblems(ctx, c, path, topo)));
  }
  return problems;
}

/** `c` and every check inside it (all/any/not), in document order. */
export function checksIn(c: CheckSpec): CheckSpec[] {
  const found: CheckSpec[] = [];
  walkChecks(c, [], (x) => found.push(x));
  return found;
}

function walkChecks(c: CheckSpec, path: Path, visit: (c: CheckSpec, path: Path) => void): void {
  visit(c, path);
  if ("all" in c) c.all.forEach((x, i) => walkChecks(x, [...path, "all", i], visit));
  else if ("any" in c) c.any.forEach((x, i) => walkChecks(x, [...path, "any", i], visit));
  else if ("not" in c) walkChecks(c.not, [...path, "not"], visit);
}

function leafProblems(ctx: ProblemContext, c: CheckSpec, path: Path, topo: Topology | undefined): LabProblem[] {
  const targets: Array<[string, string]> = [];
  const regexes: Array<[string, string | undefined]> = [];
  if ("probe" in c) targets.push(["probe.from", c.probe.from], ["probe.to", c.probe.to]);
  if ("exec" in c) targets.push(["exec.in", c.exec.in]), regexes.push(["exec.stdout", c.exec.stdout]);
  if ("file" in c) regexes.push(["file.matches", c.file.matches]);
  const problems: LabProblem[] = [];
  for (const [key, source] of regexes) {
    if (source === undefined) continue;
    try {
      new RegExp(source);
    } catch (e) {
      const where = [...path, ...key.split(".")];
      problems.push({
        location: locate(ctx.y, where),
        message: `${where.join(".")}: not a valid regular expression: ${(e as Error).message}`,
        hint: "JavaScript regular expression syntax; in YAML, single-quote it ('^10\\.233') so backslashes stay as written",
      });
    }
  }
  if (!topo) return problems;
  for (const [key, target] of targets) {
    const where = key.split(".");
    const m = /^(node|pod)\/(.+)$/.exec(target);
    // Services and addresses may be created by the trainee, so only nodes and pods are checked.
    const found = m?.[1] === "node" ? checkNode(m[2]!, topo, where) : m?.[1] === "pod" ? checkPod(m[2]!, topo, where) : [];
    problems.push(...found.map((p) => fromSpecProblem(ctx, path, p, "name a node from cluster.nodes or a pod from cluster.pods")));
  }
  return problems;
}
