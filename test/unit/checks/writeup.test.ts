/** The write-up check: words, mentions, no write-up yet. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCheck } from "../../../server/checks/kinds/index.js";
import { countWords, missingMentions } from "../../../server/checks/kinds/writeup.js";
import { writeupCheckSchema, type CheckSpec } from "../../../server/checks/schema.js";
import { fakeContext } from "./support.js";

const writeup = (spec: Record<string, unknown>): CheckSpec => ({ writeup: writeupCheckSchema.parse(spec) });
const withText = (text: string | null) => fakeContext({ writeup: async () => text });

describe("writeup check", () => {
  it("counts words with a letter or digit; Markdown punctuation and bullets do not count", () => {
    assert.equal(countWords("# Cause\n\n- the `kube_network_nodes_prefix` typo -- a /24 won.\n"), 7);
    assert.equal(countWords("   "), 0);
  });

  it("mentions are case-insensitive substrings, whitespace-insensitive", () => {
    const text = "worker-3 Blackholed the block;\nthe node   prefix was wrong";
    assert.deepEqual(missingMentions(text, ["blackhole", "node prefix", "borrow"]), ["borrow"]);
  });

  it("no write-up, or an empty one, is 'not yet'", async () => {
    assert.deepEqual(await runCheck(writeup({ minWords: 10 }), withText(null)), { status: "fail", detail: "no write-up yet" });
    assert.deepEqual(await runCheck(writeup({}), withText("  \n")), { status: "fail", detail: "no write-up yet" });
  });

  it("says every shortfall at once; passes with the count", async () => {
    const spec = writeup({ minWords: 5, mentions: ["blackhole", "kube_network_node_prefix"] });
    assert.deepEqual(await runCheck(spec, withText("A blackhole route.")), {
      status: "fail",
      detail: "the write-up: 3 words, fewer than 5; no mention of kube_network_node_prefix",
    });
    assert.deepEqual(await runCheck(spec, withText("worker-3 had a blackhole route: kube_network_node_prefix was misspelled")), {
      status: "pass",
      detail: "8 words, mentions blackhole, kube_network_node_prefix",
    });
  });
});
