/**
 * A terminal's recent output, addressed by byte offset (the protocol's sequence numbers): the last
 * `limit` bytes or a little less, since it is trimmed a whole chunk at a time, so a replay never
 * starts inside a chunk the PTY delivered (where a UTF-8 character or an escape sequence may begin).
 *
 * @example
 * const buf = new ReplayBuffer(1024 * 1024);
 * buf.push(Buffer.from("$ ls\r\n"));   // -> 0, the chunk's offset
 * buf.slice(2);                        // { from: 2, chunks: [<"ls\r\n">] }
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
   * The bytes from `since` (clamped to what is kept) to the end, as at most `maxFrame`-byte frames
   * each with its offset. `from` is where they start: later than `since` when that part is gone.
   */
  slice(since: number, maxFrame = Number.MAX_SAFE_INTEGER): { from: number; frames: Array<{ seq: number; data: Buffer }> } {
    const from = Math.min(Math.max(since, this.start), this.end);
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
