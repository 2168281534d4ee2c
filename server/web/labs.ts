/**
 * The labs the server offers: the registry (server/labs/registry.ts) loaded once at start, with each
 * lab's instructions rendered once. What leaves through the API is a view: no solutions, no check
 * definitions (they would give the answers away), no hint texts until revealed.
 */
import { formatDuration } from "../labs/cli.js";
import type { Lab } from "../labs/lab.js";
import type { LabRegistry } from "../labs/registry.js";
import { renderMarkdown, type CodeBlock } from "./markdown.js";

export interface LabSummary {
  id: string;
  title: string;
  summary: string;
  level: string;
  /** Milliseconds, and as written in the lab (`90m`). */
  durationMs: number;
  duration: string;
  tags: string[];
  objectives: number;
}

export interface LabDetail extends LabSummary {
  objectives: number;
  objectiveList: Array<{ id: string; title: string }>;
  /** Hints without their text: when each opens (ms after the start; null: whenever asked). */
  hints: Array<{ index: number; afterMs: number | null }>;
  writeupPrompt: string | null;
  /** Sanitized HTML of the instructions (markdown.ts). */
  html: string;
  codeBlocks: CodeBlock[];
}

export class LabCatalog {
  private readonly byId = new Map<string, { lab: Lab; detail: LabDetail }>();

  constructor(readonly registry: LabRegistry) {
    for (const lab of registry.labs) this.byId.set(lab.id, { lab, detail: detail(lab) });
  }

  list(): LabSummary[] {
    return [...this.byId.values()].map(({ detail: d }) => summary(d)).sort((a, b) => a.id.localeCompare(b.id));
  }

  detail(id: string): LabDetail | undefined {
    return this.byId.get(id)?.detail;
  }

  lab(id: string): Lab | undefined {
    return this.byId.get(id)?.lab;
  }
}

function summary(d: LabDetail): LabSummary {
  return { id: d.id, title: d.title, summary: d.summary, level: d.level, durationMs: d.durationMs, duration: d.duration, tags: d.tags, objectives: d.objectives };
}

function detail(lab: Lab): LabDetail {
  const { html, codeBlocks } = renderMarkdown(lab.body);
  return {
    id: lab.id,
    title: lab.title,
    summary: lab.summary,
    level: lab.level,
    durationMs: lab.duration,
    duration: formatDuration(lab.duration),
    tags: lab.tags,
    objectives: lab.objectives.length,
    objectiveList: lab.objectives.map((o) => ({ id: o.id, title: o.title })),
    hints: lab.hints.map((h, index) => ({ index, afterMs: h.after ?? null })),
    writeupPrompt: lab.writeup ?? null,
    html,
    codeBlocks,
  };
}
