import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageBehaviour, parseImage, pullFailure } from "../../../../server/sim/workloads/catalog.js";

describe("image catalogue", () => {
  it("normalises references like containerd", () => {
    assert.equal(parseImage("nginx").full, "docker.io/library/nginx:latest");
    assert.equal(parseImage("nicolaka/netshoot:v0.8").full, "docker.io/nicolaka/netshoot:v0.8");
    assert.equal(parseImage("quay.io/metallb/controller:v0.13.7").repository, "quay.io/metallb/controller");
    assert.equal(parseImage("localhost:5000/app").full, "localhost:5000/app:latest");
    assert.equal(parseImage("nginx@sha256:abc").full, "docker.io/library/nginx@sha256:abc");
  });

  it("knows what images do: serve on a port, idle, or a shell that exits without a command", () => {
    assert.deepEqual(imageBehaviour("nginx:1.25"), { kind: "serve", workload: "http-echo", port: 80 });
    assert.deepEqual(imageBehaviour("busybox"), { kind: "shell" });
    assert.deepEqual(imageBehaviour("registry.k8s.io/kube-apiserver:v1.24.6"), { kind: "idle" });
    assert.equal(imageBehaviour("ngnix"), null);
  });

  it("words a failed pull as containerd does: Docker Hub denies, other registries do not resolve", () => {
    assert.match(pullFailure("ngnix"), /^rpc error: code = Unknown desc = failed to pull and unpack image "docker\.io\/library\/ngnix:latest": failed to resolve reference "docker\.io\/library\/ngnix:latest": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed$/);
    assert.match(pullFailure("registry.example.com/team/app:1.0"), /dial tcp: lookup registry\.example\.com: no such host$/);
  });
});
