/**
 * The write-up panel of the lab page: a markdown editor that saves the draft by itself (1.5 s after
 * the last keystroke, when the editor loses focus, and at once with Ctrl+S), a preview that is the
 * server's own rendering of what was saved (the one a reviewer reads), "Submit for review", where the
 * write-up stands, and its comments. Saving answers with the objectives, so a write-up objective
 * turns green with the save that earns it.
 *
 * A submitted or approved write-up is locked (the server refuses edits with 409): the editor turns
 * read-only and the preview shows. When a reviewer asks for changes it opens again.
 */
import { ApiError, get, post, put, type ObjectiveView, type WriteupReply, type WriteupStatusName, type WriteupView } from "../api";
import { demoteHeadings, h, trustedHtml } from "../dom";
import { WRITEUP_MAX_BYTES } from "../../../shared/protocol/limits";
import { commentList, statusLabel } from "../writeups";

const AUTOSAVE_MS = 1500;
const LOCKED: ReadonlySet<WriteupStatusName> = new Set(["submitted", "approved"]);

export class WriteupPanel {
  readonly element: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly prompt: HTMLElement;
  private readonly editor: HTMLTextAreaElement;
  private readonly preview: HTMLElement;
  private readonly writeTab: HTMLButtonElement;
  private readonly previewTab: HTMLButtonElement;
  private readonly saved: HTMLElement;
  private readonly submitButton: HTMLButtonElement;
  private readonly error: HTMLElement;
  private readonly comments: HTMLElement;
  private readonly commentForm: HTMLFormElement;
  private readonly commentText: HTMLTextAreaElement;
  private readonly body: HTMLElement;
  private readonly placeholder: HTMLElement;
  private attemptId: string | null = null;
  /** The attempt asked for last (set at once; `attemptId` follows once pending edits are saved). */
  private target: string | null | undefined = undefined;
  private current: WriteupView | null = null;
  /** The text the server has, as far as this page knows. */
  private savedText = "";
  private timer: ReturnType<typeof setTimeout> | null = null;
  private saving: Promise<void> | null = null;

  constructor(
    labPrompt: string | null,
    /** The objectives as the server judged them after a save. */
    private readonly onObjectives: (attemptId: string, objectives: ObjectiveView[]) => void,
  ) {
    this.badge = h("span", { class: "badge", "data-writeup-status": "none" });
    this.prompt = h("p", { class: "writeup-prompt" }, labPrompt ?? "What did you find, how did you find it, and how would you keep it from happening again?");
    this.editor = h("textarea", {
      id: "writeup-text",
      class: "writeup-editor",
      rows: 14,
      spellcheck: true,
      "aria-describedby": "writeup-saved",
      oninput: () => this.edited(),
      onblur: () => void this.saveNow(),
      onkeydown: (e) => this.editorKey(e as KeyboardEvent),
    });
    this.preview = h("div", { class: "writeup-preview", id: "writeup-preview", "aria-label": "Preview of the write-up", tabindex: 0, hidden: true });
    this.writeTab = h("button", { type: "button", class: "seg", "aria-pressed": "true", onclick: () => void this.show(false) }, "Write");
    this.previewTab = h("button", { type: "button", class: "seg", "aria-pressed": "false", onclick: () => void this.show(true) }, "Preview");
    this.saved = h("p", { class: "muted writeup-saved", id: "writeup-saved", role: "status" });
    this.submitButton = h("button", { type: "button", class: "primary", onclick: () => void this.submit() }, "Submit for review");
    this.error = h("p", { class: "error", role: "alert" });
    this.comments = h("div", { class: "comments" });
    this.commentText = h("textarea", { id: "writeup-comment", rows: 2, maxlength: 4000 });
    this.commentForm = h(
      "form",
      { class: "comment-form", onsubmit: (e) => (e.preventDefault(), void this.comment()) },
      h("label", { for: "writeup-comment" }, "Reply to the reviewer"),
      this.commentText,
      h("button", { type: "submit" }, "Comment"),
    );
    this.body = h(
      "div",
      null,
      this.prompt,
      h("div", { class: "seg-group", role: "group", "aria-label": "Editor or preview" }, this.writeTab, this.previewTab),
      h("label", { for: "writeup-text", class: "visually-hidden" }, "Write-up (markdown)"),
      this.editor,
      this.preview,
      this.saved,
      h("div", { class: "actions" }, this.submitButton),
      this.error,
      this.comments,
      this.commentForm,
    );
    this.placeholder = h("p", { class: "muted" }, "Start the lab to write up what you find.");
    this.element = h("section", { class: "panel writeup", "aria-labelledby": "writeup-h" }, h("h2", { id: "writeup-h" }, "Write-up ", this.badge), this.placeholder, this.body);
    this.body.hidden = true;
  }

  /** The attempt whose write-up this is (the open one, else the latest); null for none yet. */
  async setAttempt(attemptId: string | null): Promise<void> {
    if (attemptId === this.target) return;
    this.target = attemptId;
    // What was typed belongs to the attempt it was typed for.
    await this.flush();
    if (this.target !== attemptId) return;
    this.attemptId = attemptId;
    this.current = null;
    this.placeholder.hidden = attemptId !== null;
    this.body.hidden = attemptId === null;
    if (!attemptId) return this.setBadge("none");
    await this.load(true);
  }

  /** Reads the write-up again (a reviewer may have answered), leaving unsaved edits alone. */
  async refresh(): Promise<void> {
    if (!this.attemptId || this.timer || this.saving) return;
    await this.load(false);
  }

  /** Saves what is pending (the page is left, or another attempt shown). */
  async flush(): Promise<void> {
    if (this.timer) await this.saveNow();
    await this.saving;
  }

  dispose(): void {
    void this.flush();
  }

  private async load(initial: boolean): Promise<void> {
    const id = this.attemptId;
    try {
      const r = await get<WriteupReply>(`/api/attempts/${id}/writeup`);
      if (id !== this.attemptId) return;
      // Another tab may have saved meanwhile; take its text unless this one is being typed in.
      const takeText = initial || (this.editor.value === this.savedText && document.activeElement !== this.editor);
      this.apply(r.writeup, takeText);
    } catch (e) {
      this.error.textContent = e instanceof ApiError ? e.message : "could not reach the server";
    }
  }

  private apply(w: WriteupView, takeText: boolean): void {
    const before = this.current?.status;
    this.current = w;
    this.savedText = w.markdown;
    if (takeText) this.editor.value = w.markdown;
    trustedHtml(this.preview, w.html || "<p class=\"muted\">Nothing written yet.</p>");
    demoteHeadings(this.preview, 2);
    this.setBadge(w.status);
    const locked = LOCKED.has(w.status);
    this.editor.readOnly = locked;
    this.submitButton.hidden = locked;
    if (locked && (before === undefined || !LOCKED.has(before))) void this.show(true);
    this.saved.textContent = this.savedLine(w);
    this.commentForm.hidden = w.status === "none";
    this.comments.replaceChildren(...(w.status === "none" ? [] : [h("h3", null, "Comments"), commentList(w.comments)]));
  }

  private savedLine(w: WriteupView): string {
    const words = `${w.words} ${w.words === 1 ? "word" : "words"}`;
    if (w.status === "approved") return `Approved${w.reviewer ? ` by ${w.reviewer.name}` : ""}. ${words}.`;
    if (w.status === "submitted") return `Submitted ${new Date(w.submittedAt!).toLocaleString()}; a reviewer will read it. ${words}.`;
    if (!w.updatedAt) return "Not saved yet: it saves by itself as you type (Ctrl+S saves now). Markdown works.";
    return `Saved ${new Date(w.updatedAt).toLocaleTimeString()}. ${words}.`;
  }

  private setBadge(status: WriteupStatusName): void {
    this.badge.className = `badge writeup-${status}`;
    this.badge.dataset.writeupStatus = status;
    this.badge.textContent = statusLabel(status);
  }

  private edited(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.saveNow(), AUTOSAVE_MS);
    this.saved.textContent = "Unsaved changes…";
  }

  private editorKey(e: KeyboardEvent): void {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
      e.preventDefault();
      void this.saveNow();
    }
  }

  /** Saves the editor's text if it differs from the server's, after any save in flight. */
  private async saveNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.saving;
    const id = this.attemptId;
    const text = this.editor.value;
    if (!id || !this.current || this.editor.readOnly || text === this.savedText) return;
    if (new TextEncoder().encode(text).length > WRITEUP_MAX_BYTES) {
      this.error.textContent = `The write-up is over ${WRITEUP_MAX_BYTES / 1024} KiB and cannot be saved: shorten it.`;
      return;
    }
    this.error.textContent = "";
    this.saved.textContent = "Saving…";
    this.saving = (async () => {
      try {
        const r = await put<WriteupReply>(`/api/attempts/${id}/writeup`, { markdown: text });
        if (id !== this.attemptId) return;
        this.apply(r.writeup, false);
        this.onObjectives(id, r.objectives);
        if (this.editor.value !== text) this.saved.textContent = "Unsaved changes…";
      } catch (e) {
        this.error.textContent = e instanceof ApiError ? `Not saved: ${e.message}` : "Not saved: could not reach the server";
        this.saved.textContent = "";
      } finally {
        this.saving = null;
      }
    })();
    await this.saving;
  }

  /** The editor, or the server's rendering of the saved text (saved first, so it is the current text). */
  private async show(preview: boolean): Promise<void> {
    if (preview) await this.saveNow();
    this.editor.hidden = preview;
    this.preview.hidden = !preview;
    this.writeTab.setAttribute("aria-pressed", String(!preview));
    this.previewTab.setAttribute("aria-pressed", String(preview));
  }

  private async submit(): Promise<void> {
    if (!this.attemptId) return;
    await this.saveNow();
    if (this.editor.value !== this.savedText) return; // the save failed: its error is shown
    if (!confirm("Submit your write-up for review? You cannot change it until a reviewer answers.")) return;
    try {
      const r = await post<WriteupReply>(`/api/attempts/${this.attemptId}/writeup/submit`);
      this.apply(r.writeup, true);
      this.error.textContent = "";
    } catch (e) {
      this.error.textContent = e instanceof ApiError ? e.message : "could not reach the server";
    }
  }

  private async comment(): Promise<void> {
    const text = this.commentText.value.trim();
    if (!this.attemptId || !text) return;
    try {
      const r = await post<WriteupReply>(`/api/attempts/${this.attemptId}/writeup/comments`, { body: text });
      this.commentText.value = "";
      this.apply(r.writeup, false);
    } catch (e) {
      this.error.textContent = e instanceof ApiError ? e.message : "could not reach the server";
    }
  }
}
