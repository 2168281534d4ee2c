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
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../../log.js";
import type { Store } from "../../store/index.js";

/** Default cap of one recording's output (bytes of text as written). */
export const RECORDING_MAX_BYTES = 128 * 1024 * 1024;

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

export class Recording {
  private bytes = 0;
  private truncated = false;
  private closed: Promise<void> | null = null;
  private failed = false;

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

  output(text: string): void {
    if (this.closed || this.failed || this.truncated) return;
    const max = this.opts.maxBytes ?? RECORDING_MAX_BYTES;
    if (this.bytes + text.length > max) {
      this.truncated = true;
      this.stream.write(JSON.stringify([this.at(), "m", `recording cut here: output over ${Math.round(max / 1048576)} MiB is not recorded`]) + "\n");
      return;
    }
    this.bytes += text.length;
    this.stream.write(JSON.stringify([this.at(), "o", text]) + "\n");
  }

  resize(cols: number, rows: number): void {
    if (this.closed || this.failed) return;
    this.stream.write(JSON.stringify([this.at(), "r", `${cols}x${rows}`]) + "\n");
  }

  /** Ends the file and records its size and end time. Safe to call twice. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await new Promise<void>((resolve) => this.stream.end(resolve));
      const now = this.opts.now ?? (() => new Date());
      await this.opts.store
        .updateRecording(this.rowId, { bytes: this.stream.bytesWritten, endedAt: now().toISOString() })
        .catch((e: unknown) => this.opts.log.error("recording.update_failed", { file: this.file, error: e }));
    })();
    return this.closed;
  }
}
