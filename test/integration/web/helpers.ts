/**
 * The lab server as the tests meet it: `startServer` (the entry point `faultline serve` uses) on port
 * 0, in a temp data directory with a real SQLite and a real SimDriver, serving a temp labs folder with
 * the labs a test asks for. `Client` is a browser in miniature: it keeps cookies, sends the page's
 * Origin, and echoes the CSRF cookie in X-CSRF-Token unless told not to.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ServeConfig } from "../../../server/config.js";
import { createLogger } from "../../../server/log.js";
import { projectRoot } from "../../../server/paths.js";
import type { SimDriver } from "../../../server/sandboxes/sim/driver.js";
import type { LoginLimits } from "../../../server/web/context.js";
import type { RealtimeOptions } from "../../../server/web/realtime.js";
import { startServer, type RunningServer } from "../../../server/web/serve.js";
import { cleanup, tempDataDir, testDriver } from "../../support/sandbox.js";

/** Labs by id: the bundled ones and the loader's fixtures. */
const LAB_SOURCES: Record<string, string> = {
  "webhook-to-kernel": path.join(projectRoot, "labs", "webhook-to-kernel"),
  "small-ok": path.join(projectRoot, "test", "fixtures", "labs", "small-ok"),
  "valid-full": path.join(projectRoot, "test", "fixtures", "labs", "valid-full"),
};

export interface TestServer extends RunningServer {
  driver: SimDriver;
  dataDir: string;
  config: ServeConfig;
  printed: string[];
  /** Closes the server; with `keepData`, sandboxes and the data directory stay (a restart follows). */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export interface TestServerOptions {
  labs?: string[];
  maxSandboxes?: number;
  maxSandboxesPerUser?: number;
  idleTimeoutMs?: number;
  reapIntervalMs?: number;
  trustProxy?: boolean;
  loginLimits?: LoginLimits;
  /** Postgres instead of SQLite. */
  databaseUrl?: string;
  /** Reuse a data directory (restart tests). */
  dataDir?: string;
  labsDir?: string;
  /** socket.io options (attachRealtime), e.g. a shorter session re-check. */
  realtime?: RealtimeOptions;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDataDir();
  let labsDir = opts.labsDir;
  if (!labsDir) {
    labsDir = mkdtempSync(path.join(tmpdir(), "faultline-labs-"));
    for (const id of opts.labs ?? ["small-ok"]) cpSync(LAB_SOURCES[id]!, path.join(labsDir, id), { recursive: true });
  }
  const config: ServeConfig = {
    dataDir,
    logJson: false,
    host: "127.0.0.1",
    port: 0,
    publicUrl: "http://127.0.0.1:0",
    databaseUrl: opts.databaseUrl ?? null,
    labsDir,
    maxSandboxes: opts.maxSandboxes ?? 20,
    maxSandboxesPerUser: opts.maxSandboxesPerUser ?? 2,
    idleTimeoutMs: opts.idleTimeoutMs ?? 30 * 60_000,
    trustProxy: opts.trustProxy ?? false,
  };
  const driver = testDriver(dataDir);
  const printed: string[] = [];
  const server = await startServer(config, {
    driver,
    print: (t) => void printed.push(t),
    log: createLogger({ test: "web" }, { level: "error" }),
    ...(opts.loginLimits ? { loginLimits: opts.loginLimits } : {}),
    ...(opts.reapIntervalMs ? { reapIntervalMs: opts.reapIntervalMs } : {}),
    ...(opts.realtime ? { realtime: opts.realtime } : {}),
  });
  return {
    ...server,
    driver,
    dataDir,
    config: { ...config, labsDir },
    printed,
    stop: async ({ keepData = false } = {}) => {
      await server.close();
      if (!keepData) {
        await cleanup(driver);
        rmSync(labsDir, { recursive: true, force: true });
      }
    },
  };
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class Client {
  readonly cookies = new Map<string, string>();
  origin: string | null;

  constructor(readonly base: string) {
    this.origin = base;
  }

  get csrf(): string | undefined {
    return this.cookies.get("faultline_csrf");
  }

  async request<T = any>(method: string, p: string, opts: { json?: unknown; raw?: string; headers?: Record<string, string>; csrf?: boolean | string } = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.cookies.size) headers["cookie"] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (this.origin && method !== "GET") headers["origin"] ??= this.origin;
    const csrf = opts.csrf === undefined || opts.csrf === true ? this.csrf : opts.csrf === false ? undefined : opts.csrf;
    if (csrf && method !== "GET") headers["x-csrf-token"] = csrf;
    let bodyText: string | undefined = opts.raw;
    if (opts.json !== undefined) {
      bodyText = JSON.stringify(opts.json);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(this.base + p, { method, headers, ...(bodyText !== undefined ? { body: bodyText } : {}) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/Max-Age=0/.test(c) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: kept as text so the assertion shows it */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(p: string, headers?: Record<string, string>) {
    return this.request<T>("GET", p, headers ? { headers } : {});
  }

  post<T = any>(p: string, json?: unknown, opts: { csrf?: boolean | string; headers?: Record<string, string> } = {}) {
    return this.request<T>("POST", p, { ...(json !== undefined ? { json } : {}), ...opts });
  }

  put<T = any>(p: string, json?: unknown, opts: { csrf?: boolean | string; headers?: Record<string, string> } = {}) {
    return this.request<T>("PUT", p, { ...(json !== undefined ? { json } : {}), ...opts });
  }

  async login(email: string, password: string): Promise<Reply> {
    const r = await this.post("/api/auth/login", { email, password });
    if (r.status !== 200) throw new Error(`login ${email}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  }
}

export const PASSWORD = "correct horse battery";

/** Makes the first admin with the setup link the server printed; returns their signed-in client. */
export async function firstAdmin(server: TestServer, email = "admin@example.com"): Promise<Client> {
  const admin = new Client(server.url);
  const r = await admin.post("/api/invites/accept", { token: server.setup!.token, email, name: "Admin", password: PASSWORD });
  if (r.status !== 201) throw new Error(`setup: ${r.status} ${JSON.stringify(r.body)}`);
  return admin;
}

/** A new user of `role` through an admin's invite; returns their signed-in client. */
export async function invited(server: TestServer, admin: Client, role: "trainee" | "reviewer" | "admin", email: string): Promise<Client> {
  const inv = await admin.post("/api/admin/invites", { role });
  if (inv.status !== 201) throw new Error(`invite: ${inv.status} ${JSON.stringify(inv.body)}`);
  const c = new Client(server.url);
  const r = await c.post("/api/invites/accept", { token: inv.body.token, email, name: email.split("@")[0], password: PASSWORD });
  if (r.status !== 201) throw new Error(`accept: ${r.status} ${JSON.stringify(r.body)}`);
  return c;
}

/** Polls an attempt until `ok` holds (or the time is up, returning the last answer). */
export async function waitForAttempt(c: Client, id: string, ok: (a: any) => boolean, timeoutMs = 60_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await c.get(`/api/attempts/${id}`);
    if (r.status !== 200) throw new Error(`GET attempt ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    if (ok(r.body.attempt) || Date.now() > end) return r.body.attempt;
    await new Promise((res) => setTimeout(res, 100));
  }
}
