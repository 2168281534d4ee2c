/**
 * docs/lab-format.md is the lab authors' reference: it must document every key and every check kind
 * the schema has, in the schema's order, and every example on it must be valid.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { CHECK_KINDS, objectiveSchema } from "../../../server/checks/schema.js";
import { splitFrontMatter } from "../../../server/labs/lab.js";
import { LAB_KEYS, labFrontMatterSchema } from "../../../server/labs/schema.js";
import { projectRoot } from "../../../server/paths.js";

const doc = readFileSync(path.join(projectRoot, "docs", "lab-format.md"), "utf8");

/** The text of the `## <title>` section, up to the next `## `. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `docs/lab-format.md has a section "## ${title}"`);
  const end = doc.indexOf("\n## ", start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** `### \`name\`` subsections of `text`, each with its YAML examples. */
function subsections(text: string): Array<{ name: string; examples: unknown[] }> {
  return text
    .split(/\n### /)
    .slice(1)
    .map((part) => ({
      name: /^`([a-zA-Z-]+)`\n/.exec(part)?.[1] ?? part.split("\n")[0]!,
      examples: [...part.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as unknown),
    }));
}

describe("docs/lab-format.md", () => {
  it("has a subsection for every front matter key, in the schema's order, each with a valid example", () => {
    const keys = subsections(section("Keys"));
    assert.deepEqual(keys.map((k) => k.name), LAB_KEYS);
    for (const { name, examples } of keys) {
      assert.ok(examples.length >= 1, `an example for ${name}`);
      for (const ex of examples) {
        assert.deepEqual(Object.keys(ex as object), [name], `the example of ${name} sets ${name} only`);
        const res = labFrontMatterSchema.shape[name as (typeof LAB_KEYS)[number]].safeParse((ex as Record<string, unknown>)[name]);
        assert.ok(res.success, `${name}: ${JSON.stringify(res.error?.issues)}`);
      }
    }
  });

  it("lists every key in the keys table", () => {
    const rows = [...section("Keys").matchAll(/^\| `([a-zA-Z]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(rows, LAB_KEYS);
  });

  it("has a subsection for every check kind, each with valid objectives using that kind", () => {
    const kinds = subsections(section("Checks"));
    assert.deepEqual(kinds.map((k) => k.name), CHECK_KINDS);
    for (const { name, examples } of kinds) {
      const objectives = examples.flatMap((ex) => ex as unknown[]);
      assert.ok(objectives.length >= 1, `an example for ${name}`);
      for (const o of objectives) {
        const res = objectiveSchema.safeParse(o);
        assert.ok(res.success, `${name}: ${JSON.stringify(res.error?.issues)}`);
      }
      assert.ok(objectives.some((o) => Object.keys((o as { check: object }).check)[0] === name), `an example of ${name} checks with ${name}`);
    }
  });

  it("the complete example is a valid front matter", () => {
    const block = /```yaml\n(---\n[\s\S]*?)```/.exec(section("A complete example"))?.[1];
    assert.ok(block);
    const res = labFrontMatterSchema.safeParse(parse(splitFrontMatter("doc", block).yaml));
    assert.ok(res.success, JSON.stringify(res.error?.issues));
  });

  it("documents `lab validate` and `lab test`", () => {
    const text = section("Validate and test");
    for (const cmd of ["faultline lab validate", "faultline lab ls", "faultline lab test <id>|--all"]) assert.ok(text.includes(cmd), cmd);
  });
});
