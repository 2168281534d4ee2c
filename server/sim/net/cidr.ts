import { FaultlineError } from "../../errors.js";

/**
 * IPv4 addresses and prefixes as plain numbers. The sim only models IPv4 (kubespray's defaults and the
 * labs are IPv4); every parser here rejects anything else with a message that says so.
 */
export interface Cidr {
  /** Network address as an unsigned 32-bit number (host bits zero). */
  readonly base: number;
  readonly prefix: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

export function parseIp(text: string): number {
  if (!IPV4.test(text)) throw new FaultlineError(`"${text}" is not an IPv4 address`, "write four numbers 0-255 separated by dots, e.g. 10.233.64.1");
  return text.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function formatIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/** Parses `a.b.c.d/n`. `strict` (the default) rejects host bits, as kubespray's `ipaddr('net')` assert does. */
export function parseCidr(text: string, opts: { strict?: boolean } = {}): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(String(text).trim());
  if (!m || !IPV4.test(m[1]!) || Number(m[2]) > 32) {
    throw new FaultlineError(`"${text}" is not an IPv4 CIDR`, "write it as address/prefix, e.g. 10.233.64.0/18");
  }
  const prefix = Number(m[2]);
  const ip = parseIp(m[1]!);
  const base = ip - (ip % 2 ** (32 - prefix));
  if ((opts.strict ?? true) && base !== ip) {
    throw new FaultlineError(
      `"${text}" has host bits set`,
      `did you mean ${formatIp(base)}/${prefix}? A network range starts at its first address`,
    );
  }
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.prefix}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function containsIp(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + size(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** The `i`-th address of `c` (0 = network address). */
export function nth(c: Cidr, i: number): number {
  if (i < 0 || i >= size(c)) throw new RangeError(`address #${i} is outside ${formatCidr(c)}`);
  return c.base + i;
}

/** Splits `c` into consecutive sub-prefixes of length `prefix`, in ascending order. */
export function subnets(c: Cidr, prefix: number): Cidr[] {
  if (prefix < c.prefix) return [];
  const step = 2 ** (32 - prefix);
  const out: Cidr[] = [];
  for (let b = c.base; b < c.base + size(c); b += step) out.push({ base: b, prefix });
  return out;
}
