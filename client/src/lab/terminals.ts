/**
 * Terminal tabs of a running attempt: one tab per shell, on any node or pod of the sandbox. After a
 * reload the tabs come back attached to the same shells (term:list, then term:attach from 0: the
 * kept output is replayed). Tabs follow the WAI-ARIA tabs pattern (arrow keys in the tab list), and
 * inside a terminal Alt+Shift+←/→ switch tabs and Alt+Shift+N goes to "open a terminal", since the
 * terminal itself takes Tab and most other keys.
 */
import { h } from "../dom";
import { request } from "../realtime";
import { SocketTerminalStream, type TerminalExitInfo } from "../terminal/stream";
import { TerminalView } from "../terminal/view";

interface Tab {
  stream: SocketTerminalStream;
  view: TerminalView;
  tab: HTMLButtonElement;
  panel: HTMLElement;
  ended: boolean;
}

export function shortTarget(target: string): string {
  const [kind, ...rest] = target.split("/");
  return kind === "node" ? rest.join("/") : `${rest.at(-1)} (pod)`;
}

export class TerminalTabs {
  readonly element: HTMLElement;
  private readonly tablist: HTMLElement;
  private readonly panels: HTMLElement;
  private readonly picker: HTMLSelectElement;
  private readonly openButton: HTMLButtonElement;
  private readonly error: HTMLElement;
  private tabs: Tab[] = [];
  private active = -1;
  private targets: string[] = [];
  private counter = 0;

  constructor(private readonly attemptId: string) {
    this.tablist = h("div", { class: "tablist", role: "tablist", "aria-label": "Terminals", onkeydown: (e) => this.tablistKey(e as KeyboardEvent) });
    this.panels = h("div", { class: "term-panels" });
    this.picker = h("select", { id: "term-target", "aria-label": "Target for a new terminal" });
    this.openButton = h("button", { type: "button", onclick: () => void this.open(this.picker.value) }, "Open terminal");
    this.error = h("p", { class: "error", role: "alert" });
    this.element = h(
      "section",
      { class: "terminals", "aria-label": "Terminals" },
      h("div", { class: "term-bar" }, this.tablist, h("div", { class: "term-open" }, this.picker, this.openButton)),
      this.error,
      this.panels,
      h("p", { class: "muted keys" }, "In a terminal: Alt+Shift+← / → switch terminals, Alt+Shift+N opens another."),
    );
  }

  private get storageKey(): string {
    return `faultline:terminal:${this.attemptId}`;
  }

  setTargets(targets: string[]): void {
    if (targets.join() === this.targets.join()) return;
    this.targets = targets;
    const nodes = targets.filter((t) => t.startsWith("node/"));
    const pods = targets.filter((t) => t.startsWith("pod/"));
    const previous = this.picker.value;
    this.picker.replaceChildren(
      h("optgroup", { label: "Nodes" }, nodes.map((t) => h("option", { value: t }, shortTarget(t)))),
      h("optgroup", { label: "Pods" }, pods.map((t) => h("option", { value: t }, t.slice(4)))),
    );
    if (targets.includes(previous)) this.picker.value = previous;
  }

  /** The attempt's shells again (after a reload), or a first one on the control plane. */
  async restore(): Promise<void> {
    const r = await request("term:list", { attemptId: this.attemptId });
    if (!r.ok) return this.showError(r.error.message);
    const live = r.terminals.filter((t) => !t.exit && !this.tabs.some((x) => x.stream.id === t.id));
    for (const info of live) {
      const view = this.makeView(info.target);
      const stream = SocketTerminalStream.attach(info, view.view.measure());
      this.addTab(stream, view.view, view.panel);
    }
    if (!this.tabs.length) {
      const first = this.targets.find((t) => t === "node/cp-1") ?? this.targets.find((t) => t.startsWith("node/")) ?? this.targets[0];
      if (first) await this.open(first, false);
      return;
    }
    const wanted = sessionStorage.getItem(this.storageKey);
    const i = this.tabs.findIndex((t) => t.stream.id === wanted);
    this.activate(i >= 0 ? i : 0, false);
  }

  async open(target: string, focus = true): Promise<void> {
    if (!target) return;
    this.error.textContent = "";
    this.openButton.disabled = true;
    const made = this.makeView(target);
    // Measured while visible, so the shell starts at its real size.
    made.panel.hidden = false;
    try {
      const stream = await SocketTerminalStream.open(this.attemptId, target, made.view.measure());
      this.addTab(stream, made.view, made.panel);
      this.activate(this.tabs.length - 1, focus);
    } catch (e) {
      made.view.dispose();
      made.panel.remove();
      this.showError(`Could not open a terminal on ${target}: ${(e as Error).message}`);
      if (this.active >= 0) this.activate(this.active, false);
    } finally {
      this.openButton.disabled = false;
    }
  }

  /** Pastes into the active terminal; false when there is none. */
  paste(text: string): boolean {
    const tab = this.tabs[this.active];
    if (!tab || tab.ended) return false;
    tab.view.paste(text);
    return true;
  }

  focusActive(): void {
    this.tabs[this.active]?.view.focus();
  }

  /** Leaving the page: stop listening; the shells live on for the next visit. */
  dispose(): void {
    for (const t of this.tabs) {
      t.stream.dispose();
      t.view.dispose();
    }
    this.tabs = [];
  }

  private makeView(target: string): { view: TerminalView; panel: HTMLElement } {
    const n = ++this.counter;
    const panel = h("div", { class: "term-panel", role: "tabpanel", id: `term-panel-${n}`, hidden: true });
    this.panels.append(panel);
    const host = h("div", { class: "term-host" });
    panel.append(host);
    for (const p of this.panels.children) (p as HTMLElement).hidden = p !== panel;
    const view = new TerminalView(host, {
      label: `Terminal on ${target}`,
      onShortcut: (e) => this.shortcut(e),
      onExit: (exit) => this.ended(view, exit),
    });
    return { view, panel };
  }

  private addTab(stream: SocketTerminalStream, view: TerminalView, panel: HTMLElement): void {
    const tab = h(
      "button",
      { type: "button", role: "tab", class: "tab", id: `${panel.id}-tab`, "aria-controls": panel.id, "aria-selected": "false", tabindex: -1, "data-target": stream.target },
      shortTarget(stream.target),
    );
    const close = h("button", { type: "button", class: "tab-close", "aria-label": `Close the terminal on ${stream.target}`, title: "Close (ends the shell)" }, "×");
    const entry: Tab = { stream, view, tab, panel, ended: false };
    tab.addEventListener("click", () => this.activate(this.tabs.indexOf(entry), true));
    close.addEventListener("click", () => this.close(entry));
    panel.setAttribute("aria-labelledby", tab.id);
    this.tablist.append(h("span", { class: "tab-wrap" }, tab, close));
    view.connect(stream);
    this.tabs.push(entry);
  }

  private activate(i: number, focus: boolean): void {
    if (i < 0 || i >= this.tabs.length) return;
    this.active = i;
    this.tabs.forEach((t, j) => {
      const on = j === i;
      t.tab.setAttribute("aria-selected", String(on));
      t.tab.tabIndex = on ? 0 : -1;
      t.panel.hidden = !on;
    });
    const t = this.tabs[i]!;
    sessionStorage.setItem(this.storageKey, t.stream.id);
    requestAnimationFrame(() => {
      t.view.fitNow();
      if (focus) t.view.focus();
    });
  }

  private close(entry: Tab): void {
    const i = this.tabs.indexOf(entry);
    if (i < 0) return;
    entry.stream.close();
    entry.view.dispose();
    entry.panel.remove();
    entry.tab.parentElement?.remove();
    this.tabs.splice(i, 1);
    if (this.tabs.length) this.activate(Math.min(i, this.tabs.length - 1), true);
    else {
      this.active = -1;
      this.picker.focus();
    }
  }

  private ended(view: TerminalView, exit: TerminalExitInfo): void {
    const entry = this.tabs.find((t) => t.view === view);
    if (!entry || entry.ended) return;
    entry.ended = true;
    entry.tab.classList.add("ended");
    entry.tab.title = exit.reason;
    const target = entry.stream.target;
    const again = h("button", { type: "button", class: "reopen", onclick: () => void this.reopen(entry) }, `Open a new shell on ${shortTarget(target)}`);
    entry.panel.prepend(h("div", { class: "ended-bar" }, h("span", null, `This shell has ended: ${exit.reason}.`), " ", again));
  }

  private async reopen(entry: Tab): Promise<void> {
    const target = entry.stream.target;
    this.close(entry);
    await this.open(target);
  }

  private shortcut(e: KeyboardEvent): boolean {
    if (!(e.altKey && e.shiftKey) || e.ctrlKey || e.metaKey) return false;
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      if (this.tabs.length > 1) this.activate((this.active + (e.key === "ArrowRight" ? 1 : -1) + this.tabs.length) % this.tabs.length, true);
      e.preventDefault();
      return true;
    }
    if (e.code === "KeyN") {
      this.picker.focus();
      e.preventDefault();
      return true;
    }
    return false;
  }

  private tablistKey(e: KeyboardEvent): void {
    const i = this.tabs.findIndex((t) => t.tab === document.activeElement);
    if (i < 0) return;
    let next = -1;
    if (e.key === "ArrowRight") next = (i + 1) % this.tabs.length;
    else if (e.key === "ArrowLeft") next = (i - 1 + this.tabs.length) % this.tabs.length;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = this.tabs.length - 1;
    else if (e.key === "Delete") return this.close(this.tabs[i]!);
    if (next < 0) return;
    e.preventDefault();
    this.activate(next, false);
    this.tabs[next]!.tab.focus();
  }

  private showError(message: string): void {
    this.error.textContent = message;
  }
}
