/**
 * A terminal's recording in asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
 * header line, then one JSON array per event, `[seconds, "o", text]` for output and
 * `[seconds, "r", "COLSxROWS"]` for a resize. The file is `<data dir>/recordings/<attempt>/<terminal>.cast`
 * (mode 0600); its row in the store (`recordings`) says where, for which target, and how large.
 * Output past `maxBytes` is not written; a marker event (`"m"`) says where the recording was cut.
 *
 * @example
 * const rec = await Recording.start({ store, dataDir, attemptId, terminalId, target: "node/cp-1", cols: 80, rows: 24 });
 * rec.output("$ ");
 * await rec.close();
 */
import { isAscii } from "node:buffer";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import type { Logger } from "../../log.js";
import type { Store } from "../../store/index.js";

/** Default cap of one recording's output (bytes the PTY gave). */
export const RECORDING_MAX_BYTES = 128 * 1024 * 1024;
/**
 * Events are written in batches: at most this long after the first of a batch, or once this many
 * bytes wait. One write per keystroke echo would cost a thread-pool round trip and an event-loop
 * wake-up each; a crash loses at most this much of the recording.
 */
const BATCH_MS = 200;
const BATCH_BYTES = 256 * 1024;
/**
 * Output is written as events of at most this many bytes: V8 puts strings over 128 KiB in its
 * large-object space, which only full (mark-compact) collections reclaim, and a 128 KiB frame's text
 * and JSON would be three such strings per frame.
 */
const EVENT_MAX_BYTES = 32 * 1024;

export interface RecordingStart {
  store: Store;
  dataDir: string;
  attemptId: string;
  terminalId: string;
  target: string;
  cols: number;
  rows: number;
  log: Logger;
  maxBytes?: number;
  now?: () => Date;
}

export function recordingPath(dataDir: string, attemptId: string, terminalId: string): string {
  return path.join(dataDir, "recordings", attemptId, `${terminalId}.cast`);
}

/**
 * An event's line as JSON.stringify([at, code, text]) + "\n" writes it, made as one Buffer: the line as
 * a string (a concatenation the stream would flatten, then encode) cost two more copies of the text,
 * and the garbage collector's work was as large as the escaping's. `encoding` is "latin1" only when
 * `text` is ASCII.
 */
function eventLine(at: number, code: string, text: string, encoding: "utf8" | "latin1"): Buffer {
  const head = `[${at},"${code}",`;
  const json = JSON.stringify(text);
  const size = encoding === "latin1" ? json.length : Buffer.byteLength(json, "utf8");
  const line = Buffer.allocUnsafe(head.length + size + 2);
  let end = line.write(head, 0, "latin1");
  end += line.write(json, end, encoding);
  line.write("]\n", end, "latin1");
  return line;
}

export class Recording {
  private bytes = 0;
  private truncated = false;
  private closed: Promise<void> | null = null;
  private failed = false;
  /** Output comes as bytes cut anywhere; a character split between two chunks is written whole, with the second. */
  private readonly decoder = new StringDecoder("utf8");
  /** Set while a batch is held (the stream is corked). */
  private batch: NodeJS.Timeout | null = null;

  private constructor(
    private readonly stream: WriteStream,
    private readonly rowId: number,
    private readonly startedMs: number,
    private readonly opts: RecordingStart,
    readonly file: string,
  ) {
    stream.on("error", (e) => {
      if (!this.failed) opts.log.error("recording.write_failed", { file, error: e });
      this.failed = true;
    });
  }

  static async start(opts: RecordingStart): Promise<Recording> {
    const now = opts.now ?? (() => new Date());
    const file = recordingPath(opts.dataDir, opts.attemptId, opts.terminalId);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const started = now();
    const row = await opts.store.addRecording({ attemptId: opts.attemptId, terminalId: opts.terminalId, target: opts.target, path: file, at: started.toISOString() });
    const stream = createWriteStream(file, { flags: "w", mode: 0o600 });
    const rec = new Recording(stream, row.id, started.getTime(), opts, file);
    stream.write(
      JSON.stringify({
        version: 2,
        width: opts.cols,
        height: opts.rows,
        timestamp: Math.floor(started.getTime() / 1000),
        title: opts.target,
        env: { TERM: "xterm-256color", SHELL: "/bin/bash" },
      }) + "\n",
    );
    return rec;
  }

  private at(): number {
    return Math.round((Date.now() - this.startedMs) * 1000) / 1e6;
  }

  output(data: Buffer): void {
    if (this.closed || this.failed || this.truncated) return;
    const max = this.opts.maxBytes ?? RECORDING_MAX_BYTES;
    if (this.bytes + data.length > max) {
      this.truncated = true;
      this.write(JSON.stringify([this.at(), "m", `recording cut here: output over ${Math.round(max / 1048576)} MiB is not recorded`]) + "\n");
      return;
    }
    this.bytes += data.length;
    const at = this.at();
    for (let from = 0; from < data.length; from += EVENT_MAX_BYTES) {
      const chunk = data.subarray(from, from + EVENT_MAX_BYTES);
      // Most output is ASCII (a vectorized check): its text is then its bytes, a one-byte string read
      // as latin1 without UTF-8 decoding, and its line, ASCII too, goes to the file as latin1 (a copy,
      // not an encoding). end() returns what the decoder held ("" nearly always: a character cut
      // before ASCII bytes is no character, and becomes U+FFFD as the decoder would have made it).
      const held = isAscii(chunk) ? this.decoder.end() : null;
      const text = held === null ? this.decoder.write(chunk) : held + chunk.toString("latin1");
      if (text) this.write(eventLine(at, "o", text, held === "" ? "latin1" : "utf8"));
    }
  }

  resize(cols: number, rows: number): void {
    if (this.closed || this.failed) return;
    this.write(JSON.stringify([this.at(), "r", `${cols}x${rows}`]) + "\n");
  }

  private write(line: string | Buffer): void {
    if (!this.batch) {
      this.stream.cork();
      this.batch = setTimeout(this.release, BATCH_MS);
      this.batch.unref();
    }
    this.stream.write(line);
    if (this.stream.writableLength >= BATCH_BYTES) this.release();
  }

  /** Writes the batch held (uncorks the stream). */
  private readonly release = (): void => {
    if (!this.batch) return;
    clearTimeout(this.batch);
    this.batch = null;
    this.stream.uncork();
  };

  /** Ends the file and records its size and end time. Safe to call twice. */
  close(): Promise<void> {
    if (!this.closed && !this.failed && !this.truncated) {
      // A character the output ended inside of (its last bytes never came).
      const rest = this.decoder.end();
      if (rest) this.write(eventLine(this.at(), "o", rest, "utf8"));
    }
    this.closed ??= (async () => {
      this.release();
      await new Promise<void>((resolve) => this.stream.end(resolve));
      const now = this.opts.now ?? (() => new Date());
      await this.opts.store
        .updateRecording(this.rowId, { bytes: this.stream.bytesWritten, endedAt: now().toISOString() })
        .catch((e: unknown) => this.opts.log.error("recording.update_failed", { file: this.file, error: e }));
    })();
    return this.closed;
  }
}
