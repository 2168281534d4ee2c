/**
 * DNS messages on the wire (RFC 1035, EDNS0 from RFC 6891), as far as a cluster DNS server needs
 * them: parse a query with the same leniency and the same errors as miekg/dns (the library CoreDNS is
 * built on), and build replies with name compression and truncation to the client's buffer.
 *
 * Names are arrays of labels; a label's bytes are kept as latin1 characters, so any byte survives a
 * parse/build round trip. Comparisons go through {@link lowerName} (ASCII only, as DNS defines it).
 */
import { ipString, parseIP } from "./goaddr.js";

/** A domain name as its labels, without the root label: `["cluster", "local"]`. */
export type Name = string[];

/** Record types this server reads or writes, by mnemonic. */
export const TYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255,
} as const;

/** Response codes (BADVERS only exists with EDNS: its upper bits travel in the OPT record). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

export const OPCODE = { QUERY: 0, NOTIFY: 4 } as const;

export const CLASS_IN = 1;

const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));

/** `A`, `SRV`, or `TYPE65` for types without a mnemonic here, as miekg prints them. */
export function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

export interface Question {
  name: Name;
  type: number;
  class: number;
}

/** Record data by shape; `raw` keeps what this server never interprets (answer records in queries). */
export type RData =
  | { kind: "ip"; ip: string }
  | { kind: "name"; target: Name }
  | { kind: "soa"; mname: Name; rname: Name; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { kind: "srv"; priority: number; weight: number; port: number; target: Name }
  | { kind: "txt"; texts: string[] }
  | { kind: "raw"; bytes: Buffer };

export interface ResourceRecord {
  name: Name;
  type: number;
  class: number;
  ttl: number;
  data: RData;
}

export interface EdnsOption {
  code: number;
  data: Buffer;
}

/** The OPT pseudo-record, taken out of the additional section. */
export interface Edns {
  udpSize: number;
  version: number;
  /** The 16 flag bits (DO is the top one). */
  flags: number;
  options: EdnsOption[];
}

export const EDNS_DO = 0x8000;

export interface Message {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** The reserved Z bit. */
  z: boolean;
  ad: boolean;
  cd: boolean;
  /** The full response code: the header's 4 bits plus, with EDNS, the OPT record's 8 upper bits. */
  rcode: number;
  question: Question[];
  answer: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
  edns?: Edns | undefined;
}

/** The fixed 12-byte header as counted on the wire. */
export interface WireHeader {
  id: number;
  flags: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export const HEADER_SIZE = 12;
const MAX_NAME_OCTETS = 255;
/** miekg's `maxCompressionPointers`. */
const MAX_POINTERS = (MAX_NAME_OCTETS + 1) / 2 - 2;

/** Lower-cases ASCII letters only, as DNS name comparison does. */
export function lowerName(name: Name): Name {
  return name.map((l) => l.replace(/[A-Z]/g, (c) => c.toLowerCase()));
}

/** Whether two names are equal ignoring ASCII case. */
export function sameName(a: Name, b: Name): boolean {
  if (a.length !== b.length) return false;
  const la = lowerName(a);
  const lb = lowerName(b);
  return la.every((l, i) => l === lb[i]);
}

/** `a.b.c` (or `a.b.c.`) as labels; `.` and `` are the root. */
export function parseName(text: string): Name {
  const t = text.endsWith(".") ? text.slice(0, -1) : text;
  return t === "" ? [] : t.split(".");
}

/** Presentation format with the trailing dot and miekg's escapes (`\.`, `\DDD`). */
export function nameText(name: Name): string {
  if (name.length === 0) return ".";
  const esc = (l: string) =>
    l.replace(/[^\x21-\x7e]|[.\\"();@$]/g, (c) => {
      const code = c.charCodeAt(0);
      return code < 0x21 || code > 0x7e ? "\\" + String(code).padStart(3, "0") : "\\" + c;
    });
  return name.map(esc).join(".") + ".";
}

export function readHeader(buf: Buffer): WireHeader {
  return { id: buf.readUInt16BE(0), flags: buf.readUInt16BE(2), qdcount: buf.readUInt16BE(4), ancount: buf.readUInt16BE(6), nscount: buf.readUInt16BE(8), arcount: buf.readUInt16BE(10) };
}

/** The header fields of a message from its wire flags, with empty sections. */
export function headerMessage(h: WireHeader): Message {
  const f = h.flags;
  return {
    id: h.id,
    qr: (f & 0x8000) !== 0,
    opcode: (f >> 11) & 0xf,
    aa: (f & 0x0400) !== 0,
    tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0,
    ra: (f & 0x0080) !== 0,
    z: (f & 0x0040) !== 0,
    ad: (f & 0x0020) !== 0,
    cd: (f & 0x0010) !== 0,
    rcode: f & 0xf,
    question: [],
    answer: [],
    authority: [],
    additional: [],
  };
}

/** Why a message could not be parsed, with what was parsed before the fault (miekg keeps the question). */
export class DnsParseError extends Error {
  constructor(
    message: string,
    readonly partial: Message,
  ) {
    super(message);
  }
}

/**
 * Where the message in `buf` ends according to its header's counts: the offset after the last record,
 * `"incomplete"` when more bytes are needed, or `"malformed"` when no continuation can make it valid
 * (a reserved label type). Used to tell when a message that arrives on a stream has fully arrived.
 */
export function scanMessage(buf: Buffer): number | "incomplete" | "malformed" {
  if (buf.length < HEADER_SIZE) return "incomplete";
  const h = readHeader(buf);
  let off = HEADER_SIZE;
  const skipName = (): boolean | "malformed" => {
    for (;;) {
      if (off >= buf.length) return false;
      const c = buf[off]!;
      if (c === 0) {
        off += 1;
        return true;
      }
      const kind = c & 0xc0;
      if (kind === 0xc0) {
        if (off + 2 > buf.length) return false;
        off += 2;
        return true;
      }
      if (kind !== 0) return "malformed";
      off += 1 + c;
    }
  };
  for (let i = 0; i < h.qdcount; i++) {
    const ok = skipName();
    if (ok !== true) return ok === false ? "incomplete" : ok;
    off += 4;
    if (off > buf.length) return "incomplete";
  }
  const records = h.ancount + h.nscount + h.arcount;
  for (let i = 0; i < records; i++) {
    const ok = skipName();
    if (ok !== true) return ok === false ? "incomplete" : ok;
    if (off + 10 > buf.length) return "incomplete";
    off += 10 + buf.readUInt16BE(off + 8);
    if (off > buf.length) return "incomplete";
  }
  return off;
}

/** miekg's UnpackDomainName: labels, compression pointers anywhere earlier or later, at most 255 octets. */
function readName(buf: Buffer, start: number): { name: Name; next: number } {
  const labels: Name = [];
  let off = start;
  let next = -1;
  let octets = 1;
  let pointers = 0;
  for (;;) {
    if (off >= buf.length) throw new Error("dns: buffer size too small");
    const c = buf[off]!;
    const kind = c & 0xc0;
    if (kind === 0) {
      if (c === 0) {
        off += 1;
        break;
      }
      if (off + 1 + c > buf.length) throw new Error("dns: buffer size too small");
      labels.push(buf.toString("latin1", off + 1, off + 1 + c));
      octets += c + 1;
      if (octets > MAX_NAME_OCTETS) throw new Error("dns: domain name exceeded 255 wire-format octets");
      off += 1 + c;
    } else if (kind === 0xc0) {
      if (off + 2 > buf.length) throw new Error("dns: buffer size too small");
      if (++pointers > MAX_POINTERS) throw new Error("dns: too many compression pointers");
      if (next < 0) next = off + 2;
      off = ((c & 0x3f) << 8) | buf[off + 1]!;
    } else {
      throw new Error("dns: bad rdata");
    }
  }
  return { name: labels, next: next < 0 ? off : next };
}

function readOptions(rdata: Buffer): EdnsOption[] {
  const out: EdnsOption[] = [];
  let off = 0;
  while (off < rdata.length) {
    if (off + 4 > rdata.length) throw new Error("dns: overflow unpacking opt");
    const code = rdata.readUInt16BE(off);
    const len = rdata.readUInt16BE(off + 2);
    if (off + 4 + len > rdata.length) throw new Error("dns: overflow unpacking opt");
    out.push({ code, data: Buffer.from(rdata.subarray(off + 4, off + 4 + len)) });
    off += 4 + len;
  }
  return out;
}

function readRecord(buf: Buffer, start: number): { rr: ResourceRecord; next: number } {
  const { name, next } = readName(buf, start);
  if (next + 10 > buf.length) throw new Error("dns: overflow unpacking uint16");
  const type = buf.readUInt16BE(next);
  const cls = buf.readUInt16BE(next + 2);
  const ttl = buf.readUInt32BE(next + 4);
  const len = buf.readUInt16BE(next + 8);
  const end = next + 10 + len;
  if (end > buf.length) throw new Error("dns: bad rdlength");
  return { rr: { name, type, class: cls, ttl, data: readRData(buf, type, next + 10, end) }, next: end };
}

/** Typed record data for the types this server writes (names may point anywhere in the message). */
function readRData(buf: Buffer, type: number, start: number, end: number): RData {
  const raw = (): RData => ({ kind: "raw", bytes: Buffer.from(buf.subarray(start, end)) });
  if (start === end) return raw();
  const nameAt = (off: number) => {
    const r = readName(buf, off);
    if (r.next > end) throw new Error("dns: bad rdlength");
    return r;
  };
  const fixed = (n: number) => {
    if (end - start !== n) throw new Error("dns: bad rdlength");
  };
  switch (type) {
    case TYPE.A:
      fixed(4);
      return { kind: "ip", ip: [...buf.subarray(start, end)].join(".") };
    case TYPE.AAAA: {
      fixed(16);
      const g: string[] = [];
      for (let i = 0; i < 16; i += 2) g.push(buf.readUInt16BE(start + i).toString(16));
      return { kind: "ip", ip: ipString(parseIP(g.join(":"))!) };
    }
    case TYPE.CNAME:
    case TYPE.PTR:
    case TYPE.NS:
      return { kind: "name", target: nameAt(start).name };
    case TYPE.SOA: {
      const m = nameAt(start);
      const r = nameAt(m.next);
      if (r.next + 20 !== end) throw new Error("dns: bad rdlength");
      const v = (i: number) => buf.readUInt32BE(r.next + 4 * i);
      return { kind: "soa", mname: m.name, rname: r.name, serial: v(0), refresh: v(1), retry: v(2), expire: v(3), minimum: v(4) };
    }
    case TYPE.SRV: {
      if (end - start < 7) throw new Error("dns: bad rdlength");
      const t = nameAt(start + 6);
      return { kind: "srv", priority: buf.readUInt16BE(start), weight: buf.readUInt16BE(start + 2), port: buf.readUInt16BE(start + 4), target: t.name };
    }
    case TYPE.TXT: {
      const texts: string[] = [];
      for (let off = start; off < end; ) {
        const n = buf[off]!;
        if (off + 1 + n > end) throw new Error("dns: bad rdlength");
        texts.push(buf.toString("latin1", off + 1, off + 1 + n));
        off += 1 + n;
      }
      return { kind: "txt", texts };
    }
    default:
      return raw();
  }
}

/**
 * Parses a whole message. Follows miekg's unpack: a message that is only a header has no question even
 * if it counts one; a question cut off right after its name (or its type) gets type (class) 0; bytes
 * after the counted records are ignored; any other shortfall (fewer records than counted), a bad label type, a pointer loop or an overlong name throws a DnsParseError that
 * carries the header and the question parsed so far. The last OPT record becomes `edns`.
 */
export function parseMessage(buf: Buffer): Message {
  if (buf.length < HEADER_SIZE) throw new DnsParseError("dns: message shorter than its header", headerMessage({ id: 0, flags: 0, qdcount: 0, ancount: 0, nscount: 0, arcount: 0 }));
  const h = readHeader(buf);
  const m = headerMessage(h);
  let off = HEADER_SIZE;
  if (off === buf.length) return m;
  try {
    for (let i = 0; i < h.qdcount; i++) {
      const { name, next } = readName(buf, off);
      off = next;
      const q: Question = { name, type: 0, class: 0 };
      if (off < buf.length) {
        if (off + 2 > buf.length) throw new Error("dns: overflow unpacking uint16");
        q.type = buf.readUInt16BE(off);
        off += 2;
        if (off < buf.length) {
          if (off + 2 > buf.length) throw new Error("dns: overflow unpacking uint16");
          q.class = buf.readUInt16BE(off);
          off += 2;
        }
      }
      m.question.push(q);
    }
    const sections: Array<[number, ResourceRecord[]]> = [
      [h.ancount, m.answer],
      [h.nscount, m.authority],
      [h.arcount, m.additional],
    ];
    for (const [count, into] of sections) {
      for (let i = 0; i < count; i++) {
        const { rr, next } = readRecord(buf, off);
        into.push(rr);
        off = next;
      }
    }
    for (let i = m.additional.length - 1; i >= 0; i--) {
      const rr = m.additional[i]!;
      if (rr.type !== TYPE.OPT || rr.data.kind !== "raw") continue;
      m.edns = { udpSize: rr.class, version: (rr.ttl >>> 16) & 0xff, flags: rr.ttl & 0xffff, options: readOptions(rr.data.bytes) };
      m.rcode |= ((rr.ttl >>> 24) & 0xff) << 4;
      break;
    }
  } catch (err) {
    throw new DnsParseError(err instanceof Error ? err.message : String(err), m);
  }
  return m;
}

/** Writes names and records into a growing buffer, with optional name compression. */
class Writer {
  private buf = Buffer.alloc(512);
  len = 0;
  private readonly offsets = new Map<string, number>();
  private added: string[] = [];

  constructor(private readonly compress: boolean) {}

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf.writeUInt8(v, this.len);
    this.len += 1;
  }

  u16(v: number): void {
    this.room(2);
    this.buf.writeUInt16BE(v & 0xffff, this.len);
    this.len += 2;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
  }

  bytes(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }

  patch16(at: number, v: number): void {
    this.buf.writeUInt16BE(v & 0xffff, at);
  }

  name(name: Name): void {
    let octets = 1;
    for (let i = 0; i < name.length; i++) {
      const key = name.slice(i).join(".");
      if (this.compress) {
        const at = this.offsets.get(key);
        if (at !== undefined) {
          this.u16(0xc000 | at);
          return;
        }
        if (this.len < 0x4000) {
          this.offsets.set(key, this.len);
          this.added.push(key);
        }
      }
      const label = Buffer.from(name[i]!, "latin1");
      if (label.length === 0 || label.length > 63) throw new Error(`dns: bad label length ${label.length} in ${nameText(name)}`);
      octets += label.length + 1;
      if (octets > MAX_NAME_OCTETS) throw new Error(`dns: name too long: ${nameText(name)}`);
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  /** A save point for {@link rollback}. */
  mark(): { len: number; added: number } {
    return { len: this.len, added: this.added.length };
  }

  rollback(m: { len: number; added: number }): void {
    this.len = m.len;
    for (const key of this.added.splice(m.added)) this.offsets.delete(key);
  }

  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

function ipBytes(ip: string, type: number): Buffer {
  if (type === TYPE.A) {
    const parts = ip.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`dns: bad A address ${ip}`);
    return Buffer.from(parts);
  }
  // AAAA: expand `::`
  const [head = "", tail] = ip.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  if (all.length !== 8) throw new Error(`dns: bad AAAA address ${ip}`);
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function writeRecord(w: Writer, rr: ResourceRecord): void {
  w.name(rr.name);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl);
  const lenAt = w.len;
  w.u16(0);
  const d = rr.data;
  switch (d.kind) {
    case "ip":
      w.bytes(ipBytes(d.ip, rr.type));
      break;
    case "name":
      w.name(d.target);
      break;
    case "soa":
      w.name(d.mname);
      w.name(d.rname);
      for (const v of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) w.u32(v);
      break;
    case "srv":
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      // RFC 2782: the target is not compressed
      new Uncompressed(w).name(d.target);
      break;
    case "txt":
      for (const t of d.texts) {
        const b = Buffer.from(t, "latin1");
        w.u8(Math.min(b.length, 255));
        w.bytes(b.subarray(0, 255));
      }
      break;
    case "raw":
      w.bytes(d.bytes);
      break;
  }
  w.patch16(lenAt, w.len - lenAt - 2);
}

/** Writes a name without using or adding compression pointers. */
class Uncompressed {
  constructor(private readonly w: Writer) {}
  name(name: Name): void {
    for (const l of name) {
      const b = Buffer.from(l, "latin1");
      this.w.u8(b.length);
      this.w.bytes(b);
    }
    this.w.u8(0);
  }
}

function optRecord(e: Edns, rcode: number): ResourceRecord {
  const w = new Writer(false);
  for (const o of e.options) {
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
  const ttl = (((rcode >> 4) & 0xff) << 24) | ((e.version & 0xff) << 16) | (e.flags & 0xffff);
  return { name: [], type: TYPE.OPT, class: e.udpSize, ttl: ttl >>> 0, data: { kind: "raw", bytes: w.result() } };
}

function flagsOf(m: Message): number {
  return (
    (m.qr ? 0x8000 : 0) | ((m.opcode & 0xf) << 11) | (m.aa ? 0x0400 : 0) | (m.tc ? 0x0200 : 0) | (m.rd ? 0x0100 : 0) | (m.ra ? 0x0080 : 0) |
    (m.z ? 0x0040 : 0) | (m.ad ? 0x0020 : 0) | (m.cd ? 0x0010 : 0) | (m.rcode & 0xf)
  );
}

function encode(m: Message, compress: boolean, budget: number): { bytes: Buffer; truncated: boolean } {
  const w = new Writer(compress);
  w.u16(m.id);
  const flagsAt = w.len;
  w.u16(0);
  for (let i = 0; i < 4; i++) w.u16(0);
  for (const q of m.question) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  const opt = m.edns ? optRecord(m.edns, m.rcode) : undefined;
  const optLen = opt ? 11 + (opt.data.kind === "raw" ? opt.data.bytes.length : 0) : 0;
  const limit = budget - optLen;
  let truncated = false;
  const counts: number[] = [];
  for (const section of [m.answer, m.authority, m.additional]) {
    let n = 0;
    for (const rr of section) {
      if (truncated) break;
      const save = w.mark();
      writeRecord(w, rr);
      if (w.len > limit) {
        w.rollback(save);
        truncated = true;
        break;
      }
      n++;
    }
    counts.push(n);
  }
  if (opt) writeRecord(w, opt);
  w.patch16(flagsAt, flagsOf({ ...m, tc: m.tc || truncated }));
  w.patch16(4, m.question.length);
  w.patch16(6, counts[0]!);
  w.patch16(8, counts[1]!);
  w.patch16(10, counts[2]! + (opt ? 1 : 0));
  return { bytes: w.result(), truncated };
}

/**
 * The message's wire form, fitted into `maxSize` bytes like miekg's `Msg.Truncate` followed by `Pack`:
 * uncompressed when it fits, otherwise compressed, and if still too big, records are dropped from the
 * end (answer, then authority, then additional; the OPT record stays) and TC is set.
 */
export function buildMessage(m: Message, maxSize = 65535): Buffer {
  const plain = encode(m, false, Number.MAX_SAFE_INTEGER);
  if (plain.bytes.length <= maxSize) return plain.bytes;
  return encode(m, true, maxSize).bytes;
}
