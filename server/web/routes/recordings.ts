/**
 * An attempt's terminal recordings (asciicast v2, written by realtime/recording.ts).
 *
 *   GET /api/attempts/:id/recordings        -> {recordings: [{id, terminalId, target, startedAt, endedAt, bytes}]}
 *   GET /api/attempts/:id/recordings/:rid   -> the .cast file, application/x-asciicast
 *
 * The owner, reviewers and admins; anyone else gets 404 (attempt-access.ts). The file served is the
 * one the store's row names, and only if it really lies in `<data dir>/recordings/<attempt id>/`
 * (after resolving symlinks) and is a regular file: the URL never names a path, and a row or a link
 * that points elsewhere (the database, another attempt's recording) is answered 404, and logged.
 */
import { constants } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Router } from "express";
import type { RecordingView } from "../../../shared/protocol.js";
import type { Recording } from "../../store/index.js";
import { requireUser } from "../auth/sessions.js";
import { param, type Ctx } from "../context.js";
import { notFound } from "../http-error.js";
import { attemptFor } from "./attempt-access.js";

export const ASCIICAST_TYPE = "application/x-asciicast";

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

export function recordingRoutes(ctx: Ctx): Router {
  const r = Router();
  r.use(requireUser);

  /** The recording's file, resolved and confined to the attempt's recordings folder; null otherwise. */
  async function confined(rec: Recording): Promise<string | null> {
    const root = await realpath(path.join(ctx.config.dataDir, "recordings", rec.attemptId)).catch(() => null);
    const file = await realpath(rec.path).catch(() => null);
    if (root && file && inside(root, file)) return file;
    ctx.log.warn("recording.refused", { recording: rec.id, attempt: rec.attemptId, path: rec.path, resolved: file });
    return null;
  }

  r.get("/:id/recordings", async (req, res) => {
    const { attempt } = await attemptFor(ctx, req, "read");
    const rows = await ctx.store.recordings(attempt.id);
    const recordings: RecordingView[] = await Promise.all(
      rows.map(async (x) => {
        // A terminal still open has no size in its row yet: the file's size so far.
        const bytes = x.endedAt ? x.bytes : await confined(x).then((f) => (f ? stat(f).then((s) => s.size) : 0)).catch(() => 0);
        return { id: x.id, terminalId: x.terminalId, target: x.target, startedAt: x.startedAt, endedAt: x.endedAt, bytes };
      }),
    );
    res.json({ recordings });
  });

  r.get("/:id/recordings/:rid", async (req, res) => {
    const { attempt } = await attemptFor(ctx, req, "read");
    const rid = param(req, "rid");
    const rec = /^\d{1,15}$/.test(rid) ? (await ctx.store.recordings(attempt.id)).find((x) => x.id === Number(rid)) : undefined;
    const file = rec && (await confined(rec));
    if (!rec || !file) throw notFound("recording");
    // O_NOFOLLOW: the file checked is the file opened, even if a link is swapped in meanwhile.
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
    if (!fh) throw notFound("recording");
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw notFound("recording");
      res.setHeader("Content-Type", ASCIICAST_TYPE);
      res.setHeader("Content-Length", String(st.size));
      res.setHeader("Content-Disposition", `attachment; filename="${attempt.id}-${rec.id}.cast"`);
      // A recording still being written is served as far as it was when asked.
      if (st.size === 0) res.end();
      else {
        await pipeline(fh.createReadStream({ start: 0, end: st.size - 1, autoClose: false }), res).catch((e: unknown) => {
          // The player went away mid-download (a page left): nothing to answer, nothing wrong here.
          if ((e as { code?: string }).code !== "ERR_STREAM_PREMATURE_CLOSE") ctx.log.warn("recording.send_failed", { recording: rec.id, error: e });
        });
      }
    } finally {
      await fh.close();
    }
  });

  return r;
}
