/**
 * Administration (admins only).
 *
 *   GET    /api/admin/users          -> {users}
 *   PATCH  /api/admin/users/:id      {role?, name?, disabled?} -> {user}; disabling signs the user out everywhere
 *   GET    /api/admin/invites        -> {invites} (tokens are never shown again)
 *   POST   /api/admin/invites        {role, email?, expiresIn?} -> 201 {invite, token, url}
 *   DELETE /api/admin/invites/:id    -> 204, revoked
 *
 * The last enabled admin cannot be demoted or disabled: someone must be able to sign in and fix things.
 */
import { Router } from "express";
import { z } from "zod";
import { ROLES } from "../../store/index.js";
import { requireRole, tokenHash, randomToken, userOf } from "../auth/sessions.js";
import { body, param, type Ctx } from "../context.js";
import { conflict, notFound } from "../http-error.js";

const patchUserSchema = z
  .strictObject({ role: z.enum(ROLES).optional(), name: z.string().trim().min(1).max(100).optional(), disabled: z.boolean().optional() })
  .refine((v) => Object.keys(v).length > 0, "give role, name or disabled");

const DAY = 24 * 3_600_000;
const inviteSchema = z.strictObject({
  role: z.enum(ROLES),
  email: z.email().max(320).optional(),
  /** e.g. "12h", "7d"; at most 30 days. Default 7 days. */
  expiresIn: z
    .string()
    .regex(/^\d+(h|d)$/, "write hours or days: 12h, 7d")
    .transform((s) => Number(s.slice(0, -1)) * (s.endsWith("d") ? DAY : 3_600_000))
    .pipe(z.number().min(3_600_000).max(30 * DAY, "invites last at most 30 days"))
    .optional(),
});

/** The link a new user opens: the token in the fragment, which browsers never send to a server. */
export function inviteUrl(publicUrl: string, token: string): string {
  return `${publicUrl}/invite#${token}`;
}

export function adminRoutes(ctx: Ctx): Router {
  const r = Router();
  r.use(requireRole("admin"));

  r.get("/users", async (_req, res) => {
    res.json({ users: await ctx.store.listUsers() });
  });

  r.patch("/users/:id", async (req, res) => {
    const patch = body(req, patchUserSchema);
    const target = await ctx.store.userById(param(req, "id"));
    if (!target) throw notFound("user");
    const losesAdmin = target.role === "admin" && !target.disabledAt && ((patch.role && patch.role !== "admin") || patch.disabled === true);
    const user = await ctx.store.transaction(async (tx) => {
      if (losesAdmin && (await tx.countUsers("admin")) <= 1) throw conflict("this is the last admin", "make another user admin first");
      return tx.updateUser(target.id, {
        ...(patch.role ? { role: patch.role } : {}),
        ...(patch.name ? { name: patch.name } : {}),
        ...(patch.disabled !== undefined ? { disabledAt: patch.disabled ? (target.disabledAt ?? ctx.now().toISOString()) : null } : {}),
      });
    });
    if (patch.disabled) await ctx.store.deleteSessionsOf(target.id);
    ctx.log.info("admin.user_updated", { by: userOf(req).id, user: target.id, ...patch });
    res.json({ user });
  });

  r.get("/invites", async (_req, res) => {
    res.json({ invites: await ctx.store.listInvites() });
  });

  r.post("/invites", async (req, res) => {
    const input = body(req, inviteSchema);
    const token = randomToken();
    const now = ctx.now();
    const invite = await ctx.store.createInvite({
      tokenHash: tokenHash(token), role: input.role, email: input.email ?? null, purpose: "invite", createdBy: userOf(req).id,
      at: now.toISOString(), expiresAt: new Date(now.getTime() + (input.expiresIn ?? 7 * DAY)).toISOString(),
    });
    ctx.log.info("admin.invite_created", { by: userOf(req).id, invite: invite.id, role: invite.role });
    res.status(201).json({ invite, token, url: inviteUrl(ctx.config.publicUrl, token) });
  });

  r.delete("/invites/:id", async (req, res) => {
    if (!(await ctx.store.revokeInvites({ id: param(req, "id") }, ctx.now().toISOString()))) throw notFound("unused invite");
    res.status(204).end();
  });

  return r;
}
