/**
 * Hints: each opens at its time after the start (or at once); asking for one reveals and records it
 * (POST /api/attempts/:id/hints/:n), and the server reveals a timed one by itself when its time comes
 * while the sandbox runs (the lab page reads the attempt again then). Revealed hints stay shown.
 */
import { ApiError, post, type Attempt } from "../api";
import { formatDuration, h, inlineCode } from "../dom";

export class HintsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLOListElement;
  private attempt: Attempt | null = null;
  private readonly error: HTMLElement;

  constructor(private readonly onRevealed: () => void) {
    this.list = h("ol", { class: "hints" });
    this.error = h("p", { class: "error", role: "alert" });
    this.element = h("section", { class: "panel", "aria-labelledby": "hints-h" }, h("h2", { id: "hints-h" }, "Hints"), this.list, this.error);
  }

  update(attempt: Attempt | null, labHints: Array<{ index: number; afterMs: number | null }>): void {
    this.attempt = attempt;
    const hints = attempt?.hints ?? labHints.map((x) => ({ ...x, revealed: false }));
    const started = attempt ? Date.parse(attempt.startedAt) : null;
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.hint : undefined;
    this.list.replaceChildren(
      ...hints.map((hint) => {
        if (hint.revealed && "text" in hint && hint.text) return h("li", { class: "hint revealed" }, inlineCode(hint.text));
        const opensIn = started !== null && hint.afterMs !== null ? started + hint.afterMs - Date.now() : 0;
        const label = !attempt ? "Start the lab to ask for hints" : opensIn > 0 ? `Hint ${hint.index + 1} opens in ${formatDuration(opensIn)}` : `Show hint ${hint.index + 1}`;
        const button = h("button", { type: "button", class: "link", "data-hint": String(hint.index), disabled: !attempt || opensIn > 0, onclick: () => void this.reveal(hint.index) }, label);
        return h("li", { class: "hint" }, button);
      }),
    );
    if (focused !== undefined) this.list.querySelector<HTMLElement>(`[data-hint="${focused}"]`)?.focus();
  }

  private async reveal(index: number): Promise<void> {
    if (!this.attempt) return;
    this.error.textContent = "";
    try {
      await post(`/api/attempts/${this.attempt.id}/hints/${index}`);
      this.onRevealed();
    } catch (e) {
      this.error.textContent = e instanceof ApiError ? e.message : "could not reach the server";
    }
  }
}
