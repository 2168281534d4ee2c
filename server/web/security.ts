/**
 * What every answer and every request goes through before the routes: security headers (what helmet
 * would set, written out), `Cache-Control: no-store` on the API, and the checks a state-changing
 * request must pass whoever sends it: a same-origin `Origin` when the browser sends one, and a JSON
 * body (an HTML form cannot send `application/json` across sites without a CORS preflight, which
 * this server never grants). CSRF tokens for signed-in requests are checked in auth/sessions.ts.
 */
import type { Request, RequestHandler } from "express";
import { HttpError } from "./http-error.js";

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // xterm.js sets inline styles on its rows.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export function securityHeaders(opts: { publicUrl: string }): RequestHandler {
  const httpsOnly = opts.publicUrl.startsWith("https:");
  return (req, res, next) => {
    res.setHeader("Content-Security-Policy", CSP);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Referrer-Policy", "no-referrer");
    res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
    res.setHeader("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()");
    res.setHeader("X-DNS-Prefetch-Control", "off");
    if (httpsOnly || req.secure) res.setHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    if (req.path.startsWith("/api/") || req.path === "/healthz") res.setHeader("Cache-Control", "no-store");
    next();
  };
}

export const UNSAFE_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The origin this request was sent to, as the browser would write it in `Origin`. */
export function requestOrigin(req: Request): string {
  return `${req.protocol}://${req.get("host") ?? ""}`;
}

/**
 * State-changing requests: a present `Origin` must be this server's (the configured public URL or the
 * Host the request was sent to); a body must be JSON.
 */
export function requestChecks(opts: { publicUrl: string }): RequestHandler {
  return (req, _res, next) => {
    if (!UNSAFE_METHODS.has(req.method)) return next();
    // Read per request: with port 0 (tests) the public URL is known only once listening.
    const allowed = new URL(opts.publicUrl).origin;
    const origin = req.get("origin");
    if (origin !== undefined && origin !== allowed && origin !== requestOrigin(req)) {
      return next(new HttpError(403, "csrf", `cross-origin request refused (Origin: ${origin})`, `this server accepts changes from ${allowed} only`));
    }
    const hasBody = Number(req.get("content-length") ?? 0) > 0 || req.get("transfer-encoding") !== undefined;
    if (hasBody && !req.is("application/json")) {
      return next(new HttpError(415, "unsupported_media_type", `request bodies must be JSON, not ${req.get("content-type") ?? "untyped"}`, "send Content-Type: application/json"));
    }
    next();
  };
}
