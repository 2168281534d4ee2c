/**
 * A few lines instead of a UI kit: `h("button", {class: "primary", onclick: go}, "Start")` makes an
 * element; strings become text nodes (never HTML), so nothing a lab or a user wrote is parsed here.
 * The one place HTML goes in is `trustedHtml`, for the server's sanitized lab instructions.
 */
type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (e: Event) => void;
export type Attrs = Record<string, string | number | boolean | Handler | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (k === "class") el.className = String(v);
    else if (k === "value" && "value" in el) (el as HTMLInputElement).value = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Sets HTML the server has already sanitized (server/web/markdown.ts). */
export function trustedHtml(el: Element, html: string): void {
  el.innerHTML = html;
}

/** Moves the headings inside `root` `by` levels down (at most to h6), under the page's own. */
export function demoteHeadings(root: Element, by: number): void {
  for (const heading of [...root.querySelectorAll("h1, h2, h3, h4, h5, h6")].reverse()) {
    const lower = document.createElement(`h${Math.min(6, Number(heading.tagName[1]) + by)}`);
    lower.append(...heading.childNodes);
    heading.replaceWith(lower);
  }
}

/** Says `text` to screen readers (the page's polite live region). */
export function announce(text: string): void {
  const el = document.getElementById("announcer");
  if (!el) return;
  el.textContent = "";
  setTimeout(() => (el.textContent = text), 50);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

export function formatDuration(ms: number): string {
  const min = Math.ceil(ms / 60_000);
  if (min < 60) return `${min} min`;
  const hours = Math.floor(min / 60);
  return min % 60 ? `${hours} h ${min % 60} min` : `${hours} h`;
}

/** Text with its `code` spans as <code>, without parsing any HTML. */
export function inlineCode(text: string): Array<string | HTMLElement> {
  return text.split(/(`[^`]+`)/).map((part) => (part.startsWith("`") && part.endsWith("`") && part.length > 1 ? h("code", null, part.slice(1, -1)) : part));
}
