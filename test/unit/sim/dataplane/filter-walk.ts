/**
 * A small model of the iptables filter table, enough to walk a packet through what policy.ts renders:
 * reads `iptables-restore` input (`:chain`, `-A`, `-I <chain> 1`, `-D`, `-X`), evaluates the matches
 * Felix's rules use (interfaces with `+`, `--source`/`--destination`, `-p`, multiport destination
 * ports, mark, conntrack state) and the targets ACCEPT, DROP, RETURN, MARK, jumps and gotos. Built-in
 * chains fall through to ACCEPT. Used by policy.test.ts; the kernel test checks the real thing.
 */
import { containsIp, parseCidr, parseIp } from "../../../../server/sim/net/cidr.js";

export interface Packet {
  src: string;
  dst: string;
  /** Protocol name; undefined for e.g. ICMP (matches no -p tcp/udp rule). */
  proto?: "tcp" | "udp" | "sctp" | "icmp";
  dport?: number;
  in?: string;
  out?: string;
  state: "NEW" | "ESTABLISHED" | "RELATED" | "INVALID";
}

type Verdict = "ACCEPT" | "DROP";

const BUILTIN = ["INPUT", "FORWARD", "OUTPUT"];
const PROTO_NUMBERS: Record<string, string> = { "6": "tcp", "17": "udp", "132": "sctp", "1": "icmp", "4": "ipencap" };

function tokens(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]!);
  return out;
}

const ifaceMatches = (pattern: string, name: string | undefined) =>
  name !== undefined && (pattern.endsWith("+") ? name.startsWith(pattern.slice(0, -1)) : name === pattern);

function cidrMatches(cidr: string, ip: string): boolean {
  return containsIp(parseCidr(cidr.includes("/") ? cidr : `${cidr}/32`, { strict: false }), parseIp(ip));
}

function portsMatch(list: string, port: number | undefined): boolean {
  if (port === undefined) return false;
  return list.split(",").some((p) => {
    const [a, b] = p.split(":").map(Number);
    return port >= a! && port <= (b ?? a!);
  });
}

function parseMark(v: string): [number, number] {
  const [value, mask] = v.split("/");
  return [Number(value), mask === undefined ? 0xffffffff : Number(mask)];
}

export class FilterTable {
  readonly chains = new Map<string, string[][]>(BUILTIN.map((c) => [c, []]));

  constructor(...restores: string[]) {
    for (const r of restores) this.apply(r);
  }

  /** Applies `iptables-restore --noflush` input for the filter table. */
  apply(restore: string): void {
    for (const raw of restore.split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("#") || line.startsWith("*") || line === "COMMIT") continue;
      if (line.startsWith(":")) {
        const name = line.slice(1).split(" ")[0]!;
        if (!BUILTIN.includes(name)) this.chains.set(name, []);
        continue;
      }
      const t = tokens(line);
      const [verb, chain] = [t[0]!, t[1]!];
      const list = this.chains.get(chain);
      if (verb === "-X") {
        if (!list || list.length) throw new Error(`-X ${chain}: ${list ? "chain not empty" : "no such chain"}`);
        this.chains.delete(chain);
        continue;
      }
      if (!list) throw new Error(`${line}: no chain ${chain}`);
      if (verb === "-A") list.push(t.slice(2));
      else if (verb === "-I") list.unshift(t.slice(3));
      else if (verb === "-D") {
        const i = list.findIndex((r) => r.join(" ") === t.slice(2).join(" "));
        if (i < 0) throw new Error(`${line}: no such rule`);
        list.splice(i, 1);
      } else throw new Error(`unsupported line ${line}`);
    }
    for (const [name, rules] of this.chains) {
      for (const r of rules) {
        const target = r[r.indexOf("--jump") + 1] ?? r[r.indexOf("--goto") + 1];
        if (target && /^cali-/.test(target) && !this.chains.has(target)) throw new Error(`${name} refers to missing chain ${target}`);
      }
    }
  }

  /** The verdict of built-in chain `hook` for `pkt`. */
  verdict(hook: "INPUT" | "FORWARD" | "OUTPUT", pkt: Packet): Verdict {
    const ctx = { mark: 0, depth: 0 };
    const r = this.run(hook, pkt, ctx);
    return r === "DROP" ? "DROP" : "ACCEPT";
  }

  private run(chain: string, pkt: Packet, ctx: { mark: number; depth: number }): Verdict | "RETURN" {
    if (++ctx.depth > 64) throw new Error("chain loop");
    const rules = this.chains.get(chain);
    if (!rules) throw new Error(`no chain ${chain}`);
    try {
      for (const rule of rules) {
        const action = this.evaluate(rule, pkt, ctx);
        if (!action) continue;
        const [kind, target] = action;
        if (kind === "mark") continue;
        if (target === "ACCEPT" || target === "DROP") return target;
        if (target === "RETURN") return "RETURN";
        const sub = this.run(target, pkt, ctx);
        if (sub !== "RETURN") return sub;
        if (kind === "goto") return "RETURN";
      }
      return "RETURN";
    } finally {
      ctx.depth--;
    }
  }

  /** Null if the rule does not match; else what to do. MARK targets are applied here. */
  private evaluate(rule: string[], pkt: Packet, ctx: { mark: number }): ["jump" | "goto" | "mark", string] | null {
    let negate = false;
    for (let i = 0; i < rule.length; i++) {
      const opt = rule[i]!;
      const arg = rule[i + 1] ?? "";
      let ok: boolean | null = null;
      switch (opt) {
        case "!":
          negate = true;
          continue;
        case "-m":
          i++;
          continue;
        case "--comment":
          i++;
          continue;
        case "--in-interface":
        case "-i":
          ok = ifaceMatches(arg, pkt.in);
          break;
        case "--out-interface":
        case "-o":
          ok = ifaceMatches(arg, pkt.out);
          break;
        case "--source":
        case "-s":
          ok = cidrMatches(arg, pkt.src);
          break;
        case "--destination":
        case "-d":
          ok = cidrMatches(arg, pkt.dst);
          break;
        case "-p":
          ok = (PROTO_NUMBERS[arg] ?? arg) === pkt.proto;
          break;
        case "--destination-ports":
        case "--dports":
          ok = portsMatch(arg, pkt.dport);
          break;
        case "--mark": {
          const [v, m] = parseMark(arg);
          ok = ((ctx.mark & m) >>> 0) === v;
          break;
        }
        case "--ctstate":
          ok = arg.split(",").includes(pkt.state);
          break;
        case "--jump":
        case "-j": {
          if (arg !== "MARK") return ["jump", arg];
          const [v, m] = parseMark(rule[i + 3]!);
          ctx.mark = ((ctx.mark & ~m) | v) >>> 0;
          return ["mark", "MARK"];
        }
        case "--goto":
        case "-g":
          return ["goto", arg];
        default:
          throw new Error(`unsupported option ${opt} in ${rule.join(" ")}`);
      }
      i++;
      if (ok === negate) return null;
      negate = false;
    }
    return null; // a rule without a target only counts packets
  }
}
