/**
 * Who may do what with an attempt, for every route under /api/attempts/:id (attempts, write-ups,
 * recordings): the trainee who started it, everything; reviewers and admins read it (and review its
 * write-up, comment, play its recordings); admins may also stop it. Anyone else gets 404, as if the
 * attempt did not exist, so attempt ids cannot be probed.
 *
 * @example
 * const { attempt, user } = await attemptFor(ctx, req, "read");   // 404 unless owner, reviewer or admin
 * await attemptFor(ctx, req, "act");                              // 403 for a reviewer: the owner's only
 */
import type { Request } from "express";
import type { Attempt, User } from "../../store/index.js";
import { userOf } from "../auth/sessions.js";
import { param, type Ctx } from "../context.js";
import { forbidden, notFound } from "../http-error.js";

/** `read`: see it; `act`: change it (the owner only); `stop`: the owner or an admin. */
export type AttemptAction = "read" | "stop" | "act";

/** The attempt `:id` if the signed-in user may do `action` on it; 404 when they may not even see it. */
export async function attemptFor(ctx: Ctx, req: Request, action: AttemptAction): Promise<{ attempt: Attempt; user: User }> {
  const user = userOf(req);
  const attempt = await ctx.store.attemptById(param(req, "id"));
  const own = attempt?.userId === user.id;
  if (!attempt || !(own || canReview(user))) throw notFound("attempt");
  if (action === "read" || own) return { attempt, user };
  if (action === "stop" && user.role === "admin") return { attempt, user };
  throw forbidden("only the trainee who started this attempt can do that");
}

/** Reviewers and admins read everyone's attempts and review write-ups. */
export function canReview(user: Pick<User, "role">): boolean {
  return user.role === "reviewer" || user.role === "admin";
}
