/**
 * A web terminal's output path without a sandbox: a fake PTY feeding Terminal (coalescing, frame
 * size, flow control, detach and replay), the ReplayBuffer's trimming, and Recording's asciicast
 * file (batched writes, UTF-8 characters cut between reads, the size cap).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { IPty } from "@lydell/node-pty";
import { createLogger } from "../../../server/log.js";
import type { Store } from "../../../server/store/index.js";
import { Recording } from "../../../server/web/realtime/recording.js";
import { ReplayBuffer } from "../../../server/web/realtime/replay.js";
import { Terminal, type TerminalSink, type TerminalTuning } from "../../../server/web/realtime/terminal.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = createLogger({}, { level: "error" });

/** The part of IPty a Terminal uses; `emit` plays the shell's output, as a binary PTY gives it. */
class FakePty {
  paused = false;
  written: string[] = [];
  private data: Array<(d: Buffer) => void> = [];
  private exit: Array<(e: { exitCode: number; signal?: number }) => void> = [];
  onData(fn: (d: Buffer) => void) {
    this.data.push(fn);
    return { dispose() {} };
  }
  onExit(fn: (e: { exitCode: number; signal?: number }) => void) {
    this.exit.push(fn);
    return { dispose() {} };
  }
  emit(d: string | Buffer): void {
    for (const fn of this.data) fn(typeof d === "string" ? Buffer.from(d) : d);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  write(d: string): void {
    this.written.push(d);
  }
  resize(): void {}
  kill(): void {
    for (const fn of this.exit) fn({ exitCode: 0 });
  }
}

/** A sink that keeps the frames it gets, with their arrival time. */
class Frames implements TerminalSink {
  frames: Array<{ seq: number; data: Buffer; at: number }> = [];
  exits: string[] = [];
  output(f: { terminalId: string; seq: number; data: Buffer }): void {
    this.frames.push({ seq: f.seq, data: f.data, at: performance.now() });
  }
  exit(m: { reason: string }): void {
    this.exits.push(m.reason);
  }
  detached(): void {}
  get bytes(): Buffer {
    return Buffer.concat(this.frames.map((f) => f.data));
  }
  get end(): number {
    const last = this.frames.at(-1);
    return last ? last.seq + last.data.length : 0;
  }
}

function terminal(tuning: Partial<TerminalTuning> = {}): { pty: FakePty; term: Terminal } {
  const pty = new FakePty();
  const full: TerminalTuning = { replayBytes: 1 << 20, highBytes: 1 << 20, lowBytes: 1 << 19, frameMaxBytes: 64 * 1024, coalesceMs: 40, ...tuning };
  const term = new Terminal("0".repeat(24), "a".repeat(24), "u", "node/cp-1", pty as unknown as IPty, null, { cols: 80, rows: 24 }, full);
  return { pty, term };
}

describe("Terminal output", () => {
  it("sends the first output after a quiet moment at once, and what follows within coalesceMs as one frame", async () => {
    // A long window, so that a slow machine's timers cannot blur what is held and what is not.
    const { pty, term } = terminal({ coalesceMs: 300 });
    const sink = new Frames();
    term.attach(sink, 0);
    const t0 = performance.now();
    pty.emit("a");
    pty.emit("b"); // read in the same turn of the event loop: the same frame
    await sleep(5);
    assert.deepEqual(sink.frames.map((f) => f.data.toString()), ["ab"]);
    assert.ok(sink.frames[0]!.at - t0 < 100, "echo is not held");
    pty.emit("c");
    await sleep(5);
    pty.emit("d");
    await sleep(5);
    assert.equal(sink.frames.length, 1, "held within the window");
    await sleep(400);
    assert.deepEqual(sink.frames.map((f) => f.data.toString()), ["ab", "cd"]);
    assert.ok(sink.frames[1]!.at - sink.frames[0]!.at >= 290, "one frame per window");
    // Quiet for longer than the window: the next output leaves at once again.
    await sleep(350);
    const t1 = performance.now();
    pty.emit("e");
    await sleep(5);
    assert.equal(sink.frames.at(-1)!.data.toString(), "e");
    assert.ok(sink.frames.at(-1)!.at - t1 < 100);
    assert.deepEqual(sink.frames.map((f) => f.seq), [0, 2, 4]);
    await term.close("done");
  });

  it("never sends a frame over frameMaxBytes, and cuts before the read that would overflow it", async () => {
    const { pty, term } = terminal({ frameMaxBytes: 4096, coalesceMs: 1000 });
    const sink = new Frames();
    term.attach(sink, 0);
    pty.emit(Buffer.alloc(10, 0x2e)); // leaves at once (first output)
    await sleep(5);
    for (let i = 0; i < 10; i++) pty.emit(Buffer.alloc(1000, 0x41 + i));
    // 10 + 4 x 1000 > 4096: the first frame of the burst holds 4 reads, the second 4, the third 2 (after the window).
    assert.deepEqual(sink.frames.map((f) => f.data.length), [10, 4000, 4000]);
    await term.close("done");
    assert.deepEqual(sink.frames.map((f) => f.data.length), [10, 4000, 4000, 2000]);
    assert.equal(sink.bytes.length, 10_010);
    assert.deepEqual(sink.exits, ["done"]);
    let at = 0;
    for (const f of sink.frames) {
      assert.equal(f.seq, at, "frames are contiguous");
      at += f.data.length;
    }
  });

  it("pauses the PTY above highBytes unacknowledged and resumes below lowBytes; others' acks do not count", async () => {
    const { pty, term } = terminal({ highBytes: 8192, lowBytes: 4096, frameMaxBytes: 2048, coalesceMs: 1 });
    const sink = new Frames();
    const stranger = new Frames();
    term.attach(sink, 0);
    for (let i = 0; i < 9 && !pty.paused; i++) pty.emit(Buffer.alloc(1024, 0x79));
    assert.ok(pty.paused, "paused");
    assert.equal(term.outstanding, 9 * 1024);
    assert.equal(sink.end, 9 * 1024, "what was read went out when pausing");
    term.ack(stranger, sink.end);
    assert.ok(pty.paused, "a socket not attached cannot resume it");
    term.ack(sink, 5 * 1024);
    assert.ok(pty.paused, "4 KiB outstanding is not below lowBytes");
    term.ack(sink, 5 * 1024 + 1);
    assert.ok(!pty.paused, "resumed");
    term.ack(sink, 1e9);
    assert.equal(term.outstanding, 0, "an ack past what was sent counts up to what was sent");
    await term.close("done");
  });

  it("keeps a detached terminal's output for the next attach, which gets exactly what it had not", async () => {
    const { pty, term } = terminal({ highBytes: 4096, lowBytes: 1024, coalesceMs: 1 });
    const first = new Frames();
    term.attach(first, 0);
    pty.emit("hello ");
    await sleep(5);
    term.ack(first, first.end);
    term.detach(first);
    for (let i = 0; i < 10 && !pty.paused; i++) pty.emit(Buffer.alloc(1000, 0x30 + i));
    assert.ok(pty.paused, "nobody acknowledges a detached terminal: it stops");
    const second = new Frames();
    const replay = term.attach(second, first.end);
    assert.deepEqual(replay, { from: 6, lost: 0 });
    term.flush();
    assert.equal(second.frames[0]!.seq, 6);
    assert.equal(second.bytes.length, term.info().end - 6);
    assert.equal(Buffer.concat([first.bytes, second.bytes]).toString().slice(0, 7), "hello 0");
    await term.close("done");
  });
});

describe("ReplayBuffer", () => {
  it("trims whole chunks; a replay after a gap skips a UTF-8 character's remaining bytes, one without a gap skips nothing", () => {
    const buf = new ReplayBuffer(7);
    buf.push(Buffer.from("abcd"));
    const euro = Buffer.from("€x"); // e2 82 ac 78
    buf.push(Buffer.concat([Buffer.from("ef"), euro.subarray(0, 1)])); // "ef" + the euro's first byte
    buf.push(euro.subarray(1)); // its last two bytes, and "x"
    assert.equal(buf.end, 10);
    assert.equal(buf.size, 6, "the first chunk went");
    assert.equal(buf.start, 4);
    buf.push(Buffer.from("yz"));
    assert.equal(buf.size, 5, "the second chunk went: the oldest kept begins inside the euro sign");
    assert.equal(buf.start, 7);
    const { from, frames } = buf.slice(0);
    assert.equal(from, 9, "after a gap, its two continuation bytes are skipped");
    assert.equal(Buffer.concat(frames.map((f) => f.data)).toString(), "xyz");
    // A client that has the euro's first byte (offset 6) is missing exactly the rest: nothing is skipped.
    const resumed = buf.slice(7);
    assert.equal(resumed.from, 7);
    assert.deepEqual(Buffer.concat(resumed.frames.map((f) => f.data)), Buffer.concat([euro.subarray(1), Buffer.from("yz")]));
    assert.equal(buf.slice(8).from, 8);
    assert.equal(buf.resumeAt(99), 12, "clamped to the end");
    assert.deepEqual(buf.slice(10, 1).frames.map((f) => [f.seq, f.data.toString()]), [[10, "y"], [11, "z"]]);
  });
});

describe("Recording", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-rec-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const updates: Array<{ bytes?: number; endedAt?: string | null }> = [];
  const store = {
    addRecording: async () => ({ id: 1 }),
    updateRecording: async (_id: number, patch: { bytes?: number; endedAt?: string | null }) => void updates.push(patch),
  } as unknown as Store;
  const lines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as unknown);

  it("writes asciicast v2 in batches, with a character cut between two reads written whole", async () => {
    const rec = await Recording.start({ store, dataDir: dir, attemptId: "a1", terminalId: "t1", target: "node/cp-1", cols: 80, rows: 24, log });
    const text = Buffer.from('$ echo "ünïcode ─ \x1b[1mbold\x1b[0m"\r\n');
    const cut = 9; // inside "ü"
    rec.output(text.subarray(0, cut));
    rec.output(text.subarray(cut));
    rec.resize(100, 30);
    await sleep(20);
    // The file may not even be open yet on a busy machine (the stream opens it asynchronously).
    assert.ok(!existsSync(rec.file) || lines(rec.file).length <= 1, "events wait for their batch (at most the header is written)");
    await rec.close();
    const [header, ...events] = lines(rec.file) as [Record<string, unknown>, ...Array<[number, string, string]>];
    assert.equal(header.version, 2);
    assert.equal(header.width, 80);
    assert.deepEqual(events.map((e) => e[1]), ["o", "o", "r"]);
    assert.equal(events.filter((e) => e[1] === "o").map((e) => e[2]).join(""), text.toString());
    assert.equal(events[0]![2], '$ echo "', "the cut character went with the second read");
    assert.equal(events[2]![2], "100x30");
    assert.ok(events.every((e) => typeof e[0] === "number" && e[0] >= 0));
    assert.equal(updates.at(-1)?.bytes, readFileSync(rec.file).length);
  });

  it("writes a large output as several events, whole characters each, that join to the same text", async () => {
    const rec = await Recording.start({ store, dataDir: dir, attemptId: "a1", terminalId: "t3", target: "node/cp-1", cols: 80, rows: 24, log });
    const text = "─é€x".repeat(12_000); // 1 to 3 bytes a character, so events are cut inside characters
    const data = Buffer.from(text);
    assert.ok(data.length > 3 * 32 * 1024);
    rec.output(data);
    await rec.close();
    const events = lines(rec.file).slice(1) as Array<[number, string, string]>;
    assert.ok(events.length >= 4, `${events.length} events`);
    assert.ok(events.every((e) => e[1] === "o" && Buffer.byteLength(e[2]) <= 32 * 1024 + 3 && !e[2].includes("\ufffd")));
    assert.equal(events.map((e) => e[2]).join(""), text);
  });

  it("records ASCII, UTF-8 and a character cut before ASCII as the same JSON the text would give", async () => {
    const rec = await Recording.start({ store, dataDir: dir, attemptId: "a1", terminalId: "t6", target: "node/cp-1", cols: 80, rows: 24, log });
    const euro = Buffer.from("€");
    const reads = [
      Buffer.from('plain "quoted" \\ back\tslash\x7f\x00\x1b[0m\r\n'), // ASCII with everything JSON escapes, and DEL
      Buffer.from("ünïcode ─\r\n"),
      euro.subarray(0, 2), // a character's first bytes ...
      Buffer.from("ascii after a cut\r\n"), // ... never completed: U+FFFD, as a decoder makes it
      Buffer.concat([Buffer.from("x"), euro.subarray(0, 1)]),
      euro.subarray(1), // completed by the next read: written whole
      Buffer.from([0xff, 0x41]), // not UTF-8 at all
    ];
    for (const r of reads) rec.output(r);
    await rec.close();
    const raw = readFileSync(rec.file, "utf8");
    const events = lines(rec.file).slice(1) as Array<[number, string, string]>;
    assert.ok(events.every((e) => e[1] === "o"));
    assert.equal(events.map((e) => e[2]).join(""), Buffer.concat(reads).toString("utf8"), "the text a UTF-8 decoder gives");
    assert.equal(events[0]![2], reads[0]!.toString("latin1"));
    assert.equal(events[2]![2], "\ufffdascii after a cut\r\n");
    // Line by line what JSON.stringify writes.
    for (const [i, line] of raw.split("\n").filter(Boolean).slice(1).entries()) assert.equal(line, JSON.stringify(events[i]));
  });

  it("is written whole as soon as the shell ends by itself or is killed, without waiting for the batch", async () => {
    for (const [id, how] of [["t4", "exits"], ["t5", "killed"]] as const) {
      const rec = await Recording.start({ store, dataDir: dir, attemptId: "a1", terminalId: id, target: "node/cp-1", cols: 80, rows: 24, log });
      const pty = new FakePty();
      const term = new Terminal("1".repeat(24), "a".repeat(24), "u", "node/cp-1", pty as unknown as IPty, rec, { cols: 80, rows: 24 });
      const sink = new Frames();
      term.attach(sink, 0);
      const t0 = performance.now();
      pty.emit("$ ");
      await sleep(2);
      pty.emit("exit\r\n");
      pty.emit(Buffer.from("logout\r\n")); // read in the same turn as the end: still in no frame
      if (how === "exits") pty.kill();
      else await term.close("closed");
      await term.done;
      await rec.close(); // the close that onExit started
      assert.ok(performance.now() - t0 < 150, "not the batch's timer");
      const events = lines(rec.file).slice(1) as Array<[number, string, string]>;
      assert.equal(events.map((e) => e[2]).join(""), "$ exit\r\nlogout\r\n", how);
      assert.equal(sink.bytes.toString(), "$ exit\r\nlogout\r\n", "every frame went before the exit");
      assert.equal(sink.exits.length, 1);
    }
  });

  it("stops recording past maxBytes with a marker; the batch goes out by itself after a while", async () => {
    const rec = await Recording.start({ store, dataDir: dir, attemptId: "a1", terminalId: "t2", target: "node/cp-1", cols: 80, rows: 24, log, maxBytes: 10 });
    rec.output(Buffer.from("12345"));
    rec.output(Buffer.from("67890"));
    rec.output(Buffer.from("x"));
    rec.output(Buffer.from("y"));
    await sleep(400);
    const events = lines(rec.file).slice(1) as Array<[number, string, string]>;
    assert.deepEqual(events.map((e) => [e[1], e[2].slice(0, 17)]), [["o", "12345"], ["o", "67890"], ["m", "recording cut her"]]);
    await rec.close();
  });
});
