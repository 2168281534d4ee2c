/**
 * The API server's HTTP client for admission webhooks: what client-go's rest client, Go's net/http and
 * crypto/tls do for kube-apiserver, down to the error texts. Those texts are what a trainee reads after
 * `Internal error occurred: failed calling webhook "<name>": `, so each failure is worded as the Go
 * standard library words it (`Post "<url>": dial tcp 10.233.0.10:443: connect: connection refused`,
 * `... context deadline exceeded`, `x509: certificate signed by unknown authority`).
 *
 * The connection is a real one: in a sandbox the server runs in the control-plane node's network
 * namespace, so dialing a Service's ClusterIP goes through that namespace's DNAT rules and routes, and a
 * blackholed reply surfaces here as the deadline expiring. Sources followed:
 * k8s.io/apiserver/pkg/util/webhook/client.go (URL, ServerName, dial through the service resolver),
 * k8s.io/client-go/rest/request.go (`?timeout=`, unstructured response errors), Go's net/url.Error,
 * net.OpError, crypto/x509 verify.go (HostnameError, UnknownAuthorityError, CertificateInvalidError) and
 * crypto/tls (CertificateVerificationError, Go 1.20+).
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { isIP, type Socket } from "node:net";
import { posix } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { gunzipSync } from "node:zlib";

/** Opens a TCP connection; the returned socket is connecting (Node's `net.connect` contract). */
export type Dialer = (host: string, port: number) => Socket;

/** Where a request goes, as client-go's webhook client builds it from a WebhookClientConfig. */
export interface WebhookTarget {
  /** The URL without the `?timeout=` query: `https://<svc>.<ns>.svc:443/path` or the configured url. */
  base: string;
  /** `host:port` as it appears in the URL (the HTTP Host header). */
  hostHeader: string;
  /** Request path (already cleaned as Go's path.Join cleans it). */
  path: string;
  https: boolean;
  /** TLS ServerName and the name the certificate must cover. */
  serverName: string;
  /** The CAs from caBundle (see parseCaBundle); empty uses the system roots, as Go does. */
  roots: X509Certificate[];
  /** The address to dial; for a Service, its resolution (the ClusterIP) happens at dial time. */
  resolve(): { host: string; port: number };
}

/** A response as read off the wire. */
export interface HttpReply {
  status: number;
  contentType: string;
  body: Buffer;
}

/**
 * A transport failure, already worded like Go's `*url.Error`: `Post "<url>": <cause>`. client-go
 * returns it from `Do()`, and the dispatcher wraps it as `failed to call webhook: <this>`.
 */
export class UrlError extends Error {
  constructor(url: string, readonly reason: string) {
    super(`Post ${goQuote(url)}: ${reason}`);
    this.name = "UrlError";
  }
}

/** A failure whose text is final (service resolution, CA parsing): thrown by resolvers and checks. */
export class GoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GoError";
  }
}

/** Go's `%q` for the ASCII-printable strings that occur here (URLs, names, error texts). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + '"';
}

/** Go's `path.Join` of a prefix and a path: cleaned, no trailing slash, "/" for nothing. */
export function goPathJoin(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  if (joined === "") return "";
  let p = posix.normalize(joined);
  if (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  return p;
}

/** `net.JoinHostPort`: brackets around IPv6 literals. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Go's syscall.Errno texts for what a connect, read or write can fail with. */
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network is unreachable",
  EINVAL: "invalid argument",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset by peer",
  ECONNABORTED: "software caused connection abort",
  EADDRNOTAVAIL: "cannot assign requested address",
  EADDRINUSE: "address already in use",
  EPIPE: "broken pipe",
  ENETDOWN: "network is down",
  EHOSTDOWN: "host is down",
  ENOBUFS: "no buffer space available",
};

/** Go's alert texts (crypto/tls alert.go) for the alerts a webhook server may send during the handshake. */
const TLS_ALERTS: Record<string, string> = {
  HANDSHAKE_FAILURE: "handshake failure",
  BAD_CERTIFICATE: "bad certificate",
  UNSUPPORTED_CERTIFICATE: "unsupported certificate",
  CERTIFICATE_REVOKED: "revoked certificate",
  CERTIFICATE_EXPIRED: "expired certificate",
  CERTIFICATE_UNKNOWN: "unknown certificate",
  UNKNOWN_CA: "unknown certificate authority",
  ACCESS_DENIED: "access denied",
  DECODE_ERROR: "error decoding message",
  DECRYPT_ERROR: "error decrypting message",
  PROTOCOL_VERSION: "protocol version not supported",
  INSUFFICIENT_SECURITY: "insufficient security level",
  INTERNAL_ERROR: "internal error",
  UNRECOGNIZED_NAME: "unrecognized name",
  CERTIFICATE_REQUIRED: "certificate required",
  NO_APPLICATION_PROTOCOL: "no application protocol",
  ILLEGAL_PARAMETER: "illegal parameter",
  UNEXPECTED_MESSAGE: "unexpected message",
};

let resolvConfServer: string | undefined;

/** The first nameserver of /etc/resolv.conf, as Go's resolver names it in `lookup x on <server>`. */
function dnsServer(): string {
  if (resolvConfServer === undefined) {
    let server = "127.0.0.53";
    try {
      const m = /^\s*nameserver\s+(\S+)/m.exec(readFileSync("/etc/resolv.conf", "utf8"));
      if (m) server = m[1]!;
    } catch {
      // no resolv.conf: Go's default is localhost too
    }
    resolvConfServer = joinHostPort(server, 53);
  }
  return resolvConfServer;
}

/** `*net.OpError` text for a failed connect. `dialed` is the address asked for (a ClusterIP, say). */
function dialErrorText(err: NodeJS.ErrnoException & { hostname?: string; address?: string; port?: number }, dialed: { host: string; port: number }): string {
  if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN" || err.syscall === "getaddrinfo") {
    const what = err.code === "EAI_AGAIN" ? "server misbehaving" : "no such host";
    return `dial tcp: lookup ${err.hostname ?? dialed.host} on ${dnsServer()}: ${what}`;
  }
  // a literal address is reported as dialed (the socket may be redirected, as DNAT would); a name as resolved
  const addr = isIP(dialed.host) || !err.address ? joinHostPort(dialed.host, dialed.port) : joinHostPort(err.address, err.port ?? dialed.port);
  const text = (err.code && ERRNO_TEXT[err.code]) ?? err.message;
  return `dial tcp ${addr}: connect: ${text}`;
}

/** `*net.OpError` text for a failed read or write on an established connection. */
function ioErrorText(err: NodeJS.ErrnoException, sock: Socket | undefined, dialed: { host: string; port: number }): string {
  const local = sock?.localAddress ? joinHostPort(sock.localAddress, sock.localPort ?? 0) : "";
  const remote = isIP(dialed.host) || !sock?.remoteAddress ? joinHostPort(dialed.host, dialed.port) : joinHostPort(sock.remoteAddress, sock.remotePort ?? dialed.port);
  const op = err.code === "EPIPE" || err.syscall === "write" ? "write" : "read";
  const text = (err.code && ERRNO_TEXT[err.code]) ?? err.message;
  return `${op} tcp ${local ? `${local}->` : ""}${remote}: ${op}: ${text}`;
}

/** What Go's TLS client says for a handshake that fails before any certificate is looked at. */
function tlsErrorText(err: NodeJS.ErrnoException, sock: Socket | undefined, dialed: { host: string; port: number }): string {
  const code = err.code ?? "";
  // Go peeks at the first record: a plain-HTTP server answers the ClientHello with "HTTP/1.x 400"
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || code === "ERR_SSL_PACKET_LENGTH_TOO_LONG" || code === "ERR_SSL_HTTP_REQUEST") return "http: server gave HTTP response to HTTPS client";
  const alert = /ALERT_(.+)$/.exec(code);
  if (alert) return `remote error: tls: ${TLS_ALERTS[alert[1]!] ?? alert[1]!.toLowerCase().replace(/_/g, " ")}`;
  // the peer closed the connection during the handshake: Go's handshake read returns io.EOF
  if (code === "ECONNRESET" && !("syscall" in err && err.syscall)) return "EOF";
  if (code in ERRNO_TEXT) return ioErrorText(err, sock, dialed);
  return err.message;
}

function parseSans(cert: X509Certificate): { dns: string[]; ip: string[]; present: boolean } {
  const raw = cert.subjectAltName;
  if (raw === undefined) return { dns: [], ip: [], present: false };
  const dns: string[] = [];
  const ip: string[] = [];
  for (const part of raw.split(", ")) {
    if (part.startsWith("DNS:")) dns.push(part.slice(4));
    else if (part.startsWith("IP Address:")) ip.push(part.slice(11));
  }
  return { dns, ip, present: true };
}

function subjectField(dn: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, "m").exec(dn);
  return m ? m[1]! : "";
}

/** RFC 3339 at second precision in UTC, as Go's time.Format(time.RFC3339) prints kube-apiserver's UTC clock. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function expiryText(cert: X509Certificate, now: Date): string | undefined {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now > to) return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is after ${rfc3339(to)}`;
  if (now < from) return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is before ${rfc3339(from)}`;
  return undefined;
}

/** Go's matchHostnames: case-insensitive, a leading `*` label matching exactly one label. */
function matchHostname(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().split(".");
  const h = host.toLowerCase().replace(/\.$/, "").split(".");
  if (p.length !== h.length) return false;
  return p.every((label, i) => (i === 0 && label === "*") || label === h[i]);
}

/** Go's HostnameError.Error(). */
function hostnameText(cert: X509Certificate, host: string): string | undefined {
  const sans = parseSans(cert);
  if (isIP(host)) {
    if (cert.checkIP(host)) return undefined;
    if (sans.ip.length === 0) return `x509: cannot validate certificate for ${host} because it doesn't contain any IP SANs`;
    return `x509: certificate is valid for ${sans.ip.join(", ")}, not ${host}`;
  }
  if (cert.checkHost(host, { subject: "never", partialWildcards: false })) return undefined;
  const cn = subjectField(cert.subject, "CN");
  // Go 1.17+ ignores the Common Name; it says so when the CN alone would have matched
  if (!sans.present && cn && matchHostname(cn, host)) return "x509: certificate relies on legacy Common Name field, use SANs instead";
  if (sans.dns.length === 0) return `x509: certificate is not valid for any names, but wanted to match ${host}`;
  return `x509: certificate is valid for ${sans.dns.join(", ")}, not ${host}`;
}

/** The signature error Go's CheckSignatureFrom gives for a candidate CA whose key did not sign the certificate. */
function signatureErrorText(ca: X509Certificate): string {
  switch (ca.publicKey.asymmetricKeyType) {
    case "rsa":
    case "rsa-pss":
      return "crypto/rsa: verification error";
    case "ed25519":
      return "x509: Ed25519 verification failure";
    default:
      return "x509: ECDSA verification failure";
  }
}

/** Go's UnknownAuthorityError.Error(), with the hint Go adds when a CA of the right name has the wrong key. */
function unknownAuthorityText(leaf: X509Certificate, roots: X509Certificate[]): string {
  let s = "x509: certificate signed by unknown authority";
  const candidate = roots.find((r) => r.subject === leaf.issuer && !leaf.verify(r.publicKey));
  if (candidate) {
    let name = subjectField(candidate.subject, "CN");
    if (!name) name = subjectField(candidate.subject, "O");
    if (!name) name = `serial:${BigInt(`0x${candidate.serialNumber}`).toString()}`;
    s += ` (possibly because of ${goQuote(signatureErrorText(candidate))} while trying to verify candidate authority certificate ${goQuote(name)})`;
  }
  return s;
}

/**
 * Verifies the server's certificate as Go's x509.Certificate.Verify does, in its order: the leaf's
 * validity period, then the host name, then the chain to the roots. Returns Go's error text or undefined.
 */
function verifyServerCertificate(sock: TLSSocket, serverName: string, roots: X509Certificate[], now: Date): string | undefined {
  const peer = sock.getPeerCertificate(true);
  if (!peer || !peer.raw) return "tls: server's certificate contains an unsupported type of public key";
  const leaf = new X509Certificate(peer.raw);
  const expired = expiryText(leaf, now);
  if (expired) return expired;
  const badName = hostnameText(leaf, serverName);
  if (badName) return badName;
  if (sock.authorized) return undefined;
  const code = String(sock.authorizationError ?? "");
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    // the leaf is in its period (checked above): the CA is not
    for (const r of roots) {
      const t = r.subject === leaf.issuer ? expiryText(r, now) : undefined;
      if (t) return t;
    }
  }
  return unknownAuthorityText(leaf, roots);
}

/**
 * Parses a caBundle the way client-go's rootCertPool does, with its error texts
 * (`unable to parse bytes as PEM block`, ...). Returns the certificates; empty for an empty bundle.
 */
export function parseCaBundle(pem: string): X509Certificate[] {
  if (pem.trim() === "") return [];
  const blocks = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)];
  if (blocks.length === 0) throw new GoError("unable to load root certificates: unable to parse bytes as PEM block");
  const certs: X509Certificate[] = [];
  let parseError: string | undefined;
  for (const b of blocks) {
    if (b[1] !== "CERTIFICATE") continue;
    try {
      certs.push(new X509Certificate(b[0]));
    } catch {
      parseError ??= "x509: malformed certificate";
    }
  }
  if (certs.length === 0) {
    throw new GoError(`unable to load root certificates: ${parseError ? `failed to parse certificate: ${parseError}` : "no valid certificate authority data seen"}`);
  }
  return certs;
}

/** Whether kube-apiserver of this version was built with Go 1.20+, whose TLS client prefixes verification errors. */
export function goTlsVerifyPrefix(kubeVersion: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(kubeVersion);
  if (!m) return true;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  // Kubernetes 1.27 is the first minor built with Go 1.20 (late 1.25/1.26 patches were too; not modelled)
  return major > 1 || minor >= 27;
}

/** How postJson connects and how long it waits. */
export interface PostOptions {
  dial: Dialer;
  /** Whole-call deadline in milliseconds: the context.WithTimeout of the dispatcher. */
  timeoutMs: number;
  /** Seconds for the `?timeout=` query parameter. */
  timeoutParam: number;
  /** Prefix x509 errors with `tls: failed to verify certificate: ` (Go 1.20+). */
  tlsVerifyPrefix: boolean;
  now?: () => Date;
  /** The most of a response body that is read. */
  maxBody?: number;
}

/**
 * POSTs a JSON body to a webhook and returns the reply, or rejects with a UrlError worded as Go's.
 * The deadline covers everything from resolving the Service to the last byte of the response; when it
 * passes, the connection is torn down and the error is `context deadline exceeded`, whatever stage the
 * call was in (a SYN never answered, a handshake stuck, a webhook that never replies).
 */
export function postJson(target: WebhookTarget, body: Buffer, opts: PostOptions): Promise<HttpReply> {
  const url = `${target.base}?timeout=${opts.timeoutParam}s`;
  const path = `${target.path}?timeout=${opts.timeoutParam}s`;
  const now = opts.now ?? (() => new Date());
  const maxBody = opts.maxBody ?? 32 << 20;
  return new Promise<HttpReply>((resolve, reject) => {
    let done = false;
    const sockets: Socket[] = [];
    const finish = (cause: string | undefined, reply?: HttpReply): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // outermost first: destroying a socket that a TLSSocket still wraps crashes Node 20 (SIGSEGV)
      for (const s of [...sockets].reverse()) if (!s.destroyed) s.destroy();
      if (cause !== undefined) reject(new UrlError(url, cause));
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish("context deadline exceeded"), opts.timeoutMs);

    let dialed: { host: string; port: number };
    try {
      dialed = target.resolve();
    } catch (err) {
      finish(err instanceof Error ? err.message : String(err));
      return;
    }
    let raw: Socket;
    try {
      raw = opts.dial(dialed.host, dialed.port);
    } catch (err) {
      finish(dialErrorText(err as NodeJS.ErrnoException, dialed));
      return;
    }
    sockets.push(raw);
    raw.once("error", (err: NodeJS.ErrnoException) => finish(dialErrorText(err, dialed)));
    const onConnected = (): void => {
      if (done) return;
      // from here a socket error is a read/write failure on an established connection
      raw.removeAllListeners("error");
      raw.on("error", (err: NodeJS.ErrnoException) => finish(ioErrorText(err, raw, dialed)));
      if (!target.https) return send(raw);
      const roots = target.roots;
      const tlsSock = tlsConnect({
        socket: raw,
        ...(isIP(target.serverName) ? {} : { servername: target.serverName }),
        ...(roots.length ? { ca: roots.map((r) => r.toString()) } : {}),
        // verification is done below, in Go's order and with Go's texts
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
        ALPNProtocols: ["http/1.1"],
        minVersion: "TLSv1.2",
      });
      sockets.push(tlsSock);
      tlsSock.once("error", (err: NodeJS.ErrnoException) => finish(tlsErrorText(err, raw, dialed)));
      tlsSock.once("secureConnect", () => {
        if (done) return;
        const bad = verifyServerCertificate(tlsSock, target.serverName, roots, now());
        if (bad) {
          finish(opts.tlsVerifyPrefix ? `tls: failed to verify certificate: ${bad}` : bad);
          return;
        }
        tlsSock.removeAllListeners("error");
        tlsSock.on("error", (err: NodeJS.ErrnoException) => finish(ioErrorText(err, raw, dialed)));
        send(tlsSock);
      });
    };
    if (raw.connecting) raw.once("connect", onConnected);
    else queueMicrotask(onConnected);

    function send(sock: Socket): void {
      const req = httpRequest({
        method: "POST",
        path,
        setHost: false,
        createConnection: () => sock,
        headers: {
          Host: target.hostHeader,
          "User-Agent": "kube-apiserver-admission",
          "Content-Length": String(body.length),
          Accept: "application/json, */*",
          "Content-Type": "application/json",
          "Accept-Encoding": "gzip",
        },
      });
      req.on("error", (err: NodeJS.ErrnoException) => {
        // Node's "socket hang up": the server closed before answering, which Go reads as io.EOF
        if (err.message === "socket hang up") finish("EOF");
        else if (err.code?.startsWith("HPE_")) finish(`net/http: HTTP/1.x transport connection broken: malformed HTTP response`);
        else finish(ioErrorText(err, raw, dialed));
      });
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > maxBody) {
            finish("http: response body too large");
            return;
          }
          chunks.push(c);
        });
        res.on("error", (err: NodeJS.ErrnoException) => finish(ioErrorText(err, raw, dialed)));
        res.on("end", () => {
          let data = Buffer.concat(chunks);
          if (String(res.headers["content-encoding"] ?? "").toLowerCase() === "gzip") {
            try {
              data = gunzipSync(data);
            } catch {
              finish("gzip: invalid header");
              return;
            }
          }
          finish(undefined, { status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: data });
        });
      });
      req.end(body);
    }
  });
}

/** client-go's NewGenericServerResponse texts for a status code with no Status body (webhook client: no resource). */
function genericServerResponse(code: number, serverMessage: string): string {
  switch (code) {
    case 409:
      return "the server reported a conflict";
    case 404:
      return "the server could not find the requested resource";
    case 400:
      return "the server rejected our request for an unknown reason";
    case 401:
      return "the server has asked for the client to provide credentials";
    case 403:
      return serverMessage;
    case 406:
      return serverMessage === "" || serverMessage === "unknown" ? "the server was unable to respond with a content type that the client supports" : serverMessage;
    case 415:
      return serverMessage;
    case 405:
      return "the server does not allow this method on the requested resource";
    case 422:
      return "the server rejected our request due to an error in our request";
    case 503:
      return "the server is currently unable to handle the request";
    case 504:
      return "the server was unable to return a response in the time allotted, but may still be processing the request";
    case 429:
      return "the server has received too many requests and has asked us to try again later";
  }
  if (code >= 500) return `an error on the server (${goQuote(serverMessage)}) has prevented the request from succeeding`;
  return `the server responded with the status code ${code} but did not return more information`;
}

/** encoding/json's syntax error for text that is not JSON, as the JSON serializer reports it. */
function jsonSyntaxText(text: string): string {
  const t = text.trimStart();
  if (t === "") return "unexpected end of JSON input";
  const c = t[0]!;
  if (!/[{["\-0-9tfn]/.test(c)) return `invalid character ${goQuote(c).replace(/^"|"$/g, "'")} looking for beginning of value`;
  return "unexpected end of JSON input";
}

/**
 * What client-go's `Do().Into()` makes of a webhook's HTTP reply: the decoded JSON for a 2xx, else the
 * error it returns (the text after `failed to call webhook: `). A failure Status in the body of a non-2xx
 * reply is used as is; otherwise the generic text for the status code.
 */
export function interpretReply(reply: HttpReply): unknown {
  const text = reply.body.toString("utf8");
  const media = reply.contentType.split(";")[0]!.trim().toLowerCase();
  if (reply.status < 200 || reply.status > 206) {
    try {
      const v = JSON.parse(text) as Record<string, unknown>;
      if (v && typeof v === "object" && v.kind === "Status" && v.status === "Failure") throw new GoError(typeof v.message === "string" ? v.message : "");
    } catch (err) {
      if (err instanceof GoError) throw err;
    }
    const serverMessage = media.startsWith("text/") ? text.slice(0, 1024).trim() : "unknown";
    throw new GoError(genericServerResponse(reply.status, serverMessage));
  }
  if (reply.body.length === 0) throw new GoError(`0-length response with status code: ${reply.status} and content type: ${reply.contentType}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GoError(`couldn't get version/kind; json parse error: ${jsonSyntaxText(text)}`);
  }
}
