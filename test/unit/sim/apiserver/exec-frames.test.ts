/**
 * The WebSocket framing and the exec channel protocol, end to end against the API server with a tiny
 * client (masked frames, as gorilla/websocket in kubectl sends them). The "agent" is this test process:
 * nsenter into its own namespaces runs the command on the host, which is all the protocol needs.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../../../server/log.js";
import { CHANNEL, execArgv, exitStatus } from "../../../../server/sim/apiserver/exec.js";
import { startApiServer, type ApiServer } from "../../../../server/sim/apiserver/index.js";
import { acceptKey, encodeClientFrame, encodeFrame, FrameDecoder, OPCODE, ProtocolError } from "../../../../server/sim/apiserver/websocket.js";
import { flagshipPlan } from "./fixtures.js";

describe("websocket framing", () => {
  it("computes the RFC 6455 accept key", () => {
    assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("encodes the three length forms", () => {
    assert.deepEqual([...encodeFrame(OPCODE.binary, Buffer.from([1, 2])).subarray(0, 2)], [0x82, 2]);
    const mid = encodeFrame(OPCODE.binary, Buffer.alloc(300));
    assert.equal(mid[1], 126);
    assert.equal(mid.readUInt16BE(2), 300);
    const big = encodeFrame(OPCODE.binary, Buffer.alloc(70000));
    assert.equal(big[1], 127);
    assert.equal(Number(big.readBigUInt64BE(2)), 70000);
    assert.equal(big.length, 70010);
  });

  it("decodes masked client frames split anywhere, and reassembles fragments", () => {
    const payloads = [Buffer.from("hi"), Buffer.alloc(300, 7), Buffer.alloc(70000, 9)];
    const wire = Buffer.concat([
      ...payloads.map((p) => encodeClientFrame(OPCODE.binary, p)),
      encodeClientFrame(OPCODE.text, Buffer.from("ab"), undefined, false),
      encodeClientFrame(OPCODE.ping, Buffer.from("p")),
      encodeClientFrame(OPCODE.continuation, Buffer.from("cd")),
    ]);
    const d = new FrameDecoder();
    const got = [];
    for (let i = 0; i < wire.length; i += 333) got.push(...d.push(wire.subarray(i, i + 333)));
    assert.equal(got.length, 5);
    for (let i = 0; i < 3; i++) assert.ok(got[i]!.payload.equals(payloads[i]!));
    assert.equal(got[3]!.opcode, OPCODE.ping);
    assert.equal(got[4]!.opcode, OPCODE.text);
    assert.equal(got[4]!.payload.toString(), "abcd");
  });

  it("refuses unmasked and oversized frames", () => {
    assert.throws(() => new FrameDecoder().push(encodeFrame(OPCODE.binary, Buffer.from("x"))), ProtocolError);
    assert.throws(() => new FrameDecoder(100).push(encodeClientFrame(OPCODE.binary, Buffer.alloc(200))), (e: unknown) => e instanceof ProtocolError && e.closeCode === 1009);
  });

  it("writes the kubelet's exit Status", () => {
    assert.deepEqual(exitStatus(0, ["true"]), { metadata: {}, status: "Success" });
    const s = exitStatus(3, ["sh", "-c", "exit 3"]) as { reason: string; details: { causes: unknown[] } };
    assert.equal(s.reason, "NonZeroExitCode");
    assert.deepEqual(s.details.causes, [{ reason: "ExitCode", message: "3" }]);
  });

  it("enters the agent with nsenter and a clean environment", () => {
    const argv = execArgv(42, ["hostname"], false);
    assert.deepEqual(argv.slice(0, 10), ["nsenter", "-t", "42", "-m", "-u", "-i", "-n", "-p", "--", "env"]);
    assert.equal(argv.at(-1), "hostname");
    assert.ok(!argv.some((a) => a.startsWith("TERM=")));
    assert.ok(execArgv(42, ["sh"], true).includes("TERM=xterm"));
  });
});

let api: ApiServer;
let dir: string;
let admin: { key: Buffer; cert: Buffer };

/** Server frames of one exec session, until the server closes. */
interface Session {
  status: number;
  head: string;
  protocol: string | undefined;
  channels: Map<number, string>;
  closed: boolean;
}

function exec(query: string, opts: { protocols?: string; upgrade?: string; pod?: string; send?: (s: TLSSocket) => void } = {}): Promise<Session> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port: api.port, ca: api.caCert, ...admin, servername: "localhost", checkServerIdentity: () => undefined });
    const session: Session = { status: 0, head: "", protocol: undefined, channels: new Map(), closed: false };
    let buf = Buffer.alloc(0);
    let upgraded = false;
    sock.on("secureConnect", () => {
      const p = `/api/v1/namespaces/default/pods/${opts.pod ?? "netshoot"}/exec?${query}`;
      const upgrade = opts.upgrade ?? "websocket";
      sock.write(
        `GET ${p} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ${opts.protocols ?? "v5.channel.k8s.io, v4.channel.k8s.io"}\r\n\r\n`,
      );
    });
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        session.head = buf.subarray(0, end).toString();
        session.status = Number(/^HTTP\/1\.1 (\d+)/.exec(session.head)?.[1]);
        session.protocol = /Sec-WebSocket-Protocol: (\S+)/i.exec(session.head)?.[1];
        buf = buf.subarray(end + 4);
        if (session.status !== 101) {
          session.channels.set(-1, buf.toString());
          buf = Buffer.alloc(0);
          upgraded = true;
          return;
        }
        upgraded = true;
        opts.send?.(sock);
      }
      if (session.status !== 101) {
        session.channels.set(-1, (session.channels.get(-1) ?? "") + buf.toString());
        buf = Buffer.alloc(0);
        return;
      }
      // server frames are unmasked; short payloads only in these tests, but handle 126 too
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        }
        if (buf.length < off + len) return;
        const op = buf[0]! & 0x0f;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (op === OPCODE.close) {
          session.closed = true;
          sock.end(encodeClientFrame(OPCODE.close, payload));
        } else if (op === OPCODE.binary) {
          const ch = payload[0]!;
          session.channels.set(ch, (session.channels.get(ch) ?? "") + payload.subarray(1).toString());
        }
      }
    });
    sock.on("close", () => resolve(session));
    sock.on("error", reject);
    setTimeout(() => (sock.destroy(), reject(new Error("exec session did not end"))), 10_000).unref();
  });
}

describe("pods/exec over WebSocket", () => {
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "faultline-exec-"));
    // every pod's "agent" is this process: entering its own namespaces is allowed to root and changes nothing
    api = await startApiServer({
      host: "127.0.0.1", port: 0, plan: flagshipPlan(), certDir: path.join(dir, "pki"), log: createLogger({}, { level: "error" }), kubeVersion: "v1.24.6",
      agents: () => ({ "pod/default/netshoot": process.pid }),
    });
    admin = { key: readFileSync(path.join(dir, "pki", "admin.key")), cert: readFileSync(path.join(dir, "pki", "admin.crt")) };
  });
  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const root = process.getuid?.() === 0;

  it("runs a command: stdout on channel 1, Success on channel 3, then a close", { skip: !root && "needs root for nsenter" }, async () => {
    const s = await exec("command=hostname&stdout=true&stderr=true");
    assert.equal(s.status, 101);
    assert.match(s.head, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
    assert.equal(s.protocol, "v5.channel.k8s.io");
    assert.equal(s.channels.get(CHANNEL.stdout), `${hostname()}\n`);
    assert.deepEqual(JSON.parse(s.channels.get(CHANNEL.error)!), { metadata: {}, status: "Success" });
    assert.ok(s.closed);
  });

  it("reports a non-zero exit code the way kubectl reads it", { skip: !root && "needs root for nsenter" }, async () => {
    const s = await exec("command=sh&command=-c&command=echo+oops+>%262%3B+exit+3&stdout=true&stderr=true", { protocols: "v4.channel.k8s.io" });
    assert.equal(s.protocol, "v4.channel.k8s.io");
    assert.equal(s.channels.get(CHANNEL.stderr), "oops\n");
    const st = JSON.parse(s.channels.get(CHANNEL.error)!);
    assert.equal(st.reason, "NonZeroExitCode");
    assert.deepEqual(st.details.causes, [{ reason: "ExitCode", message: "3" }]);
  });

  it("feeds stdin and ends it on v5's close signal", { skip: !root && "needs root for nsenter" }, async () => {
    const s = await exec("command=cat&stdin=true&stdout=true&stderr=true", {
      send: (sock) => {
        sock.write(encodeClientFrame(OPCODE.binary, Buffer.from([CHANNEL.stdin, ...Buffer.from("hello\n")])));
        sock.write(encodeClientFrame(OPCODE.ping, Buffer.from("hb")));
        sock.write(encodeClientFrame(OPCODE.binary, Buffer.from([CHANNEL.close, CHANNEL.stdin])));
      },
    });
    assert.equal(s.channels.get(CHANNEL.stdout), "hello\n");
    assert.equal(JSON.parse(s.channels.get(CHANNEL.error)!).status, "Success");
  });

  it("runs on a PTY with tty=true and applies resizes", { skip: !root && "needs root for nsenter" }, async () => {
    const s = await exec("command=sh&command=-c&command=sleep+0.3%3B+stty+size&stdin=true&stdout=true&tty=true", {
      send: (sock) => sock.write(encodeClientFrame(OPCODE.binary, Buffer.from([CHANNEL.resize, ...Buffer.from('{"Width":100,"Height":30}')]))),
    });
    assert.match(s.channels.get(CHANNEL.stdout) ?? "", /30 100\r\n/);
    assert.equal(JSON.parse(s.channels.get(CHANNEL.error)!).status, "Success");
  });

  it("answers an unknown pod, a wrong container and a pod without an agent before upgrading", async () => {
    const nf = await exec("command=true&stdout=true", { pod: "nope" });
    assert.equal(nf.status, 404);
    assert.equal(JSON.parse(nf.channels.get(-1)!).message, 'pods "nope" not found');
    const bad = await exec("command=true&stdout=true&container=x");
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.channels.get(-1)!).message, "container x is not valid for pod netshoot");
    const none = await exec("command=true&stdout=true", { pod: "hello-world-6d4b8c7f9-abcde" });
    assert.equal(none.status, 400);
    assert.match(JSON.parse(none.channels.get(-1)!).message, /has no running container in this sandbox/);
  });

  it("refuses SPDY with a Status kubectl prints", async () => {
    const s = await exec("command=true&stdout=true", { upgrade: "SPDY/3.1" });
    assert.equal(s.status, 400);
    assert.match(JSON.parse(s.channels.get(-1)!).message, /WebSocket/);
  });
});
