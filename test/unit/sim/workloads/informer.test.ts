import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SharedInformers, type InformerEvent, type KubeObject } from "../../../../server/sim/workloads/informer.js";
import type { KubeClient } from "../../../../server/sim/workloads/kubeclient.js";

const pod = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: "default", resourceVersion: rv } });
const tick = () => new Promise((r) => setImmediate(r));

/** A client with one list answer per path and watch streams the test pushes events into. */
function fakeClient(items: KubeObject[]) {
  const calls = { lists: 0, watches: 0, aborted: 0 };
  const streams: Array<(line: string) => void> = [];
  const client: KubeClient = {
    get: async () => {
      calls.lists++;
      return { status: 200, body: { metadata: { resourceVersion: "10" }, items } };
    },
    request: async () => ({ status: 405, body: undefined }),
    closeIdle: () => {},
    stream: (_path, onLine) => {
      calls.watches++;
      streams.push(onLine);
      return () => void calls.aborted++;
    },
  };
  const push = (type: InformerEvent, obj: KubeObject) => {
    for (const s of streams) s(JSON.stringify({ type, object: obj }));
  };
  return { client, calls, push };
}

describe("SharedInformers", () => {
  it("lists and watches a path once for all its subscribers, and gives each every event", async () => {
    const { client, calls, push } = fakeClient([pod("a", "1")]);
    const informers = new SharedInformers(client);
    const seen: Record<string, string[]> = { kubelet: [], felix: [] };
    const kubelet = informers.subscribe("/api/v1/pods", { onEvent: (t, o) => seen.kubelet!.push(`${t} ${o.metadata.name}`) });
    const felix = informers.subscribe("/api/v1/pods", { onEvent: (t, o) => seen.felix!.push(`${t} ${o.metadata.name}`) });
    await Promise.all([kubelet.synced, felix.synced]);
    assert.equal(kubelet.cache, felix.cache);
    push("ADDED", pod("b", "11"));
    push("DELETED", pod("a", "12"));
    assert.deepEqual(seen.kubelet, ["ADDED a", "ADDED b", "DELETED a"]);
    assert.deepEqual(seen.felix, seen.kubelet);
    assert.deepEqual({ lists: calls.lists, watches: calls.watches }, { lists: 1, watches: 1 });
    assert.deepEqual([...kubelet.cache.keys()], ["default/b"]);
  });

  it("gives a subscriber that comes after the first list what the cache holds, as ADDED events", async () => {
    const { client, calls } = fakeClient([pod("a", "1"), pod("b", "2")]);
    const informers = new SharedInformers(client);
    await informers.subscribe("/api/v1/pods", { onEvent: () => {} }).synced;
    const late: string[] = [];
    informers.subscribe("/api/v1/pods", { onEvent: (t, o) => late.push(`${t} ${o.metadata.name}`) });
    assert.deepEqual(late, [], "not while subscribe() runs");
    await tick();
    assert.deepEqual(late, ["ADDED a", "ADDED b"]);
    assert.equal(calls.lists, 1);
  });

  it("stops the watch when the last subscriber stops, and starts afresh after", async () => {
    const { client, calls } = fakeClient([]);
    const informers = new SharedInformers(client);
    const one = informers.subscribe("/api/v1/pods", { onEvent: () => {} });
    const two = informers.subscribe("/api/v1/pods", { onEvent: () => {} });
    await one.synced;
    one.stop();
    one.stop();
    assert.equal(calls.aborted, 0, "another subscriber still follows it");
    two.stop();
    assert.equal(calls.aborted, 1);
    await informers.subscribe("/api/v1/pods", { onEvent: () => {} }).synced;
    assert.deepEqual({ lists: calls.lists, watches: calls.watches }, { lists: 2, watches: 2 });
  });
});
