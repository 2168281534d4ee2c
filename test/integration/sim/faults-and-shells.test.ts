/**
 * Faults injected and reverted on a running sandbox (the kernel shows each one), and interactive
 * shells on a PTY.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ClusterPlan } from "../../../server/sim/plan.js";
import { cleanup, fixtureLab, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();
const name = uniqueName("flt");
let plan: ClusterPlan;

const ping = async (from: string, to: string) => (await driver.exec(name, from, ["ping", "-c", "1", "-W", "1", to], { timeoutMs: 5000 }));

describe("faults on a running sandbox", { timeout: 120_000 }, () => {
  before(async () => {
    ({ plan } = await driver.up({ lab: fixtureLab("small-ok"), name }));
  });
  after(() => cleanup(driver));

  it("blackhole-route: locally originated traffic gets EINVAL; revert restores reachability", async () => {
    const web = plan.pods.find((p) => p.name === "web")!;
    assert.equal((await ping("node/worker-2", web.address)).code, 0);
    const block = plan.nodes.find((n) => n.name === web.node)!.blocks[0]!;
    await driver.control(name, { op: "fault-apply", fault: { kind: "blackhole-route", node: "worker-2", cidr: block } });
    const broken = await ping("node/worker-2", web.address);
    assert.match(broken.stderr, /connect: Invalid argument/);
    const listed = await driver.control(name, { op: "faults" });
    assert.match(JSON.stringify(listed.faults), /blackhole/);
    await driver.control(name, { op: "fault-revert", index: 0 });
    assert.equal((await ping("node/worker-2", web.address)).code, 0);
  });

  it("drop-traffic: pod to node traffic is dropped until reverted", async () => {
    await driver.control(name, { op: "fault-apply", fault: { kind: "drop-traffic", from: "pod/default/web", to: "node/cp-1" } });
    const cp = plan.nodes.find((n) => n.name === "cp-1")!;
    assert.notEqual((await ping("pod/default/web", cp.address)).code, 0);
    await driver.control(name, { op: "fault-revert", index: 0 });
    assert.equal((await ping("pod/default/web", cp.address)).code, 0);
  });

  it("mtu: the node's link MTU changes and is restored", async () => {
    await driver.control(name, { op: "fault-apply", fault: { kind: "mtu", node: "worker-1", mtu: 1400 } });
    assert.match((await driver.exec(name, "node/worker-1", ["ip", "link", "show", "eth0"])).stdout, /mtu 1400/);
    // Path MTU now bites: a full-size unfragmentable ping from the node fails locally.
    const big = await driver.exec(name, "node/worker-1", ["ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1472", plan.nodes[0]!.address]);
    assert.match(big.stdout + big.stderr, /message too long|mtu=1400/i);
    await driver.control(name, { op: "fault-revert", index: 0 });
    assert.match((await driver.exec(name, "node/worker-1", ["ip", "link", "show", "eth0"])).stdout, /mtu 1500/);
  });

  it("every node and pod has a TCP socket table of its own, so /proc/net/tcp and ss stay fast", async () => {
    // The host's shared table, sized by its memory, made each read of /proc/net/tcp walk it all (supervisor.ts).
    for (const target of ["node/worker-1", ...(plan.pods[0] ? [`pod/${plan.pods[0].namespace}/${plan.pods[0].name}`] : [])]) {
      const r = await driver.exec(name, target, ["cat", "/proc/sys/net/ipv4/tcp_ehash_entries"]);
      assert.equal(r.stdout.trim(), "1024", `${target}: ${r.stdout}${r.stderr}`);
    }
  });

  it("a fault naming a node that does not exist is refused with the list of nodes", async () => {
    await assert.rejects(driver.control(name, { op: "fault-apply", fault: { kind: "mtu", node: "worker-9", mtu: 1400 } }), /worker-9.*(cp-1|worker-1)/s);
    await assert.rejects(driver.control(name, { op: "fault-revert", index: 7 }), /no fault #7/);
    // the control socket parses by schema: a wrong type or an unknown operation is named, nothing runs
    await assert.rejects(driver.control(name, { op: "fault-revert", index: "x" }), /malformed request: index: /);
    await assert.rejects(driver.control(name, { op: "format-disk" }), /malformed request: op: /);
  });

  it("the trainee's control socket refuses everything but rebuild and status", async () => {
    const r = await driver.exec(name, "node/cp-1", ["sh", "-c", `echo '{"op":"fault-revert","index":0}' | socat - UNIX-CONNECT:/run/faultline/control.sock`]);
    assert.match(r.stdout, /not allowed from inside the sandbox/);
    const bad = await driver.exec(name, "node/cp-1", ["sh", "-c", "echo 'not json' | socat - UNIX-CONNECT:/run/faultline/control.sock"]);
    assert.match(bad.stdout, /malformed request/);
  });

  it("an interactive shell on a PTY: a prompt with the node's name, a tty, resize, the node's tools, exit", async () => {
    const pty = driver.openShell(name, "node/worker-1", { cols: 100, rows: 30 });
    let out = "";
    pty.onData((d) => (out += d));
    const exited = new Promise<number>((r) => pty.onExit((e) => r(e.exitCode)));
    pty.resize(120, 40);
    pty.write("tty; stty size; hostname; command -v faultline-reprovision calicoctl; exit 3\r");
    assert.equal(await exited, 3);
    assert.match(out, /\/dev\/pts\/\d+/);
    assert.match(out, /40 120/);
    assert.match(out, /root@worker-1/);
    // A login shell: /etc/profile resets root's PATH, ~/.profile puts the sandbox's tools back on it.
    assert.match(out, /^\/opt\/faultline\/bin\/faultline-reprovision\r?\n\/opt\/faultline\/bin\/calicoctl\r?$/m);
  });
});
