/**
 * Bodies captured from kubectl v1.32 (`kubectl create namespace|configmap|deployment|secret|service`
 * through a recording proxy), one fixture file each, decoded as the server stores them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeProtobufObject, WireError } from "../../../../server/sim/apiserver/protobuf/decode.js";
import { fixture } from "./fixtures.js";

const pb = (name: string) => decodeProtobufObject(fixture("protobuf", name));

describe("protobuf bodies from kubectl", () => {
  it("namespace", () => {
    assert.deepEqual(pb("namespace-team-a.pb"), { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a" }, spec: {}, status: {} });
  });

  it("configmap keeps an empty value (data entries are data, not zero values)", () => {
    assert.deepEqual(pb("configmap-settings.pb"), { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "team-a" }, data: { empty: "", mode: "debug" } });
  });

  it("secret bytes become base64", () => {
    const s = pb("secret-creds.pb") as { data: Record<string, string> };
    assert.equal(Buffer.from(s.data.password!, "base64").toString(), "s3cr3t");
  });

  it("deployment: nested template, ports, replicas", () => {
    const d = pb("deployment-web.pb") as { apiVersion: string; spec: { replicas: number; template: { spec: { containers: Array<{ image: string; ports: unknown[] }> } } } };
    assert.equal(d.apiVersion, "apps/v1");
    assert.equal(d.spec.replicas, 3);
    assert.equal(d.spec.template.spec.containers[0]!.image, "nginx:1.25");
    assert.deepEqual(d.spec.template.spec.containers[0]!.ports, [{ containerPort: 8080 }]);
  });

  it("service: IntOrString targetPort as a number", () => {
    const s = pb("service-api.pb") as { spec: { ports: unknown[]; selector: unknown } };
    assert.deepEqual(s.spec.ports, [{ name: "80-8080", protocol: "TCP", port: 80, targetPort: 8080 }]);
    assert.deepEqual(s.spec.selector, { app: "api" });
  });

  it("rejects malformed input with WireError only", () => {
    const good = fixture("protobuf", "deployment-web.pb");
    const inputs = [Buffer.alloc(0), Buffer.from("k8s\0"), Buffer.from("k8s\0\x0a\xff\xff\xff\xff\x0f"), Buffer.from("{}"), good.subarray(0, good.length - 7), Buffer.concat([good.subarray(0, 4), Buffer.from([0x12, 0x05, 0x0a, 0x03])])];
    for (let i = 0; i < 200; i++) {
      const b = Buffer.from(good);
      b[4 + Math.floor(Math.random() * (b.length - 4))] = Math.floor(Math.random() * 256);
      inputs.push(b);
    }
    for (const input of inputs) {
      try {
        decodeProtobufObject(input);
      } catch (err) {
        assert.ok(err instanceof WireError, `unexpected ${String(err)}`);
      }
    }
  });
});
