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
