/**
 * Invite links, from the visitor's side (admins make them in admin.ts). A link carries a one-time
 * token in its fragment (`/invite#<token>`, never sent to the server by the browser, so it stays out of
 * logs); the page posts it here. The first admin's setup link is an invite of purpose "setup".
 *
 *   POST /api/invites/lookup  {token} -> {role, email, expiresAt}
 *   POST /api/invites/accept  {token, email, name, password} -> 201 {user, csrfToken} + session cookies
 */
import { Router } from "express";
import { z } from "zod";
import type { Invite } from "../../store/index.js";
import { hashPassword, PASSWORD_MAX, PASSWORD_MIN } from "../auth/passwords.js";
import { isSecure, startSession, tokenHash } from "../auth/sessions.js";
import { body, type Ctx } from "../context.js";
import { conflict, forbidden, HttpError } from "../http-error.js";

const tokenSchema = z.strictObject({ token: z.string().min(10).max(200) });
const acceptSchema = z.strictObject({
  token: tokenSchema.shape.token,
  email: z.email().max(320),
  name: z.string().trim().min(1).max(100),
  password: z.string().min(PASSWORD_MIN, `use at least ${PASSWORD_MIN} characters`).max(PASSWORD_MAX),
});

const INVALID = () => new HttpError(410, "invite_invalid", "this invite link is not valid: it was used, it expired or it was revoked", "ask an admin for a new one");

export function inviteRoutes(ctx: Ctx): Router {
  const r = Router();

  async function usable(token: string): Promise<Invite> {
    const invite = await ctx.store.inviteByTokenHash(tokenHash(token));
    if (!invite || invite.usedAt || invite.revokedAt || invite.expiresAt <= ctx.now().toISOString()) throw INVALID();
    return invite;
  }

  r.post("/lookup", async (req, res) => {
    const invite = await usable(body(req, tokenSchema).token);
    res.json({ role: invite.role, email: invite.email, expiresAt: invite.expiresAt, purpose: invite.purpose });
  });

  r.post("/accept", async (req, res) => {
    const input = body(req, acceptSchema);
    const invite = await usable(input.token);
    const email = input.email.toLowerCase();
    if (invite.email && invite.email !== email) throw forbidden(`this invite is for ${invite.email}`);
    if (await ctx.store.credentialsByEmail(email)) throw conflict(`an account for ${email} exists already`, "sign in instead");
    const passwordHash = await hashPassword(input.password);
    const at = ctx.now().toISOString();
    const user = await ctx.store.transaction(async (tx) => {
      const u = await tx.createUser({ email, name: input.name, role: invite.role, passwordHash, at });
      if (!(await tx.useInvite(invite.id, u.id, at))) throw INVALID();
      return u;
    });
    ctx.log.info("auth.invite_accepted", { user: user.id, role: user.role, purpose: invite.purpose });
    const csrfToken = await startSession(ctx.store, res, user, { secure: isSecure(req, ctx.config.publicUrl), now: ctx.now() });
    res.status(201).json({ user, csrfToken });
  });

  return r;
}
