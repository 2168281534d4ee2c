/**
 * The sandbox PKI made in-process (pki.ts): kubeadm-shaped certificates that OpenSSL's strict checks
 * accept, fresh keys per PKI, reuse of what is on disk.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { DEFAULT_SANS, ensurePki, ipFamily, issue } from "../../../../server/sim/apiserver/pki.js";

const temp = mkdtempSync(path.join(tmpdir(), "faultline-pki-"));
after(() => rmSync(temp, { recursive: true, force: true }));

describe("ensurePki", () => {
  it("makes a CA, a serving and an admin certificate as kubeadm shapes them", async () => {
    const dir = path.join(temp, "a");
    const pki = await ensurePki(dir, ["10.10.0.2"]);
    const ca = new X509Certificate(pki.ca.cert);
    const serving = new X509Certificate(pki.serving.cert);
    const admin = new X509Certificate(pki.admin.cert);
    assert.equal(ca.subject, "CN=kubernetes");
    assert.equal(ca.issuer, "CN=kubernetes");
    assert.equal(ca.ca, true);
    assert.equal(serving.subject, "CN=kube-apiserver");
    assert.equal(admin.subject, "O=system:masters\nCN=kubernetes-admin");
    for (const [x, eku] of [[serving, "1.3.6.1.5.5.7.3.1"], [admin, "1.3.6.1.5.5.7.3.2"]] as const) {
      assert.equal(x.ca, false);
      assert.equal(x.issuer, "CN=kubernetes");
      assert.ok(x.checkIssued(ca) && x.verify(ca.publicKey));
      assert.deepEqual(x.keyUsage, [eku]);
      assert.match(x.serialNumber, /^[0-7][0-9A-F]{39}$/);
      const days = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / 86_400_000;
      assert.equal(days, 365);
    }
    assert.equal((Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / 86_400_000, 3650);
    assert.deepEqual(serving.subjectAltName?.split(", "), [
      "IP Address:10.10.0.2",
      ...DEFAULT_SANS.map((s) => (/^\d/.test(s) ? `IP Address:${s}` : `DNS:${s}`)),
    ]);
    assert.ok(serving.checkPrivateKey(createPrivateKey(pki.serving.key)));
    assert.ok(admin.checkPrivateKey(createPrivateKey(pki.admin.key)));
    assert.equal(createPrivateKey(pki.ca.key).asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.match(pki.ca.key, /^-----BEGIN PRIVATE KEY-----\n/);
    for (const f of ["ca", "apiserver", "admin"]) {
      assert.equal(statSync(path.join(dir, `${f}.key`)).mode & 0o777, 0o600);
      assert.equal(statSync(path.join(dir, `${f}.crt`)).mode & 0o777, 0o644);
    }
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  it("passes OpenSSL's strict verification for its purpose, extensions as openssl req -x509 made them", async () => {
    const dir = path.join(temp, "strict");
    await ensurePki(dir, ["10.10.0.2", "fd00::2"]);
    const verify = (purpose: string, file: string) =>
      execFileSync("openssl", ["verify", "-x509_strict", "-purpose", purpose, "-CAfile", path.join(dir, "ca.crt"), path.join(dir, file)], { encoding: "utf8" });
    assert.match(verify("sslserver", "apiserver.crt"), /: OK/);
    assert.match(verify("sslclient", "admin.crt"), /: OK/);
    const text = execFileSync("openssl", ["x509", "-in", path.join(dir, "apiserver.crt"), "-noout", "-text"], { encoding: "utf8" });
    const extensions = [...text.matchAll(/^\s+X509v3 ([A-Z][A-Za-z ]+?):( critical)? *$/gm)].map((m) => m[1]! + (m[2] ?? ""));
    assert.deepEqual(extensions, ["Basic Constraints critical", "Key Usage critical", "Extended Key Usage", "Authority Key Identifier", "Subject Alternative Name", "Subject Key Identifier"]);
    assert.match(text, /IP Address:FD00:0:0:0:0:0:0:2/);
    assert.match(text, /Digital Signature, Key Encipherment\n/);
  });

  it("never shares a key: each PKI has its own CA and keys", async () => {
    const [a, b] = await Promise.all([ensurePki(path.join(temp, "one"), ["10.0.0.1"]), ensurePki(path.join(temp, "two"), ["10.0.0.1"])]);
    const keys = [a.ca.key, a.serving.key, a.admin.key, b.ca.key, b.serving.key, b.admin.key];
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(new X509Certificate(b.serving.cert).checkIssued(new X509Certificate(a.ca.cert)), false);
  });

  it("reuses what is on disk, re-issuing the serving certificate only when the SANs grew", async () => {
    const dir = path.join(temp, "reuse");
    const first = await ensurePki(dir, ["10.0.0.1"]);
    const again = await ensurePki(dir, ["10.0.0.1"]);
    assert.deepEqual(again, first);
    const grown = await ensurePki(dir, ["10.0.0.1", "10.0.0.9"]);
    assert.deepEqual([grown.ca, grown.admin], [first.ca, first.admin]);
    assert.notEqual(grown.serving.cert, first.serving.cert);
    assert.match(new X509Certificate(grown.serving.cert).subjectAltName ?? "", /IP Address:10\.0\.0\.9/);
  });

  it("reads openssl -subj subjects in order and refuses what it cannot read", async () => {
    const dir = path.join(temp, "subj");
    await ensurePki(dir, []);
    const pair = await issue(dir, "ca", "user", "/O=dev/OU=team/CN=jane");
    assert.equal(new X509Certificate(pair.cert).subject, "O=dev\nOU=team\nCN=jane");
    await assert.rejects(issue(dir, "ca", "bad", "/XX=1"), /cannot read "XX=1"/);
    await assert.rejects(issue(dir, "ca", "nameless", "/CN=x", ["0.0.0.0"]), /needs at least one name/);
    await assert.rejects(issue(path.join(temp, "nowhere"), "ca", "x", "/CN=x"), /the CA ca in/);
    assert.equal(readFileSync(path.join(dir, "user.crt"), "utf8"), pair.cert);
  });
});

describe("ipFamily", () => {
  it("agrees with net.isIP on addresses, near-addresses and DNS names", () => {
    const names = [
      "192.168.10.10", "10.233.0.1", "127.0.0.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5",
      "01.2.3.4", "1.2.3.04", "1..3.4", "1.2.3.4.", " 1.2.3.4", "1.2.3.-4", "1e1.2.3.4", "0x1.2.3.4",
      "::1", "fe80::1", "2001:db8::8a2e:370:7334", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", ":::", "fe80::1%eth0",
      "kubernetes", "kubernetes.default.svc.cluster.local", "localhost", "cp-1", "", "a:b",
    ];
    for (const n of names) assert.equal(ipFamily(n), isIP(n), n);
  });
});
