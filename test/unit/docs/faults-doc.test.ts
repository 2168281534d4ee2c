import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { parseAllDocuments } from "yaml";
import { projectRoot } from "../../../server/paths.js";
import { faultKinds } from "../../../server/sim/faults/index.js";
import { faultSpecSchema } from "../../../server/sim/faults/schema.js";

const doc = readFileSync(path.join(projectRoot, "docs", "faults.md"), "utf8");

it("docs/faults.md has a section for every fault kind, and nothing else", () => {
  const sections = [...doc.matchAll(/^## `([a-z-]+)`$/gm)].map((m) => m[1]);
  assert.deepEqual(sections, faultKinds.map((k) => k.kind));
});

it("every example in docs/faults.md is a valid fault spec", () => {
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.equal(blocks.length, faultKinds.length);
  for (const block of blocks) {
    for (const d of parseAllDocuments(block)) {
      const items = d.toJS() as unknown[];
      for (const item of items) assert.equal(faultSpecSchema.safeParse(item).success, true, JSON.stringify(item));
    }
  }
});
