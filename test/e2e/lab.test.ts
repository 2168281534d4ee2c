/**
 * End to end in Debian's Chromium: the real server (startServer on port 0, SQLite, the sim driver)
 * serving the built app. The first admin is made through the setup link the server prints, a
 * trainee through an invite; the trainee signs in, starts the flagship lab (webhook-to-kernel),
 * sees the provisioning progress, types `kubectl get nodes` and sees the 7 nodes, reloads and finds
 * the same shell with its history, pastes from the instructions, opens a terminal on a pod, resets
 * and stops. Every console error (a CSP violation is one) fails the run.
 *
 * FAULTLINE_E2E_SHOTS=<dir> saves a screenshot after each step.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { Client, PASSWORD, startTestServer, type TestServer } from "../integration/web/helpers.js";
import { browserMissing, launch } from "./browser.js";
import { CatalogPage, InvitePage, LabPage, LoginPage } from "./pages.js";

const FLAGSHIP = "webhook-to-kernel";
const NODES = ["cp-1", "worker-1", "worker-2", "worker-3", "worker-4", "worker-5", "worker-6"];
const shots = process.env.FAULTLINE_E2E_SHOTS;

describe("a trainee works the flagship lab in Chromium", { skip: browserMissing() ?? false, timeout: 300_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let lab: LabPage;
  const consoleErrors: string[] = [];
  const shot = async (name: string) => {
    if (!shots) return;
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, `${name}.png`) });
  };

  before(async () => {
    server = await startTestServer({ labs: [FLAGSHIP] });
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on("console", (m) => {
      // Asking who is signed in while signed out answers 401, which the browser logs: expected.
      if (m.type() === "error" && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
    lab = new LabPage(page);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop().catch(() => {});
  });

  it("makes the first admin with the printed setup link; a trainee invited by them signs in", async () => {
    assert.ok(server.setup, "the server printed a setup link");
    assert.match(server.printed.join(""), new RegExp(server.setup.url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    await new InvitePage(page).accept(server.setup.url, { email: "admin@example.com", name: "Ada Admin", password: PASSWORD });
    await page.getByText("Ada Admin (admin)").waitFor();
    // The admin invites a trainee (the admin UI is not part of this app yet: through the API, as the admin).
    const admin = new Client(server.url);
    await admin.login("admin@example.com", PASSWORD);
    const invite = await admin.post("/api/admin/invites", { role: "trainee", email: "trainee@example.com" });
    assert.equal(invite.status, 201);
    await new CatalogPage(page).signOut();
    await new InvitePage(page).accept(invite.body.url, { email: "trainee@example.com", name: "Tess Trainee", password: PASSWORD });
    await new CatalogPage(page).signOut();
    await new LoginPage(page).signIn(server.url, "trainee@example.com", PASSWORD);
    await page.getByText("Tess Trainee (trainee)").waitFor();
    await shot("1-catalog");
  });

  it("opens the flagship from the catalog, starts it, shows the provisioning progress, then a terminal", async () => {
    await new CatalogPage(page).lab(/The webhook that timed out/).click();
    await page.waitForURL((u) => u.pathname === `/labs/${FLAGSHIP}`);
    await page.getByRole("heading", { level: 1, name: /The webhook that timed out/ }).waitFor();
    await page.locator("[data-objective=pool-admitted]").waitFor();
    await lab.recordProgress();
    await lab.startButton.click();
    await shot("2-provisioning");
    await lab.activeTerminal.waitFor({ timeout: 90_000 });
    const seen = await lab.progressSeen();
    assert.ok(seen.length > 0, "the progress bar was shown");
    const phases = new Set(seen.map((s) => s.phase).filter((p): p is string => !!p));
    assert.ok(phases.size >= 2, `it moved through the real phases: ${[...phases].join(", ")}`);
    for (const p of phases) assert.ok(["prepare", "namespaces", "faults", "kubespray", "ipam", "network", "agents", "ready"].includes(p), p);
    await lab.waitForScreen(/root@cp-1:~#\s*$/m);
    assert.equal(await lab.tab("cp-1").getAttribute("aria-selected"), "true");
    await shot("3-terminal");
  });

  it("types kubectl get nodes in the terminal and sees the 7 nodes", async () => {
    await lab.run("export E2E_MARK=same-shell-$((6*7))");
    await lab.run("kubectl get nodes");
    const screen = await lab.waitForScreen((t) => NODES.every((n) => new RegExp(`^${n}\\s+Ready`, "m").test(t)));
    const rows = screen.split("\n").filter((l) => /^(cp-1|worker-\d)\s+Ready\s/.test(l));
    assert.deepEqual(rows.map((r) => r.split(/\s+/)[0]).sort(), NODES);
    await shot("4-nodes");
  });

  it("finds the same shell with its history after a reload", async () => {
    await page.reload();
    await lab.activeTerminal.waitFor();
    // The replay brings back what was on screen, then the shell answers from the same session.
    const replayed = await lab.waitForScreen((t) => /kubectl get nodes/.test(t) && NODES.every((n) => t.includes(n)));
    assert.match(replayed, /export E2E_MARK/);
    await lab.run("echo mark=$E2E_MARK");
    await lab.waitForScreen(/^mark=same-shell-42\s*$/m);
    assert.equal(await page.locator(".tab").count(), 1, "no new terminal was opened");
    await shot("5-reloaded");
  });

  it("shows each objective's state as the attempt's transitions record it: done, not yet, could not check", async () => {
    // What the grading evaluator will record; written here through the store directly.
    const [attempt] = await server.store.listAttempts({});
    const at = new Date().toISOString();
    await server.store.addTransition({ attemptId: attempt!.id, objectiveId: "inventory-fixed", from: "pending", to: "pass", detail: null, at });
    await server.store.addTransition({ attemptId: attempt!.id, objectiveId: "pool-admitted", from: "pending", to: "fail", detail: "IPAddressPool lab-pool not found in metallb-system", at });
    await server.store.addTransition({ attemptId: attempt!.id, objectiveId: "blocks-disjoint", from: "pending", to: "error", detail: "calicoctl did not answer within 5 s", at });
    await page.locator("[data-objective=inventory-fixed][data-state=pass]").waitFor({ timeout: 10_000 });
    const pool = page.locator("[data-objective=pool-admitted][data-state=fail]");
    await pool.waitFor();
    assert.match(await pool.innerText(), /Not yet[\s\S]*lab-pool not found/);
    const blocks = page.locator("[data-objective=blocks-disjoint][data-state=error]");
    assert.match(await blocks.innerText(), /Could not check[\s\S]*did not answer/);
    assert.match(await page.getByRole("heading", { name: /^Objectives/ }).innerText(), /1 of 5/);
    await shot("6-objectives");
  });

  it("pastes a fenced block of the instructions into the terminal and opens a second terminal on a pod", async () => {
    await page.locator(".code-block .paste").first().click();
    await page.keyboard.press("Control+c");
    await lab.waitForScreen(/Error from server \(InternalError\)[\s\S]*\^C/);
    await page.getByLabel("Target for a new terminal").selectOption("pod/default/netshoot");
    await page.getByRole("button", { name: "Open terminal" }).click();
    await lab.tab(/netshoot/).waitFor();
    assert.equal(await lab.tab(/netshoot/).getAttribute("aria-selected"), "true");
    await lab.waitForScreen(/[#$]\s*$/m);
    await lab.run("hostname");
    await lab.waitForScreen(/^netshoot\s*$/m);
    await shot("7-pod-terminal");
    // From inside a terminal, the keyboard moves between them.
    await page.keyboard.press("Alt+Shift+ArrowLeft");
    assert.equal(await lab.tab("cp-1").getAttribute("aria-selected"), "true");
    await lab.waitForScreen(/kubectl get nodes/);
  });

  it("applies the fix through the terminal and sees the objectives turn green", async (t) => {
    const api = new Client(server.url);
    await api.login("trainee@example.com", PASSWORD);
    const { attempts } = (await api.get("/api/attempts")).body as { attempts: Array<{ id: string }> };
    const attempt = (await api.get(`/api/attempts/${attempts[0]!.id}`)).body.attempt as { objectives?: unknown };
    if (!Array.isArray(attempt.objectives)) {
      // PENDING: the grading evaluator (server/checks/evaluator.ts) is not wired into the attempt
      // API yet; once GET /api/attempts/:id returns `objectives`, this test runs.
      t.skip("PENDING(grading evaluator): GET /api/attempts/:id returns no objectives yet");
      return;
    }
    await lab.tab("cp-1").click();
    await lab.run("cd ~/workspace && sed -i 's/^kube_network_nodes_prefix:/kube_network_node_prefix:/' inventory/mycluster/group_vars/k8s_cluster/k8s-cluster.yml");
    await page.locator("[data-objective=inventory-fixed][data-state=pass]").waitFor({ timeout: 60_000 });
    await lab.run("faultline-reprovision");
    // Re-provisioning ends the shell; open a new one when the cluster is back.
    await page.getByRole("button", { name: /Open a new shell on cp-1/ }).click({ timeout: 120_000 });
    await lab.waitForScreen(/root@cp-1:~#\s*$/m, 120_000);
    await lab.run("for i in $(seq 60); do kubectl apply -f ~/workspace/metallb/pool.yaml && break; sleep 2; done");
    await page.locator("[data-objective=pool-admitted][data-state=pass]").waitFor({ timeout: 120_000 });
    await page.locator("[data-objective=blocks-disjoint][data-state=pass]").waitFor({ timeout: 60_000 });
    await shot("9-objectives-live");
  });

  it("resets the sandbox: the shells end, the progress bar comes back, then a fresh shell", async () => {
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Reset" }).click();
    await lab.progressBar.waitFor({ timeout: 30_000 }).catch(() => {}); // may be over in a moment
    await lab.waitForScreen(/root@cp-1:~#\s*$/m, 90_000);
    await lab.run("echo mark=$E2E_MARK.");
    await lab.waitForScreen(/^mark=\.\s*$/m);
    assert.equal(await page.locator(".tab").count(), 1, "one new terminal");
  });

  it("stops the attempt: the sandbox goes and the lab can be started again", async () => {
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByRole("button", { name: "Start again" }).waitFor();
    assert.equal(await page.locator(".xterm").count(), 0);
    assert.equal(server.driver.list().length, 0, "no sandbox left");
    await page.getByRole("link", { name: "Labs" }).click();
    await page.locator(".catalog-all").getByText(/Stopped · 1\/5 objectives/).waitFor();
    await shot("8-catalog-after");
  });

  it("logged no console errors (CSP violations included)", () => {
    assert.deepEqual(consoleErrors, []);
  });
});
