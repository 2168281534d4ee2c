/**
 * The browser app in Firefox, driven by puppeteer-core over WebDriver BiDi: the page models of
 * pages.ts for the trainee's path, finding things by role and name through puppeteer's ARIA
 * selectors (Firefox's own accessibility tree), by CSS where the app gives no name.
 */
import type { KeyInput, Page } from "puppeteer-core";
import { ACTIVE_TERMINAL, LabScreen } from "./support.js";

/** An element by its role and accessible name (the whole name, as Firefox computes it). */
export function byRole(role: string, name: string): string {
  return `::-p-aria([role="${role}"][name=${JSON.stringify(name)}])`;
}

export class FirefoxLabPage extends LabScreen {
  constructor(readonly page: Page) {
    super(page);
  }

  /** Waits until the app has routed to `pathname` (it navigates without loading a page). */
  async waitForPath(pathname: string, timeout = 30_000): Promise<void> {
    await this.page.waitForFunction(`location.pathname === ${JSON.stringify(pathname)}`, { timeout });
  }

  async signIn(base: string, email: string, password: string): Promise<void> {
    await this.page.goto(base + "/login");
    await this.page.locator(byRole("textbox", "Email")).fill(email);
    // A password field has no ARIA role (it is not a textbox): by its id.
    await this.page.locator("#password").fill(password);
    await this.page.locator(byRole("button", "Sign in")).click();
    await this.waitForPath("/");
  }

  button(name: string) {
    return this.page.locator(byRole("button", name));
  }

  /** Types into the active terminal as a person would, then Enter. */
  async run(command: string): Promise<void> {
    await this.page.locator(ACTIVE_TERMINAL).click();
    await this.page.keyboard.type(command, { delay: 5 });
    await this.page.keyboard.press("Enter");
  }

  /** Presses keys together (puppeteer has no "Control+c" shorthand): down in order, up in reverse. */
  async chord(...keys: KeyInput[]): Promise<void> {
    for (const k of keys) await this.page.keyboard.down(k);
    for (const k of [...keys].reverse()) await this.page.keyboard.up(k);
  }

  /** Waits for objective `id` to be in `state` (pass, fail, error, pending); returns what it says. */
  async objective(id: string, state: string, timeout = 30_000): Promise<string> {
    const selector = `[data-objective="${id}"][data-state="${state}"]`;
    await this.page.waitForSelector(selector, { timeout });
    return (await this.text(selector)) ?? "";
  }
}
