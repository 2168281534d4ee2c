/**
 * A lab's `manifests` are its starting objects: applied with kubectl as the admin after the build (the
 * NetworkPolicy among them is enforced), and again after re-provisioning, which starts from an empty
 * cluster. A manifest the API server refuses fails the build with kubectl's words.
 */
import assert from "node:assert/strict";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { cleanup, eventually, fixtureLab, tempDataDir, testDriver, uniqueName } from "../../support/sandbox.js";

const driver = testDriver();

describe("lab manifests", { timeout: 120_000 }, () => {
  after(() => cleanup(driver));

  it("are applied after the build and after re-provisioning; the NetworkPolicy among them is enforced", async () => {
    const name = uniqueName("man");
    await driver.up({ lab: fixtureLab("with-manifests"), name });
    const cm = await driver.exec(name, "node/cp-1", ["kubectl", "get", "configmap", "lab-start", "-o", "jsonpath={.data.from}"], { timeoutMs: 20_000 });
    assert.equal(cm.stdout, "manifests", cm.stderr);
    const chains = await eventually(() => driver.exec(name, "node/worker-1", ["iptables-save", "-t", "filter"]), (r) => r.stdout.includes("cali-tw-"), 5000);
    assert.match(chains.stdout, /Drop if no policies passed packet/);

    const before = driver.ready(name).generation;
    await driver.exec(name, "node/cp-1", ["faultline-reprovision"], { timeoutMs: 30_000 });
    await eventually(() => { try { return driver.ready(name).generation; } catch { return before; } }, (g) => g === before + 1, 20_000);
    const again = await eventually(() => driver.exec(name, "node/cp-1", ["kubectl", "get", "networkpolicy", "default-deny", "-o", "name"], { timeoutMs: 20_000 }), (r) => r.code === 0, 10_000);
    assert.equal(again.stdout.trim(), "networkpolicy.networking.k8s.io/default-deny", again.stderr);
  });

  it("a manifest the API server refuses fails the build with kubectl's message", async (t) => {
    const scratch = tempDataDir();
    t.after(() => rmSync(scratch, { recursive: true, force: true }));
    const dir = path.join(scratch, "refused");
    cpSync(fixtureLab("with-manifests"), dir, { recursive: true });
    writeFileSync(path.join(dir, "setup", "start.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad, namespace: nope}\n");
    await assert.rejects(driver.up({ lab: dir, name: uniqueName("man-bad") }), (e: Error) => {
      assert.match(e.message, /the lab's manifests were refused: Error from server \(NotFound\): error when creating "STDIN": namespaces "nope" not found/);
      return true;
    });
  });
});
