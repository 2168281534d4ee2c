/**
 * Write-ups: the trainee's account of an attempt (markdown), its review and its comments.
 *
 *   GET  /api/attempts/:id/writeup            -> {writeup, objectives}
 *   PUT  /api/attempts/:id/writeup            {markdown} -> {writeup, objectives}: the draft saved (the owner)
 *   POST /api/attempts/:id/writeup/submit     -> {writeup, objectives}: sent for review (the owner)
 *   POST /api/attempts/:id/writeup/review     {status, comment?} -> {writeup, objectives}: reviewers and admins, not their own
 *   POST /api/attempts/:id/writeup/comments   {body} -> 201 {writeup, objectives}: the owner, reviewers, admins
 *
 * The life of a write-up: none -> draft (saved, as often as the editor autosaves) -> submitted (locked:
 * a save is 409) -> approved (locked for good) or changes-requested (editable again; a save makes it a
 * draft, to be submitted again). Who reaches it is as for the attempt (attempt-access.ts): another
 * trainee gets 404.
 *
 * Saving re-runs the objectives that read the write-up (`writeup` checks) and answers with the
 * objectives once they are recorded, so the editor sees the write-up objective turn green with its
 * own save; the same change is pushed to the attempt's watchers (`attempt:objectives`).
 *
 * The markdown is untrusted: `html` is rendered by markdown.ts, which lets nothing active through.
 */
import { Router } from "express";
import {
  reviewWriteupSchema, saveWriteupSchema, WRITEUP_MAX_BYTES, writeupCommentBodySchema,
  type ObjectiveView, type Person, type WriteupReply, type WriteupView,
} from "../../../shared/protocol.js";
import { countWords } from "../../checks/kinds/writeup.js";
import type { Attempt, Store, User } from "../../store/index.js";
import { requireUser } from "../auth/sessions.js";
import { body, type Ctx } from "../context.js";
import { conflict, forbidden, HttpError } from "../http-error.js";
import { renderMarkdown } from "../markdown.js";
import { attemptFor, canReview } from "./attempt-access.js";

/**
 * How long a save waits for the write-up checks before answering with the objectives as they stand
 * (a check that combines the write-up with the sandbox may take a few seconds; the push follows).
 */
const CHECK_WAIT_MS = 3000;

/** A person's public face; a user who no longer exists (never deleted today) shows as such. */
export function personOf(u: User | undefined, id: string): Person {
  return u ? { id: u.id, name: u.name, role: u.role } : { id, name: "(unknown user)", role: "trainee" };
}

/** Looks users up once per request. */
export function people(store: Store): (id: string) => Promise<Person> {
  const seen = new Map<string, Promise<Person>>();
  return (id) => {
    let p = seen.get(id);
    if (!p) seen.set(id, (p = store.userById(id).then((u) => personOf(u, id))));
    return p;
  };
}

export function writeupRoutes(ctx: Ctx): Router {
  const r = Router();
  r.use(requireUser);

  async function view(attempt: Attempt): Promise<WriteupView> {
    const w = await ctx.store.writeup(attempt.id);
    const person = people(ctx.store);
    const comments = w ? await ctx.store.writeupComments(w.id) : [];
    const markdown = w?.markdown ?? "";
    return {
      attemptId: attempt.id,
      lab: attempt.labId,
      trainee: await person(attempt.userId),
      prompt: ctx.labs.detail(attempt.labId)?.writeupPrompt ?? null,
      status: w?.status ?? "none",
      markdown,
      html: renderMarkdown(markdown, { images: false }).html,
      words: countWords(markdown),
      updatedAt: w?.updatedAt ?? null,
      submittedAt: w?.submittedAt ?? null,
      reviewedAt: w?.reviewedAt ?? null,
      reviewer: w?.reviewedBy ? await person(w.reviewedBy) : null,
      comments: await Promise.all(comments.map(async (c) => ({ id: c.id, author: await person(c.authorId), body: c.body, at: c.at }))),
    };
  }

  async function reply(attempt: Attempt, objectives?: ObjectiveView[]): Promise<WriteupReply> {
    return { writeup: await view(attempt), objectives: objectives ?? (await ctx.manager.grading.objectives(attempt)) };
  }

  /** The objectives once the write-up checks have seen the saved text, or as they stand after CHECK_WAIT_MS. */
  async function checked(attempt: Attempt): Promise<ObjectiveView[] | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), CHECK_WAIT_MS)));
    const run = ctx.manager.grading.writeupSaved(attempt).catch((e: unknown) => {
      ctx.log.error("writeup.check_failed", { attempt: attempt.id, error: e });
      return undefined;
    });
    try {
      return await Promise.race([run, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  r.get("/:id/writeup", async (req, res) => {
    const { attempt } = await attemptFor(ctx, req, "read");
    res.json(await reply(attempt));
  });

  r.put("/:id/writeup", async (req, res) => {
    const { attempt } = await attemptFor(ctx, req, "act");
    const { markdown } = body(req, saveWriteupSchema);
    const size = Buffer.byteLength(markdown, "utf8");
    if (size > WRITEUP_MAX_BYTES) {
      throw new HttpError(413, "too_large", `the write-up is ${size} bytes; a write-up may be at most ${WRITEUP_MAX_BYTES} bytes (${WRITEUP_MAX_BYTES / 1024} KiB)`, "shorten it: quote the lines that matter rather than whole logs");
    }
    await ctx.store.transaction(async (tx) => {
      const w = await tx.writeup(attempt.id);
      if (w?.status === "submitted") {
        throw conflict("the write-up is submitted and waits for review: it cannot be changed unless a reviewer asks for changes", "comments can still be added");
      }
      if (w?.status === "approved") throw conflict("the write-up was approved: it can no longer be changed", "comments can still be added");
      await tx.saveWriteup(attempt.id, markdown, ctx.now().toISOString());
    });
    // Writing up is working on the lab: the sandbox is not idle meanwhile.
    ctx.manager.touch(attempt.id);
    res.json(await reply(attempt, await checked(attempt)));
  });

  r.post("/:id/writeup/submit", async (req, res) => {
    const { attempt, user } = await attemptFor(ctx, req, "act");
    await ctx.store.transaction(async (tx) => {
      const w = await tx.writeup(attempt.id);
      if (!w || w.markdown.trim() === "") throw conflict("there is nothing to submit: write the write-up first");
      if (w.status === "submitted") throw conflict("the write-up is submitted already; it waits for a reviewer");
      if (w.status === "approved") throw conflict("the write-up was approved already");
      await tx.submitWriteup(attempt.id, ctx.now().toISOString());
    });
    ctx.log.info("writeup.submitted", { attempt: attempt.id, by: user.id });
    res.json(await reply(attempt));
  });

  r.post("/:id/writeup/review", async (req, res) => {
    const { attempt, user } = await attemptFor(ctx, req, "read");
    if (!canReview(user)) throw forbidden("only reviewers and admins review write-ups");
    if (attempt.userId === user.id) throw forbidden("you cannot review your own write-up", "ask another reviewer");
    const verdict = body(req, reviewWriteupSchema);
    const at = ctx.now().toISOString();
    await ctx.store.transaction(async (tx) => {
      const w = await tx.writeup(attempt.id);
      if (w?.status !== "submitted") {
        throw conflict(`only a submitted write-up can be reviewed; this one is ${w ? w.status : "not written yet"}`);
      }
      await tx.reviewWriteup(attempt.id, { status: verdict.status, reviewerId: user.id, at });
      // The verdict and its reasons arrive together, or neither does.
      if (verdict.comment) await tx.addWriteupComment({ writeupId: w.id, authorId: user.id, body: verdict.comment, at });
    });
    ctx.log.info("writeup.reviewed", { attempt: attempt.id, by: user.id, status: verdict.status });
    res.json(await reply(attempt));
  });

  r.post("/:id/writeup/comments", async (req, res) => {
    const { attempt, user } = await attemptFor(ctx, req, "read");
    const { body: text } = body(req, writeupCommentBodySchema);
    const w = await ctx.store.writeup(attempt.id);
    if (!w) throw conflict("there is no write-up to comment on yet");
    await ctx.store.addWriteupComment({ writeupId: w.id, authorId: user.id, body: text, at: ctx.now().toISOString() });
    res.status(201).json(await reply(attempt));
  });

  return r;
}
