/** What the write-up editor and the review pages both show: a status in words, a comment thread, times. */
import type { WriteupComment, WriteupStatusName } from "./api";
import { h } from "./dom";

const LABELS: Record<WriteupStatusName, string> = {
  none: "Not started",
  draft: "Draft",
  submitted: "Submitted",
  "changes-requested": "Changes requested",
  approved: "Approved",
};

export function statusLabel(status: WriteupStatusName): string {
  return LABELS[status];
}

/** A status badge (`badge writeup-<status>`, styled in style.css). */
export function statusBadge(status: WriteupStatusName, prefix = ""): HTMLElement {
  return h("span", { class: `badge writeup-${status}`, "data-writeup-status": status }, prefix + LABELS[status]);
}

export function when(iso: string): HTMLElement {
  return h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

/** The comments, oldest first; bodies are text (line breaks kept by CSS), never HTML. */
export function commentList(comments: WriteupComment[]): HTMLElement {
  if (!comments.length) return h("p", { class: "muted" }, "No comments yet.");
  return h(
    "ol",
    { class: "comment-list", "aria-label": "Comments" },
    comments.map((c) =>
      h(
        "li",
        { class: `comment by-${c.author.role}` },
        h("p", { class: "comment-meta" }, h("strong", null, c.author.name), c.author.role === "trainee" ? "" : ` (${c.author.role})`, " · ", when(c.at)),
        h("p", { class: "comment-body" }, c.body),
      ),
    ),
  );
}
