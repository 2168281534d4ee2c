/**
 * Sign in and out. Failed logins are limited per client address and per account (auth/rate-limit.ts);
 * an unknown email costs the same time as a wrong password and gets the same answer.
 *
 *   POST /api/auth/login   {email, password} -> {user, csrfToken} + session cookies
 *   POST /api/auth/logout  -> 204, session deleted, cookies cleared
 *   GET  /api/auth/me      -> {user, csrfToken}
 */
import { Router } from "express";
import { z } from "zod";
import { PASSWORD_MAX, verifyNobody, verifyPassword } from "../auth/passwords.js";
import { humanDuration } from "../auth/rate-limit.js";
import { clearSessionCookies, currentAuth, isSecure, requireUser, startSession } from "../auth/sessions.js";
import { body, type Ctx } from "../context.js";
import { HttpError } from "../http-error.js";

const loginSchema = z.strictObject({
  email: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(PASSWORD_MAX),
});

export function authRoutes(ctx: Ctx): Router {
  const r = Router();
  const { perIp, perAccount } = ctx.limiters;

  r.post("/login", async (req, res) => {
    const { email, password } = body(req, loginSchema);
    const ip = req.ip ?? "unknown";
    const account = email.toLowerCase();
    const wait = Math.max(perIp.retryAfterMs(ip), perAccount.retryAfterMs(account));
    if (wait > 0) {
      const which = perIp.retryAfterMs(ip) > 0 ? "from this address" : "for this account";
      throw new HttpError(429, "rate_limited", `too many failed sign-ins ${which}; try again in ${humanDuration(wait)}`, "an admin can reset a forgotten password", {
        "Retry-After": String(Math.ceil(wait / 1000)),
      });
    }
    const creds = await ctx.store.credentialsByEmail(account);
    const ok = creds && !creds.user.disabledAt ? await verifyPassword(creds.passwordHash, password) : await verifyNobody(password);
    if (!ok || !creds) {
      perIp.fail(ip);
      perAccount.fail(account);
      ctx.log.info("auth.login_failed", { ip, account });
      throw new HttpError(401, "bad_credentials", "wrong email or password");
    }
    perAccount.reset(account);
    const csrfToken = await startSession(ctx.store, res, creds.user, { secure: isSecure(req, ctx.config.publicUrl), now: ctx.now() });
    ctx.log.info("auth.login", { user: creds.user.id, ip });
    res.json({ user: creds.user, csrfToken });
  });

  r.post("/logout", requireUser, async (req, res) => {
    await ctx.store.deleteSession(currentAuth(req)!.session.id);
    clearSessionCookies(res, isSecure(req, ctx.config.publicUrl));
    res.status(204).end();
  });

  r.get("/me", requireUser, (req, res) => {
    const { user, session } = currentAuth(req)!;
    res.json({ user, csrfToken: session.csrfToken });
  });

  return r;
}
