import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { FaultlineError } from "../../../../server/errors.js";
import { evaluateInventory, formatVars, type InventoryEvaluation } from "../../../../server/sim/kubespray/evaluate.js";
import { groupVarsFiles } from "../../../../server/sim/kubespray/group-vars.js";
import { SUPPORTED_VERSIONS } from "../../../../server/sim/kubespray/versions.js";
import { inventory } from "./fixtures.js";

const K8S = "group_vars/k8s_cluster/k8s-cluster.yml";

/** Evaluates a fixture with file names shown relative to the fixture folder. */
function evaluate(name: string, version = "v2.19"): Promise<InventoryEvaluation> {
  return evaluateInventory(inventory(name), version, { displayRoot: inventory(name) });
}

/** The FaultlineError a fixture must fail with. */
async function failure(name: string, version = "v2.19"): Promise<FaultlineError> {
  try {
    await evaluate(name, version);
  } catch (err) {
    assert.ok(err instanceof FaultlineError, `expected a FaultlineError, got ${String(err)}`);
    return err;
  }
  return assert.fail(`${name} evaluated without an error`);
}

describe("flagship: the prefix written under a name kubespray does not read", () => {
  it("falls back to the /24 default, so Calico uses /24 blocks in v2.19: 4 blocks in a /22 for 7 nodes", async () => {
    const ev = await evaluate("flagship");
    assert.equal(ev.kubesprayVersion, "v2.19");
    assert.equal(ev.calicoVersion, "v3.22.3");
    assert.equal(ev.podsSubnet, "10.233.64.0/22");
    assert.equal(ev.serviceAddresses, "10.233.0.0/18");
    assert.equal(ev.poolCidr, "10.233.64.0/22");
    assert.equal(ev.nodePrefix, 24);
    assert.equal(ev.blockSize, 24);
    assert.equal(2 ** (ev.blockSize - 22), 4);
  });

  it("says where every value comes from", async () => {
    const { vars } = await evaluate("flagship");
    assert.deepEqual(vars.kube_network_node_prefix, { name: "kube_network_node_prefix", value: 24, source: { kind: "default", version: "v2.19" } });
    assert.deepEqual(vars.calico_pool_blocksize, {
      name: "calico_pool_blocksize",
      value: 24,
      source: { kind: "default", version: "v2.19" },
      derivedFrom: "kube_network_node_prefix",
    });
    assert.deepEqual(vars.kube_pods_subnet!.source, { kind: "file", file: K8S, line: 8, column: 19 });
    assert.deepEqual(vars.kube_service_addresses!.source, { kind: "file", file: K8S, line: 7, column: 25 });
    assert.deepEqual(vars.dns_domain, { name: "dns_domain", value: "cluster.local", source: { kind: "file", file: K8S, line: 12, column: 13 }, derivedFrom: "cluster_name" });
    assert.deepEqual(vars.upstream_dns_servers!.source, { kind: "file", file: "group_vars/all/all.yml", line: 5, column: 3 });
  });

  it("lists the misspelled variable as ignored, with kube_network_node_prefix as the suggestion", async () => {
    const ev = await evaluate("flagship");
    assert.deepEqual(ev.ignored, [
      { name: "kube_network_pod_prefix", value: 25, file: K8S, line: 10, column: 26, didYouMean: "kube_network_node_prefix" },
    ]);
    // Variables kubespray reads but the sim does not model are shown, not reported as ignored.
    for (const name of ["kube_version", "cluster_name", "dns_domain", "bin_dir", "kube_proxy_strict_arp", "upstream_dns_servers"]) {
      assert.ok(ev.vars[name], `${name} is missing from vars`);
    }
  });

  it("shows file paths as given when no displayRoot is passed", async () => {
    const ev = await evaluateInventory(inventory("flagship"), "v2.19");
    const src = ev.vars.kube_pods_subnet!.source;
    assert.equal(src.kind === "file" ? src.file : undefined, path.join(inventory("flagship"), K8S));
  });
});

describe("fixed: the prefix under its real name", () => {
  it("gives /25 blocks in v2.19, because the block size follows the node prefix: 8 blocks for 7 nodes", async () => {
    const ev = await evaluate("fixed");
    assert.equal(ev.nodePrefix, 25);
    assert.equal(ev.blockSize, 25);
    assert.equal(2 ** (ev.blockSize - 22), 8);
    assert.deepEqual(ev.vars.kube_network_node_prefix!.source, { kind: "file", file: K8S, line: 10, column: 27 });
    assert.equal(ev.vars.calico_pool_blocksize!.derivedFrom, "kube_network_node_prefix");
    assert.deepEqual(ev.ignored, []);
  });
});

describe("kubespray v2.20 and later", () => {
  it("uses blockSize 26 whatever the node prefix", async () => {
    for (const version of SUPPORTED_VERSIONS.filter((v) => v !== "v2.19")) {
      for (const fixture of ["flagship", "fixed"]) {
        const ev = await evaluate(fixture, version);
        assert.equal(ev.blockSize, 26, `${fixture} ${version}`);
        assert.deepEqual(ev.vars.calico_pool_blocksize, { name: "calico_pool_blocksize", value: 26, source: { kind: "default", version } });
      }
    }
    assert.equal((await evaluate("fixed", "v2.20")).nodePrefix, 25);
  });

  it("reports the Calico version each release installs", async () => {
    assert.equal((await evaluate("defaults-only", "v2.20")).calicoVersion, "v3.23.3");
    assert.equal((await evaluate("defaults-only", "v2.25")).calicoVersion, "v3.27.3");
    assert.equal((await evaluate("defaults-only", "v2.26.2")).calicoVersion, "v3.28.1");
  });

  it("accepts a node prefix that would be an invalid v2.19 block size", async () => {
    const ev = await evaluate("blocksize-out-of-range", "v2.20");
    assert.equal(ev.nodePrefix, 19);
    assert.equal(ev.blockSize, 26);
  });
});

describe("versions", () => {
  it("normalizes 2.19, v2.19.1 and v2.19.0 to v2.19", async () => {
    for (const v of ["2.19", "v2.19.1", " v2.19.0 "]) assert.equal((await evaluate("defaults-only", v)).kubesprayVersion, "v2.19");
  });

  it("rejects an unknown version and lists the supported ones", async () => {
    for (const v of ["v2.18", "3.0", "latest"]) {
      const err = await failure("flagship", v);
      assert.equal(err.message, `kubespray version "${v}" is not supported by the simulator`);
      assert.match(err.hint ?? "", /use one of v2\.19, v2\.20, .*v2\.28/);
    }
  });
});

describe("precedence", () => {
  it("loads a group folder in lexical order (recursively), then <group>.yml, skipping hidden and non-YAML files", async () => {
    const files = await groupVarsFiles(path.join(inventory("precedence"), "group_vars"), "all");
    assert.deepEqual(
      files.map((f) => path.relative(path.join(inventory("precedence"), "group_vars"), f)),
      ["all/00-base.yml", "all/10-site.yaml", "all/sub/50-nested.yml", "all.yml"],
    );
  });

  it("lets later files and child groups win, and reports the winning line", async () => {
    const { vars } = await evaluate("precedence");
    const at = (name: string) => {
      const v = vars[name]!;
      return v.source.kind === "file" ? [v.value, v.source.file, v.source.line] : [v.value, "default"];
    };
    // Inside group_vars/all/, the later file wins (a hidden file setting "bogus" is not read).
    assert.deepEqual(at("kube_proxy_mode"), ["iptables", "group_vars/all/10-site.yaml", 1]);
    // group_vars/all.yml loads after the group_vars/all/ folder.
    assert.deepEqual(at("cluster_name"), ["all-file.local", "group_vars/all.yml", 1]);
    assert.deepEqual(at("dns_domain"), ["nested.local", "group_vars/all/sub/50-nested.yml", 1]);
    // k8s_cluster is a child of all; group_vars/kube_node is not a cluster-wide group.
    assert.deepEqual(at("kube_pods_subnet"), ["10.104.0.0/16", K8S, 1]);
    // The legacy k8s-cluster group beats all, and k8s_cluster beats k8s-cluster.
    assert.deepEqual(at("kube_service_addresses"), ["10.96.0.0/16", "group_vars/k8s-cluster/legacy.yml", 1]);
    assert.deepEqual(at("kube_network_node_prefix"), [25, K8S, 2]);
    assert.deepEqual(at("kubelet_max_pods"), [64, "group_vars/k8s_cluster/zz-override.yml", 1]);
  });

  it("keeps the last of duplicate keys in one file, as Ansible does", async () => {
    const ev = await evaluate("duplicate-key");
    assert.equal(ev.nodePrefix, 25);
    assert.deepEqual(ev.vars.kube_network_node_prefix!.source, { kind: "file", file: K8S, line: 4, column: 27 });
  });

  it("uses kubespray's defaults when there are no group_vars", async () => {
    const ev = await evaluate("defaults-only");
    assert.equal(ev.podsSubnet, "10.233.64.0/18");
    assert.equal(ev.serviceAddresses, "10.233.0.0/18");
    assert.equal(ev.nodePrefix, 24);
    assert.equal(ev.blockSize, 24);
    assert.equal(ev.vars.kube_network_plugin!.value, "calico");
    assert.equal(ev.vars.kube_proxy_mode!.value, "ipvs");
    assert.ok(Object.values(ev.vars).every((v) => v.source.kind === "default"));
    assert.deepEqual(ev.ignored, []);
  });
});

describe("Jinja references", () => {
  it("resolves whole-value references to the referenced variable's effective value", async () => {
    const ev = await evaluate("jinja-reference");
    assert.equal(ev.podsSubnet, "10.240.0.0/20");
    assert.equal(ev.nodePrefix, 25);
    assert.equal(ev.blockSize, 25);
    assert.deepEqual(ev.vars.kube_pods_subnet, { name: "kube_pods_subnet", value: "10.240.0.0/20", source: { kind: "file", file: K8S, line: 1, column: 19 }, derivedFrom: "pods_range" });
    assert.deepEqual(ev.vars.calico_pool_cidr, { name: "calico_pool_cidr", value: "10.240.0.0/20", source: { kind: "file", file: K8S, line: 3, column: 19 }, derivedFrom: "kube_pods_subnet" });
    assert.equal(ev.vars.kube_network_node_prefix!.derivedFrom, "my_node_prefix");
    // Helpers that a kubespray variable refers to are read, so only the unused one is reported.
    assert.deepEqual(ev.ignored.map((i) => i.name), ["unused_helper"]);
    assert.equal(ev.ignored[0]!.didYouMean, undefined);
  });

  it("refuses any other templating at the value's position", async () => {
    const err = await failure("jinja-unsupported");
    assert.ok(err.message.startsWith(`${K8S}:2:19: kube_pods_subnet: "10.233.{{ third_octet }}.0/18"`), err.message);
    assert.match(err.message, /supports only whole-value variable references/);
  });

  it("names an undefined reference and suggests the defined one", async () => {
    const err = await failure("jinja-undefined");
    assert.equal(err.message, `${K8S}:2:27: kube_network_node_prefix refers to 'node_prefx', which is undefined`);
    assert.equal(err.hint, "did you mean node_prefix?");
  });
});

describe("errors point at the line to edit", () => {
  it("malformed YAML", async () => {
    const err = await failure("malformed-yaml");
    assert.ok(err.message.startsWith(`${K8S}:2:1: not valid YAML`), err.message);
  });

  it("a top level that is not a mapping", async () => {
    const err = await failure("not-a-mapping");
    assert.equal(err.message, "group_vars/all/all.yml:2:1: the top level of a group_vars file must be a mapping of variable names to values");
  });

  it("a subnet with host bits set (kubespray's ipaddr('net') assert)", async () => {
    const err = await failure("host-bits");
    assert.equal(err.message, `${K8S}:2:19: kube_pods_subnet = '10.233.64.1/18' is not a valid network range`);
    assert.match(err.hint ?? "", /did you mean 10\.233\.64\.0\/18\?/);
  });

  it("a pod subnet inside the service range (kubespray's collision assert), naming the default it collides with", async () => {
    const err = await failure("overlap");
    assert.ok(
      err.message.startsWith(`${K8S}:2:19: kube_pods_subnet 10.233.0.0/20 lies inside kube_service_addresses 10.233.0.0/18 (kubespray v2.19 default)`),
      err.message,
    );
    assert.match(err.message, /cannot be the same network segment/);
  });

  it("a service range inside the pod subnet (stricter than kubespray, and says so)", async () => {
    const err = await failure("overlap-services-in-pods");
    assert.ok(err.message.startsWith(`${K8S}:2:25: kube_service_addresses 10.233.0.0/18 lies inside kube_pods_subnet 10.0.0.0/8 (${K8S}:1:19)`), err.message);
    assert.match(err.message, /simulator refuses both/);
  });

  it("a node prefix that is not a number", async () => {
    const err = await failure("bad-type");
    assert.equal(err.message, `${K8S}:2:27: kube_network_node_prefix must be a whole number, got "abc"`);
  });

  it("a default that does not fit the inventory says it is kubespray's default", async () => {
    const err = await failure("node-prefix-too-short");
    assert.ok(err.message.startsWith("kubespray v2.19 default: kube_network_node_prefix = 24 is shorter than kube_pods_subnet's /25"), err.message);
  });

  it("a v2.19 block size derived from the node prefix points at the node prefix", async () => {
    const err = await failure("blocksize-out-of-range");
    assert.ok(err.message.startsWith(`${K8S}:3:27: calico_pool_blocksize (= kube_network_node_prefix) = 19: calicoctl rejects`), err.message);
  });

  it("a missing inventory folder", async () => {
    await assert.rejects(evaluateInventory(path.join(inventory("flagship"), "nope"), "v2.19"), (err: unknown) => {
      assert.ok(err instanceof FaultlineError);
      assert.match(err.message, /inventory folder .*nope does not exist/);
      return true;
    });
  });
});

describe("formatVars", () => {
  it("prints values with their source, then what kubespray does not read", async () => {
    const out = formatVars(await evaluate("flagship"));
    const lines = out.split("\n");
    assert.equal(lines[0], "kubespray v2.19, Calico v3.22.3");
    assert.match(out, /^kube_pods_subnet +10\.233\.64\.0\/22 +group_vars\/k8s_cluster\/k8s-cluster\.yml:8$/m);
    assert.match(out, /^kube_network_node_prefix +24 +kubespray v2\.19 default$/m);
    assert.match(out, /^calico_pool_blocksize +24 +default \(= kube_network_node_prefix\)$/m);
    assert.match(out, /^dns_domain +cluster\.local +group_vars\/k8s_cluster\/k8s-cluster\.yml:12 \(= cluster_name\)$/m);
    const section = lines.findIndex((l) => l.startsWith("set but not read by kubespray"));
    const ignoredRow = lines.findIndex((l) => /^kube_network_pod_prefix +25 +group_vars\/k8s_cluster\/k8s-cluster\.yml:10 +kube_network_node_prefix$/.test(l));
    assert.ok(section > 0 && ignoredRow > section, out);
  });

  it("says so when everything set is read", async () => {
    assert.match(formatVars(await evaluate("fixed")), /^set but not read by kubespray: none$/m);
  });
});
