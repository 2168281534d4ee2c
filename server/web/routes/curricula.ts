/**
 *   GET /api/curricula  -> {curricula: [{id, title, summary, audience, duration, totalWeeks, weeks}]}
 *
 * The curricula of content/curricula (server/labs/curricula.ts, docs/content.md), loaded once on the
 * first request; invalid ones are logged and left out. Weeks keep their steps (labs, concept pages,
 * readings) in order; a lab step names a lab id, which the catalog shows with the trainee's progress
 * (or as not offered, when this server's labs folder lacks it).
 */
import { Router } from "express";
import { loadCurricula, type Curriculum } from "../../labs/curricula.js";
import { requireUser } from "../auth/sessions.js";
import type { Ctx } from "../context.js";

export function curriculumRoutes(ctx: Ctx): Router {
  const r = Router();
  r.use(requireUser);
  let loaded: Promise<Curriculum[]> | null = null;
  const curricula = () =>
    (loaded ??= loadCurricula().then(
      ({ curricula, invalid }) => {
        for (const bad of invalid) ctx.log.warn("curriculum.invalid", { file: bad.file, problems: bad.errors.length, first: `${bad.errors[0]?.location}: ${bad.errors[0]?.message}` });
        return curricula;
      },
      (e: unknown) => {
        ctx.log.error("curriculum.load_failed", { error: e });
        loaded = null;
        return [];
      },
    ));
  r.get("/", async (_req, res) => {
    res.json({
      curricula: (await curricula()).map((c) => ({
        id: c.id,
        title: c.title,
        summary: c.summary,
        audience: c.audience,
        duration: c.duration,
        totalWeeks: c.totalWeeks,
        weeks: c.weeks,
      })),
    });
  });
  return r;
}
