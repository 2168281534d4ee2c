/**
 * What the routes share: the validated config's web part, the store, the SandboxManager, the labs, a
 * logger, the clock and the login limiters. Built once by createApp.
 */
import type { Request } from "express";
import type { z } from "zod";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { badRequest } from "./http-error.js";
import type { LabCatalog } from "./labs.js";
import type { FailureLimiter, LimitRule } from "./auth/rate-limit.js";
import type { SandboxManager } from "./sandbox-manager.js";

/** The part of ServeConfig the HTTP app needs (tests build it directly). */
export interface WebConfig {
  /** The origin users reach the server at (links, Origin checks; https means Secure cookies). */
  publicUrl: string;
  /** Honour X-Forwarded-For/-Proto from one proxy in front. */
  trustProxy: boolean;
  /** The data directory: terminal recordings are served from its `recordings/` only. */
  dataDir: string;
}

export interface LoginLimits {
  /** Failed logins per client address. */
  perIp: LimitRule;
  /** Failed logins per account (email), wherever they come from. */
  perAccount: LimitRule;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perIp: { max: 20, windowMs: 15 * 60_000 },
  perAccount: { max: 5, windowMs: 15 * 60_000 },
};

export interface WebDeps {
  store: Store;
  manager: SandboxManager;
  labs: LabCatalog;
  log: Logger;
  now?: () => Date;
  loginLimits?: LoginLimits;
}

export interface Ctx {
  config: WebConfig;
  store: Store;
  manager: SandboxManager;
  labs: LabCatalog;
  log: Logger;
  now: () => Date;
  limiters: { perIp: FailureLimiter; perAccount: FailureLimiter };
}

/**
 * The request body parsed by `schema`; a 400 naming the field otherwise
 * (`password: Too small: expected string to have >=10 characters`).
 */
export function body<T extends z.ZodType>(req: Request, schema: T): z.output<T> {
  const res = schema.safeParse(req.body ?? {});
  if (res.success) return res.data;
  const issues = res.error.issues.slice(0, 3).map((i) => `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`);
  throw badRequest(issues.join("; "), "see docs/server.md for the request's fields");
}

/** The query string parsed by `schema`; a 400 naming the parameter otherwise. */
export function query<T extends z.ZodType>(req: Request, schema: T): z.output<T> {
  const res = schema.safeParse(req.query ?? {});
  if (res.success) return res.data;
  const issues = res.error.issues.slice(0, 3).map((i) => `${i.path.length ? i.path.join(".") : "query"}: ${i.message}`);
  throw badRequest(issues.join("; "), "see docs/server.md for the request's parameters");
}

/** A route parameter (Express 5 types them as string | string[]). */
export function param(req: Request, name: string): string {
  const v = (req.params as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
}
