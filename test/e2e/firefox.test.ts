/**
 * The trainee's path in Debian's Firefox ESR, driven by puppeteer-core over WebDriver BiDi (browser.ts),
 * against the same real server as lab.test.ts (startServer on port 0, SQLite, the sim driver). It covers
 * what differs between browsers rather than the whole lab, which lab.test.ts works through in Chromium:
 * the login form, the catalog, the flagship's provisioning progress, keyboard input to xterm.js (typing
 * `kubectl get nodes` and seeing the 7 nodes), the objectives panel, a reload finding the same shell
 * with its history, the window resized resizing the shell's pty, a fenced block of the instructions
 * pasted into the terminal, the terminal's keyboard shortcut out of it, and no console error.
 * The admin and the trainee are made through the API: the setup link and invite pages are lab.test.ts's.
 *
 * One browser for the file (Firefox takes seconds to start). Skipped with the reason when there is no
 * Firefox at /usr/bin/firefox-esr or FAULTLINE_FIREFOX; FAULTLINE_E2E_SHOTS=<dir> saves screenshots.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "puppeteer-core";
import { firstAdmin, invited, PASSWORD, startTestServer, type TestServer } from "../integration/web/helpers.js";
import { firefoxMissing, launchFirefox } from "./browser.js";
import { byRole, FirefoxLabPage } from "./firefox-pages.js";
import { ACTIVE_TERMINAL, ErrorLog, FLAGSHIP, NODES, nodesReady, poll, readyNodes, shotPath } from "./support.js";

const TITLE = "The webhook that timed out: from kubectl down to the kernel";
const WIDE = { width: 1400, height: 900 };
const NARROW = { width: 1000, height: 700 };

describe("a trainee works the flagship lab in Firefox", { skip: firefoxMissing() ?? false, timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let lab: FirefoxLabPage;
  const log = new ErrorLog();
  const shot = async (name: string) => {
    const file = shotPath(`firefox-${name}`);
    if (file) await page.screenshot({ path: file });
  };
  /** The shell's size as `stty size` reports it, printed after `label=`. */
  const ptySize = async (label: string) => {
    await lab.run(`echo ${label}=$(stty size)`);
    const line = new RegExp(`^${label}=(\\d+) (\\d+)\\s*$`, "m");
    const [, rows, cols] = line.exec(await lab.waitForScreen(line))!;
    return { rows: Number(rows), cols: Number(cols) };
  };

  before(async () => {
    server = await startTestServer({ labs: [FLAGSHIP] });
    await invited(server, await firstAdmin(server), "trainee", "tess@example.com");
    browser = await launchFirefox(WIDE);
    page = await browser.newPage();
    page.on("console", (m) => log.console(m));
    page.on("pageerror", (e) => log.pageError(e));
    lab = new FirefoxLabPage(page);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop().catch(() => {});
  });

  it("reports a CSP violation as an error (so that the last test means something in Firefox)", async () => {
    await page.goto(server.url + "/login");
    // An image from elsewhere: the CSP allows img-src 'self' data: only.
    await page.evaluate(`new Image().src = "http://example.invalid/e2e.png"`);
    const reported = await poll(() => log.errors.some((e) => /img-src/.test(e)), Boolean, 5000);
    assert.ok(reported.ok, `the violation was reported: ${JSON.stringify(log.errors)}`);
    log.errors.length = 0;
  });

  it("signs in on the login page and opens the flagship from the catalog", async () => {
    await lab.signIn(server.url, "tess@example.com", PASSWORD);
    await page.waitForSelector(".who");
    assert.equal(await lab.text(".who span"), "tess (trainee)");
    await page.locator(byRole("heading", "Labs")).wait();
    await shot("1-catalog");
    await page.locator(byRole("link", TITLE)).click();
    await lab.waitForPath(`/labs/${FLAGSHIP}`);
    await page.locator(byRole("heading", TITLE)).wait();
  });

  it("starts the lab, shows the provisioning progress, then a terminal", async () => {
    await page.waitForSelector("[data-objective=pool-admitted]");
    await lab.recordProgress();
    await lab.button("Start lab").click();
    await page.waitForSelector(ACTIVE_TERMINAL, { timeout: 90_000 });
    await lab.assertProgressShown();
    await lab.waitForScreen(/root@cp-1:~#\s*$/m);
    assert.equal(await lab.text('[role=tab][aria-selected="true"]'), "cp-1");
    await shot("2-terminal");
  });

  it("types kubectl get nodes with the keyboard and sees the 7 nodes", async () => {
    await lab.run("export E2E_MARK=same-shell-$((6*7))");
    await lab.run("kubectl get nodes");
    assert.deepEqual(readyNodes(await lab.waitForScreen(nodesReady)), NODES);
    await shot("3-nodes");
  });

  it("shows each objective's state with its reason", async () => {
    assert.match(await lab.objective("pool-admitted", "fail"), /Not yet[\s\S]*IPAddressPool lab-pool not found in metallb-system/);
    assert.match(await lab.objective("inventory-fixed", "fail"), /Not yet[\s\S]*does not set kube_network_node_prefix/);
    await page.waitForFunction(`document.getElementById("objectives-h")?.textContent === "Objectives 0 of 5"`);
  });

  it("finds the same shell with its history after a reload", async () => {
    await page.reload();
    await page.waitForSelector(ACTIVE_TERMINAL);
    // The replay brings back what was on screen, then the shell answers from the same session.
    const replayed = await lab.waitForScreen((t) => /kubectl get nodes/.test(t) && NODES.every((n) => t.includes(n)));
    assert.match(replayed, /export E2E_MARK/);
    await lab.run("echo mark=$E2E_MARK");
    await lab.waitForScreen(/^mark=same-shell-42\s*$/m);
    assert.equal(await page.evaluate(`document.querySelectorAll(".tab").length`), 1, "no new terminal was opened");
  });

  it("resizes the shell's pty with the window", async () => {
    const wide = await ptySize("wide");
    assert.equal(wide.rows, await lab.screenRows(), "the pty has the rows the screen shows");
    await page.setViewport(NARROW);
    // Once the screen has its new rows, the resize is on its way to the server, ahead of the next input.
    await poll(() => lab.screenRows(), (rows) => rows !== wide.rows, 10_000);
    const narrow = await ptySize("narrow");
    assert.equal(narrow.rows, await lab.screenRows(), "the pty has the rows the screen shows");
    assert.ok(narrow.rows < wide.rows && narrow.cols < wide.cols, `smaller: ${JSON.stringify({ wide, narrow })}`);
    await shot("4-resized");
  });

  it("pastes a fenced block of the instructions into the terminal, and the keyboard leaves the terminal", async () => {
    // The block is the error the lab starts from: pasted (bracketed, without Enter), then cancelled.
    await page.locator(".code-block .paste").click();
    // Ctrl-C only once the shell has read the paste: a ^C that reaches the terminal first makes its line
    // discipline discard the input not read yet, with the SIGINT.
    await lab.waitForScreen(/Error from server \(InternalError\)/);
    await lab.chord("Control", "c");
    await lab.waitForScreen(/Error from server \(InternalError\)[\s\S]*\^C\s*\nroot@cp-1:~#\s*$/m);
    await shot("5-pasted");
    // The paste focused the terminal; Alt+Shift+N goes from it to the picker for a new terminal.
    await lab.chord("Alt", "Shift", "KeyN");
    assert.equal(await page.evaluate("document.activeElement?.id"), "term-target");
  });

  it("logged no console errors (CSP violations included)", () => {
    assert.deepEqual(log.errors, []);
  });
});
