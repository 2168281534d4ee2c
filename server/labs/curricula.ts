/**
 * Curricula and concept pages (docs/content.md is the reference): `content/curricula/<id>.md` orders
 * labs, concept pages and readings into weeks and days; `content/concepts/<id>.md` explains one idea.
 * Both are YAML front matter plus markdown. `loadCurricula` validates every curriculum and what it
 * refers to (labs in labs/, concept pages in content/concepts/), and reports each problem at its
 * file:line:column with a fix, the way the lab loader does (it reuses its YAML locations and zod
 * messages: yaml-errors.ts, problems.ts).
 *
 * @example
 * const { curricula, invalid } = await loadCurricula();
 * // curricula: [{ id: "onboarding", weeks: [{ title: "Week 1: ...", days: [...] }], ... }]
 * // invalid:   [{ file: "content/curricula/draft.md", errors: [{ location: "content/curricula/draft.md:14:11", message: 'weeks.0.days.1.steps.2.lab: no lab "netwrok-policy"', hint: "did you mean network-policy?" }] }]
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { labsRoot as defaultLabsRoot, projectRoot } from "../paths.js";
import { didYouMean } from "../sim/faults/support.js";
import { shown } from "./files.js";
import { isMapping, problemsFromZod, type LabProblem, type Path, type ProblemContext } from "./problems.js";
import { YAML_SYNTAX_HINT, locate, locateKey, readLocatedYaml } from "./yaml-errors.js";

/** One mistake in a content file, where it is and how to fix it (the same shape as a lab's). */
export type ContentProblem = LabProblem;

export interface ContentOptions {
  /** Where `concepts/` and `curricula/` are; default content/ in the project. */
  contentRoot?: string;
  /** Where lab folders are; default labs/ in the project. */
  labsRoot?: string;
}

const slug = (what: string) => z.string().regex(/^[a-z0-9][a-z0-9-]*$/, `${what} are lowercase words joined by dashes, e.g. network-policy`);
const oneLine = z.string().min(1).max(200).regex(/^[^\n]*$/, "a summary is one line (up to 200 characters)");

// --- concept pages -------------------------------------------------------------------------------

/** The front matter of `content/concepts/<id>.md`. */
export const conceptFrontMatterSchema = z.strictObject({
  id: slug("concept ids"),
  title: z.string().min(1),
  summary: oneLine,
});

export type ConceptFrontMatter = z.output<typeof conceptFrontMatterSchema>;

/** A valid concept page: its front matter, the file and the markdown after the front matter. */
export interface Concept extends ConceptFrontMatter {
  file: string;
  body: string;
}

// --- curricula -----------------------------------------------------------------------------------

/** `2w`, `10d`, `6mo`: a whole number with a unit (days, weeks, months). */
export const curriculumDurationSchema = z
  .string({ error: "write a duration with its unit: 10d, 2w, 6mo" })
  .regex(/^[1-9]\d*(d|w|mo)$/, "a duration is a whole number with a unit: 10d, 2w, 6mo");

export const labStepSchema = z.strictObject({
  lab: slug("lab ids"),
  /** What to pay attention to, or what the mentor reviews. */
  note: z.string().min(1).optional(),
});
export const conceptStepSchema = z.strictObject({
  concept: slug("concept ids"),
  note: z.string().min(1).optional(),
});
export const readingStepSchema = z.strictObject({
  /** The reading's title. */
  reading: z.string().min(1),
  /** What to read or do, and why (markdown). */
  text: z.string().min(1),
  /** Where to read it. */
  url: z.url({ protocol: /^https?$/, error: "url: an http(s) address" }).optional(),
});

/** The kinds of step, each with its schema, in the order docs/content.md documents them. */
export const STEP_KINDS = { lab: labStepSchema, concept: conceptStepSchema, reading: readingStepSchema } as const;
export type StepKind = keyof typeof STEP_KINDS;
const STEP_KIND_NAMES = Object.keys(STEP_KINDS) as StepKind[];

export const stepSchema = z.union([labStepSchema, conceptStepSchema, readingStepSchema]);
export type Step = z.output<typeof stepSchema>;

export const daySchema = z.strictObject({
  title: z.string().min(1),
  steps: z.array(stepSchema).min(1),
});

export const milestoneSchema = z.strictObject({
  title: z.string().min(1),
  /** What the trainee shows, and who reviews it (markdown). */
  text: z.string().min(1),
});

export const weekSchema = z.strictObject({
  title: z.string().min(1),
  /** How many calendar weeks this entry spans: long programs group weeks. Default 1. */
  span: z.number().int().min(1).max(52).default(1),
  goal: z.string().min(1).optional(),
  /** A week is planned by day (`days`) or as one list (`steps`), not both. */
  days: z.array(daySchema).min(1).max(7).optional(),
  steps: z.array(stepSchema).min(1).optional(),
  milestone: milestoneSchema.optional(),
});

/** Every key a curriculum's front matter may set, in the order docs/content.md documents them. */
export const curriculumFrontMatterSchema = z.strictObject({
  id: slug("curriculum ids"),
  title: z.string().min(1),
  summary: oneLine,
  /** Who it is for, and what they should know before starting. */
  audience: z.string().min(1),
  duration: curriculumDurationSchema,
  weeks: z.array(weekSchema).min(1),
});

export type CurriculumFrontMatter = z.output<typeof curriculumFrontMatterSchema>;
export type Week = z.output<typeof weekSchema>;

/** A valid curriculum: its front matter with defaults, the file, the markdown body. */
export interface Curriculum extends CurriculumFrontMatter {
  file: string;
  body: string;
  /** The weeks the plan spans (the sum of `span`). */
  totalWeeks: number;
}

export type CurriculumLoadResult = { ok: true; curriculum: Curriculum } | { ok: false; file: string; errors: ContentProblem[] };

// --- reading files -------------------------------------------------------------------------------

const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

/** The file's front matter as located YAML and plain data, and its body; or the problems that stopped it. */
async function readContent(file: string, what: string): Promise<{ ctx: ProblemContext; body: string } | { problems: ContentProblem[] }> {
  const where = shown(file);
  const text = await readFile(file, "utf8").catch(() => null);
  if (text === null) return { problems: [{ location: where, message: `${what} ${where} cannot be read`, hint: "check the path and the file's permissions" }] };
  const m = FRONT_MATTER.exec(text);
  if (!m) {
    return { problems: [{ location: `${where}:1:1`, message: "no front matter", hint: `start the file with a line \`---\`, the ${what}'s YAML (id, title, ...), then a line \`---\` (see docs/content.md)` }] };
  }
  const { y, errors } = readLocatedYaml(where, m[1]!, 1);
  if (errors[0]) return { problems: [{ ...errors[0], hint: YAML_SYNTAX_HINT }] };
  const root: unknown = y.doc.toJS();
  if (!isMapping(root)) return { problems: [{ location: locate(y, []), message: "the front matter is not a mapping of keys", hint: "write `key: value` lines (see docs/content.md)" }] };
  return { ctx: { y, root }, body: text.slice(m[0].length) };
}

/** The `*.md` files of `dir` (ids without `.md`), sorted; empty when the folder does not exist. */
async function markdownIds(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith(".md") && !/^[._]/.test(n)).map((n) => n.slice(0, -3)).sort();
}

/** The lab ids of `root`: folders holding a README.md. */
async function labIds(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && !/^[._]/.test(e.name) && existsSync(path.join(root, e.name, "README.md"))).map((e) => e.name).sort();
}

function inReadingOrder(problems: ContentProblem[]): ContentProblem[] {
  const key = (l: string) => {
    const m = /^(.*?):(\d+):(\d+)$/.exec(l);
    return m ? ([m[1]!, Number(m[2]), Number(m[3])] as const) : ([l, 0, 0] as const);
  };
  return [...problems].sort((a, b) => {
    const [fa, la, ca] = key(a.location);
    const [fb, lb, cb] = key(b.location);
    return fa.localeCompare(fb) || la - lb || ca - cb;
  });
}

/** `id` must be the file's name: it is the page's address. */
function idProblem(ctx: ProblemContext, file: string): ContentProblem[] {
  const id = (ctx.root as Record<string, unknown>)["id"];
  const expected = path.basename(file, ".md");
  if (typeof id !== "string" || id === expected) return [];
  return [{ location: locate(ctx.y, ["id"]), message: `id: "${id}" is not the file's name (${expected}.md)`, hint: `rename the file to ${id}.md or set id: ${expected}` }];
}

// --- concepts ------------------------------------------------------------------------------------

/** Loads and checks every concept page in `<contentRoot>/concepts`. */
export async function loadConcepts(opts: ContentOptions = {}): Promise<{ concepts: Concept[]; invalid: Array<{ file: string; errors: ContentProblem[] }> }> {
  const dir = path.join(opts.contentRoot ?? path.join(projectRoot, "content"), "concepts");
  const concepts: Concept[] = [];
  const invalid: Array<{ file: string; errors: ContentProblem[] }> = [];
  for (const id of await markdownIds(dir)) {
    const file = path.join(dir, `${id}.md`);
    const src = await readContent(file, "concept page");
    if ("problems" in src) {
      invalid.push({ file, errors: src.problems });
      continue;
    }
    const res = conceptFrontMatterSchema.safeParse(src.ctx.root);
    const errors = [
      ...(res.success ? [] : problemsFromZod(src.ctx, conceptFrontMatterSchema, [], src.ctx.root, res.error.issues, () => "a concept page's front matter is id, title, summary (see docs/content.md)")),
      ...idProblem(src.ctx, file),
    ];
    if (errors.length || !res.success) invalid.push({ file, errors: inReadingOrder(errors) });
    else concepts.push({ ...res.data, file, body: src.body });
  }
  return { concepts, invalid };
}

// --- curricula -----------------------------------------------------------------------------------

const STEPS_HINT = "a step is {lab: <lab id>}, {concept: <concept id>} or {reading: <title>, text: <what and why>} (see docs/content.md)";

/** `<path>: <text>`. */
const at = (p: Path, text: string) => `${p.join(".")}: ${text}`;

/** Problems of one step, validated by its kind (a union's own error would be "Invalid input"). */
function stepProblems(ctx: ProblemContext, value: unknown, p: Path): ContentProblem[] {
  if (!isMapping(value)) return [{ location: locate(ctx.y, p), message: at(p, "a step is a mapping, e.g. {lab: network-policy}"), hint: STEPS_HINT }];
  const keys = Object.keys(value);
  const kinds = STEP_KIND_NAMES.filter((k) => k in value);
  if (kinds.length > 1) return [{ location: locate(ctx.y, p), message: at(p, `a step has one kind; this one has ${kinds.join(" and ")}`), hint: "split it into one step per lab, concept or reading" }];
  if (kinds.length === 0) {
    const typo = keys.map((k) => [k, didYouMean(k, STEP_KIND_NAMES)] as const).find(([, near]) => near);
    const message = typo ? `unknown step kind "${typo[0]}"; did you mean ${typo[1]}?` : `no step kind (${STEP_KIND_NAMES.join(", ")}); this step has ${keys.join(", ") || "no keys"}`;
    return [{ location: typo ? locateKey(ctx.y, p, typo[0]) : locate(ctx.y, p), message: at(p, message), hint: STEPS_HINT }];
  }
  const kind = kinds[0]!;
  const schema = STEP_KINDS[kind];
  const res = schema.safeParse(value);
  return res.success ? [] : problemsFromZod(ctx, schema, p, value, res.error.issues, () => `see the \`${kind}\` step in docs/content.md`);
}

/** Every step's path in the front matter, and its value (whatever its shape). */
function stepsOf(root: Record<string, unknown>): Array<[Path, unknown]> {
  const out: Array<[Path, unknown]> = [];
  const list = (v: unknown) => (Array.isArray(v) ? (v as unknown[]) : []);
  list(root["weeks"]).forEach((w, i) => {
    if (!isMapping(w)) return;
    list(w["steps"]).forEach((s, k) => out.push([["weeks", i, "steps", k], s]));
    list(w["days"]).forEach((d, j) => {
      if (isMapping(d)) list(d["steps"]).forEach((s, k) => out.push([["weeks", i, "days", j, "steps", k], s]));
    });
  });
  return out;
}

/** A step's path: …steps.<n> (inside it, problems come from stepProblems). */
function insideStep(p: Path): boolean {
  const n = p.indexOf("steps");
  return n >= 0 && typeof p[n + 1] === "number";
}

/** Weeks a duration stands for: [min, max] (a month is 4 to 5 weeks; days round up to weeks of 5 to 7 days). */
function durationWeeks(duration: string): [number, number] {
  const m = /^(\d+)(d|w|mo)$/.exec(duration)!;
  const n = Number(m[1]);
  if (m[2] === "w") return [n, n];
  if (m[2] === "mo") return [4 * n, 5 * n];
  return [Math.ceil(n / 7), Math.ceil(n / 5)];
}

/**
 * Loads one curriculum file with every problem collected: syntax, keys and types (with "did you
 * mean"), steps by kind, an id that is not the file name, weeks planned both by day and as a list (or
 * neither), a duration the weeks do not add up to, and references to labs and concept pages that do
 * not exist.
 */
export async function loadCurriculum(file: string, opts: ContentOptions = {}): Promise<CurriculumLoadResult> {
  const src = await readContent(file, "curriculum");
  if ("problems" in src) return { ok: false, file, errors: src.problems };
  const { ctx } = src;
  const root = ctx.root as Record<string, unknown>;
  const res = curriculumFrontMatterSchema.safeParse(root);
  const issues = (res.error?.issues ?? []).filter((i) => !insideStep(i.path as Path));
  const problems: ContentProblem[] = [
    ...problemsFromZod(ctx, curriculumFrontMatterSchema, [], root, issues, (p) => `see \`${String(p[0] ?? "the front matter")}\` in docs/content.md`),
    ...stepsOf(root).flatMap(([p, v]) => stepProblems(ctx, v, p)),
    ...idProblem(ctx, file),
  ];

  // Weeks: by day or as a list, exactly one of them.
  const weeks = Array.isArray(root["weeks"]) ? (root["weeks"] as unknown[]) : [];
  weeks.forEach((w, i) => {
    if (!isMapping(w)) return;
    const both = w["days"] !== undefined && w["steps"] !== undefined;
    // A misspelled `days`/`steps` is reported as an unknown key already: "neither" would be its echo.
    const typo = Object.keys(w).some((k) => !(k in weekSchema.shape) && didYouMean(k, ["days", "steps"]));
    const neither = w["days"] === undefined && w["steps"] === undefined && !typo;
    if (both || neither) {
      problems.push({
        location: locate(ctx.y, ["weeks", i]),
        message: at(["weeks", i], both ? "a week has days or steps, not both" : "a week needs days (each with steps) or steps"),
        hint: "plan a week by day (`days: [{title, steps}]`) or as one list (`steps: [...]`)",
      });
    }
  });

  // References: labs and concept pages that exist.
  const contentRoot = opts.contentRoot ?? path.join(projectRoot, "content");
  const [labs, concepts] = await Promise.all([labIds(opts.labsRoot ?? defaultLabsRoot), markdownIds(path.join(contentRoot, "concepts"))]);
  for (const [p, step] of stepsOf(root)) {
    if (!isMapping(step)) continue;
    for (const [kind, known, where] of [["lab", labs, `a lab folder ${shown(path.join(opts.labsRoot ?? defaultLabsRoot, "<id>"))} with a README.md`], ["concept", concepts, `a page ${shown(path.join(contentRoot, "concepts", "<id>.md"))}`]] as const) {
      const id = step[kind];
      if (typeof id !== "string" || !/^[a-z0-9][a-z0-9-]*$/.test(id) || known.includes(id)) continue;
      const near = didYouMean(id, known);
      problems.push({
        location: locate(ctx.y, [...p, kind]),
        message: at([...p, kind], `no ${kind} "${id}"`),
        hint: near ? `did you mean ${near}?` : `the ${kind}s are ${known.join(", ") || "(none)"}; each is ${where}`,
      });
    }
  }

  // The duration and the weeks agree.
  if (res.success) {
    const total = res.data.weeks.reduce((n, w) => n + w.span, 0);
    const [min, max] = durationWeeks(res.data.duration);
    if (total < min || total > max) {
      problems.push({
        location: locate(ctx.y, ["duration"]),
        message: `duration: ${res.data.duration} is ${min === max ? `${min} weeks` : `${min} to ${max} weeks`}, but the weeks add up to ${total}`,
        hint: "make the duration match the plan, or set `span` on weeks that stand for several",
      });
    }
  }

  if (problems.length || !res.success) return { ok: false, file, errors: inReadingOrder(problems) };
  const totalWeeks = res.data.weeks.reduce((n, w) => n + w.span, 0);
  return { ok: true, curriculum: { ...res.data, file, body: src.body, totalWeeks } };
}

/**
 * Loads every curriculum in `<contentRoot>/curricula`: the valid ones, and the invalid ones with all
 * their problems (one bad curriculum never hides the others).
 */
export async function loadCurricula(opts: ContentOptions = {}): Promise<{ curricula: Curriculum[]; invalid: Array<{ file: string; errors: ContentProblem[] }> }> {
  const dir = path.join(opts.contentRoot ?? path.join(projectRoot, "content"), "curricula");
  const results = await Promise.all((await markdownIds(dir)).map((id) => loadCurriculum(path.join(dir, `${id}.md`), opts)));
  return {
    curricula: results.flatMap((r) => (r.ok ? [r.curriculum] : [])),
    invalid: results.flatMap((r) => (r.ok ? [] : [{ file: r.file, errors: r.errors }])),
  };
}

/** The labs and concepts a curriculum uses, in order of first use (for "what does it cover"). */
export function curriculumReferences(c: Curriculum): { labs: string[]; concepts: string[] } {
  const steps = c.weeks.flatMap((w) => [...(w.steps ?? []), ...(w.days ?? []).flatMap((d) => d.steps)]);
  const uniq = (xs: string[]) => [...new Set(xs)];
  return {
    labs: uniq(steps.flatMap((s) => ("lab" in s ? [s.lab] : []))),
    concepts: uniq(steps.flatMap((s) => ("concept" in s ? [s.concept] : []))),
  };
}
