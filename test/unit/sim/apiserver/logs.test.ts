/**
 * pods/{name}/log: the file a sandbox workload writes, served as `kubectl logs` reads it.
 */
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../../../server/log.js";
import { startApiServer, type ApiServer } from "../../../../server/sim/apiserver/index.js";
import { tailLines } from "../../../../server/sim/apiserver/podlogs.js";
import { flagshipPlan } from "./fixtures.js";

let api: ApiServer;
let dir: string;
let logs: string;
let admin: { key: Buffer; cert: Buffer };

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "faultline-logs-"));
  logs = path.join(dir, "logs");
  mkdirSync(logs);
  writeFileSync(path.join(logs, "default_netshoot.log"), "one\ntwo\nthree\n");
  api = await startApiServer({ host: "127.0.0.1", port: 0, plan: flagshipPlan(), certDir: path.join(dir, "pki"), log: createLogger({}, { level: "error" }), kubeVersion: "v1.24.6", logsDir: logs });
  admin = { key: readFileSync(path.join(dir, "pki", "admin.key")), cert: readFileSync(path.join(dir, "pki", "admin.crt")) };
});
after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(p: string): Promise<{ code: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: api.port, path: p, ca: api.caCert, ...admin }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ code: res.statusCode ?? 0, type: String(res.headers["content-type"]), text: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

const LOG = "/api/v1/namespaces/default/pods/netshoot/log";

describe("pods/log", () => {
  it("serves the workload's log file as text/plain", async () => {
    const r = await get(LOG);
    assert.equal(r.code, 200);
    assert.equal(r.type, "text/plain");
    assert.equal(r.text, "one\ntwo\nthree\n");
  });

  it("honours tailLines and limitBytes", async () => {
    assert.equal((await get(`${LOG}?tailLines=2`)).text, "two\nthree\n");
    assert.equal((await get(`${LOG}?tailLines=0`)).text, "");
    assert.equal((await get(`${LOG}?tailLines=10`)).text, "one\ntwo\nthree\n");
    assert.equal((await get(`${LOG}?limitBytes=5`)).text, "one\nt");
    const bad = await get(`${LOG}?tailLines=x`);
    assert.equal(bad.code, 400);
  });

  it("is empty for a pod without a workload", async () => {
    const r = await get("/api/v1/namespaces/kube-system/pods/coredns-645b46f4b6-7pl9x/log");
    assert.equal(r.code, 200);
    assert.equal(r.text, "");
  });

  it("answers an unknown pod with the real NotFound", async () => {
    const r = await get("/api/v1/namespaces/default/pods/nope/log");
    assert.equal(r.code, 404);
    const s = JSON.parse(r.text);
    assert.equal(s.reason, "NotFound");
    assert.equal(s.message, 'pods "nope" not found');
  });

  it("accepts the pod's container and refuses another in the real words", async () => {
    const pod = api.store.get("pods", "default", "netshoot");
    const name = (pod.spec as { containers: Array<{ name: string }> }).containers[0]!.name;
    assert.equal((await get(`${LOG}?container=${name}`)).text, "one\ntwo\nthree\n");
    const r = await get(`${LOG}?container=x`);
    assert.equal(r.code, 400);
    assert.equal(JSON.parse(r.text).message, "container x is not valid for pod netshoot");
  });

  it("follows appended lines until the client disconnects", async () => {
    const got = await new Promise<string>((resolve, reject) => {
      let text = "";
      const req = httpsRequest({ host: "127.0.0.1", port: api.port, path: `${LOG}?follow=true&tailLines=1`, ca: api.caCert, ...admin }, (res) => {
        assert.equal(res.statusCode, 200);
        res.on("data", (c: Buffer) => {
          text += c.toString();
          if (text === "three\n") appendFileSync(path.join(logs, "default_netshoot.log"), "four\n");
          if (text.includes("four\n")) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on("error", (e) => (text.includes("four") ? undefined : reject(e)));
      req.end();
      setTimeout(() => reject(new Error(`follow saw only ${JSON.stringify(text)}`)), 5000).unref();
    });
    assert.equal(got, "three\nfour\n");
  });

  it("tails like the kubelet (trailing partial line counts)", () => {
    assert.equal(tailLines(Buffer.from("a\nb\nc"), 2).toString(), "b\nc");
    assert.equal(tailLines(Buffer.from("a\nb\n"), 1).toString(), "b\n");
    assert.equal(tailLines(Buffer.from(""), 3).toString(), "");
  });
});
