/**
 * Attempts: a trainee's run at a lab, with its sandbox.
 *
 *   POST /api/attempts                    {lab} -> 201 new attempt | 200 the open one (re-provisioned if it had no sandbox)
 *   GET  /api/attempts[?user=<id>|all]    -> {attempts}: one's own; reviewers and admins may ask for others'
 *   GET  /api/attempts/:id                -> {attempt}: state, progress phases, targets, timeline, objectives, hints
 *   POST /api/attempts/:id/reset          -> 202 {attempt}: sandbox down and up again, same attempt
 *   POST /api/attempts/:id/stop           -> 200 {attempt}: sandbox removed, attempt ended
 *   POST /api/attempts/:id/check          -> {objectives}: every objective checked again now (rate-limited)
 *   POST /api/attempts/:id/hints/:index   -> {hint: {index, text}}: reveals a hint (recorded)
 *
 * Who may do what (attempt-access.ts): the owner everything; reviewers and admins read everyone's;
 * admins may also stop anyone's (to free a place). Anyone else gets 404, as if the attempt did not
 * exist. The write-up and the recordings have their own routes (writeups.ts, recordings.ts).
 */
import { Router, type Request } from "express";
import { z } from "zod";
import type { WriteupStatusName } from "../../../shared/protocol.js";
import type { Attempt } from "../../store/index.js";
import { humanDuration } from "../auth/rate-limit.js";
import { requireUser, userOf } from "../auth/sessions.js";
import { body, param, type Ctx } from "../context.js";
import { conflict, forbidden, HttpError, notFound } from "../http-error.js";
import { attemptFor as access, type AttemptAction } from "./attempt-access.js";

const startSchema = z.strictObject({ lab: z.string().min(1).max(100) });

export function attemptRoutes(ctx: Ctx): Router {
  const r = Router();
  r.use(requireUser);
  const attemptFor = (req: Request, action: AttemptAction) => access(ctx, req, action);

  async function view(a: Attempt) {
    const lab = ctx.labs.lab(a.labId);
    const reveals = await ctx.store.reveals(a.id);
    const revealed = new Set(reveals.filter((x) => x.kind === "hint").map((x) => Number(x.ref)));
    return {
      id: a.id,
      lab: a.labId,
      userId: a.userId,
      state: a.state,
      sandbox: a.sandboxName,
      error: a.error,
      startedAt: a.startedAt,
      endedAt: a.endedAt,
      progress: ctx.manager.progress(a.id),
      targets: ctx.manager.targets(a.id),
      events: await ctx.store.attemptEvents(a.id),
      transitions: await ctx.store.transitions(a.id),
      // Hints and the solution as they were shown, for the review timeline.
      reveals: reveals.map((x) => ({ kind: x.kind, ref: x.ref, at: x.at })),
      // The live evaluator's view while the sandbox runs, else the last recorded state (grading.ts).
      objectives: await ctx.manager.grading.objectives(a),
      hints: (lab?.hints ?? []).map((h, index) => ({
        index,
        afterMs: h.after ?? null,
        revealed: revealed.has(index),
        ...(revealed.has(index) ? { text: h.text } : {}),
      })),
    };
  }

  r.post("/", async (req, res) => {
    const { lab } = body(req, startSchema);
    const { attempt, created } = await ctx.manager.start(userOf(req).id, lab);
    res.status(created ? 201 : 200).json({ attempt: await view(attempt) });
  });

  r.get("/", async (req, res) => {
    const user = userOf(req);
    const who = typeof req.query.user === "string" ? req.query.user : user.id;
    if (who !== user.id && user.role === "trainee") throw forbidden("trainees see their own attempts only");
    const attempts = await ctx.store.listAttempts(who === "all" ? {} : { userId: who });
    const writeups = new Map((await ctx.store.listWriteups({ attemptIds: attempts.map((a) => a.id) })).map((w) => [w.attemptId, w.status]));
    res.json({
      attempts: attempts.map((a) => ({
        id: a.id, lab: a.labId, userId: a.userId, state: a.state, startedAt: a.startedAt, endedAt: a.endedAt, error: a.error,
        writeup: (writeups.get(a.id) ?? "none") satisfies WriteupStatusName,
      })),
    });
  });

  r.get("/:id", async (req, res) => {
    const { attempt } = await attemptFor(req, "read");
    res.json({ attempt: await view(attempt) });
  });

  r.post("/:id/reset", async (req, res) => {
    const { attempt } = await attemptFor(req, "act");
    ctx.manager.touch(attempt.id);
    res.status(202).json({ attempt: await view(await ctx.manager.reset(attempt)) });
  });

  r.post("/:id/stop", async (req, res) => {
    const { attempt, user } = await attemptFor(req, "stop");
    const by = user.id === attempt.userId ? "by the trainee" : `by admin ${user.email}`;
    res.json({ attempt: await view(await ctx.manager.stop(attempt, by)) });
  });

  r.post("/:id/check", async (req, res) => {
    const { attempt } = await attemptFor(req, "act");
    ctx.manager.touch(attempt.id);
    const r = await ctx.manager.grading.checkNow(attempt.id);
    if (!r) throw conflict("the attempt's sandbox is not running, so its objectives cannot be checked", "start the lab, and wait until it is ready");
    if ("retryAfterMs" in r) {
      const secs = Math.ceil(r.retryAfterMs / 1000);
      throw new HttpError(429, "rate_limited", `the objectives were checked a moment ago; check again in ${secs} s`, "they are also checked whenever the cluster or the workspace changes", {
        "Retry-After": String(secs),
      });
    }
    res.json({ objectives: r.objectives });
  });

  r.post("/:id/hints/:index", async (req, res) => {
    const { attempt } = await attemptFor(req, "act");
    const index = Number(param(req, "index"));
    const hint = ctx.labs.lab(attempt.labId)?.hints[index];
    if (!Number.isInteger(index) || !hint) throw notFound(`hint ${param(req, "index")}`);
    const opensAt = Date.parse(attempt.startedAt) + (hint.after ?? 0);
    const now = ctx.now();
    if (now.getTime() < opensAt) {
      throw new HttpError(403, "not_yet", `this hint opens ${humanDuration(hint.after ?? 0)} after the start, in ${humanDuration(opensAt - now.getTime())}`);
    }
    // Through grading, which records a hint once whether it is asked for or opened by time.
    await ctx.manager.grading.recordHint(attempt.id, index, now.toISOString());
    ctx.manager.touch(attempt.id);
    res.json({ hint: { index, text: hint.text } });
  });

  return r;
}
