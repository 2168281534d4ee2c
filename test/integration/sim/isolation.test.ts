/**
 * What a trainee's shell can and cannot do: own processes only, no host files or network, no other
 * sandbox, a read-only system, the files a node has. Uses two small sandboxes side by side.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { projectRoot } from "../../../server/paths.js";
import { cleanup, fixtureLab, tempDataDir, uniqueName } from "../../support/sandbox.js";
import { SimDriver } from "../../../server/sandboxes/sim/driver.js";
import { createLogger } from "../../../server/log.js";
import { memoryUsage } from "../../../server/sandboxes/sim/cgroups.js";

// Small limits, so the resource tests below stay cheap.
const driver = new SimDriver(tempDataDir(), createLogger({ test: true }, { level: "warn" }), { limits: { memoryBytes: 512 * 1024 * 1024, pids: 1024 } });
const a = uniqueName("iso-a");
const b = uniqueName("iso-b");
let hostServer: Server;
let hostPort = 0;

describe("sandbox isolation", { timeout: 120_000 }, () => {
  before(async () => {
    await driver.up({ lab: fixtureLab("small-ok"), name: a });
    await driver.up({ lab: fixtureLab("small-ok"), name: b });
    hostServer = createServer((_req, res) => res.end("host secret\n"));
    await new Promise<void>((r) => hostServer.listen(0, "127.0.0.1", r));
    hostPort = (hostServer.address() as { port: number }).port;
  });
  after(async () => {
    hostServer.close();
    await cleanup(driver);
  });

  it("runs as an unprivileged host uid, never host root", async () => {
    const meta = driver.meta(a);
    const r = await driver.exec(a, "node/cp-1", ["sh", "-c", "id -u; cat /proc/self/uid_map"]);
    const [uid, map] = r.stdout.trim().split("\n");
    assert.equal(uid, "0");
    assert.match(map!, new RegExp(`^\\s*0\\s+${meta.uidBase}\\s+65536$`));
    assert.ok(meta.uidBase >= 100000);
  });

  it("sees only its own processes", async () => {
    const r = await driver.exec(a, "node/cp-1", ["ps", "-e", "-o", "comm="]);
    const procs = r.stdout.trim().split("\n");
    assert.ok(procs.length < 8, procs.join(","));
    assert.ok(!procs.some((c) => c === "node" || c === "bwrap" || c === "unshare" || c === "nsenter"), procs.join(","));
  });

  it("cannot see the project checkout, the data directory or host files outside the whitelist", async () => {
    const paths = [projectRoot, driver.dataDir, "/etc/shadow", "/etc/subuid", "/home", "/var/lib", "/srv"];
    const r = await driver.exec(a, "node/cp-1", ["sh", "-c", paths.map((p) => `test -e '${p}' && echo "VISIBLE ${p}"`).join("; ") + "; true"]);
    assert.equal(r.stdout, "");
  });

  it("cannot write the system: /usr and /etc are read-only; home, /tmp and the workspace are writable", async () => {
    const r = await driver.exec(a, "node/cp-1", ["sh", "-c", "{ touch /usr/bin/x; echo x >> /etc/passwd; touch /root/ok /tmp/ok /root/workspace/ok && echo WRITABLE; } 2>&1"]);
    assert.match(r.stdout, /touch: cannot touch '\/usr\/bin\/x': Read-only file system/);
    assert.match(r.stdout, /\/etc\/passwd: (Read-only file system|Permission denied)/);
    assert.match(r.stdout, /WRITABLE/);
  });

  it("cannot reach the host's loopback services", async () => {
    // Sanity: the host server answers on the host.
    assert.equal((await (await fetch(`http://127.0.0.1:${hostPort}/`)).text()).trim(), "host secret");
    const r = await driver.exec(a, "node/cp-1", ["curl", "-sS", "--max-time", "2", `http://127.0.0.1:${hostPort}/`], { timeoutMs: 10_000 });
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /host secret/);
    assert.match(r.stderr, /Connection refused|Couldn't connect/);
  });

  it("has no link to the host's network: the sandbox root namespace holds only the node bridge and its veths", () => {
    const meta = driver.meta(a);
    const links = execFileSync("nsenter", [`--net=/proc/${meta.initPid}/ns/net`, "ip", "-o", "link"], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map((l) => l.split(":")[1]!.trim().split("@")[0]);
    assert.ok(links.every((l) => l === "lo" || l === "br-nodes" || /^vn\d+$/.test(l!)), links.join(","));
    const hostNet = execFileSync("readlink", ["/proc/self/ns/net"], { encoding: "utf8" }).trim();
    const sandboxNet = execFileSync("readlink", [`/proc/${meta.initPid}/ns/net`], { encoding: "utf8" }).trim();
    assert.notEqual(hostNet, sandboxNet);
  });

  it("cannot see or touch another sandbox: other ids, other files, other namespaces", async () => {
    await driver.exec(b, "node/cp-1", ["sh", "-c", "echo from-b > /root/workspace/marker"]);
    const r = await driver.exec(a, "node/cp-1", ["sh", "-c", "cat /root/workspace/marker 2>&1; cat /proc/self/uid_map"]);
    assert.match(r.stdout, /No such file or directory/);
    assert.notEqual(driver.meta(a).uidBase, driver.meta(b).uidBase);
    const nsA = await driver.exec(a, "node/cp-1", ["readlink", "/proc/self/ns/net"]);
    const nsB = await driver.exec(b, "node/cp-1", ["readlink", "/proc/self/ns/net"]);
    assert.notEqual(nsA.stdout, nsB.stdout);
  });

  it("has the files a node has: hostname, hosts, CNI config, /etc/kubernetes, and real tools on PATH", async () => {
    const r = await driver.exec(a, "node/worker-1", ["sh", "-c", "hostname; grep -c . /etc/hosts; ls /etc/cni/net.d; test -d /etc/kubernetes/manifests && echo K8S; for t in ip ping curl tcpdump strace dig nc socat vim nano bash; do command -v $t >/dev/null || echo MISSING $t; done"]);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines[0], "worker-1");
    assert.ok(Number(lines[1]) >= 5);
    assert.equal(lines[2], "10-calico.conflist");
    assert.equal(lines[3], "K8S");
    assert.deepEqual(lines.slice(4), []);
  });

  it("is held to its memory limit: a hog in a shell is killed, the sandbox lives on", async () => {
    const r = await driver.exec(a, "node/worker-1", ["sh", "-c", "head -c 900M /dev/zero | tail > /dev/null; echo exit=$?"], { timeoutMs: 60_000 });
    assert.match(r.stdout, /exit=137/);
    assert.ok((memoryUsage(`slot-${driver.meta(a).slot}`) ?? 0) < 512 * 1024 * 1024);
    const alive = await driver.exec(a, "node/cp-1", ["kubectl", "get", "nodes", "--no-headers"], { timeoutMs: 20_000 });
    assert.equal(alive.stdout.trim().split("\n").length, 3, alive.stderr);
    // and the other sandbox never noticed
    assert.equal((await driver.exec(b, "node/cp-1", ["true"])).code, 0);
  });

  it("does not leak the server's environment into shells", async () => {
    process.env.FAULTLINE_TEST_SECRET = "s3cr3t";
    const r = await driver.exec(a, "node/cp-1", ["env"]);
    assert.doesNotMatch(r.stdout, /s3cr3t|FAULTLINE/);
    delete process.env.FAULTLINE_TEST_SECRET;
  });
});
