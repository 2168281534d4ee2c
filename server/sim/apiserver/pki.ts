/**
 * The per-instance PKI, shaped like kubeadm's: a cluster CA (CN=kubernetes), the apiserver serving
 * certificate with the SANs kubeadm gives it, and the admin client certificate of admin.conf
 * (CN=kubernetes-admin, O=system:masters). Node cannot create X.509 certificates, so the `openssl` CLI
 * does it, one process per certificate (`req -x509 -CA`, OpenSSL 3).
 *
 * Keys are ECDSA P-256 rather than kubeadm's default RSA-2048: generating three RSA keys costs over two
 * seconds on a small host, against the sandbox's one-second budget, and kubeadm itself offers
 * ECDSA-P256 (ClusterConfiguration.encryptionAlgorithm). kubectl and client-node accept both.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { FaultlineError, withContext } from "../../errors.js";

const run = promisify(execFile);

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

const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = $ENV::FAULTLINE_SANS
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

async function openssl(args: string[], env: Record<string, string> = {}): Promise<void> {
  try {
    // a minimal environment: the SAN list is the only thing passed, and no OPENSSL_CONF from the host applies
    await run("openssl", args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", FAULTLINE_SANS: "DNS:unused", ...env }, timeout: 10_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new FaultlineError("the openssl command is not installed", "install it: apt-get install openssl");
    throw new FaultlineError(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** `subjectAltName` value for openssl: IPs as IP:, names as DNS:, deduplicated. */
export function sanList(names: string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const n of names) {
    if (!n || n === "0.0.0.0" || n === "::" || seen.has(n)) continue;
    seen.add(n);
    out.push(isIP(n) ? `IP:${n}` : `DNS:${n}`);
  }
  return out.join(",");
}

function files(dir: string, name: string): { cert: string; key: string } {
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

function readPair(dir: string, name: string): KeyPair {
  const f = files(dir, name);
  return { cert: readFileSync(f.cert, "utf8"), key: readFileSync(f.key, "utf8") };
}

/**
 * Creates a self-signed CA in `dir` as `<name>.crt`/`<name>.key`.
 *
 * @example await createCa(dir, "ca", "kubernetes")
 */
export async function createCa(dir: string, name: string, cn: string): Promise<KeyPair> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cnf = path.join(dir, "openssl.cnf");
  writeFileSync(cnf, CONFIG, { mode: 0o600 });
  const f = files(dir, name);
  await openssl(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc", "-keyout", f.key, "-out", f.cert, "-subj", `/CN=${cn}`, "-days", "3650", "-config", cnf, "-extensions", "ca_ext"]);
  return readPair(dir, name);
}

/**
 * Issues a certificate signed by the CA `<caName>` in `dir`: a serving certificate for `sans`, or a
 * client certificate when `sans` is omitted. `subject` is an openssl -subj string (`/O=g/CN=user`).
 */
export async function issue(dir: string, caName: string, name: string, subject: string, sans?: string[]): Promise<KeyPair> {
  const cnf = path.join(dir, "openssl.cnf");
  if (!existsSync(cnf)) writeFileSync(cnf, CONFIG, { mode: 0o600 });
  const ca = files(dir, caName);
  const f = files(dir, name);
  const env: Record<string, string> = sans ? { FAULTLINE_SANS: sanList(sans) } : {};
  await openssl(
    ["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc", "-keyout", f.key, "-out", f.cert, "-subj", subject, "-days", "365", "-config", cnf, "-extensions", sans ? "server_ext" : "client_ext", "-CA", ca.cert, "-CAkey", ca.key],
    env,
  );
  return readPair(dir, name);
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
    const ca = files(dir, "ca");
    if (!existsSync(ca.cert) || !existsSync(ca.key)) await createCa(dir, "ca", "kubernetes");
    const wanted = sanList([...sans, ...DEFAULT_SANS]).split(",");
    const have = storedSans(files(dir, "apiserver").cert);
    const [serving, admin] = await Promise.all([
      have && wanted.every((s) => have.has(s)) && existsSync(files(dir, "apiserver").key)
        ? readPair(dir, "apiserver")
        : issue(dir, "ca", "apiserver", "/CN=kube-apiserver", [...sans, ...DEFAULT_SANS]),
      existsSync(files(dir, "admin").cert) && existsSync(files(dir, "admin").key)
        ? readPair(dir, "admin")
        : issue(dir, "ca", "admin", "/O=system:masters/CN=kubernetes-admin"),
    ]);
    return { ca: readPair(dir, "ca"), serving, admin };
  } catch (err) {
    throw withContext(`api server certificates in ${dir}`, err);
  }
}
