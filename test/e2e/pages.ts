/**
 * Page models of the browser app, for the e2e tests: what a trainee sees and does, by role and
 * label where the app gives them, so a test reads like the steps a person takes.
 */
import type { Locator, Page } from "playwright-core";

export class InvitePage {
  constructor(readonly page: Page) {}

  async accept(url: string, who: { email: string; name: string; password: string }): Promise<void> {
    await this.page.goto(url);
    const email = this.page.getByLabel("Email");
    await email.waitFor();
    // An invite made for one address shows it, read-only.
    if (await email.isEditable()) await email.fill(who.email);
    await this.page.getByLabel("Name").fill(who.name);
    await this.page.getByLabel(/^Password/).fill(who.password);
    await this.page.getByRole("button", { name: "Create account" }).click();
    await this.page.waitForURL((u) => u.pathname === "/");
  }
}

export class LoginPage {
  constructor(readonly page: Page) {}

  async signIn(base: string, email: string, password: string): Promise<void> {
    await this.page.goto(base + "/login");
    await this.page.getByLabel("Email").fill(email);
    await this.page.getByLabel("Password").fill(password);
    await this.page.getByRole("button", { name: "Sign in" }).click();
    await this.page.waitForURL((u) => u.pathname === "/");
  }
}

export class CatalogPage {
  constructor(readonly page: Page) {}

  lab(title: string | RegExp): Locator {
    return this.page.getByRole("link", { name: title }).first();
  }

  async signOut(): Promise<void> {
    await this.page.getByRole("button", { name: "Sign out" }).click();
    await this.page.waitForURL((u) => u.pathname === "/login");
  }
}

export class LabPage {
  constructor(readonly page: Page) {}

  get startButton(): Locator {
    return this.page.getByRole("button", { name: /^Start (lab|again)$/ });
  }

  get progressBar(): Locator {
    return this.page.getByRole("progressbar", { name: "Provisioning the sandbox" });
  }

  /** Records every value the progress bar shows from now on (it may come and go in a second). */
  async recordProgress(): Promise<void> {
    // A string, evaluated in the page: this file is compiled without the DOM's types.
    await this.page.evaluate(`(() => {
      const seen = (window.__progress = []);
      new MutationObserver(() => {
        const bar = document.querySelector('[role="progressbar"]');
        if (!bar) return;
        const current = document.querySelector('.phases [aria-current="step"]');
        const entry = { value: bar.getAttribute("aria-valuenow"), phase: current ? current.textContent : null };
        const last = seen[seen.length - 1];
        if (!last || last.value !== entry.value || last.phase !== entry.phase) seen.push(entry);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    })()`);
  }

  progressSeen(): Promise<Array<{ value: string | null; phase: string | null }>> {
    return this.page.evaluate("window.__progress");
  }

  get activeTerminal(): Locator {
    return this.page.locator(".term-panel:not([hidden]) .xterm");
  }

  tab(name: string | RegExp): Locator {
    return this.page.getByRole("tab", { name });
  }

  /** The visible rows of the active terminal, as text. */
  async screen(): Promise<string> {
    return (await this.page.locator(".term-panel:not([hidden]) .xterm-rows").innerText()).replace(/\u00a0/g, " ");
  }

  async waitForScreen(test: RegExp | ((text: string) => boolean), timeoutMs = 30_000): Promise<string> {
    const check = typeof test === "function" ? test : (t: string) => test.test(t);
    const end = Date.now() + timeoutMs;
    let text = "";
    while (Date.now() < end) {
      text = await this.screen().catch(() => "");
      if (check(text)) return text;
      await this.page.waitForTimeout(100);
    }
    throw new Error(`the terminal never showed ${String(test)}; it shows:\n${text}`);
  }

  /** Types into the active terminal as a person would, then Enter. */
  async run(command: string): Promise<void> {
    await this.activeTerminal.click();
    await this.page.keyboard.type(command, { delay: 5 });
    await this.page.keyboard.press("Enter");
  }

  /** Opens a terminal on `target` with the picker, as the keyboard path (Alt+Shift+N) leads to. */
  async openTerminal(target: string): Promise<void> {
    await this.page.getByLabel("Target for a new terminal").selectOption(target, { timeout: 5000 });
    await this.page.getByRole("button", { name: "Open terminal" }).click({ timeout: 5000 });
  }

  objective(id: string): Locator {
    return this.page.locator(`[data-objective="${id}"]`);
  }
}
