/**
 * The provisioning progress bar: the driver's real phases as the server reports them (pushed over
 * socket.io as they happen; the attempt's `progress` after a reload), against the phases the last
 * provisioning of this lab went through (or the sim driver's usual list before the first).
 */
import { h } from "../dom";

/** The sim driver's phases (docs/server.md), until the server knows this lab's. */
export const USUAL_PHASES = ["prepare", "namespaces", "faults", "kubespray", "ipam", "network", "agents", "ready"];

export interface Phase {
  phase: string;
  detail?: string;
  ms: number;
}

export class ProvisioningBar {
  readonly element: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly fillEl: HTMLElement;
  private readonly label: HTMLElement;
  private readonly list: HTMLOListElement;
  private phases: Phase[] = [];
  private expected: string[] = USUAL_PHASES;

  constructor() {
    this.fillEl = h("div", { class: "bar-fill" });
    this.bar = h("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0, "aria-label": "Provisioning the sandbox" }, this.fillEl);
    this.label = h("p", { class: "bar-label", "aria-live": "polite" }, "Starting…");
    this.list = h("ol", { class: "phases" });
    this.element = h("section", { class: "provisioning", "aria-label": "Provisioning" }, h("h2", null, "Preparing your cluster"), this.bar, this.label, this.list);
  }

  set(phases: Phase[], expected: string[] | null): void {
    this.phases = [...phases];
    if (expected?.length) this.expected = expected;
    this.render();
  }

  add(phase: Phase): void {
    this.phases.push(phase);
    this.render();
  }

  private render(): void {
    const seen = [...new Set(this.phases.map((p) => p.phase))];
    const order = [...this.expected, ...seen.filter((p) => !this.expected.includes(p))];
    const current = seen.at(-1);
    const index = current ? order.indexOf(current) : -1;
    const done = current === "ready" ? order.length : Math.max(0, index);
    const pct = Math.round((done / Math.max(1, order.length)) * 100);
    this.fillEl.style.width = `${pct}%`;
    this.bar.setAttribute("aria-valuenow", String(pct));
    const last = [...this.phases].reverse().find((p) => p.phase === current);
    this.label.textContent = current ? `${current}${last?.detail ? `: ${last.detail}` : ""} (${(last!.ms / 1000).toFixed(1)} s)` : "Starting…";
    this.list.replaceChildren(
      ...order.map((p, i) => {
        const state = current === "ready" || i < index ? "done" : i === index ? "current" : "todo";
        return h("li", { class: state, "data-phase": p, ...(state === "current" ? { "aria-current": "step" } : {}) }, p);
      }),
    );
  }
}
