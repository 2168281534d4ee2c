import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { processesInRange, Queue, SlotTable } from "../../../../server/sandboxes/sim/slots.js";

const table = () => new SlotTable(path.join(mkdtempSync(path.join(tmpdir(), "faultline-slots-")), "slots"));

describe("SlotTable", () => {
  it("hands out the lowest free slot, records the owner, and frees by owner", () => {
    const t = table();
    assert.equal(t.claim("/data/sandboxes/a", 4, () => true), 0);
    assert.equal(t.claim("/data/sandboxes/b", 4, () => true), 1);
    t.freeOwnedBy("/data/sandboxes/a");
    assert.equal(t.claim("/data/sandboxes/c", 4, () => true), 0);
    assert.deepEqual(t.owners().map((o) => o.owner).sort(), ["/data/sandboxes/b", "/data/sandboxes/c"]);
    rmSync(path.dirname(t.dir), { recursive: true });
  });

  it("skips a slot whose ids still run processes, and says when all are taken", () => {
    const t = table();
    assert.equal(t.claim("/x/a", 3, (s) => s !== 0), 1);
    assert.throws(() => t.claim("/x/b", 2, () => true), /all 2 sandbox id ranges are in use/);
    rmSync(path.dirname(t.dir), { recursive: true });
  });

  it("collects orphans only after the grace period", () => {
    const t = table();
    const s = t.claim("/nonexistent/sandboxes/gone", 2, () => true);
    assert.deepEqual(t.collect(), []);
    const old = new Date(Date.now() - 120_000);
    utimesSync(path.join(t.dir, String(s)), old, old);
    assert.deepEqual(t.collect((slot) => slot !== s), []);
    assert.deepEqual(t.collect(), [s]);
    rmSync(path.dirname(t.dir), { recursive: true });
  });
});

describe("Queue", () => {
  it("runs at most `width` tasks at once, in arrival order", async () => {
    const q = new Queue(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        q.run(async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(i);
          await new Promise((r) => setTimeout(r, 10));
          running--;
        }),
      ),
    );
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
  });

  it("a failing task frees its place", async () => {
    const q = new Queue(1);
    await assert.rejects(q.run(() => Promise.reject(new Error("boom"))), /boom/);
    assert.equal(await q.run(async () => 42), 42);
  });
});

it("processesInRange finds this process by its own uid", () => {
  assert.ok(processesInRange(process.getuid!(), 1).includes(process.pid));
});
