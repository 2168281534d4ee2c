/**
 * Page models of the browser app, for the e2e tests: what a trainee sees and does, by role and
 * label where the app gives them, so a test reads like the steps a person takes.
 */
import type { Locator, Page } from "playwright-core";
import { ACTIVE_TERMINAL, LabScreen } from "./support.js";

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

export class LabPage extends LabScreen {
  constructor(readonly page: Page) {
    super(page);
  }

  get startButton(): Locator {
    return this.page.getByRole("button", { name: /^Start (lab|again)$/ });
  }

  get progressBar(): Locator {
    return this.page.getByRole("progressbar", { name: "Provisioning the sandbox" });
  }

  get activeTerminal(): Locator {
    return this.page.locator(ACTIVE_TERMINAL);
  }

  tab(name: string | RegExp): Locator {
    return this.page.getByRole("tab", { name });
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

/** The write-up panel of the lab page. */
export class WriteupPanel {
  constructor(readonly page: Page) {}

  get editor(): Locator {
    return this.page.getByLabel("Write-up (markdown)");
  }

  /** "Saved 12:03. 230 words.", "Saving…", "Submitted ...". */
  get saved(): Locator {
    return this.page.locator("#writeup-saved");
  }

  get preview(): Locator {
    return this.page.locator("#writeup-preview");
  }

  /** The status badge beside the panel's heading. */
  get status(): Locator {
    return this.page.locator("#writeup-h .badge");
  }

  /** Types the write-up (replacing what is there) and waits for the autosave. */
  async write(text: string): Promise<void> {
    await this.editor.fill(text);
    await this.saved.filter({ hasText: /^Saved / }).waitFor({ timeout: 15_000 });
  }

  async submit(): Promise<void> {
    this.page.once("dialog", (d) => void d.accept());
    await this.page.getByRole("button", { name: "Submit for review" }).click();
    await this.page.locator('#writeup-h [data-writeup-status="submitted"]').waitFor();
  }
}

/** A reviewer's page for one attempt (`/reviews/<id>`). */
export class ReviewPage {
  constructor(readonly page: Page) {}

  get writeup(): Locator {
    return this.page.getByRole("article", { name: "The write-up" });
  }

  get timeline(): Locator {
    return this.page.locator(".timeline");
  }

  get status(): Locator {
    return this.page.locator(".review-head .badge");
  }

  /** Plays a recording: its button in the list, then the player's speed and pause-skipping. */
  async play(target: string, opts: { speed?: "1x" | "2x" | "8x"; skipPauses?: boolean } = {}): Promise<void> {
    await this.page.getByRole("button", { name: new RegExp(`^Play the recording of ${target.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`) }).click();
    await this.page.locator(".player .xterm").waitFor();
    if (opts.speed) await this.page.getByLabel("Speed").selectOption(opts.speed);
    if (opts.skipPauses) await this.page.getByLabel(/Skip pauses/).check();
  }

  /** The player's terminal, as text. */
  async playerScreen(): Promise<string> {
    return (await this.page.locator(".player .xterm-rows").innerText()).replace(/\u00a0/g, " ");
  }

  async approve(comment: string): Promise<void> {
    await this.page.getByLabel(/^Comment to the trainee/).fill(comment);
    await this.page.getByRole("button", { name: "Approve" }).click();
    await this.page.locator('.review-head [data-writeup-status="approved"]').waitFor();
  }
}
