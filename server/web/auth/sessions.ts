/**
 * Cookie sessions. The browser holds a random token in `faultline_session` (httpOnly, SameSite=Lax,
 * Secure behind https); the database holds only its sha256, so a leaked database opens no session.
 *
 * CSRF: every session has its own random CSRF token (stored with it, handed to the client by login
 * and `GET /api/auth/me`, and in the readable cookie `faultline_csrf`). A state-changing request made
 * with a session must echo it in `X-CSRF-Token`; the server compares it with the session's stored
 * token (a synchronizer token, delivered double-submit style). Requests without a session (login,
 * accepting an invite) are covered by the Origin and JSON-body checks of security.ts.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Role, Session, Store, User } from "../../store/index.js";
import { HttpError } from "../http-error.js";
import { UNSAFE_METHODS } from "../security.js";

export const SESSION_COOKIE = "faultline_session";
export const CSRF_COOKIE = "faultline_csrf";
export const CSRF_HEADER = "x-csrf-token";
export const SESSION_TTL_MS = 7 * 24 * 3_600_000;
/** `last_seen_at` is written at most this often per session. */
const TOUCH_EVERY_MS = 5 * 60_000;

export interface Auth {
  user: User;
  session: Session;
}

const authOf = new WeakMap<Request, Auth>();

/** The signed-in user of a request, if any (set by `sessions()`). */
export function currentAuth(req: Request): Auth | undefined {
  return authOf.get(req);
}

/** The signed-in user; for handlers behind `requireUser`. */
export function userOf(req: Request): User {
  const auth = authOf.get(req);
  if (!auth) throw new HttpError(401, "unauthenticated", "sign in first");
  return auth.user;
}

export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    try {
      out[name] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      /* a malformed value is ignored, like a missing one */
    }
  }
  return out;
}

export interface CookieOptions {
  /** True behind https (the public URL is https, or a trusted proxy said so). */
  secure: boolean;
}

function cookie(name: string, value: string, opts: { httpOnly: boolean; maxAgeMs: number; secure: boolean }): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    "Path=/",
    `Max-Age=${Math.floor(opts.maxAgeMs / 1000)}`,
    "SameSite=Lax",
    ...(opts.httpOnly ? ["HttpOnly"] : []),
    ...(opts.secure ? ["Secure"] : []),
  ].join("; ");
}

export function isSecure(req: Request, publicUrl: string): boolean {
  return req.secure || publicUrl.startsWith("https:");
}

/** Creates a session for `user` and sets its cookies; returns the CSRF token for the client. */
export async function startSession(store: Store, res: Response, user: User, opts: { secure: boolean; now: Date }): Promise<string> {
  const token = randomToken();
  const csrfToken = randomToken(24);
  const at = opts.now.toISOString();
  await store.createSession({
    id: tokenHash(token), userId: user.id, csrfToken, createdAt: at, lastSeenAt: at,
    expiresAt: new Date(opts.now.getTime() + SESSION_TTL_MS).toISOString(),
  });
  res.append("Set-Cookie", cookie(SESSION_COOKIE, token, { httpOnly: true, maxAgeMs: SESSION_TTL_MS, secure: opts.secure }));
  res.append("Set-Cookie", cookie(CSRF_COOKIE, csrfToken, { httpOnly: false, maxAgeMs: SESSION_TTL_MS, secure: opts.secure }));
  return csrfToken;
}

export function clearSessionCookies(res: Response, secure: boolean): void {
  res.append("Set-Cookie", cookie(SESSION_COOKIE, "", { httpOnly: true, maxAgeMs: 0, secure }));
  res.append("Set-Cookie", cookie(CSRF_COOKIE, "", { httpOnly: false, maxAgeMs: 0, secure }));
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Finds the request's session (if any) and, for state-changing requests made with one, checks the
 * CSRF token. A request with a stale or unknown session cookie goes on as signed out.
 */
export function sessions(store: Store, now: () => Date): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const token = parseCookies(req.get("cookie"))[SESSION_COOKIE];
    if (!token) return next();
    const at = now();
    const found = await store.sessionWithUser(tokenHash(token), at.toISOString());
    if (!found) return next();
    if (UNSAFE_METHODS.has(req.method)) {
      const sent = req.get(CSRF_HEADER);
      if (!sent || !sameToken(sent, found.session.csrfToken)) {
        return next(new HttpError(403, "csrf", "missing or wrong CSRF token", `send the session's token (cookie ${CSRF_COOKIE}, or csrfToken from GET /api/auth/me) in the X-CSRF-Token header`));
      }
    }
    authOf.set(req, found);
    if (at.getTime() - Date.parse(found.session.lastSeenAt) > TOUCH_EVERY_MS) await store.touchSession(found.session.id, at.toISOString());
    next();
  };
}

export const requireUser: RequestHandler = (req, _res, next) => {
  next(authOf.has(req) ? undefined : new HttpError(401, "unauthenticated", "sign in first", "POST /api/auth/login"));
};

export function requireRole(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    const auth = authOf.get(req);
    if (!auth) return next(new HttpError(401, "unauthenticated", "sign in first", "POST /api/auth/login"));
    next(roles.includes(auth.user.role) ? undefined : new HttpError(403, "forbidden", `this needs the ${roles.join(" or ")} role`));
  };
}
