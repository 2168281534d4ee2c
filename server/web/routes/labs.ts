/**
 *   GET /api/labs      -> {labs: [{id, title, summary, level, duration, durationMs, tags, objectives}]}
 *   GET /api/labs/:id  -> the lab with its rendered instructions (html, codeBlocks), objectives, hint times
 */
import { Router } from "express";
import { requireUser } from "../auth/sessions.js";
import { param, type Ctx } from "../context.js";
import { notFound } from "../http-error.js";

export function labRoutes(ctx: Ctx): Router {
  const r = Router();
  r.use(requireUser);
  r.get("/", (_req, res) => {
    res.json({ labs: ctx.labs.list() });
  });
  r.get("/:id", (req, res) => {
    const lab = ctx.labs.detail(param(req, "id"));
    if (!lab) throw notFound(`lab "${param(req, "id")}"`, "GET /api/labs lists the labs");
    res.json({ lab });
  });
  return r;
}
