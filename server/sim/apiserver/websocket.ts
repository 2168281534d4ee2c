/**
 * The RFC 6455 WebSocket pieces the exec endpoint needs, written on node:crypto and the raw socket so
 * the API server carries no extra dependency: the handshake answer, frame encoding (server frames are
 * never masked) and an incremental decoder for client frames (always masked, possibly fragmented).
 */
import { createHash } from "node:crypto";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/** One unmasked frame (FIN set), as a server sends it. */
export function encodeFrame(opcode: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const len = payload.length;
  let header: Buffer;
  if (len < 126) {
    header = Buffer.from([0x80 | opcode, len]);
  } else if (len < 0x10000) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([header, payload]);
}

/** A close frame with a status code and reason (reason truncated to fit a control frame). */
export function closeFrame(code = 1000, reason = ""): Buffer {
  const r = Buffer.from(reason, "utf8").subarray(0, 123);
  const p = Buffer.alloc(2 + r.length);
  p.writeUInt16BE(code, 0);
  r.copy(p, 2);
  return encodeFrame(OPCODE.close, p);
}

/** Masks (or unmasks; the operation is its own inverse) a payload in place. */
export function applyMask(payload: Buffer, mask: Buffer): Buffer {
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
  return payload;
}

/** A masked frame as a client sends it; for tests and for talking to ourselves. */
export function encodeClientFrame(opcode: number, payload: Buffer, mask: Buffer = Buffer.from([1, 2, 3, 4]), fin = true): Buffer {
  const plain = encodeFrame(opcode, payload);
  const headerLen = plain.length - payload.length;
  const header = Buffer.from(plain.subarray(0, headerLen));
  if (!fin) header[0] = header[0]! & 0x7f;
  header[1] = header[1]! | 0x80;
  return Buffer.concat([header, mask, applyMask(Buffer.from(payload), mask)]);
}

/** A complete message (data frames reassembled) or a control frame. */
export interface Message {
  opcode: number;
  payload: Buffer;
}

export class ProtocolError extends Error {
  constructor(
    message: string,
    /** The close code to answer with (1002 protocol error, 1009 too big). */
    readonly closeCode = 1002,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

/**
 * Incremental decoder of client frames: push() bytes as they arrive, get whole messages back.
 * Client frames must be masked (RFC 6455 5.1), and a message larger than maxMessage is refused, so a
 * client cannot make the server buffer without bound.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentOpcode = -1;
  private fragmentBytes = 0;

  constructor(private readonly maxMessage = 16 * 1024 * 1024) {}

  push(chunk: Buffer): Message[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Message[] = [];
    for (;;) {
      if (this.buf.length < 2) break;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      if (b0 & 0x70) throw new ProtocolError("reserved bits set");
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if (!(b1 & 0x80)) throw new ProtocolError("client frame is not masked");
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        const big = this.buf.readBigUInt64BE(2);
        if (big > BigInt(this.maxMessage)) throw new ProtocolError("message too big", 1009);
        len = Number(big);
        off = 10;
      }
      const control = opcode >= 0x8;
      if (control && (len > 125 || !fin)) throw new ProtocolError("malformed control frame");
      if (!control && this.fragmentBytes + len > this.maxMessage) throw new ProtocolError("message too big", 1009);
      if (this.buf.length < off + 4 + len) break;
      const mask = this.buf.subarray(off, off + 4);
      const payload = applyMask(Buffer.from(this.buf.subarray(off + 4, off + 4 + len)), mask);
      this.buf = this.buf.subarray(off + 4 + len);
      if (control) {
        if (opcode !== OPCODE.close && opcode !== OPCODE.ping && opcode !== OPCODE.pong) throw new ProtocolError(`unknown opcode ${opcode}`);
        out.push({ opcode, payload });
        continue;
      }
      if (opcode === OPCODE.continuation) {
        if (this.fragmentOpcode < 0) throw new ProtocolError("continuation without a message");
      } else if (opcode === OPCODE.text || opcode === OPCODE.binary) {
        if (this.fragmentOpcode >= 0) throw new ProtocolError("new message inside a fragmented one");
        this.fragmentOpcode = opcode;
      } else throw new ProtocolError(`unknown opcode ${opcode}`);
      this.fragments.push(payload);
      this.fragmentBytes += len;
      if (fin) {
        out.push({ opcode: this.fragmentOpcode, payload: this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments) });
        this.fragments = [];
        this.fragmentOpcode = -1;
        this.fragmentBytes = 0;
      }
    }
    return out;
  }
}
