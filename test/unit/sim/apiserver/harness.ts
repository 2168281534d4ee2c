/**
 * A running API server on 127.0.0.1:0 with a throwaway PKI, and a request helper that presents the
 * admin certificate, another CA's certificate ("stranger"), or none.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "../../../../server/log.js";
import { startApiServer, type ApiServer } from "../../../../server/sim/apiserver/index.js";
import { createCa, issue } from "../../../../server/sim/apiserver/pki.js";
import { flagshipPlan } from "./fixtures.js";

export interface Reply {
  code: number;
  type: string;
  text: string;
  json(): any;
}

export interface Harness {
  api: ApiServer;
  dir: string;
  admin: { key: Buffer; cert: Buffer };
  call(method: string, p: string, opts?: { body?: string | Buffer; headers?: Record<string, string>; as?: "admin" | "stranger" | "anonymous" }): Promise<Reply>;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-apiserver-"));
  const api = await startApiServer({ host: "127.0.0.1", port: 0, plan: flagshipPlan(), certDir: path.join(dir, "pki"), log: createLogger({}, { level: "error" }), kubeVersion: "v1.24.6" });
  const admin = { key: readFileSync(path.join(dir, "pki", "admin.key")), cert: readFileSync(path.join(dir, "pki", "admin.crt")) };
  const other = path.join(dir, "other");
  await createCa(other, "ca", "kubernetes");
  const pair = await issue(other, "ca", "admin", "/O=system:masters/CN=kubernetes-admin");
  const stranger = { key: Buffer.from(pair.key), cert: Buffer.from(pair.cert) };
  const call: Harness["call"] = (method, p, opts = {}) => {
    const who = opts.as ?? "admin";
    const creds = who === "admin" ? admin : who === "stranger" ? stranger : undefined;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: "127.0.0.1", port: api.port, method, path: p, headers: { ...(opts.body !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(opts.body)) } : {}), ...opts.headers }, ca: api.caCert, ...(creds ?? {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ code: res.statusCode ?? 0, type: String(res.headers["content-type"]), text, json: () => JSON.parse(text) });
          });
        },
      );
      req.on("error", reject);
      req.end(opts.body);
    });
  };
  return {
    api,
    dir,
    admin,
    call,
    close: async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
