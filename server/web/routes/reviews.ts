/**
 * The review queue, for reviewers and admins.
 *
 *   GET /api/reviews[?status=submitted|changes-requested|approved|draft|all] -> {reviews: [...]}
 *
 * By default the write-ups waiting for a reviewer, the longest-waiting first; another status lists
 * those; `all` lists every attempt (newest first, at most 200), with its write-up's status or "none".
 * Each line has the trainee, the lab, the attempt's state and how many objectives pass, so a reviewer
 * can pick what to read; the write-up itself is `GET /api/attempts/:id/writeup`.
 */
import { Router } from "express";
import { reviewQuerySchema, type ReviewItem } from "../../../shared/protocol.js";
import type { Attempt, Writeup } from "../../store/index.js";
import { requireRole } from "../auth/sessions.js";
import { query, type Ctx } from "../context.js";
import { people } from "./writeups.js";

export function reviewRoutes(ctx: Ctx): Router {
  const r = Router();
  r.use(requireRole("reviewer", "admin"));

  r.get("/", async (req, res) => {
    const { status } = query(req, reviewQuerySchema);
    let pairs: Array<{ attempt: Attempt; writeup: Writeup | undefined }>;
    if (status === "all") {
      const attempts = await ctx.store.listAttempts({});
      const writeups = new Map((await ctx.store.listWriteups({ attemptIds: attempts.map((a) => a.id) })).map((w) => [w.attemptId, w]));
      pairs = attempts.map((attempt) => ({ attempt, writeup: writeups.get(attempt.id) }));
    } else {
      const writeups = await ctx.store.listWriteups({ status });
      const found = await Promise.all(writeups.map(async (writeup) => ({ attempt: await ctx.store.attemptById(writeup.attemptId), writeup })));
      pairs = found.filter((p): p is { attempt: Attempt; writeup: Writeup } => p.attempt !== undefined);
    }
    const person = people(ctx.store);
    const reviews: ReviewItem[] = await Promise.all(
      pairs.map(async ({ attempt, writeup: w }) => {
        const objectives = await ctx.manager.grading.objectives(attempt);
        return {
          attemptId: attempt.id,
          lab: { id: attempt.labId, title: ctx.labs.detail(attempt.labId)?.title ?? attempt.labId },
          trainee: await person(attempt.userId),
          attemptState: attempt.state,
          startedAt: attempt.startedAt,
          writeup: {
            status: w?.status ?? "none",
            updatedAt: w?.updatedAt ?? null,
            submittedAt: w?.submittedAt ?? null,
            reviewedAt: w?.reviewedAt ?? null,
            reviewer: w?.reviewedBy ? await person(w.reviewedBy) : null,
          },
          objectives: { passed: objectives.filter((o) => o.state === "pass").length, total: objectives.length },
        };
      }),
    );
    res.json({ reviews });
  });

  return r;
}
