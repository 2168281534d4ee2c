import { LineCounter, isNode, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { FaultlineError } from "../errors.js";

/** A YAML document that remembers where each value came from, so errors can say file:line:column. */
export interface LocatedYaml {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** Line offset of the document inside its file (front matter starts after the first `---`). */
  lineOffset: number;
}

export function parseLocatedYaml(file: string, text: string, lineOffset = 0): LocatedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    throw new FaultlineError(
      `${file}:${pos.line + lineOffset}:${pos.col}: not valid YAML: ${first.message.split("\n")[0]}`,
      "fix the YAML syntax at that position (indentation, a missing colon or an unclosed quote are the usual causes)",
    );
  }
  return { file, doc, lines, lineOffset };
}

/** file:line:column of the value at `path`, or of its closest existing parent. */
export function locate(y: LocatedYaml, path: ReadonlyArray<string | number>): string {
  for (let n = path.length; n >= 0; n--) {
    const node = path.length === 0 ? y.doc.contents : y.doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = y.lines.linePos(node.range[0]);
      return `${y.file}:${pos.line + y.lineOffset}:${pos.col}`;
    }
  }
  return `${y.file}:${1 + y.lineOffset}:1`;
}

/** Validates `y` against `schema`; the first issue becomes a FaultlineError pointing at its position. */
export function parseWithSchema<T>(y: LocatedYaml, schema: z.ZodType<T>, hint: string): T {
  const res = schema.safeParse(y.doc.toJS());
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const where = locate(y, issue.path.filter((p): p is string | number => typeof p !== "symbol"));
  const field = issue.path.length ? issue.path.join(".") : "(top level)";
  throw new FaultlineError(`${where}: ${field}: ${issue.message}`, hint);
}
