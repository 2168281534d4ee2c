/**
 * The protobuf wire format, read defensively: every length is bounds-checked and every failure is a
 * `WireError`, so a malformed body from a client can never read past its buffer or loop.
 */

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireError";
  }
}

export type WireValue =
  | { wire: 0; value: bigint }
  | { wire: 1; value: Buffer }
  | { wire: 2; value: Buffer }
  | { wire: 5; value: Buffer };

export interface WireField {
  field: number;
  v: WireValue;
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new WireError("truncated varint");
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  throw new WireError("varint longer than 10 bytes");
}

/** Splits one message into its fields, in wire order. Groups (wire types 3/4) are rejected. */
export function readFields(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p] = readVarint(buf, pos);
    pos = p;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field <= 0 || field > 536_870_911) throw new WireError(`invalid field number ${field}`);
    switch (wire) {
      case 0: {
        const [v, p2] = readVarint(buf, pos);
        pos = p2;
        out.push({ field, v: { wire: 0, value: v } });
        break;
      }
      case 1:
        if (pos + 8 > buf.length) throw new WireError("truncated fixed64");
        out.push({ field, v: { wire: 1, value: buf.subarray(pos, pos + 8) } });
        pos += 8;
        break;
      case 2: {
        const [len, p2] = readVarint(buf, pos);
        pos = p2;
        if (len > BigInt(buf.length - pos)) throw new WireError("length-delimited field runs past the end of the message");
        const n = Number(len);
        out.push({ field, v: { wire: 2, value: buf.subarray(pos, pos + n) } });
        pos += n;
        break;
      }
      case 5:
        if (pos + 4 > buf.length) throw new WireError("truncated fixed32");
        out.push({ field, v: { wire: 5, value: buf.subarray(pos, pos + 4) } });
        pos += 4;
        break;
      default:
        throw new WireError(`unsupported wire type ${wire}`);
    }
  }
  return out;
}

/** Every varint inside a packed repeated field. */
export function readPackedVarints(buf: Buffer): bigint[] {
  const out: bigint[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [v, p] = readVarint(buf, pos);
    out.push(v);
    pos = p;
  }
  return out;
}
