/**
 * Pages by address, with the History API: `/login`, `/invite#<token>`, `/` (catalog),
 * `/labs/<id>` (lab view), `/reviews` (the review queue) and `/reviews/<attempt id>` (one review). A page renders into <main> and returns what to do when it is left
 * (stop timers, detach terminals). Links with `data-link` navigate without a reload.
 */
export type Cleanup = () => void;
export type Page = (main: HTMLElement, params: Record<string, string>) => Promise<Cleanup | void> | Cleanup | void;

interface Route {
  pattern: RegExp;
  keys: string[];
  page: Page;
}

const routes: Route[] = [];
let cleanup: Cleanup | null = null;
let notFound: Page = (main) => void (main.textContent = "Not found");
let rendering = 0;

export function route(path: string, page: Page): void {
  const keys: string[] = [];
  const pattern = new RegExp("^" + path.replace(/:([a-z]+)/g, (_, k: string) => (keys.push(k), "([^/]+)")) + "/?$");
  routes.push({ pattern, keys, page });
}

export function fallback(page: Page): void {
  notFound = page;
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  void render();
}

export async function render(): Promise<void> {
  const main = document.getElementById("main")!;
  const ticket = ++rendering;
  cleanup?.();
  cleanup = null;
  main.replaceChildren();
  const path = location.pathname;
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    const params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1]!)]));
    const done = await r.page(main, params);
    if (ticket !== rendering) done?.();
    else cleanup = done ?? null;
    return;
  }
  await notFound(main, {});
}

export function startRouter(): void {
  window.addEventListener("popstate", () => void render());
  document.addEventListener("click", (e) => {
    const a = (e.target as Element | null)?.closest?.("a[data-link]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate((a as HTMLAnchorElement).getAttribute("href")!);
  });
  void render();
}
