/**
 * A terminal's recent output, addressed by byte offset (the protocol's sequence numbers): the last
 * `limit` bytes or a little less, since it is trimmed a whole chunk (one frame's output) at a time, so
 * a replay never starts inside a frame (where an escape sequence may have begun).
 *
 * @example
 * const buf = new ReplayBuffer(1024 * 1024);
 * buf.push(Buffer.from("$ ls\r\n"));   // -> 0, the chunk's offset
 * buf.slice(2);                        // { from: 2, frames: [{ seq: 2, data: <"ls\r\n"> }] }
 */
export class ReplayBuffer {
  private chunks: Array<{ seq: number; data: Buffer }> = [];
  private head = 0;
  private kept = 0;
  /** Offset after the last byte ever pushed. */
  end = 0;

  constructor(readonly limit: number) {}

  /** Offset of the oldest byte still kept. */
  get start(): number {
    return this.chunks[this.head]?.seq ?? this.end;
  }

  /**
   * Where a replay for a client that has had the output up to `since` begins. While that byte is kept,
   * `since` itself: exactly what the client is missing, even inside a UTF-8 character (it has the
   * character's first bytes). After a gap, the oldest byte kept; chunks are the PTY's bytes as read,
   * so that may lie inside a UTF-8 character, whose remaining bytes (at most 3) are skipped rather
   * than shown as a replacement character.
   */
  resumeAt(since: number): number {
    const start = this.start;
    if (since >= start) return Math.min(since, this.end);
    const head = this.chunks[this.head];
    if (!head) return this.end;
    let skip = 0;
    while (skip < 3 && skip < head.data.length && (head.data[skip]! & 0xc0) === 0x80) skip++;
    return start + skip;
  }

  /** Appends a chunk; returns its offset. */
  push(data: Buffer): number {
    const seq = this.end;
    this.chunks.push({ seq, data });
    this.end += data.length;
    this.kept += data.length;
    while (this.kept > this.limit && this.chunks.length - this.head > 1) {
      this.kept -= this.chunks[this.head]!.data.length;
      this.chunks[this.head++] = undefined as never;
    }
    // Compact now and then instead of shifting on every trim.
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    return seq;
  }

  /**
   * The bytes from `since` to the end, as at most `maxFrame`-byte frames each with its offset. `from`
   * is where they start: resumeAt(since), later than `since` when that part is gone.
   */
  slice(since: number, maxFrame = Number.MAX_SAFE_INTEGER): { from: number; frames: Array<{ seq: number; data: Buffer }> } {
    const from = this.resumeAt(since);
    const frames: Array<{ seq: number; data: Buffer }> = [];
    let parts: Buffer[] = [];
    let partsLen = 0;
    let frameSeq = from;
    const flush = () => {
      if (!partsLen) return;
      frames.push({ seq: frameSeq, data: parts.length === 1 ? parts[0]! : Buffer.concat(parts, partsLen) });
      frameSeq += partsLen;
      parts = [];
      partsLen = 0;
    };
    // Binary search for the chunk holding `from`.
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid]!.seq <= from) lo = mid;
      else hi = mid - 1;
    }
    for (let i = lo; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      let data = c.data;
      if (c.seq < from) data = data.subarray(from - c.seq);
      while (data.length) {
        const room = maxFrame - partsLen;
        const take = data.length <= room ? data : data.subarray(0, room);
        parts.push(take);
        partsLen += take.length;
        data = data.subarray(take.length);
        if (partsLen >= maxFrame) flush();
      }
    }
    flush();
    return { from, frames };
  }

  /** Bytes held. */
  get size(): number {
    return this.kept;
  }
}
