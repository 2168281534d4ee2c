/**
 * A terminal recording played back: an asciicast v2 file (the server writes one per terminal,
 * server/web/realtime/recording.ts) replayed into an xterm.js terminal of the recorded size. Controls:
 * play/pause, restart, speed (1x, 2x, 8x) and "skip pauses": a pause longer than 2 s is cut to half a
 * second, so a recording of someone thinking does not take as long to watch. Output (`o`) is written,
 * resizes (`r`, "COLSxROWS") resize the terminal, a marker (`m`, where the server cut a recording
 * that grew too large) is shown as a dim line; anything else is skipped.
 *
 * @example
 * const player = new CastPlayer(await (await fetch(url)).text(), { label: "Recording of cp-1" });
 * container.append(player.element);
 * player.mount();  // opens the terminal once the element is in the page
 * player.play();
 */
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { h } from "../dom";
import { THEME } from "./view";

export type CastEvent = [time: number, kind: string, data: string];

export interface Cast {
  width: number;
  height: number;
  title: string | null;
  events: CastEvent[];
}

/** Pauses longer than this are cut when skipping pauses... */
export const IDLE_OVER_S = 2;
/** ... to this. */
export const IDLE_CUT_TO_S = 0.5;
const SPEEDS = [1, 2, 8];
/** Events closer than this are written together (timers are not that precise anyway). */
const BATCH_MS = 8;
/** ... up to this much text, so a burst (a `cat` of a large file) does not freeze the page in one write. */
const MAX_WRITE = 256 * 1024;

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(n)));

/**
 * Parses an asciicast v2 file. The header must be there; an event line that does not parse (a
 * recording read while being written ends mid-line) is skipped, as is anything after it that goes
 * back in time.
 */
export function parseCast(text: string): Cast {
  const lines = text.split("\n");
  let header: unknown;
  try {
    header = JSON.parse(lines[0] ?? "");
  } catch {
    throw new Error("not an asciicast recording: the first line is not JSON");
  }
  const hd = header as { version?: unknown; width?: unknown; height?: unknown; title?: unknown };
  if (hd.version !== 2 || typeof hd.width !== "number" || typeof hd.height !== "number") throw new Error("not an asciicast v2 recording");
  const events: CastEvent[] = [];
  let last = 0;
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as unknown;
      if (!Array.isArray(e) || typeof e[0] !== "number" || typeof e[1] !== "string" || typeof e[2] !== "string" || e[0] < last) continue;
      last = e[0];
      events.push([e[0], e[1], e[2]]);
    } catch {
      /* a line cut short: skipped */
    }
  }
  return { width: clamp(hd.width, 2, 500), height: clamp(hd.height, 2, 200), title: typeof hd.title === "string" ? hd.title : null, events };
}

/** "1:05" */
function clock(s: number): string {
  const t = Math.floor(s);
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")}`;
}

export class CastPlayer {
  readonly element: HTMLElement;
  private readonly screen: HTMLElement;
  private readonly playButton: HTMLButtonElement;
  private readonly time: HTMLElement;
  private readonly bar: HTMLProgressElement;
  private term: Terminal | null = null;
  /** The next event to play. */
  private next = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The wait for the next event: when it began and how long it is (ms), to resume a pause where it was. */
  private wait: { since: number; ms: number } | null = null;
  private remainingMs: number | null = null;
  private speed = 1;
  private skipIdle = false;
  private readonly duration: number;

  constructor(
    private readonly cast: Cast,
    opts: { label: string },
  ) {
    this.duration = cast.events.at(-1)?.[0] ?? 0;
    this.screen = h("div", { class: "player-screen", "aria-label": opts.label, role: "group" });
    this.playButton = h("button", { type: "button", class: "primary", onclick: () => this.toggle() }, "Play");
    this.time = h("span", { class: "player-time", "aria-live": "off" });
    this.bar = h("progress", { max: Math.max(1, cast.events.length), value: 0, "aria-label": "Position in the recording" });
    const speed = h(
      "select",
      { "aria-label": "Speed", onchange: (e) => this.setSpeed(Number((e.target as HTMLSelectElement).value)) },
      SPEEDS.map((s) => h("option", { value: String(s) }, `${s}x`)),
    );
    const skip = h("input", { type: "checkbox", onchange: (e) => this.setSkipIdle((e.target as HTMLInputElement).checked) });
    this.element = h(
      "div",
      { class: "player" },
      h(
        "div",
        { class: "player-controls" },
        this.playButton,
        h("button", { type: "button", onclick: () => this.restart() }, "Restart"),
        speed,
        h("label", { class: "player-skip" }, skip, ` Skip pauses over ${IDLE_OVER_S} s`),
        this.bar,
        this.time,
      ),
      this.screen,
    );
    this.showTime(0);
  }

  /** Opens the terminal: call once the element is in the page (xterm measures its font there). */
  mount(): void {
    if (this.term) return;
    this.term = new Terminal({
      cols: this.cast.width,
      rows: this.cast.height,
      disableStdin: true,
      cursorBlink: false,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
      fontSize: 13,
      lineHeight: 1.2,
      scrollback: 5000,
      theme: THEME,
    });
    this.term.open(this.screen);
  }

  /** Focuses the play/pause button. */
  focus(): void {
    this.playButton.focus({ preventScroll: true });
  }

  get playing(): boolean {
    return this.timer !== null;
  }

  toggle(): void {
    if (this.playing) this.pause();
    else this.play();
  }

  play(): void {
    this.mount();
    if (this.playing) return;
    if (this.next >= this.cast.events.length) this.rewind();
    this.playButton.textContent = "Pause";
    const resume = this.remainingMs;
    this.remainingMs = null;
    this.schedule(resume ?? this.gapBefore(this.next));
  }

  pause(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.wait) this.remainingMs = Math.max(0, this.wait.ms - (performance.now() - this.wait.since));
    this.wait = null;
    this.playButton.textContent = "Play";
  }

  restart(): void {
    const was = this.playing;
    this.pause();
    this.rewind();
    if (was) this.play();
  }

  setSpeed(speed: number): void {
    this.speed = SPEEDS.includes(speed) ? speed : 1;
    this.reschedule();
  }

  setSkipIdle(on: boolean): void {
    this.skipIdle = on;
    this.reschedule();
  }

  dispose(): void {
    this.pause();
    this.term?.dispose();
    this.term = null;
  }

  /** After a change of speed or skipping: the current wait starts over with the new rule. */
  private reschedule(): void {
    if (!this.playing) {
      this.remainingMs = null;
      return;
    }
    this.pause();
    this.remainingMs = null;
    this.play();
  }

  private rewind(): void {
    this.next = 0;
    this.remainingMs = null;
    this.term?.reset();
    if (this.term && (this.term.cols !== this.cast.width || this.term.rows !== this.cast.height)) this.term.resize(this.cast.width, this.cast.height);
    this.bar.value = 0;
    this.showTime(0);
  }

  /** The wait before event `i`, in ms of playback. */
  private gapBefore(i: number): number {
    const e = this.cast.events[i];
    if (!e) return 0;
    let gap = e[0] - (this.cast.events[i - 1]?.[0] ?? 0);
    if (this.skipIdle && gap > IDLE_OVER_S) gap = IDLE_CUT_TO_S;
    return (gap * 1000) / this.speed;
  }

  private schedule(ms: number): void {
    this.wait = { since: performance.now(), ms };
    this.timer = setTimeout(() => this.step(), ms);
  }

  /** Plays event `next` and the ones due within BATCH_MS after it, then waits for the one after. */
  private step(): void {
    const term = this.term;
    if (!term) return;
    let out = "";
    let budget = BATCH_MS;
    do {
      const [, kind, data] = this.cast.events[this.next]!;
      if (kind === "o") out += data;
      else {
        if (out) term.write(out);
        out = "";
        if (kind === "r") {
          const m = /^(\d+)x(\d+)$/.exec(data);
          if (m) term.resize(clamp(Number(m[1]), 2, 500), clamp(Number(m[2]), 2, 200));
        } else if (kind === "m") term.write(`\r\n\x1b[2m[${data}]\x1b[0m\r\n`);
      }
      this.next++;
      if (this.next >= this.cast.events.length) break;
      budget -= this.gapBefore(this.next);
    } while (budget >= 0 && out.length < MAX_WRITE);
    if (out) term.write(out);
    this.bar.value = this.next;
    this.showTime(this.cast.events[this.next - 1]?.[0] ?? 0);
    if (this.next >= this.cast.events.length) {
      this.timer = null;
      this.wait = null;
      this.playButton.textContent = "Replay";
      return;
    }
    this.schedule(this.gapBefore(this.next));
  }

  private showTime(at: number): void {
    this.time.textContent = `${clock(at)} / ${clock(this.duration)}`;
  }
}
