/**
 * Curricula and concept pages (server/labs/curricula.ts): every mistake reported once at its
 * file:line:column with a fix, references to labs and concept pages checked, the bundled content/
 * clean, and docs/content.md in step with the schemas.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { curriculumFrontMatterSchema, curriculumReferences, loadConcepts, loadCurricula, loadCurriculum, STEP_KINDS, stepSchema, weekSchema, type ContentProblem } from "../../../server/labs/curricula.js";
import { splitFrontMatter } from "../../../server/labs/lab.js";
import { projectRoot } from "../../../server/paths.js";

const rel = (p: string) => path.relative(process.cwd(), p);

/** A content root with two concept pages and a labs root with two labs, for references to resolve against. */
let tmp: string;
let contentRoot: string;
let labsRoot: string;
before(() => {
  tmp = mkdtempSync(path.join(tmpdir(), "faultline-content-"));
  contentRoot = path.join(tmp, "content");
  labsRoot = path.join(tmp, "labs");
  mkdirSync(path.join(contentRoot, "concepts"), { recursive: true });
  mkdirSync(path.join(contentRoot, "curricula"), { recursive: true });
  for (const id of ["tcpdump", "cluster-dns"]) {
    writeFileSync(path.join(contentRoot, "concepts", `${id}.md`), `---\nid: ${id}\ntitle: "${id}"\nsummary: "about ${id}"\n---\n# ${id}\n`);
  }
  for (const id of ["network-policy", "dns-down"]) {
    mkdirSync(path.join(labsRoot, id), { recursive: true });
    writeFileSync(path.join(labsRoot, id, "README.md"), "---\n---\n");
  }
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A valid curriculum; each mistake below is one edit of it. Line numbers are the file's. */
const VALID = `---
id: sample
title: "A sample"
summary: "One week"
audience: "New hires"
duration: 1w
weeks:
  - title: "Week 1"
    days:
      - title: "Day 1"
        steps:
          - concept: tcpdump
          - lab: network-policy
            note: "timeouts"
      - title: "Day 2"
        steps:
          - reading: "Flux"
            text: "reading only"
            url: "https://fluxcd.io/flux/concepts/"
---
# A sample
`;

/** Writes `text` as curricula/<name>.md and loads it. */
async function load(name: string, text: string) {
  const file = path.join(contentRoot, "curricula", `${name}.md`);
  writeFileSync(file, text);
  return { file, res: await loadCurriculum(file, { contentRoot, labsRoot }) };
}

async function problemsOf(name: string, text: string): Promise<{ where: string; problems: ContentProblem[] }> {
  const { file, res } = await load(name, text);
  assert.equal(res.ok, false, `${name} should be invalid`);
  rmSync(file);
  return { where: rel(file), problems: res.ok ? [] : res.errors };
}

/** [name, edit of VALID (id adjusted), line:col, message, hint]. */
const MISTAKES: Array<[string, (t: string) => string, string, string, RegExp]> = [
  ["no-front-matter", () => "# just markdown\n", "1:1", "no front matter", /^start the file with a line `---`/],
  ["not-yaml", (t) => t.replace('title: "A sample"', 'title: "A sample'), "3:17", "not valid YAML: Missing closing \"quote", /fix the YAML syntax/],
  ["unknown-key", (t) => t.replace("weeks:", "wekks:"), "7:1", 'unknown key "wekks"; did you mean "weeks"?', /^the front matter takes id, title, summary, audience, duration, weeks$/],
  ["unknown-week-key", (t) => t.replace("    days:", "    dayz:"), "9:5", 'weeks.0: unknown key "dayz"; did you mean "days"?', /^weeks\.0 takes title, span, goal, days, steps, milestone$/],
  ["step-kind-typo", (t) => t.replace("- lab: network-policy", "- labb: network-policy"), "13:13", 'weeks.0.days.0.steps.1: unknown step kind "labb"; did you mean lab?', /^a step is \{lab: <lab id>\}/],
  ["step-two-kinds", (t) => t.replace("          - concept: tcpdump", "          - {concept: tcpdump, lab: dns-down}"), "12:13", "weeks.0.days.0.steps.0: a step has one kind; this one has lab and concept", /one step per lab/],
  ["step-unknown-key", (t) => t.replace('note: "timeouts"', 'notes: "timeouts"'), "14:13", 'weeks.0.days.0.steps.1: unknown key "notes"; did you mean "note"?', /^weeks\.0\.days\.0\.steps\.1 takes lab, note$/],
  ["reading-without-text", (t) => t.replace('            text: "reading only"\n', ""), "17:13", 'weeks.0.days.1.steps.0: missing required key "text"', /the `reading` step/],
  ["unknown-lab", (t) => t.replace("lab: network-policy", "lab: netwrok-policy"), "13:18", 'weeks.0.days.0.steps.1.lab: no lab "netwrok-policy"', /^did you mean network-policy\?$/],
  ["unknown-concept", (t) => t.replace("concept: tcpdump", "concept: wireshark"), "12:22", 'weeks.0.days.0.steps.0.concept: no concept "wireshark"', /^the concepts are cluster-dns, tcpdump; each is a page .*concepts\/<id>\.md$/],
  ["id-not-file-name", (t) => t.replace("id: sample", "id: other"), "2:5", 'id: "other" is not the file\'s name (id-not-file-name.md)', /rename the file to other\.md or set id: id-not-file-name/],
  ["days-and-steps", (t) => t.replace("  - title: \"Week 1\"\n", "  - title: \"Week 1\"\n    steps: [{lab: dns-down}]\n"), "8:5", "weeks.0: a week has days or steps, not both", /plan a week by day/],
  ["week-without-plan", (t) => t.replace("duration: 1w", "duration: 2w").replace('  - title: "Week 1"\n', '  - title: "Week 1"\n  - title: "Week 2"\n'), "8:5", "weeks.0: a week needs days (each with steps) or steps", /plan a week by day/],
  ["duration-mismatch", (t) => t.replace("duration: 1w", "duration: 3w"), "6:11", "duration: 3w is 3 weeks, but the weeks add up to 1", /set `span`/],
  ["bad-duration", (t) => t.replace("duration: 1w", "duration: 1 week"), "6:11", "duration: a duration is a whole number with a unit: 10d, 2w, 6mo", /`duration` in docs\/content\.md/],
  ["bad-url", (t) => t.replace("https://fluxcd.io/flux/concepts/", "fluxcd.io"), "19:18", "weeks.0.days.1.steps.0.url: url: an http(s) address", /the `reading` step/],
];

describe("loadCurriculum: one mistake, one problem at its file:line:column", () => {
  for (const [name, edit, where, message, hint] of MISTAKES) {
    it(name, async () => {
      const { where: file, problems } = await problemsOf(name, edit(VALID).replace("id: sample", name === "id-not-file-name" ? "id: other" : `id: ${name}`));
      assert.deepEqual(problems.map((p) => ({ location: p.location, message: p.message })), [{ location: `${file}:${where}`, message }]);
      assert.match(problems[0]!.hint, hint);
    });
  }

  it("collects every problem of a file at once, in reading order", async () => {
    const text = VALID.replace("id: sample", "id: many").replace("duration: 1w", "durtion: 1w").replace("lab: network-policy", "lab: nope").replace("concept: tcpdump", "concept: nope");
    const { problems } = await problemsOf("many", text);
    assert.deepEqual(problems.map((p) => p.message.split(";")[0]), [
      'unknown key "durtion"',
      'weeks.0.days.0.steps.0.concept: no concept "nope"',
      'weeks.0.days.0.steps.1.lab: no lab "nope"',
    ]);
  });
});

describe("loadCurriculum: valid curricula", () => {
  it("fills in defaults and says what the curriculum covers", async () => {
    const { file, res } = await load("sample", VALID);
    assert.ok(res.ok, res.ok ? "" : JSON.stringify(res.errors));
    const c = res.curriculum;
    assert.equal(c.file, file);
    assert.equal(c.totalWeeks, 1);
    assert.equal(c.weeks[0]!.span, 1);
    assert.deepEqual(c.weeks[0]!.days![1]!.steps, [{ reading: "Flux", text: "reading only", url: "https://fluxcd.io/flux/concepts/" }]);
    assert.match(c.body, /^# A sample\n/);
    assert.deepEqual(curriculumReferences(c), { labs: ["network-policy"], concepts: ["tcpdump"] });
    rmSync(file);
  });

  it("months of grouped weeks: the spans add up to the duration", async () => {
    const text = `---\nid: months\ntitle: "t"\nsummary: "s"\naudience: "a"\nduration: 2mo\nweeks:\n  - {title: "Month 1", span: 4, steps: [{lab: dns-down}], milestone: {title: "m", text: "reviewed"}}\n  - {title: "Month 2", span: 5, steps: [{concept: cluster-dns}]}\n---\n`;
    const { file, res } = await load("months", text);
    assert.ok(res.ok, res.ok ? "" : JSON.stringify(res.errors));
    assert.equal(res.curriculum.totalWeeks, 9);
    rmSync(file);
  });
});

describe("loadCurricula and loadConcepts", () => {
  it("serves the valid curricula and lists the invalid ones with all their problems", async () => {
    writeFileSync(path.join(contentRoot, "curricula", "sample.md"), VALID);
    writeFileSync(path.join(contentRoot, "curricula", "broken.md"), VALID.replace("id: sample", "id: broken").replace("lab: network-policy", "lab: dns-dwn"));
    try {
      const { curricula, invalid } = await loadCurricula({ contentRoot, labsRoot });
      assert.deepEqual(curricula.map((c) => c.id), ["sample"]);
      assert.deepEqual(invalid.map((i) => [path.basename(i.file), i.errors.map((e) => e.hint)]), [["broken.md", ["did you mean dns-down?"]]]);
    } finally {
      rmSync(path.join(contentRoot, "curricula", "sample.md"));
      rmSync(path.join(contentRoot, "curricula", "broken.md"));
    }
  });

  it("checks concept pages' front matter: keys, types and the id", async () => {
    const bad = path.join(contentRoot, "concepts", "strace.md");
    writeFileSync(bad, "---\nid: strace-page\ntitle: strace\nsumary: \"x\"\n---\n");
    try {
      const { concepts, invalid } = await loadConcepts({ contentRoot });
      assert.deepEqual(concepts.map((c) => c.id), ["cluster-dns", "tcpdump"]);
      assert.deepEqual(invalid.map((i) => i.errors.map((e) => `${e.location.slice(rel(bad).length + 1)} ${e.message}`)), [[
        '2:5 id: "strace-page" is not the file\'s name (strace.md)',
        '4:1 unknown key "sumary"; did you mean "summary"?',
      ]]);
    } finally {
      rmSync(bad);
    }
  });

  it("the bundled content/ is clean: every concept page and curriculum, with every reference", async () => {
    const concepts = await loadConcepts();
    assert.deepEqual(concepts.invalid, []);
    assert.ok(concepts.concepts.length >= 8);
    const { curricula, invalid } = await loadCurricula();
    assert.deepEqual(invalid, []);
    assert.deepEqual(curricula.map((c) => c.id).sort(), ["intern", "onboarding"]);
    // Every bundled concept page is used by some curriculum.
    const used = new Set(curricula.flatMap((c) => curriculumReferences(c).concepts));
    assert.deepEqual(concepts.concepts.map((c) => c.id).filter((id) => !used.has(id)), []);
  });
});

describe("docs/content.md", () => {
  const doc = readFileSync(path.join(projectRoot, "docs", "content.md"), "utf8");
  const section = (heading: string): string => {
    const start = doc.indexOf(`\n${heading}\n`);
    assert.ok(start >= 0, `docs/content.md has "${heading}"`);
    const level = heading.split(" ")[0]!;
    const end = doc.slice(start + 1).search(new RegExp(`\\n#{1,${level.length}} `));
    return end < 0 ? doc.slice(start) : doc.slice(start, start + 1 + end);
  };
  const yamlBlocks = (text: string) => [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it("documents every curriculum key, in the schema's order, each example valid", () => {
    const keys = section("### Keys");
    const documented = [...keys.matchAll(/\n#### `([a-z]+)`\n/g)].map((m) => m[1]);
    assert.deepEqual(documented, Object.keys(curriculumFrontMatterSchema.shape));
    const table = [...keys.matchAll(/^\| `([a-z]+)` \| [^|]+ \| (?:required|[^|]+) \|/gm)].map((m) => m[1]);
    assert.deepEqual(table.slice(0, documented.length), documented);
    for (const key of documented) {
      const examples = yamlBlocks(section(`#### \`${key}\``)).map((b) => parse(b) as Record<string, unknown>);
      assert.ok(examples.length >= 1, `an example for ${key}`);
      for (const ex of examples) {
        const res = curriculumFrontMatterSchema.shape[key as keyof typeof curriculumFrontMatterSchema.shape].safeParse(ex[key!]);
        assert.ok(res.success, `${key}: ${JSON.stringify(res.error?.issues)}`);
      }
    }
  });

  it("lists every week key in the weeks table", () => {
    const rows = [...section("#### `weeks`").matchAll(/^\| `([a-z]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(rows, Object.keys(weekSchema.shape));
  });

  it("documents every step kind with a valid example of that kind", () => {
    const steps = section("### Steps");
    const kinds = [...steps.matchAll(/\n#### `([a-z]+)`\n/g)].map((m) => m[1]);
    assert.deepEqual(kinds, Object.keys(STEP_KINDS));
    for (const kind of kinds) {
      const examples = yamlBlocks(section(`#### \`${kind}\``)).flatMap((b) => parse(b) as unknown[]);
      assert.ok(examples.length >= 1);
      for (const ex of examples) {
        assert.ok(stepSchema.safeParse(ex).success, `${kind}: ${JSON.stringify(ex)}`);
        assert.ok(kind! in (ex as object), `the ${kind} example is a ${kind} step`);
      }
    }
  });

  it("the complete example is a valid curriculum, and the concept page example a valid concept page", async () => {
    const [complete] = yamlBlocks(section("### A complete example"));
    const res = curriculumFrontMatterSchema.safeParse(parse(splitFrontMatter("doc", complete!).yaml));
    assert.ok(res.success, JSON.stringify(res.error?.issues));
    const file = path.join(contentRoot, "curricula", "onboarding.md");
    writeFileSync(file, complete!);
    try {
      const loaded = await loadCurriculum(file, { contentRoot: path.join(projectRoot, "content") });
      assert.ok(loaded.ok, loaded.ok ? "" : JSON.stringify(loaded.errors));
    } finally {
      rmSync(file);
    }
    const [concept] = yamlBlocks(section("## Concept pages"));
    assert.match(concept!, /^---\nid: network-policies\n/);
  });
});
