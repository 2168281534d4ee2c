/**
 * `writeup`: the trainee's write-up exists, is long enough, and mentions the terms that matter.
 *
 * @example
 * ```yaml
 * check: {writeup: {minWords: 150, mentions: [blackhole, kube_network_node_prefix, borrow]}}
 * ```
 *
 * Words are whitespace-separated runs holding at least one letter or digit (Markdown punctuation and
 * list bullets do not count). `mentions` are matched case-insensitively as substrings, with runs of
 * whitespace in the term matching any whitespace: "blackhole" is found in "Blackholed".
 * No write-up yet is "fail".
 */
import type { CheckResult, WriteupCheck } from "../schema.js";
import type { CheckKindModule } from "../types.js";

export function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
}

/** The terms of `mentions` the text does not contain. */
export function missingMentions(text: string, mentions: string[]): string[] {
  const hay = text.toLowerCase().replace(/\s+/g, " ");
  return mentions.filter((m) => !hay.includes(m.toLowerCase().trim().replace(/\s+/g, " ")));
}

export function judgeWriteup(spec: WriteupCheck, text: string | null): CheckResult {
  if (text === null || text.trim() === "") return { status: "fail", detail: "no write-up yet" };
  const words = countWords(text);
  const missing = missingMentions(text, spec.mentions);
  const problems: string[] = [];
  if (words < spec.minWords) problems.push(`${words} words, fewer than ${spec.minWords}`);
  if (missing.length > 0) problems.push(`no mention of ${missing.join(", ")}`);
  if (problems.length > 0) return { status: "fail", detail: `the write-up: ${problems.join("; ")}` };
  return { status: "pass", detail: `${words} words${spec.mentions.length ? `, mentions ${spec.mentions.join(", ")}` : ""}` };
}

export const writeup: CheckKindModule<"writeup"> = {
  kind: "writeup",
  describe: (spec) => `a write-up${spec.minWords ? ` of at least ${spec.minWords} words` : ""}${spec.mentions.length ? ` mentioning ${spec.mentions.join(", ")}` : ""}`,
  // Nothing in the sandbox announces a write-up: the web app saves it and calls
  // evaluateNow({ trigger: "writeup" }); the resync catches anything else.
  triggers: () => [{ type: "writeup" }],
  timeoutMs: () => 5000,
  run: async (spec, ctx) => judgeWriteup(spec, await ctx.writeup()),
};
