/**
 * The executor batches NetOps: per phase and namespace one `ip -batch` and one process for sysctl and
 * iptables-restore. A fake Runner records every argv and stdin, so the batching is checked without a
 * kernel (kernel.test.ts runs the real tools); spawnRunner is checked against harmless commands.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { executeOps, executePhases, iptablesRestoreInput, spawnRunner, type Runner } from "../../../../server/sim/dataplane/execute.js";
import type { NetOp } from "../../../../server/sim/dataplane/ops.js";

interface Call {
  argv: string[];
  input: string | undefined;
}

/** A Runner that records calls; `fail(argv)` returning a message makes that call reject with it. */
function recorder(fail: (argv: string[]) => string | null = () => null): { run: Runner; calls: Call[] } {
  const calls: Call[] = [];
  const run: Runner = async (argv, input) => {
    calls.push({ argv, input });
    const msg = fail(argv);
    if (msg) throw new Error(msg);
    return "";
  };
  return { run, calls };
}

const ip = (netns: string, line: string): NetOp => ({ kind: "ip", netns, line });
const sysctl = (netns: string, key: string, value: string): NetOp => ({ kind: "sysctl", netns, key, value });
const ipt = (netns: string, table: "filter" | "nat" | "mangle" | "raw", rule: string): NetOp => ({ kind: "iptables", netns, table, rule });

/** Two namespaces and the root one, ops interleaved as a renderer may emit them. */
const PHASE: NetOp[] = [
  ip("", "link add br-nodes type bridge"),
  ip("n1", "link set lo up"),
  sysctl("n1", "net.ipv4.ip_forward", "1"),
  ip("", "link set br-nodes up"),
  ipt("n1", "nat", ":KUBE-SERVICES - [0:0]"),
  ip("n2", "link set lo up"),
  ip("n1", "route add blackhole 10.233.64.0/24 proto bird"),
  sysctl("n1", "net.ipv4.conf.cali1.proxy_arp", "1"),
  ipt("n1", "filter", "-A FORWARD -j ACCEPT"),
  ipt("n1", "nat", "-A OUTPUT -j KUBE-SERVICES"),
];

describe("iptablesRestoreInput", () => {
  it("one block per table in first-seen order, rules in order, each ending with COMMIT", () => {
    assert.equal(
      iptablesRestoreInput(PHASE),
      "*nat\n:KUBE-SERVICES - [0:0]\n-A OUTPUT -j KUBE-SERVICES\nCOMMIT\n*filter\n-A FORWARD -j ACCEPT\nCOMMIT\n",
    );
  });

  it("is empty when there is no iptables op", () => {
    assert.equal(iptablesRestoreInput([ip("n1", "link set lo up"), sysctl("n1", "a.b", "1")]), "");
    assert.equal(iptablesRestoreInput([]), "");
  });
});

describe("executeOps", () => {
  it("one `ip -batch` per namespace; the root namespace without -n", async () => {
    const { run, calls } = recorder();
    await executeOps(PHASE, run);
    const batches = calls.filter((c) => c.argv[0] === "ip");
    assert.deepEqual(
      batches.map((c) => [c.argv, c.input]).sort(),
      [
        [["ip", "-batch", "-"], "link add br-nodes type bridge\nlink set br-nodes up\n"],
        [["ip", "-n", "n1", "-batch", "-"], "link set lo up\nroute add blackhole 10.233.64.0/24 proto bird\n"],
        [["ip", "-n", "n2", "-batch", "-"], "link set lo up\n"],
      ].sort(),
    );
  });

  it("sysctl and iptables-restore in one nsenter process, after the namespace's ip batch", async () => {
    const { run, calls } = recorder();
    await executeOps(PHASE, run);
    const n1 = calls.filter((c) => c.argv.includes("n1") || c.argv.includes("--net=/run/netns/n1"));
    assert.deepEqual(n1, [
      { argv: ["ip", "-n", "n1", "-batch", "-"], input: "link set lo up\nroute add blackhole 10.233.64.0/24 proto bird\n" },
      {
        argv: [
          "nsenter", "--net=/run/netns/n1", "--", "sh", "-c",
          "sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.cali1.proxy_arp=1 >/dev/null && iptables-restore --noflush",
        ],
        input: "*nat\n:KUBE-SERVICES - [0:0]\n-A OUTPUT -j KUBE-SERVICES\nCOMMIT\n*filter\n-A FORWARD -j ACCEPT\nCOMMIT\n",
      },
    ]);
    assert.equal(calls.length, 4, "three ip batches and one nsenter: n2 and the root have no sysctl or iptables");
  });

  it("only sysctls: no iptables-restore; only rules: no sysctl; the root namespace without nsenter", async () => {
    const { run, calls } = recorder();
    await executeOps([sysctl("n1", "net.ipv4.ip_forward", "1"), ipt("n2", "filter", "-A OUTPUT -j DROP"), sysctl("", "net.ipv4.ip_forward", "1")], run);
    assert.deepEqual(
      calls.map((c) => [c.argv.join(" "), c.input]).sort(),
      [
        ["nsenter --net=/run/netns/n1 -- sh -c sysctl -q -w net.ipv4.ip_forward=1 >/dev/null", ""],
        ["nsenter --net=/run/netns/n2 -- sh -c iptables-restore --noflush", "*filter\n-A OUTPUT -j DROP\nCOMMIT\n"],
        ["sh -c sysctl -q -w net.ipv4.ip_forward=1 >/dev/null", ""],
      ].sort(),
    );
  });

  it("runs nothing for no ops", async () => {
    const { run, calls } = recorder();
    await executeOps([], run);
    assert.equal(calls.length, 0);
  });

  it("an error names the namespace it happened in", async () => {
    const { run } = recorder((argv) => (argv.includes("n2") ? "RTNETLINK answers: File exists" : null));
    await assert.rejects(executeOps(PHASE, run), (e: unknown) => {
      assert.ok(e instanceof FaultlineError);
      assert.equal(e.message, "programming n2: RTNETLINK answers: File exists");
      return true;
    });
  });

  it("an error in the sysctl/iptables step names the namespace too; the root one is 'the node network'", async () => {
    const inNs = recorder((argv) => (argv[0] === "nsenter" ? "iptables-restore: line 2 failed" : null));
    await assert.rejects(executeOps(PHASE, inNs.run), /^FaultlineError: programming n1: iptables-restore: line 2 failed$/);
    const root = recorder((argv) => (argv.join(" ") === "ip -batch -" ? "Cannot find device \"br-nodes\"" : null));
    await assert.rejects(executeOps(PHASE, root.run), /^FaultlineError: programming the node network: Cannot find device "br-nodes"$/);
  });

  it("runs namespaces in parallel up to the concurrency bound, each namespace's ops in order", async () => {
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    const run: Runner = async (argv) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      order.push(argv.join(" "));
      running--;
      return "";
    };
    const ops = Array.from({ length: 6 }, (_, i) => [ip(`n${i}`, "link set lo up"), sysctl(`n${i}`, "net.ipv4.ip_forward", "1")]).flat();
    await executeOps(ops, run, 2);
    assert.equal(peak, 2);
    assert.equal(order.length, 12);
    for (let i = 0; i < 6; i++) {
      const mine = order.filter((a) => a.includes(`n${i} `) || a.includes(`/n${i} `));
      assert.deepEqual(mine.map((a) => a.split(" ")[0]), ["ip", "nsenter"], `n${i}: ip batch, then sysctl`);
    }
  });
});

describe("executePhases", () => {
  it("one ip batch per namespace per phase, and a phase starts when the previous one is done", async () => {
    const events: string[] = [];
    const run: Runner = async (argv, input) => {
      events.push(`start ${argv.join(" ")} ${input?.trim()}`);
      await new Promise((r) => setTimeout(r, argv.includes("n1") ? 10 : 1));
      events.push(`end ${argv.join(" ")}`);
      return "";
    };
    await executePhases(
      [
        [ip("", "link add br type bridge"), ip("n1", "link add a type veth peer name b"), ip("n1", "link set a up")],
        [ip("n1", "addr add 10.0.0.1/24 dev a"), ip("n2", "link set lo up")],
      ],
      run,
    );
    const starts = events.filter((e) => e.startsWith("start"));
    assert.equal(starts.length, 4);
    const lastEndOfPhase1 = Math.max(events.indexOf("end ip -batch -"), events.indexOf("end ip -n n1 -batch -"));
    const firstStartOfPhase2 = events.findIndex((e) => e.includes("addr add") || e.includes("-n n2"));
    assert.ok(lastEndOfPhase1 < firstStartOfPhase2, events.join("\n"));
    assert.ok(events.includes("start ip -n n1 -batch - link add a type veth peer name b\nlink set a up"));
  });
});

describe("spawnRunner", () => {
  it("passes stdin and resolves with stdout", async () => {
    assert.equal(await spawnRunner(["sh", "-c", "tr a-z A-Z"], "ip -batch\n"), "IP -BATCH\n");
  });

  it("rejects with the command line, exit code and stderr", async () => {
    await assert.rejects(spawnRunner(["sh", "-c", "echo 'RTNETLINK answers: File exists' >&2; exit 2"]), (e: unknown) => {
      assert.ok(e instanceof FaultlineError);
      assert.equal(e.message, "sh -c echo 'RTNETLINK answers: File exists' >&2; exit 2 failed (exit 2): RTNETLINK answers: File exists");
      return true;
    });
  });

  it("a missing tool says how to install the sandbox tools", async () => {
    await assert.rejects(spawnRunner(["faultline-no-such-tool"]), (e: unknown) => {
      assert.ok(e instanceof FaultlineError);
      assert.match(e.message, /^cannot run faultline-no-such-tool: .*ENOENT/);
      assert.match(e.hint ?? "", /npm run bootstrap/);
      return true;
    });
  });

  it("a command that exits before reading its input is judged by its exit code", async () => {
    assert.equal(await spawnRunner(["true"], "x".repeat(1 << 20)), "");
  });
});
