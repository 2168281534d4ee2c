import { LineCounter, isMap, isNode, isScalar, parseDocument, type Document } from "yaml";
import { FaultlineError } from "../errors.js";

/** A YAML document that remembers where each value came from, so errors can say file:line:column. */
export interface LocatedYaml {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** Line offset of the document inside its file (front matter starts after the first `---`). */
  lineOffset: number;
}

/** A YAML syntax error, located in the file (not in the front matter). */
export interface YamlSyntaxError {
  location: string;
  message: string;
}

export const YAML_SYNTAX_HINT = "fix the YAML syntax at that position (indentation, a missing colon or an unclosed quote are the usual causes)";

/** Parses `text`; every syntax error is returned (not thrown), each at its file:line:column. */
export function readLocatedYaml(file: string, text: string, lineOffset = 0): { y: LocatedYaml; errors: YamlSyntaxError[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const errors = doc.errors.map((e) => {
    const pos = lines.linePos(e.pos[0]);
    return { location: `${file}:${pos.line + lineOffset}:${pos.col}`, message: `not valid YAML: ${e.message.split("\n")[0]}` };
  });
  return { y: { file, doc, lines, lineOffset }, errors };
}

/** Parses `text`; the first syntax error is thrown as a located FaultlineError. */
export function parseLocatedYaml(file: string, text: string, lineOffset = 0): LocatedYaml {
  const { y, errors } = readLocatedYaml(file, text, lineOffset);
  const first = errors[0];
  if (first) throw new FaultlineError(`${first.location}: ${first.message}`, YAML_SYNTAX_HINT);
  return y;
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

/** file:line:column of the key `key` of the mapping at `path` (where a typo in a key name is). */
export function locateKey(y: LocatedYaml, path: ReadonlyArray<string | number>, key: string): string {
  const map = path.length === 0 ? y.doc.contents : y.doc.getIn(path, true);
  const pair = isMap(map) ? map.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
  if (pair && isNode(pair.key) && pair.key.range) {
    const pos = y.lines.linePos(pair.key.range[0]);
    return `${y.file}:${pos.line + y.lineOffset}:${pos.col}`;
  }
  return locate(y, path);
}
