import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { editDistance, suggest } from "../../../../server/sim/kubespray/did-you-mean.js";
import { KNOWN_VARS, isReadByKubespray } from "../../../../server/sim/kubespray/known-vars.js";

describe("editDistance", () => {
  it("counts an adjacent swap as one edit", () => {
    assert.equal(editDistance("kube_netwrok", "kube_network"), 1);
    assert.equal(editDistance("abc", "abc"), 0);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("pod", "node"), 2);
  });
});

describe("suggest", () => {
  it("finds the kubespray variable behind common misspellings", () => {
    const cases: Record<string, string> = {
      kube_network_pod_prefix: "kube_network_node_prefix",
      kube_node_network_prefix: "kube_network_node_prefix",
      kube_netwrok_node_prefix: "kube_network_node_prefix",
      kube_pod_subnet: "kube_pods_subnet",
      kube_service_address: "kube_service_addresses",
      calico_pool_block_size: "calico_pool_blocksize",
      dns_domian: "dns_domain",
    };
    for (const [typo, meant] of Object.entries(cases)) assert.equal(suggest(typo, KNOWN_VARS), meant, typo);
  });

  it("suggests nothing for names that are not close to any", () => {
    assert.equal(suggest("unused_helper", KNOWN_VARS), undefined);
    assert.equal(suggest("terraform_state_bucket", KNOWN_VARS), undefined);
  });
});

describe("isReadByKubespray", () => {
  it("knows commonly set variables beyond the ones the sim evaluates", () => {
    for (const name of ["dns_domain", "kube_version", "cluster_name", "calico_ipip_mode", "metallb_enabled", "kube_proxy_strict_arp", "ansible_user"]) {
      assert.ok(isReadByKubespray(name), name);
    }
    assert.equal(isReadByKubespray("kube_network_pod_prefix"), false);
  });
});

/** The whole-table definition of optimal string alignment distance, to check the three-row version against. */
function referenceDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

it("editDistance agrees with the whole-table definition on random names", () => {
  let seed = 42;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const word = () => Array.from({ length: rand(12) }, () => "abc_"[rand(4)]).join("");
  for (let k = 0; k < 2000; k++) {
    const [a, b] = [word(), word()];
    assert.equal(editDistance(a, b), referenceDistance(a, b), `${a} / ${b}`);
  }
});
