/**
 * A terminal on screen: xterm.js with the fit addon, connected to a TerminalStream (it knows nothing
 * of the transport). Output is acknowledged once xterm has parsed it (flow control); keystrokes,
 * pastes and size changes go to the stream. The page may claim a few key combinations first
 * (`onShortcut` returns true for the ones it handled), so a keyboard user can leave the terminal.
 */
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { formatBytes } from "../dom";
import type { TerminalExitInfo, TerminalStream } from "./stream";

export const THEME = {
  background: "#11161c",
  foreground: "#d8dee6",
  cursor: "#f0a830",
  selectionBackground: "#3b5068",
};

export class TerminalView {
  readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly observer: ResizeObserver;
  private stream: TerminalStream | null = null;
  private readonly onExitCb: ((e: TerminalExitInfo) => void) | null;
  exit: TerminalExitInfo | null = null;

  constructor(
    readonly element: HTMLElement,
    opts: { label: string; onShortcut?: (e: KeyboardEvent) => boolean; onExit?: (e: TerminalExitInfo) => void },
  ) {
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      // Room below the baseline, or the DOM renderer clips underscores.
      lineHeight: 1.2,
      scrollback: 10_000,
      theme: THEME,
      screenReaderMode: false,
    });
    this.term.loadAddon(this.fit);
    this.term.open(element);
    this.term.textarea?.setAttribute("aria-label", opts.label);
    if (opts.onShortcut) this.term.attachCustomKeyEventHandler((e) => !(e.type === "keydown" && opts.onShortcut!(e)));
    this.onExitCb = opts.onExit ?? null;
    this.observer = new ResizeObserver(() => this.fitNow());
    this.observer.observe(element);
    this.fitNow();
  }

  /** Columns and rows that fill the element (80x24 while it is hidden). */
  measure(): { cols: number; rows: number } {
    const d = this.fit.proposeDimensions();
    return d && d.cols > 1 && d.rows > 1 && Number.isFinite(d.cols) ? { cols: Math.min(500, d.cols), rows: Math.min(200, d.rows) } : { cols: 80, rows: 24 };
  }

  connect(stream: TerminalStream): void {
    this.stream = stream;
    stream.onOutput((data, done) => this.term.write(data, done));
    stream.onReset((lost) => {
      this.term.reset();
      this.term.write(`\x1b[2m[${formatBytes(lost)} of earlier output are no longer kept]\x1b[0m\r\n`);
    });
    stream.onExit((e) => {
      this.exit = e;
      this.term.write(`\r\n\x1b[2m[${e.reason === "exited" ? `the shell exited${e.code !== null ? ` (${e.code})` : ""}` : e.reason}]\x1b[0m\r\n`);
      this.onExitCb?.(e);
    });
    this.term.onData((d) => stream.input(d));
    this.term.onBinary((d) => stream.input(d));
    this.term.onResize(({ cols, rows }) => stream.resize(cols, rows));
    const { cols, rows } = this.measure();
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
    stream.resize(this.term.cols, this.term.rows);
  }

  /** Fits the terminal to its element (when visible). */
  fitNow(): void {
    if (!this.element.offsetParent) return;
    try {
      this.fit.fit();
    } catch {
      /* not laid out yet */
    }
  }

  /** Pastes as a user would (bracketed paste when the shell asks for it), then focuses. */
  paste(text: string): void {
    this.term.paste(text);
    this.term.focus();
  }

  focus(): void {
    this.term.focus();
  }

  dispose(): void {
    this.observer.disconnect();
    this.term.dispose();
    this.stream = null;
  }
}
