/**
 * End to end in Debian's Chromium, the write-up and its review: a trainee starts the flagship, types
 * a command in the terminal, writes the write-up in the lab page (it saves by itself, the write-up
 * objective turns green with the save, the preview is the server's rendering), stops the lab and
 * submits; a reviewer finds it under "Reviews", reads it beside the timeline, plays the terminal
 * recording (the command's output appears in the player's terminal) and approves it with a comment;
 * the trainee then sees it approved, with the comment, locked. Every console error (a CSP violation
 * is one) fails the run.
 *
 * FAULTLINE_E2E_SHOTS=<dir> saves a screenshot after each step.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { projectRoot } from "../../server/paths.js";
import { firstAdmin, invited, PASSWORD, startTestServer, type TestServer } from "../integration/web/helpers.js";
import { browserMissing, launch } from "./browser.js";
import { CatalogPage, LabPage, LoginPage, ReviewPage, WriteupPanel } from "./pages.js";

const FLAGSHIP = "webhook-to-kernel";
const TITLE = /The webhook that timed out/;
const MODEL = readFileSync(path.join(projectRoot, "labs", FLAGSHIP, "solution", "writeup.md"), "utf8");
const shots = process.env.FAULTLINE_E2E_SHOTS;

describe("a write-up is written, submitted, reviewed and approved in Chromium", { skip: browserMissing() ?? false, timeout: 300_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const shot = async (name: string) => {
    if (!shots) return;
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, `writeup-${name}.png`), fullPage: true });
  };
  const signIn = (email: string) => new LoginPage(page).signIn(server.url, email, PASSWORD);
  const signOut = () => new CatalogPage(page).signOut();

  before(async () => {
    server = await startTestServer({ labs: [FLAGSHIP] });
    // Accounts through the API: the setup link and invites in the browser are lab.test.ts's.
    const admin = await firstAdmin(server);
    await invited(server, admin, "trainee", "tess@example.com");
    await invited(server, admin, "reviewer", "rex@example.com");
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on("console", (m) => {
      // Asking who is signed in while signed out answers 401, which the browser logs: expected.
      if (m.type() === "error" && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop().catch(() => {});
  });

  it("the trainee works the lab in the terminal, then writes the write-up: it saves by itself and the write-up objective turns green", async () => {
    await signIn("tess@example.com");
    await new CatalogPage(page).lab(TITLE).click();
    const lab = new LabPage(page);
    const writeup = new WriteupPanel(page);
    await writeup.status.filter({ hasText: "Not started" }).waitFor();
    await lab.startButton.click();
    await lab.activeTerminal.waitFor({ timeout: 120_000 });
    await lab.waitForScreen(/root@cp-1:~#\s*$/m);
    await lab.run("echo e2e-review-$((6*7))");
    await lab.waitForScreen(/^e2e-review-42\s*$/m);
    await page.locator("[data-objective=write-up][data-state=fail]").waitFor({ timeout: 30_000 });

    await writeup.write("A first draft: it was a blackhole.");
    assert.match(await writeup.saved.innerText(), /^Saved .*\. 7 words\.$/);
    await writeup.status.filter({ hasText: "Draft" }).waitFor();
    assert.match(await page.locator("[data-objective=write-up]").innerText(), /fewer than 150/);
    await writeup.write(MODEL);
    // The save answers with the objectives: the write-up objective is done without waiting for a poll.
    await page.locator("[data-objective=write-up][data-state=pass]").waitFor({ timeout: 10_000 });
    // The preview is the server's rendering of the saved text.
    await page.getByRole("button", { name: "Preview" }).click();
    await writeup.preview.waitFor();
    assert.equal(await writeup.preview.locator("strong").first().innerText(), "Symptom.");
    assert.equal(await writeup.editor.isVisible(), false);
    await shot("1-written");
  });

  it("stops the lab and submits the write-up: it is locked", async () => {
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByRole("button", { name: "Start again" }).waitFor();
    // The write-up of the stopped attempt stays on the page, to be finished and submitted.
    const writeup = new WriteupPanel(page);
    await writeup.submit();
    assert.match(await writeup.saved.innerText(), /^Submitted .*; a reviewer will read it\./);
    assert.equal(await page.getByRole("button", { name: "Submit for review" }).isVisible(), false);
    await page.getByRole("button", { name: "Write" }).click();
    assert.equal(await writeup.editor.getAttribute("readonly"), "");
    await page.getByRole("link", { name: "Labs" }).click();
    await page.locator(".catalog-all").getByText("Write-up: Submitted").waitFor();
    await shot("2-submitted");
    await signOut();
  });

  it("the reviewer finds it under Reviews, reads it beside the timeline, and plays the terminal recording", async () => {
    await signIn("rex@example.com");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Reviews" }).click();
    await page.waitForURL((u) => u.pathname === "/reviews");
    const row = page.locator("table.reviews tbody tr");
    await row.first().waitFor();
    assert.equal(await row.count(), 1);
    assert.match(await row.first().innerText(), /The webhook that timed out[\s\S]*tess[\s\S]*Submitted[\s\S]*1\/5/);
    await row.first().getByRole("link", { name: TITLE }).click();
    await page.waitForURL((u) => u.pathname.startsWith("/reviews/"));

    const review = new ReviewPage(page);
    await review.writeup.waitFor();
    assert.equal(await review.writeup.locator("strong").first().innerText(), "Symptom.");
    assert.match(await review.status.innerText(), /^Submitted$/);
    const timeline = await review.timeline.innerText();
    for (const line of [/Attempt started/, /Sandbox ready/, /Write up the investigation: not yet → done/, /Attempt stopped/, /Write-up submitted/]) {
      assert.match(timeline, line);
    }
    assert.ok(timeline.indexOf("Sandbox ready") < timeline.indexOf("Attempt stopped"), "in time order");
    await shot("3-review");

    await review.play("node/cp-1", { speed: "8x", skipPauses: true });
    for (const deadline = Date.now() + 30_000; ; await page.waitForTimeout(200)) {
      const screen = await review.playerScreen();
      if (/^e2e-review-42\s*$/m.test(screen)) break;
      if (Date.now() > deadline) assert.fail(`the player never showed the command's output; it shows:\n${screen}`);
    }
    assert.match(await review.playerScreen(), /echo e2e-review-\$\(\(6\*7\)\)/);
    await shot("4-recording");
  });

  it("approves it with a comment", async () => {
    const review = new ReviewPage(page);
    await review.approve("Clear, layer by layer. Approved.");
    const comments = page.getByRole("list", { name: "Comments" });
    assert.match(await comments.innerText(), /rex \(reviewer\)[\s\S]*Clear, layer by layer\. Approved\./);
    assert.equal(await page.getByRole("button", { name: "Approve" }).count(), 0, "nothing left to decide");
    await page.getByRole("link", { name: "Reviews" }).first().click();
    await page.getByText("No write-up is waiting for review.").waitFor();
    await shot("5-approved");
    await signOut();
  });

  it("the trainee sees it approved, with the reviewer's comment, and can no longer change it", async () => {
    await signIn("tess@example.com");
    await page.locator(".catalog-all").getByText("Write-up: Approved").waitFor();
    await new CatalogPage(page).lab(TITLE).click();
    const writeup = new WriteupPanel(page);
    await writeup.status.filter({ hasText: "Approved" }).waitFor();
    assert.match(await writeup.saved.innerText(), /^Approved by rex\./);
    assert.match(await page.getByRole("list", { name: "Comments" }).innerText(), /Clear, layer by layer\. Approved\./);
    await writeup.preview.waitFor();
    assert.equal(await page.getByRole("navigation", { name: "Main" }).count(), 0, "trainees have no Reviews entry");
    await shot("6-trainee");
  });

  it("logged no console errors (CSP violations included)", () => {
    assert.deepEqual(consoleErrors, []);
  });
});
