/**
 * The per-instance PKI, shaped like kubeadm's: a cluster CA (CN=kubernetes), the apiserver serving
 * certificate with the SANs kubeadm gives it, and the admin client certificate of admin.conf
 * (CN=kubernetes-admin, O=system:masters).
 *
 * Keys are ECDSA P-256 rather than kubeadm's default RSA-2048: generating three RSA keys costs over two
 * seconds on a small host, against the sandbox's one-second budget, and kubeadm itself offers
 * ECDSA-P256 (ClusterConfiguration.encryptionAlgorithm). kubectl and client-node accept both.
 *
 * Keys come from Node's crypto (OpenSSL's generator) and certificates are assembled here in DER and
 * signed with the CA's key: the same X.509 v3 certificates `openssl req -x509` made before (the same
 * extensions, in the same order, a random 159-bit serial), without starting an openssl process per
 * certificate, which cost ~100 ms on the path to a ready sandbox. Every sandbox still gets its own CA
 * and keys, made fresh; nothing is shared or cached between sandboxes.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import { FaultlineError, withContext } from "../../errors.js";
import { isIpv4 } from "../net/cidr.js";

/** The SANs kubeadm puts on the apiserver certificate besides the node's own addresses. */
export const DEFAULT_SANS = [
  "kubernetes",
  "kubernetes.default",
  "kubernetes.default.svc",
  "kubernetes.default.svc.cluster.local",
  "localhost",
  "127.0.0.1",
  "10.233.0.1",
];

/** PEM text of one certificate and its key. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** Everything the server and its kubeconfig need, as PEM. */
export interface Pki {
  ca: KeyPair;
  serving: KeyPair;
  admin: KeyPair;
}

/** The names a certificate covers, deduplicated, without the empty and unspecified ones, each with its IP family (0: a DNS name). */
function sanEntries(names: string[]): Array<{ name: string; family: 0 | 4 | 6 }> {
  const unique = new Set(names.filter((n) => n && n !== "0.0.0.0" && n !== "::"));
  return [...unique].map((name) => ({ name, family: ipFamily(name) }));
}

/** `subjectAltName` value in openssl's notation: IPs as IP:, names as DNS:, deduplicated. */
export function sanList(names: string[]): string {
  return sanEntries(names).map((e) => (e.family ? `IP:${e.name}` : `DNS:${e.name}`)).join(",");
}

/**
 * net.isIP for certificate names, without its cost in the common case: a dotted quad is checked here,
 * and only a name with a colon (IPv6; DNS names have none) goes to net.isIP. Its IPv6 expression is
 * large and compiled at first use, ~9 ms of the API server's start-up for names like "kubernetes".
 */
export function ipFamily(name: string): 0 | 4 | 6 {
  if (name.includes(":")) return isIP(name) === 6 ? 6 : 0;
  return isIpv4(name) ? 4 : 0;
}

function files(dir: string, name: string): { cert: string; key: string } {
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

function readPair(dir: string, name: string): KeyPair {
  const f = files(dir, name);
  return { cert: readFileSync(f.cert, "utf8"), key: readFileSync(f.key, "utf8") };
}

function writePair(dir: string, name: string, pair: KeyPair): KeyPair {
  const f = files(dir, name);
  writeFileSync(f.key, pair.key, { mode: 0o600 });
  writeFileSync(f.cert, pair.cert, { mode: 0o644 });
  return pair;
}

// --- DER, as much of it as an X.509 v3 certificate needs (ITU-T X.690) ---

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const len: number[] = [];
  for (let n = body.length; n > 0; n = Math.floor(n / 256)) len.unshift(n % 256);
  const head = body.length < 0x80 ? [tag, body.length] : [tag, 0x80 | len.length, ...len];
  return Buffer.concat([Buffer.from(head), body]);
}
const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
/** A non-negative INTEGER from big-endian bytes. */
function uint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, (v[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), v]) : v);
}
/** A BIT STRING of whole bytes, or of named bits (`unused` trailing bits of the last byte are zero). */
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const out = [40 * a! + b!];
  for (const n of rest) {
    const enc = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) enc.unshift(0x80 | (v & 0x7f));
    out.push(...enc);
  }
  return tlv(0x06, Buffer.from(out));
}
/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5), to the second. */
function time(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, "").replace(/\.\d{3}Z$/, "Z"); // YYYYMMDDHHMMSSZ
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(s.slice(2), "latin1")) : tlv(0x18, Buffer.from(s, "latin1"));
}

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  sha256WithRsa: "1.2.840.113549.1.1.11",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};
const ATTRIBUTES: Record<string, string> = { CN: "2.5.4.3", O: "2.5.4.10", OU: "2.5.4.11", C: "2.5.4.6", ST: "2.5.4.8", L: "2.5.4.7" };

/** A Name from an openssl `-subj` string such as `/O=system:masters/CN=kubernetes-admin`, in its order. */
function distinguishedName(subject: string): Buffer {
  const parts = subject.split("/").filter(Boolean);
  if (!parts.length) throw new FaultlineError(`certificate subject "${subject}" is empty`);
  return seq(
    ...parts.map((part) => {
      const eq = part.indexOf("=");
      const type = ATTRIBUTES[part.slice(0, eq)];
      const value = part.slice(eq + 1);
      if (eq < 1 || !type || !value) throw new FaultlineError(`certificate subject "${subject}": cannot read "${part}"`, "write it as /CN=name or /O=group/CN=name");
      // countryName is a PrintableString; the rest UTF8String, as openssl's default string mask makes them
      return tlv(0x31, seq(oid(type), tlv(type === ATTRIBUTES.C ? 0x13 : 0x0c, Buffer.from(value, "utf8"))));
    }),
  );
}

/** The key identifier of RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey bits, as openssl's `hash`. */
function keyId(key: KeyObject): Buffer {
  let bitsOfKey: Buffer;
  if (key.asymmetricKeyType === "ec") {
    const jwk = key.export({ format: "jwk" });
    bitsOfKey = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
  } else {
    bitsOfKey = key.export({ type: "pkcs1", format: "der" });
  }
  return createHash("sha1").update(bitsOfKey).digest();
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

function subjectAltName(names: string[]): Buffer {
  // [7] iPAddress (4 or 16 bytes) and [2] dNSName (IA5String), both IMPLICIT
  const out = sanEntries(names).map((e) => (e.family ? tlv(0x87, ipBytes(e.name, e.family)) : tlv(0x82, Buffer.from(e.name, "latin1"))));
  // RFC 5280 4.2.1.6: the extension, when present, names at least one.
  if (!out.length) throw new FaultlineError("a serving certificate needs at least one name or address", "pass the names it serves");
  return seq(...out);
}

function ipBytes(ip: string, family: number): Buffer {
  if (family === 4) return Buffer.from(ip.split(".").map(Number));
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return Buffer.concat(all.map((g) => { const b = Buffer.alloc(2); b.writeUInt16BE(parseInt(g, 16)); return b; }));
}

interface CertRequest {
  subject: string;
  days: number;
  publicKey: KeyObject;
  extensions: Buffer[];
  /** The issuer's subject (DER Name) and key; a self-signed certificate has none. */
  issuer?: { name: Buffer; key: KeyObject };
  /** The subject's own key, which signs a self-signed certificate. */
  selfKey: KeyObject;
}

function certificate(req: CertRequest): string {
  const subject = distinguishedName(req.subject);
  const signer = req.issuer?.key ?? req.selfKey;
  const algorithm = signer.asymmetricKeyType === "ec" ? seq(oid(OID.ecdsaWithSha256)) : seq(oid(OID.sha256WithRsa), tlv(0x05));
  const serial = randomBytes(20);
  serial[0] = (serial[0]! & 0x7f) || 0x01; // positive and 20 bytes long, as openssl makes them
  const now = new Date();
  const tbs = seq(
    tlv(0xa0, uint(Buffer.from([2]))), // [0] EXPLICIT version v3
    uint(serial),
    algorithm,
    req.issuer?.name ?? subject,
    seq(time(now), time(new Date(now.getTime() + req.days * 86_400_000))),
    subject,
    req.publicKey.export({ type: "spki", format: "der" }),
    tlv(0xa3, seq(...req.extensions)), // [3] EXPLICIT extensions
  );
  const der = seq(tbs, algorithm, bits(sign("sha256", tbs, signer)));
  return `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END CERTIFICATE-----\n`;
}

function newKey(): { privateKey: KeyObject; publicKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { privateKey, publicKey, pem: privateKey.export({ type: "pkcs8", format: "pem" }) as string };
}

/**
 * Creates a self-signed CA in `dir` as `<name>.crt`/`<name>.key`: basicConstraints CA:TRUE and keyUsage
 * digitalSignature, keyEncipherment, keyCertSign (both critical), subjectKeyIdentifier; ten years.
 *
 * @example await createCa(dir, "ca", "kubernetes")
 */
export async function createCa(dir: string, name: string, cn: string): Promise<KeyPair> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = newKey();
  const cert = certificate({
    subject: `/CN=${cn}`,
    days: 3650,
    publicKey: key.publicKey,
    selfKey: key.privateKey,
    extensions: [
      extension(OID.basicConstraints, true, seq(bool(true))),
      extension(OID.keyUsage, true, bits(Buffer.from([0xa4]), 2)), // digitalSignature, keyEncipherment, keyCertSign
      extension(OID.subjectKeyId, false, octets(keyId(key.publicKey))),
    ],
  });
  return writePair(dir, name, { cert, key: key.pem });
}

/**
 * Issues a certificate signed by the CA `<caName>` in `dir`: a serving certificate for `sans`, or a
 * client certificate when `sans` is omitted. `subject` is an openssl -subj string (`/O=g/CN=user`).
 * Both have basicConstraints CA:FALSE and keyUsage digitalSignature, keyEncipherment (critical), the
 * extended key usage serverAuth or clientAuth, the CA's key identifier and their own; one year.
 */
export async function issue(dir: string, caName: string, name: string, subject: string, sans?: string[]): Promise<KeyPair> {
  return issueWith(loadCa(dir, caName, () => readPair(dir, caName)), dir, name, subject, sans);
}

/** A CA ready to sign: its PEM pair, parsed. */
interface Authority {
  pair: KeyPair;
  cert: X509Certificate;
  key: KeyObject;
}

/** The CA `<caName>` of `dir`, from `pair()` (its files, or the pair just made), parsed once for every certificate it signs. */
function loadCa(dir: string, caName: string, pair: () => KeyPair): Authority {
  try {
    const p = pair();
    return { pair: p, cert: new X509Certificate(p.cert), key: createPrivateKey(p.key) };
  } catch (err) {
    throw withContext(`the CA ${caName} in ${dir}`, err);
  }
}

function issueWith(ca: Authority, dir: string, name: string, subject: string, sans?: string[]): KeyPair {
  const { cert: caCert, key: caKey } = ca;
  const key = newKey();
  const cert = certificate({
    subject,
    days: 365,
    publicKey: key.publicKey,
    selfKey: key.privateKey,
    issuer: { name: caCert.raw.subarray(...subjectRange(caCert.raw)), key: caKey },
    extensions: [
      extension(OID.basicConstraints, true, seq()),
      extension(OID.keyUsage, true, bits(Buffer.from([0xa0]), 5)), // digitalSignature, keyEncipherment
      extension(OID.extKeyUsage, false, seq(oid(sans ? OID.serverAuth : OID.clientAuth))),
      extension(OID.authorityKeyId, false, seq(tlv(0x80, keyId(caCert.publicKey)))),
      ...(sans ? [extension(OID.subjectAltName, false, subjectAltName(sans))] : []),
      extension(OID.subjectKeyId, false, octets(keyId(key.publicKey))),
    ],
  });
  return writePair(dir, name, { cert, key: key.pem });
}

/** Where the subject Name lies in a DER certificate: the issuer of what the certificate signs, byte for byte. */
function subjectRange(der: Buffer): [number, number] {
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serial, signature, issuer, validity, subject, ... } ... }
  const read = (at: number): { start: number; end: number } => {
    let len = der[at + 1]!;
    let head = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i]!;
      head = 2 + n;
    }
    return { start: at + head, end: at + head + len };
  };
  const tbs = read(read(0).start);
  let at = tbs.start;
  if (der[at] === 0xa0) at = read(at).end; // version
  for (let i = 0; i < 4; i++) at = read(at).end; // serial, signature, issuer, validity
  return [at, read(at).end];
}

/** The SANs a stored serving certificate covers, in openssl's `IP:`/`DNS:` form, or undefined if unreadable. */
function storedSans(certPath: string): Set<string> | undefined {
  try {
    const x = new X509Certificate(readFileSync(certPath));
    // Node renders "DNS:a, IP Address:1.2.3.4"
    return new Set((x.subjectAltName ?? "").split(", ").map((s) => s.replace(/^IP Address:/, "IP:")));
  } catch {
    return undefined;
  }
}

/**
 * The PKI for one API server in `dir`: reused when it is already there (a restarted server keeps the
 * kubeconfigs already handed out working), with the serving certificate re-issued if `sans` grew.
 */
export async function ensurePki(dir: string, sans: string[]): Promise<Pki> {
  try {
    const caFiles = files(dir, "ca");
    const made = !existsSync(caFiles.cert) || !existsSync(caFiles.key) ? await createCa(dir, "ca", "kubernetes") : null;
    // Parsed only if something is issued: a reused PKI is handed out as it is on disk.
    let authority: Authority | undefined;
    const ca = () => (authority ??= loadCa(dir, "ca", () => made ?? readPair(dir, "ca")));
    const wanted = sanList([...sans, ...DEFAULT_SANS]).split(",");
    const have = storedSans(files(dir, "apiserver").cert);
    const serving =
      have && wanted.every((s) => have.has(s)) && existsSync(files(dir, "apiserver").key)
        ? readPair(dir, "apiserver")
        : issueWith(ca(), dir, "apiserver", "/CN=kube-apiserver", [...sans, ...DEFAULT_SANS]);
    const admin =
      existsSync(files(dir, "admin").cert) && existsSync(files(dir, "admin").key)
        ? readPair(dir, "admin")
        : issueWith(ca(), dir, "admin", "/O=system:masters/CN=kubernetes-admin");
    return { ca: authority?.pair ?? made ?? readPair(dir, "ca"), serving, admin };
  } catch (err) {
    throw withContext(`api server certificates in ${dir}`, err);
  }
}
