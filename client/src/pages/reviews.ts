/**
 * Reviews, for reviewers and admins. `/reviews` is the queue (GET /api/reviews): the write-ups
 * waiting for a reviewer, longest waiting first, or those of another status, or every attempt.
 * `/reviews/<attempt id>` is one review: the write-up as the server rendered it, the verdict (approve
 * or request changes, with a comment), the comments, the objectives, the attempt's timeline (its
 * events, each objective's transitions, hints shown, the write-up's submission) and the terminal
 * recordings, each playable in place. The trainee may open their own review page too, without the
 * verdict.
 */
import { ApiError, get, post, type Attempt, type LabDetail, type RecordingView, type ReviewItem, type User, type WriteupReply, type WriteupView } from "../api";
import { demoteHeadings, fill, formatBytes, h, inlineCode, trustedHtml } from "../dom";
import { ObjectivesPanel } from "../lab/objectives";
import { shortTarget } from "../lab/terminals";
import type { Cleanup } from "../router";
import { requireUser } from "../session";
import { CastPlayer, parseCast } from "../terminal/player";
import { commentList, statusBadge, when } from "../writeups";

const FILTERS: Array<[string, string]> = [
  ["submitted", "Waiting for review"],
  ["changes-requested", "Changes requested"],
  ["approved", "Approved"],
  ["draft", "Drafts"],
  ["all", "All attempts"],
];

const canReview = (u: User) => u.role === "reviewer" || u.role === "admin";
const message = (e: unknown) => (e instanceof ApiError ? `${e.message}${e.hint ? ` (${e.hint})` : ""}` : "could not reach the server");

export async function reviewsPage(main: HTMLElement): Promise<void> {
  const user = await requireUser();
  if (!user) return;
  document.title = "Reviews · Faultline";
  main.append(h("h1", null, "Reviews"));
  if (!canReview(user)) {
    main.append(h("p", null, "Reviews are for reviewers and admins. Your own write-ups are on each lab's page."));
    return;
  }
  const wanted = new URLSearchParams(location.search).get("status");
  const initial = FILTERS.some(([v]) => v === wanted) ? wanted! : "submitted";
  const list = h("div", { class: "review-list" });
  const filter = h(
    "select",
    { id: "review-filter", onchange: () => void load(filter.value) },
    FILTERS.map(([value, label]) => h("option", { value, selected: value === initial }, label)),
  );
  main.append(h("p", { class: "filter" }, h("label", { for: "review-filter" }, "Show "), filter), list);

  async function load(status: string): Promise<void> {
    history.replaceState(null, "", status === "submitted" ? "/reviews" : `/reviews?status=${status}`);
    fill(list, h("p", { class: "muted", role: "status" }, "Loading…"));
    try {
      const { reviews } = await get<{ reviews: ReviewItem[] }>(`/api/reviews?status=${encodeURIComponent(status)}`);
      fill(list, reviewTable(reviews, FILTERS.find(([v]) => v === status)?.[1] ?? status));
    } catch (e) {
      fill(list, h("p", { class: "error", role: "alert" }, message(e)));
    }
  }
  await load(initial);
}

function reviewTable(reviews: ReviewItem[], caption: string): HTMLElement {
  if (!reviews.length) return h("p", { class: "muted" }, caption === "Waiting for review" ? "No write-up is waiting for review." : "Nothing here.");
  return h(
    "table",
    { class: "reviews" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", null, h("tr", null, ["Lab", "Trainee", "Write-up", "Submitted", "Objectives", "Attempt"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      reviews.map((r) =>
        h(
          "tr",
          { "data-attempt": r.attemptId },
          h("td", null, h("a", { href: `/reviews/${r.attemptId}`, "data-link": true }, inlineCode(r.lab.title))),
          h("td", null, r.trainee.name),
          h("td", null, statusBadge(r.writeup.status)),
          h("td", null, r.writeup.submittedAt ? when(r.writeup.submittedAt) : "—"),
          h("td", null, `${r.objectives.passed}/${r.objectives.total}`),
          h("td", null, r.attemptState),
        ),
      ),
    ),
  );
}

export async function reviewPage(main: HTMLElement, params: Record<string, string>): Promise<Cleanup | void> {
  const user = await requireUser();
  if (!user) return;
  const id = params.id!;
  let attempt: Attempt;
  let reply: WriteupReply;
  let recordings: RecordingView[];
  try {
    [attempt, reply, recordings] = await Promise.all([
      get<{ attempt: Attempt }>(`/api/attempts/${encodeURIComponent(id)}`).then((r) => r.attempt),
      get<WriteupReply>(`/api/attempts/${encodeURIComponent(id)}/writeup`),
      get<{ recordings: RecordingView[] }>(`/api/attempts/${encodeURIComponent(id)}/recordings`).then((r) => r.recordings),
    ]);
  } catch (e) {
    main.append(h("h1", null, "Review not found"), h("p", null, message(e)), h("a", { href: "/reviews", "data-link": true }, "Back to the reviews"));
    return;
  }
  const lab = await get<{ lab: LabDetail }>(`/api/labs/${encodeURIComponent(attempt.lab)}`).then((r) => r.lab, () => null);
  const title = lab?.title ?? attempt.lab;
  document.title = `Review: ${title} · Faultline`;

  const head = h("div", { class: "review-head" });
  const writeupBody = h("article", { class: "writeup-rendered", "aria-label": "The write-up" });
  const verdict = h("section", { class: "panel verdict", "aria-labelledby": "verdict-h" });
  const comments = h("section", { class: "panel", "aria-labelledby": "comments-h" });
  const objectives = new ObjectivesPanel();
  objectives.update(reply.objectives);
  const player = new RecordingsPanel(attempt.id, recordings);

  const render = (w: WriteupView) => {
    fill(
      head,
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, canReview(user) ? h("a", { href: "/reviews", "data-link": true }, "Reviews") : h("a", { href: "/", "data-link": true }, "Labs"), " / ", w.trainee.name),
      h("h1", null, "Review: ", inlineCode(title)),
      h("p", { class: "meta" }, `${w.trainee.name} · attempt ${attempt.state} · started `, when(attempt.startedAt), " · ", statusBadge(w.status)),
    );
    if (w.html) {
      trustedHtml(writeupBody, w.html);
      // Below the page's own headings (h1 the page, h2 the section).
      demoteHeadings(writeupBody, 2);
    } else fill(writeupBody, h("p", { class: "muted" }, "Nothing written yet."));
    renderVerdict(w);
    fill(comments, h("h2", { id: "comments-h" }, "Comments"), commentList(w.comments), w.status === "none" ? null : commentForm());
  };

  const act = async (fn: () => Promise<WriteupReply>, error: HTMLElement) => {
    error.textContent = "";
    try {
      reply = await fn();
      render(reply.writeup);
    } catch (e) {
      error.textContent = message(e);
    }
  };

  function renderVerdict(w: WriteupView): void {
    const heading = h("h2", { id: "verdict-h" }, "Verdict");
    if (!canReview(user!) || w.trainee.id === user!.id) {
      fill(verdict, heading, h("p", null, verdictLine(w)));
      return;
    }
    if (w.status !== "submitted") {
      fill(verdict, heading, h("p", null, verdictLine(w)));
      return;
    }
    const text = h("textarea", { id: "verdict-comment", rows: 4, maxlength: 4000 });
    const error = h("p", { class: "error", role: "alert" });
    const send = (status: "approved" | "changes-requested") => {
      const comment = text.value.trim();
      if (status === "changes-requested" && !comment) {
        error.textContent = "Say what to change: write a comment first.";
        text.focus();
        return;
      }
      void act(() => post<WriteupReply>(`/api/attempts/${attempt.id}/writeup/review`, { status, ...(comment ? { comment } : {}) }), error);
    };
    fill(
      verdict,
      heading,
      h("label", { for: "verdict-comment" }, "Comment to the trainee (needed to request changes)"),
      text,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => send("approved") }, "Approve"),
        h("button", { type: "button", onclick: () => send("changes-requested") }, "Request changes"),
      ),
      error,
    );
  }

  function commentForm(): HTMLElement {
    const text = h("textarea", { id: "review-comment", rows: 3, maxlength: 4000 });
    const error = h("p", { class: "error", role: "alert" });
    return h(
      "form",
      {
        class: "comment-form",
        onsubmit: (e) => {
          e.preventDefault();
          const body = text.value.trim();
          if (body) void act(() => post<WriteupReply>(`/api/attempts/${attempt.id}/writeup/comments`, { body }), error);
        },
      },
      h("label", { for: "review-comment" }, "Add a comment"),
      text,
      h("button", { type: "submit" }, "Comment"),
      error,
    );
  }

  main.append(
    h(
      "div",
      { class: "review-layout" },
      h(
        "div",
        { class: "review-main" },
        head,
        h("section", { class: "panel", "aria-labelledby": "writeup-h" }, h("h2", { id: "writeup-h" }, "Write-up"), reply.writeup.prompt ? h("p", { class: "writeup-prompt" }, reply.writeup.prompt) : null, writeupBody),
        verdict,
        comments,
      ),
      h(
        "div",
        { class: "review-side" },
        objectives.element,
        h("section", { class: "panel", "aria-labelledby": "timeline-h" }, h("h2", { id: "timeline-h" }, "Timeline"), timeline(attempt, reply.writeup, lab)),
        player.element,
      ),
    ),
  );
  render(reply.writeup);
  return () => player.dispose();
}

function verdictLine(w: WriteupView): string {
  switch (w.status) {
    case "none":
      return "Nothing written yet.";
    case "draft":
      return "A draft: the trainee has not submitted it.";
    case "submitted":
      return `Submitted ${new Date(w.submittedAt!).toLocaleString()}, waiting for a reviewer.`;
    case "changes-requested":
      return `${w.reviewer?.name ?? "A reviewer"} asked for changes ${w.reviewedAt ? new Date(w.reviewedAt).toLocaleString() : ""}.`;
    case "approved":
      return `Approved by ${w.reviewer?.name ?? "a reviewer"} ${w.reviewedAt ? new Date(w.reviewedAt).toLocaleString() : ""}.`;
  }
}

const EVENTS: Record<string, string> = {
  started: "Attempt started",
  provisioned: "Sandbox ready",
  reset: "Sandbox reset",
  reprovisioned: "Sandbox provisioned again",
  reaped: "Sandbox removed after idling",
  failed: "Provisioning failed",
  interrupted: "Sandbox lost in a server restart",
  stopped: "Attempt stopped",
  grading_failed: "Live grading could not start",
};
const STATES: Record<string, string> = { pass: "done", fail: "not yet", error: "could not check", pending: "not checked yet" };

interface Entry {
  at: string;
  kind: "event" | "objective" | "hint" | "writeup";
  text: Array<string | HTMLElement>;
  detail?: string | null;
}

/** Everything that happened in the attempt, in time order, with the time since its start. */
function timeline(a: Attempt, w: WriteupView, lab: LabDetail | null): HTMLElement {
  const titles = new Map((lab?.objectiveList ?? []).map((o) => [o.id, o.title]));
  const entries: Entry[] = [
    ...a.events.map((e): Entry => ({ at: e.at, kind: "event", text: [EVENTS[e.kind] ?? e.kind], detail: e.detail })),
    ...a.transitions.map((t): Entry => ({
      at: t.at,
      kind: "objective",
      text: [...inlineCode(titles.get(t.objectiveId) ?? t.objectiveId), `: ${STATES[t.from ?? "pending"] ?? t.from} → ${STATES[t.to] ?? t.to}`],
      detail: t.detail,
    })),
    ...a.reveals.map((r): Entry => ({ at: r.at, kind: "hint", text: [r.kind === "hint" ? `Hint ${Number(r.ref) + 1} shown` : "Solution shown"] })),
    ...(w.submittedAt ? [{ at: w.submittedAt, kind: "writeup" as const, text: ["Write-up submitted"] }] : []),
    ...(w.reviewedAt && (w.status === "approved" || w.status === "changes-requested" || w.status === "draft")
      ? [{ at: w.reviewedAt, kind: "writeup" as const, text: [`Reviewed by ${w.reviewer?.name ?? "a reviewer"}`] }]
      : []),
  ];
  entries.sort((x, y) => Date.parse(x.at) - Date.parse(y.at));
  const start = Date.parse(a.startedAt);
  return h(
    "ol",
    { class: "timeline" },
    entries.map((e) =>
      h(
        "li",
        { class: `tl-${e.kind}` },
        h("time", { datetime: e.at, title: new Date(e.at).toLocaleString() }, sinceStart(Date.parse(e.at) - start)),
        " ",
        h("span", null, e.text),
        e.detail ? h("p", { class: "detail" }, e.detail) : null,
      ),
    ),
  );
}

/** "+0:04:12" */
function sinceStart(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `+${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/** The attempt's terminal recordings, one playing at a time below the list. */
class RecordingsPanel {
  readonly element: HTMLElement;
  private readonly host: HTMLElement;
  private player: CastPlayer | null = null;

  constructor(
    private readonly attemptId: string,
    recordings: RecordingView[],
  ) {
    this.host = h("div", { class: "player-host" });
    const duration = (r: RecordingView) => (r.endedAt ? `${Math.max(1, Math.round((Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000))} s` : "still open");
    this.element = h(
      "section",
      { class: "panel", "aria-labelledby": "recordings-h" },
      h("h2", { id: "recordings-h" }, "Terminal recordings"),
      recordings.length
        ? h(
            "ul",
            { class: "recordings" },
            recordings.map((r) =>
              h(
                "li",
                null,
                h("button", { type: "button", onclick: () => void this.play(r), "aria-label": `Play the recording of ${r.target}, started ${new Date(r.startedAt).toLocaleString()}` }, `Play ${shortTarget(r.target)}`),
                " ",
                h("span", { class: "muted" }, when(r.startedAt), ` · ${duration(r)} · ${formatBytes(r.bytes)}`),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No terminal was opened in this attempt."),
      this.host,
    );
  }

  private async play(r: RecordingView): Promise<void> {
    this.dispose();
    fill(this.host, h("p", { class: "muted", role: "status" }, `Loading the recording of ${r.target}…`));
    try {
      const res = await fetch(`/api/attempts/${this.attemptId}/recordings/${r.id}`, { credentials: "same-origin" });
      if (!res.ok) throw new Error(`the recording could not be loaded (${res.status})`);
      const player = new CastPlayer(parseCast(await res.text()), { label: `Recording of ${r.target}` });
      this.player = player;
      fill(this.host, h("h3", null, `Recording of ${r.target}`), player.element);
      player.mount();
      player.play();
      // xterm.js does not render while off screen, and the keyboard should land on the controls.
      player.element.scrollIntoView({ block: "nearest" });
      player.focus();
    } catch (e) {
      fill(this.host, h("p", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e)));
    }
  }

  dispose(): void {
    this.player?.dispose();
    this.player = null;
  }
}
