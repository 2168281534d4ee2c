/**
 * Go's `net` address semantics, as far as MetalLB's pool validation depends on them: `net.ParseIP`,
 * `net.ParseCIDR`, `IPNet.Contains`/`String`, `IP.String`, `ipaddr.Summarize` (mikioh/ipaddr) and
 * `%q` quoting. Denial texts quote parsed values (`"10.0.0.0/24"`, `"::1"`), so a trainee sees exactly
 * what MetalLB v0.13/v0.14 (built with Go 1.19+) prints only if parsing and printing follow Go, not Node.
 *
 * Model: an IP is a 128-bit bigint in Go's 16-byte form, so IPv4 is `::ffff:a.b.c.d`, like the slice
 * `net.ParseIP` returns. Comparing two such values is `bytes.Compare` on the 16-byte forms, which is what
 * MetalLB does for range bounds.
 */

/** An IP in Go's 16-byte form (IPv4 as ::ffff:a.b.c.d). */
export type GoIP = bigint;

/**
 * A `net.IPNet`: the (masked) address in 16-byte form plus the mask, whose byte length matters to Go
 * (a 4-byte mask only matches IPv4 addresses; `Mask.Size()` reports 32 or 128 bits accordingly).
 */
export interface GoIPNet {
  ip: GoIP;
  maskBytes: 4 | 16;
  /** Leading one bits of the mask (Go masks built by CIDRMask are contiguous). */
  ones: number;
}

const V4_MAPPED = 0xffffn << 32n;
const MASK32 = (1n << 32n) - 1n;
const MASK128 = (1n << 128n) - 1n;
/** Go's dtoi/xtoi give up at this value (net/parse.go `big`). */
const BIG = 0xffffff;

/** True when `ip` is an IPv4 address in 16-byte form, i.e. Go's `ip.To4() != nil`. */
export function isV4(ip: GoIP): boolean {
  return ip >> 32n === 0xffffn;
}

/** Go's net.dtoi: leading decimal digits of s. */
function dtoi(s: string): { n: number; i: number; ok: boolean } {
  let n = 0;
  let i = 0;
  for (; i < s.length && s[i]! >= "0" && s[i]! <= "9"; i++) {
    n = n * 10 + (s.charCodeAt(i) - 48);
    if (n >= BIG) return { n: BIG, i, ok: false };
  }
  if (i === 0) return { n: 0, i: 0, ok: false };
  return { n, i, ok: true };
}

/** Go's net.xtoi: leading hexadecimal digits of s. */
function xtoi(s: string): { n: number; i: number; ok: boolean } {
  let n = 0;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s[i]!;
    let d: number;
    if (c >= "0" && c <= "9") d = s.charCodeAt(i) - 48;
    else if (c >= "a" && c <= "f") d = s.charCodeAt(i) - 87;
    else if (c >= "A" && c <= "F") d = s.charCodeAt(i) - 55;
    else break;
    n = n * 16 + d;
    if (n >= BIG) return { n: 0, i, ok: false };
  }
  if (i === 0) return { n: 0, i, ok: false };
  return { n, i, ok: true };
}

/** Go 1.19 net.parseIPv4: dotted quad, no leading zeros (CVE-2021-29923 rules). */
function parseIPv4(input: string): GoIP | null {
  let s = input;
  let v = 0n;
  for (let i = 0; i < 4; i++) {
    if (s.length === 0) return null;
    if (i > 0) {
      if (s[0] !== ".") return null;
      s = s.slice(1);
    }
    const { n, i: c, ok } = dtoi(s);
    if (!ok || n > 0xff) return null;
    if (c > 1 && s[0] === "0") return null;
    s = s.slice(c);
    v = (v << 8n) | BigInt(n);
  }
  if (s.length !== 0) return null;
  return V4_MAPPED | v;
}

/** Go 1.19 net.parseIPv6 (no zone): groups, one `::`, optional trailing dotted IPv4. */
function parseIPv6(input: string): GoIP | null {
  let s = input;
  const ip = new Array<number>(16).fill(0);
  let ellipsis = -1;
  if (s.length >= 2 && s[0] === ":" && s[1] === ":") {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return 0n;
  }
  let i = 0;
  while (i < 16) {
    const { n, i: c, ok } = xtoi(s);
    if (!ok || n > 0xffff) return null;
    if (c < s.length && s[c] === ".") {
      if (ellipsis < 0 && i !== 12) return null;
      if (i + 4 > 16) return null;
      const v4 = parseIPv4(s);
      if (v4 === null) return null;
      ip[i] = Number((v4 >> 24n) & 0xffn);
      ip[i + 1] = Number((v4 >> 16n) & 0xffn);
      ip[i + 2] = Number((v4 >> 8n) & 0xffn);
      ip[i + 3] = Number(v4 & 0xffn);
      s = "";
      i += 4;
      break;
    }
    ip[i] = n >> 8;
    ip[i + 1] = n & 0xff;
    i += 2;
    s = s.slice(c);
    if (s.length === 0) break;
    if (s[0] !== ":" || s.length === 1) return null;
    s = s.slice(1);
    if (s[0] === ":") {
      if (ellipsis >= 0) return null;
      ellipsis = i;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return null;
  if (i < 16) {
    if (ellipsis < 0) return null;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j]!;
    for (let j = ellipsis + n - 1; j >= ellipsis; j--) ip[j] = 0;
  } else if (ellipsis >= 0) {
    return null;
  }
  return ip.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/**
 * Go 1.19 `net.ParseIP`: the first `.` or `:` decides the family; null when invalid.
 *
 * @example parseIP("10.0.0.1") // 0xffff0a000001n
 */
export function parseIP(s: string): GoIP | null {
  for (const c of s) {
    if (c === ".") return parseIPv4(s);
    if (c === ":") return parseIPv6(s);
  }
  return null;
}

function maskValue(ones: number, bits: number): bigint {
  if (ones <= 0) return 0n;
  const all = (1n << BigInt(bits)) - 1n;
  return (all << BigInt(bits - ones)) & all;
}

/**
 * Go 1.19 `net.ParseCIDR`: IPv4 when the address part parses as IPv4 (prefix ≤ 32), else IPv6
 * (prefix ≤ 128); the network is the address masked, as Go returns it. Null when invalid.
 *
 * @example netString(parseCIDR("10.1.2.3/24")!) // "10.1.2.0/24"
 */
export function parseCIDR(s: string): GoIPNet | null {
  const slash = s.indexOf("/");
  if (slash < 0) return null;
  const addr = s.slice(0, slash);
  const mask = s.slice(slash + 1);
  let iplen: 4 | 16 = 4;
  let ip = parseIPv4(addr);
  if (ip === null) {
    iplen = 16;
    ip = parseIPv6(addr);
  }
  const { n, i, ok } = dtoi(mask);
  if (ip === null || !ok || i !== mask.length || n < 0 || n > 8 * iplen) return null;
  // IP.Mask: a 4-byte mask applies to the low 32 bits and yields a 4-byte IP (kept mapped here);
  // a 16-byte mask applies to all 128 bits, so a short prefix can mask away the ::ffff marker.
  const masked = iplen === 4 ? V4_MAPPED | (ip & MASK32 & maskValue(n, 32)) : ip & maskValue(n, 128);
  return { ip: masked, maskBytes: iplen, ones: n };
}

/** Go's networkNumberAndMask: the family the network really is and its effective prefix length. */
function networkNumberAndMask(n: GoIPNet): { v4: boolean; num: bigint; ones: number } | null {
  const v4 = isV4(n.ip);
  if (n.maskBytes === 4) {
    if (!v4) return null;
    return { v4, num: n.ip & MASK32, ones: n.ones };
  }
  if (v4) return { v4, num: n.ip & MASK32, ones: Math.max(0, n.ones - 96) };
  return { v4, num: n.ip, ones: n.ones };
}

/** Go's `IPNet.Contains`. */
export function netContains(n: GoIPNet, ip: GoIP): boolean {
  const nm = networkNumberAndMask(n);
  if (!nm) return false;
  if (isV4(ip) !== nm.v4) return false;
  const bits = nm.v4 ? 32 : 128;
  const m = maskValue(nm.ones, bits);
  const x = nm.v4 ? ip & MASK32 : ip;
  return (nm.num & m) === (x & m);
}

/** MetalLB's cidrContainsCIDR: same prefix length and address, or a shorter prefix containing the other's address. */
function containsCIDR(outer: GoIPNet, inner: GoIPNet): boolean {
  if (outer.ones === inner.ones && outer.ip === inner.ip) return true;
  return outer.ones < inner.ones && netContains(outer, inner.ip);
}

/** MetalLB's cidrsOverlap. */
export function netsOverlap(a: GoIPNet, b: GoIPNet): boolean {
  return containsCIDR(a, b) || containsCIDR(b, a);
}

function v4String(x: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((x >> s) & 0xffn)).join(".");
}

/** Go's `net.IP.String` for a 16-byte IP: dotted for IPv4, RFC 5952 style (first longest zero run) for IPv6. */
export function ipString(ip: GoIP): string {
  if (isV4(ip)) return v4String(ip & MASK32);
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((ip >> BigInt(i * 16)) & 0xffffn));
  let e0 = -1;
  let e1 = -1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j > i && j - i > e1 - e0) {
      e0 = i;
      e1 = j;
      i = j;
    }
  }
  if (e1 - e0 <= 1) {
    e0 = -1;
    e1 = -1;
  }
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === e0) {
      out += "::";
      i = e1;
      if (i >= 8) break;
    } else if (i > 0) {
      out += ":";
    }
    out += g[i]!.toString(16);
  }
  return out;
}

/** Go's `IPNet.String`. */
export function netString(n: GoIPNet): string {
  const nm = networkNumberAndMask(n);
  if (!nm) return "<nil>";
  return nm.v4 ? `${v4String(nm.num)}/${nm.ones}` : `${ipString(nm.num)}/${nm.ones}`;
}

/** `bytes.Compare` of two IPs in 16-byte form. */
export function compareIP(a: GoIP, b: GoIP): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function summarizeBits(first: bigint, last: bigint, bits: number): Array<{ num: bigint; ones: number }> {
  const out: Array<{ num: bigint; ones: number }> = [];
  const eor = (1n << BigInt(bits)) - 1n;
  let fi = first;
  while (fi <= last) {
    let n = bits;
    while (n > 0) {
      const m = maskValue(n - 1, bits);
      const l = fi & m;
      const r = fi | (~m & eor);
      if (fi !== l || r > last) break;
      n--;
    }
    out.push({ num: fi, ones: n });
    const end = fi | (~maskValue(n, bits) & eor);
    if (end === eor) break;
    fi = end + 1n;
  }
  return out;
}

/**
 * mikioh/ipaddr `Summarize(first, last)`: the shortest list of prefixes covering the range, ascending.
 * Mixed families yield nothing (not an error) — MetalLB then accepts the range with no addresses.
 */
export function summarize(first: GoIP, last: GoIP): GoIPNet[] {
  if (isV4(first)) {
    if (!isV4(last)) return [];
    return summarizeBits(first & MASK32, last & MASK32, 32).map((p) => ({ ip: V4_MAPPED | p.num, maskBytes: 4 as const, ones: p.ones }));
  }
  if (isV4(last)) return [];
  return summarizeBits(first & MASK128, last & MASK128, 128).map((p) => ({ ip: p.num, maskBytes: 16 as const, ones: p.ones }));
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/**
 * Go's `strconv.Quote` (what `%q` prints for strings and Stringers): double quotes, `\"` and `\\`,
 * short escapes for \a\b\f\n\r\t\v, `\xNN` for other ASCII controls, `\uNNNN` for non-printable runes.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (PRINTABLE.test(ch)) out += ch;
    else if (cp === 7) out += "\\a";
    else if (cp === 8) out += "\\b";
    else if (cp === 12) out += "\\f";
    else if (cp === 10) out += "\\n";
    else if (cp === 13) out += "\\r";
    else if (cp === 9) out += "\\t";
    else if (cp === 11) out += "\\v";
    else if (cp < 0x20 || cp === 0x7f) out += "\\x" + cp.toString(16).padStart(2, "0");
    else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
    else out += "\\U" + cp.toString(16).padStart(8, "0");
  }
  return out + '"';
}

/** Go's `strings.TrimSpace`: Unicode White_Space plus U+0085; unlike String.prototype.trim it keeps U+FEFF. */
export function goTrimSpace(s: string): string {
  return s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, "");
}
