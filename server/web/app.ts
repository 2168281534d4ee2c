/**
 * The HTTP app, made by a function so tests can start it on port 0 with their own store and driver.
 * Order matters: security headers, the Origin/JSON checks, the JSON body (64 KiB; 256 KiB for a
 * write-up), sessions (with the CSRF check), the routes, the browser app (client.ts), then the JSON
 * 404 and the one error handler.
 *
 * @example
 * const app = createApp({ publicUrl: "http://localhost:8080", trustProxy: false, dataDir }, { store, manager, labs, log });
 * const { url, close } = await listen(app.app, "127.0.0.1", 0);
 */
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express } from "express";
import { FailureLimiter } from "./auth/rate-limit.js";
import { sessions } from "./auth/sessions.js";
import { clientRoutes } from "./client.js";
import { DEFAULT_LOGIN_LIMITS, type Ctx, type WebConfig, type WebDeps } from "./context.js";
import { errorHandler, notFoundHandler } from "./http-error.js";
import { adminRoutes } from "./routes/admin.js";
import { attemptRoutes } from "./routes/attempts.js";
import { authRoutes } from "./routes/auth.js";
import { curriculumRoutes } from "./routes/curricula.js";
import { healthRoutes } from "./routes/health.js";
import { inviteRoutes } from "./routes/invites.js";
import { labRoutes } from "./routes/labs.js";
import { recordingRoutes } from "./routes/recordings.js";
import { reviewRoutes } from "./routes/reviews.js";
import { writeupRoutes } from "./routes/writeups.js";
import { requestChecks, securityHeaders } from "./security.js";

export const BODY_LIMIT = "64kb";
/** The body of `PUT .../writeup`: WRITEUP_MAX_BYTES of markdown with room for JSON's escapes. */
export const WRITEUP_BODY_LIMIT = "256kb";

export interface WebApp {
  app: Express;
  ctx: Ctx;
  /** Stops the app's timers (the limiters' pruning). */
  dispose(): void;
}

export function createApp(config: WebConfig, deps: WebDeps): WebApp {
  const now = deps.now ?? (() => new Date());
  const limits = deps.loginLimits ?? DEFAULT_LOGIN_LIMITS;
  const ctx: Ctx = {
    config,
    store: deps.store,
    manager: deps.manager,
    labs: deps.labs,
    log: deps.log,
    now,
    limiters: { perIp: new FailureLimiter(limits.perIp), perAccount: new FailureLimiter(limits.perAccount) },
  };
  const prune = setInterval(() => (ctx.limiters.perIp.prune(), ctx.limiters.perAccount.prune()), 60_000);
  prune.unref();

  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.trustProxy ? 1 : false);
  app.use(securityHeaders(config));
  app.use(requestChecks(config));
  // A write-up may hold WRITEUP_MAX_BYTES of markdown, which JSON escaping makes larger than the
  // 64 KiB every other body keeps to; over its own limit the route answers a 413 that says so.
  app.put("/api/attempts/:id/writeup", express.json({ limit: WRITEUP_BODY_LIMIT, strict: true }));
  app.use(express.json({ limit: BODY_LIMIT, strict: true }));
  app.use(sessions(ctx.store, now));

  app.use(healthRoutes(ctx));
  app.use("/api/auth", authRoutes(ctx));
  app.use("/api/invites", inviteRoutes(ctx));
  app.use("/api/labs", labRoutes(ctx));
  app.use("/api/curricula", curriculumRoutes(ctx));
  app.use("/api/attempts", attemptRoutes(ctx));
  app.use("/api/attempts", writeupRoutes(ctx));
  app.use("/api/attempts", recordingRoutes(ctx));
  app.use("/api/reviews", reviewRoutes(ctx));
  app.use("/api/admin", adminRoutes(ctx));
  app.use(clientRoutes());

  app.use(notFoundHandler);
  app.use(errorHandler(ctx.log));
  return { app, ctx, dispose: () => clearInterval(prune) };
}

export interface Listening {
  server: Server;
  /** http://host:port as bound (port 0 resolved). */
  url: string;
  close(): Promise<void>;
}

export async function listen(app: Express, host: string, port: number): Promise<Listening> {
  const server = app.listen(port, host);
  await once(server, "listening");
  const addr = server.address() as AddressInfo;
  const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${shown}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
