/**
 * The objectives panel: each objective of the lab with its state, updated as the server pushes changes
 * (`attempt:objectives`, from the live grading evaluator) while the page is open.
 * "pass" is done, "fail" not yet (with the check's detail), "error" means the check could not run
 * (the detail says why; it is not the trainee's fault), "pending" not checked yet. A newly passed
 * objective is announced to screen readers.
 */
import { announce, h, inlineCode } from "../dom";
import type { ObjectiveView } from "../api";

const LABEL: Record<ObjectiveView["state"], string> = { pass: "Done", fail: "Not yet", error: "Could not check", pending: "Not checked yet" };
const ICON: Record<ObjectiveView["state"], string> = { pass: "✓", fail: "○", error: "⚠", pending: "…" };

export class ObjectivesPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly summary: HTMLElement;
  private readonly note: HTMLElement;
  private previous = new Map<string, string>();

  constructor() {
    this.list = h("ol", { class: "objectives" });
    this.summary = h("span", { class: "muted" });
    this.note = h("p", { class: "muted objectives-note", hidden: true });
    this.element = h("section", { class: "panel", "aria-labelledby": "objectives-h" }, h("h2", { id: "objectives-h" }, "Objectives ", this.summary), this.note, this.list);
  }

  /** `note` says whose states these are when they are not live (a stopped attempt's last ones). */
  update(objectives: ObjectiveView[], note: string | null = null): void {
    this.note.textContent = note ?? "";
    this.note.hidden = note === null;
    const passed = objectives.filter((o) => o.state === "pass").length;
    this.summary.textContent = `${passed} of ${objectives.length}`;
    for (const o of objectives) {
      const before = this.previous.get(o.id);
      if (before !== undefined && before !== "pass" && o.state === "pass") announce(`Objective done: ${o.title}`);
      this.previous.set(o.id, o.state);
    }
    this.list.replaceChildren(
      ...objectives.map((o) =>
        h(
          "li",
          { class: `objective state-${o.state}`, "data-objective": o.id, "data-state": o.state },
          h("span", { class: "icon", "aria-hidden": "true" }, ICON[o.state]),
          h("span", { class: "title" }, inlineCode(o.title)),
          h("span", { class: "state" }, LABEL[o.state]),
          o.detail && o.state !== "pass" ? h("p", { class: "detail" }, o.detail) : null,
        ),
      ),
    );
  }
}
