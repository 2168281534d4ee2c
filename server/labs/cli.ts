/**
 * `faultline lab validate` and `faultline lab ls`: what they print, kept apart from main.ts's argument
 * handling so the output can be tested without a process.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { shown } from "./files.js";
import { labDir, loadLab, type LabLoadResult, type LabProblem, type LoadOptions } from "./lab.js";
import { labFolders, loadAllLabs } from "./registry.js";

/** `<file>:<line>:<col>: <message>` and `  fix: <hint>` under it, one problem after the other. */
export function formatProblems(problems: readonly LabProblem[]): string {
  return problems.map((p) => `${p.location}: ${p.message}\n  fix: ${p.hint}\n`).join("");
}

/** 5400000 → "90m": the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) if (ms && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * The lab folders `args` name: a lab folder (or its README.md), a bare id under labs/, or a folder of
 * labs (no README.md of its own), which stands for each lab in it. No args: every folder in labs/.
 */
export async function labArgs(args: readonly string[], opts: LoadOptions = {}): Promise<string[]> {
  if (!args.length) return labFolders(opts.labsRoot);
  const dirs: string[] = [];
  for (const arg of args) {
    const p = path.basename(arg) === "README.md" ? path.dirname(arg) : arg;
    const isFolder = existsSync(p) && statSync(p).isDirectory();
    if (isFolder && !existsSync(path.join(p, "README.md"))) {
      const inside = (await labFolders(path.resolve(p))).filter((d) => existsSync(path.join(d, "README.md")));
      if (inside.length) {
        dirs.push(...inside);
        continue;
      }
    }
    dirs.push(isFolder ? path.resolve(p) : labDir(p, opts.labsRoot));
  }
  return dirs;
}

/** Validates the labs `args` name; prints every problem and a summary. Exit code 1 on any problem. */
export async function validateLabs(args: readonly string[], write: (text: string) => void, opts: LoadOptions = {}): Promise<number> {
  const results: LabLoadResult[] = await Promise.all((await labArgs(args, opts)).map((dir) => loadLab(dir, opts)));
  let problems = 0;
  for (const r of results) {
    if (r.ok) continue;
    write(formatProblems(r.errors));
    problems += r.errors.length;
  }
  const invalid = results.filter((r) => !r.ok).length;
  write(
    results.length === 0
      ? "no labs found\n"
      : `${plural(results.length, "lab")} checked: ${results.length - invalid} valid, ${invalid} invalid${problems ? ` (${plural(problems, "problem")})` : ""}\n`,
  );
  return invalid ? 1 : 0;
}

/** The bundled labs as a table: id, level, duration, title; invalid labs marked with the way to see why. */
export async function listLabs(write: (text: string) => void, opts: LoadOptions = {}): Promise<number> {
  const { labs, invalid } = await loadAllLabs(opts);
  const rows: string[][] = [
    ...labs.map((l) => [l.id, l.level, formatDuration(l.duration), l.title]),
    ...invalid.map((l) => [path.basename(l.dir), "-", "-", `INVALID: ${plural(l.errors.length, "problem")}, see \`faultline lab validate ${shown(l.dir)}\``]),
  ].sort((a, b) => a[0]!.localeCompare(b[0]!));
  if (!rows.length) return write("no labs\n"), 0;
  const table = [["ID", "LEVEL", "DURATION", "TITLE"], ...rows];
  const widths = [0, 1, 2].map((c) => Math.max(...table.map((r) => r[c]!.length)));
  write(table.map((r) => r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]!) : cell)).join("  ")).join("\n") + "\n");
  return 0;
}
