/** `GET /healthz`: 200 when the database answers, 503 when it does not. No session needed. */
import { Router } from "express";
import type { Ctx } from "../context.js";
import { HttpError } from "../http-error.js";

export function healthRoutes(ctx: Ctx): Router {
  const r = Router();
  r.get("/healthz", async (_req, res) => {
    try {
      await ctx.store.ping();
    } catch (e) {
      ctx.log.error("health.database_down", { error: e });
      throw new HttpError(503, "unavailable", "the database does not answer", "see the server's log");
    }
    res.json({ status: "ok", database: ctx.store.dialect, sandboxes: { live: ctx.manager.usage(), max: ctx.manager.opts.maxSandboxes } });
  });
  return r;
}
