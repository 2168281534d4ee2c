/**
 * What the browser tests share whichever library drives the browser (playwright-core for Chromium,
 * puppeteer-core for Firefox): the flagship's facts, reading the app's screen with scripts run in the
 * page (both libraries run a script given as a string, and this file is compiled without the DOM's
 * types), the console errors a run collects, and screenshots.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const FLAGSHIP = "webhook-to-kernel";
export const NODES = ["cp-1", "worker-1", "worker-2", "worker-3", "worker-4", "worker-5", "worker-6"];
/** The sim driver's provisioning phases (docs/server.md). */
const PHASES = ["prepare", "namespaces", "faults", "kubespray", "ipam", "network", "agents", "ready"];

/** The terminal of the selected tab (the others stay in the page, hidden). */
export const ACTIVE_TERMINAL = ".term-panel:not([hidden]) .xterm";

/** Every node of the flagship listed as Ready (`kubectl get nodes` on the screen). */
export function nodesReady(screen: string): boolean {
  return NODES.every((n) => new RegExp(`^${n}\\s+Ready`, "m").test(screen));
}

/** The names of the Ready nodes listed on the screen, sorted. */
export function readyNodes(screen: string): string[] {
  const rows = screen.split("\n").filter((l) => /^(cp-1|worker-\d)\s+Ready\s/.test(l));
  return rows.map((r) => r.split(/\s+/)[0]!).sort();
}

/**
 * Reads `read` every 100 ms until `ok` holds of what it read or `timeoutMs` has passed: the last
 * reading, and whether it held.
 */
export async function poll<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<{ value: T; ok: boolean }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return { value, ok: true };
    if (Date.now() >= end) return { value, ok: false };
    await sleep(100);
  }
}

/** A page of either library, as far as the shared code needs it: it runs a script and returns its value. */
export interface Evaluates {
  evaluate(script: string): Promise<unknown>;
}

export type ProgressEntry = { value: string | null; phase: string | null };

/** The lab page as both browsers' page models read it: the terminal's screen, the progress bar, text. */
export class LabScreen {
  constructor(private readonly target: Evaluates) {}

  /** The visible rows of the active terminal, as text ("" while there is none). */
  async screen(): Promise<string> {
    // xterm's DOM renderer draws each row as a div of spans; blanks are no-break spaces.
    const text = await this.text(`${ACTIVE_TERMINAL} .xterm-rows`);
    return (text ?? "").replace(/\u00a0/g, " ");
  }

  /** How many rows the active terminal has on screen (xterm draws every row, blank or not). */
  async screenRows(): Promise<number> {
    return Number(await this.target.evaluate(`document.querySelectorAll(${JSON.stringify(`${ACTIVE_TERMINAL} .xterm-rows > div`)}).length`));
  }

  async waitForScreen(test: RegExp | ((text: string) => boolean), timeoutMs = 30_000): Promise<string> {
    const check = typeof test === "function" ? test : (t: string) => test.test(t);
    const seen = await poll(() => this.screen().catch(() => ""), check, timeoutMs);
    if (seen.ok) return seen.value;
    throw new Error(`the terminal never showed ${String(test)}; it shows:\n${seen.value}`);
  }

  /** The rendered text of the first element `selector` matches, or null when there is none. */
  async text(selector: string): Promise<string | null> {
    return (await this.target.evaluate(`document.querySelector(${JSON.stringify(selector)})?.innerText ?? null`)) as string | null;
  }

  /** Records every value the progress bar shows from now on (it may come and go in a second). */
  async recordProgress(): Promise<void> {
    await this.target.evaluate(`(() => {
      const seen = (window.__progress = []);
      new MutationObserver(() => {
        const bar = document.querySelector('[role="progressbar"]');
        if (!bar) return;
        const current = document.querySelector('.phases [aria-current="step"]');
        const entry = { value: bar.getAttribute("aria-valuenow"), phase: current ? current.textContent : null };
        const last = seen[seen.length - 1];
        if (!last || last.value !== entry.value || last.phase !== entry.phase) seen.push(entry);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    })()`);
  }

  async progressSeen(): Promise<ProgressEntry[]> {
    return (await this.target.evaluate("window.__progress")) as ProgressEntry[];
  }

  /** Asserts that the progress bar was shown and moved through the driver's real phases. */
  async assertProgressShown(): Promise<void> {
    const seen = await this.progressSeen();
    assert.ok(seen.length > 0, "the progress bar was shown");
    const phases = new Set(seen.map((s) => s.phase).filter((p): p is string => !!p));
    assert.ok(phases.size >= 2, `it moved through the real phases: ${[...phases].join(", ")}`);
    for (const p of phases) assert.ok(PHASES.includes(p), p);
  }
}

/**
 * The console errors of a run (a CSP violation is one) and the page's uncaught errors. Feed it each
 * console message and page error (the test subscribes: the two libraries' `on` share no type); every
 * test file ends by asserting the list is empty.
 */
export class ErrorLog {
  readonly errors: string[] = [];

  console(m: { type(): string; text(): string }): void {
    // Asking who is signed in while signed out answers 401, which Chromium logs: expected.
    if (m.type() === "error" && !/status of 401/.test(m.text())) this.errors.push(m.text());
  }

  /** Puppeteer gives what was thrown, which need not be an Error. */
  pageError(e: unknown): void {
    this.errors.push(`page error: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Where to save the screenshot `name` (FAULTLINE_E2E_SHOTS=<dir>), or null when not asked for. */
export function shotPath(name: string): string | null {
  const dir = process.env.FAULTLINE_E2E_SHOTS;
  if (!dir) return null;
  mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}
