/** Which pods run which workload, the command line, and the seeded webhook configuration. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clientAddress, echoText } from "../../../../server/sim/workloads/http-echo.js";
import { parseWorkloadArgs, workloadFor } from "../../../../server/sim/workloads/main.js";
import { metallbWebhookObjects } from "../../../../server/sim/workloads/metallb-objects.js";
import { WORKLOAD_MAIN, workloadArgv } from "../../../../server/sim/workloads/select.js";

describe("workloadFor", () => {
  it("runs the webhook in MetalLB's controller pods", () => {
    assert.deepEqual(workloadFor({ namespace: "metallb-system", name: "controller-7d9cf7f8b-x2kqv", labels: { app: "metallb", component: "controller" } }), { workload: "metallb-webhook", args: ["--port", "9443"] });
  });

  it("runs nothing in speakers, in controllers elsewhere, or in unlabelled pods", () => {
    assert.equal(workloadFor({ namespace: "metallb-system", name: "speaker-abcde", labels: { app: "metallb", component: "speaker" } }), null);
    assert.equal(workloadFor({ namespace: "kube-system", name: "controller-x", labels: { component: "controller" } }), null);
    assert.equal(workloadFor({ namespace: "metallb-system", name: "controller-x" }), null);
    assert.equal(workloadFor({ namespace: "default", name: "netshoot", labels: { app: "netshoot" } }), null);
  });

  it("runs http-echo on 8080 in hello-world pods, in any namespace", () => {
    assert.deepEqual(workloadFor({ namespace: "default", name: "hello-world-5d8f7c-abcde", labels: { app: "hello-world" } }), { workload: "http-echo", args: ["--port", "8080"] });
    assert.deepEqual(workloadFor({ namespace: "lab", name: "web", labels: { app: "hello-world", tier: "x" } })?.workload, "http-echo");
  });

  it("builds the command line the supervisor runs", () => {
    assert.deepEqual(workloadArgv({ namespace: "default", name: "hello-world-1", labels: { app: "hello-world" } }, "/box"), [WORKLOAD_MAIN, "http-echo", "--pod", "default/hello-world-1", "--box", "/box", "--port", "8080"]);
    assert.equal(workloadArgv({ namespace: "default", name: "x" }, "/box"), null);
    assert.match(WORKLOAD_MAIN, /workloads[/\\]main\.js$/);
  });
});

describe("parseWorkloadArgs", () => {
  it("reads the workload, pod and options, with per-workload default ports", () => {
    assert.deepEqual(parseWorkloadArgs(["metallb-webhook", "--pod", "metallb-system/controller-x", "--box", "/b"]), { workload: "metallb-webhook", pod: { namespace: "metallb-system", name: "controller-x" }, port: 9443, host: "0.0.0.0", logLevel: "info", release: "v0.13", box: "/b" });
    assert.equal(parseWorkloadArgs(["metallb-webhook", "--pod", "metallb-system/c", "--release", "v0.14"]).release, "v0.14");
    const echo = parseWorkloadArgs(["http-echo", "--pod", "default/h", "--port", "0", "--host", "127.0.0.1", "--log-level", "debug"]);
    assert.equal(echo.port, 0);
    assert.equal(echo.host, "127.0.0.1");
    assert.equal(echo.logLevel, "debug");
    assert.equal(parseWorkloadArgs(["http-echo", "--pod", "default/h"]).port, 8080);
  });

  it("names what is wrong", () => {
    assert.throws(() => parseWorkloadArgs([]), /no workload named/);
    assert.throws(() => parseWorkloadArgs(["coredns", "--pod", "a/b"]), /unknown workload "coredns"; known: metallb-webhook, http-echo/);
    assert.throws(() => parseWorkloadArgs(["http-echo"]), /--pod must be <namespace>\/<name>, got ""/);
    assert.throws(() => parseWorkloadArgs(["http-echo", "--pod", "justname"]), /--pod must be/);
    assert.throws(() => parseWorkloadArgs(["http-echo", "--pod", "a/b", "--port", "70000"]), /--port 70000 is not a port number/);
    assert.throws(() => parseWorkloadArgs(["http-echo", "--pod", "a/b", "--port", "8o"]), /is not a port number/);
    assert.throws(() => parseWorkloadArgs(["http-echo", "--pod", "a/b", "--bogus", "1"]), /Unknown option '--bogus'/);
    assert.throws(() => parseWorkloadArgs(["http-echo", "--pod", "a/b", "extra"]), /unexpected argument "extra"/);
    assert.throws(() => parseWorkloadArgs(["http-echo", "--pod", "a/b", "--log-level", "trace"]), /--log-level must be one of debug, info, warn, error/);
    assert.throws(() => parseWorkloadArgs(["metallb-webhook", "--pod", "a/b", "--release", "v0.15"]), /--release must be v0.13 or v0.14, got "v0.15"/);
  });
});

describe("http-echo text", () => {
  it("names the pod and echoes method, target and client", () => {
    assert.equal(echoText("hello-world-1", "POST", "/a?b=1", "10.233.64.5:41000"), "hello world from hello-world-1\nmethod: POST\npath: /a?b=1\nclient: 10.233.64.5:41000\n");
    assert.equal(clientAddress("::ffff:10.0.0.1", 5), "10.0.0.1:5");
    assert.equal(clientAddress("2001:db8::1", 5), "[2001:db8::1]:5");
  });
});

describe("metallbWebhookObjects", () => {
  const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  type Hook = { name: string; admissionReviewVersions: string[]; failurePolicy: string; sideEffects: string; timeoutSeconds?: number; clientConfig: { caBundle: string; service: { name: string; namespace: string; path: string } }; rules: Array<{ apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[] }> };
  type Vwc = { apiVersion: string; kind: string; metadata: { name: string }; webhooks: Hook[] };

  it("is metallb-native.yaml's configuration with the CA as caBundle (v0.14 by default)", () => {
    const objs = metallbWebhookObjects(CA) as Vwc[];
    assert.equal(objs.length, 1);
    const vwc = objs[0]!;
    assert.equal(vwc.apiVersion, "admissionregistration.k8s.io/v1");
    assert.equal(vwc.kind, "ValidatingWebhookConfiguration");
    assert.deepEqual(vwc.metadata, { name: "metallb-webhook-configuration" });
    assert.deepEqual(
      vwc.webhooks.map((h) => h.name),
      ["bgppeersvalidationwebhook.metallb.io", "bfdprofilevalidationwebhook.metallb.io", "bgpadvertisementvalidationwebhook.metallb.io", "communityvalidationwebhook.metallb.io", "ipaddresspoolvalidationwebhook.metallb.io", "l2advertisementvalidationwebhook.metallb.io"],
    );
    const pool = vwc.webhooks.find((h) => h.name === "ipaddresspoolvalidationwebhook.metallb.io")!;
    assert.deepEqual(pool, {
      admissionReviewVersions: ["v1"],
      clientConfig: { caBundle: Buffer.from(CA).toString("base64"), service: { name: "metallb-webhook-service", namespace: "metallb-system", path: "/validate-metallb-io-v1beta1-ipaddresspool" } },
      failurePolicy: "Fail",
      name: "ipaddresspoolvalidationwebhook.metallb.io",
      rules: [{ apiGroups: ["metallb.io"], apiVersions: ["v1beta1"], operations: ["CREATE", "UPDATE"], resources: ["ipaddresspools"] }],
      sideEffects: "None",
    });
    assert.deepEqual(Object.keys(pool), ["admissionReviewVersions", "clientConfig", "failurePolicy", "name", "rules", "sideEffects"], "timeoutSeconds left to the API default (10)");
    const l2 = vwc.webhooks.find((h) => h.name === "l2advertisementvalidationwebhook.metallb.io")!;
    assert.equal(l2.clientConfig.service.path, "/validate-metallb-io-v1beta1-l2advertisement");
    const peer = vwc.webhooks[0]!;
    assert.deepEqual(peer.rules[0]!.apiVersions, ["v1beta2"]);
    assert.equal(peer.clientConfig.service.path, "/validate-metallb-io-v1beta2-bgppeer");
    assert.deepEqual(vwc.webhooks[1]!.rules[0]!.operations, ["CREATE", "DELETE"]);
    for (const h of vwc.webhooks) assert.equal(Buffer.from(h.clientConfig.caBundle, "base64").toString(), CA);
  });

  it("reproduces v0.13.7 (webhook-service, legacy AddressPool webhook) on request", () => {
    const vwc = (metallbWebhookObjects(CA, { release: "v0.13" }) as Vwc[])[0]!;
    assert.equal(vwc.webhooks.length, 7);
    assert.equal(vwc.webhooks[1]!.name, "addresspoolvalidationwebhook.metallb.io");
    assert.ok(vwc.webhooks.every((h) => h.clientConfig.service.name === "webhook-service"));
    const custom = (metallbWebhookObjects(CA, { serviceName: "svc", namespace: "lb" }) as Vwc[])[0]!;
    assert.ok(custom.webhooks.every((h) => h.clientConfig.service.name === "svc" && h.clientConfig.service.namespace === "lb"));
  });
});
