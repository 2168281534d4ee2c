/**
 * One error type for HTTP answers and one handler mounted last: every error leaves the server as
 * `{"error": {"code": "...", "message": "...", "hint": "..."}}` with a fitting status, whatever threw it.
 */
import type { ErrorRequestHandler, RequestHandler } from "express";
import { FaultlineError } from "../errors.js";
import type { Logger } from "../log.js";

export class HttpError extends FaultlineError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    hint?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message, hint);
    this.name = "HttpError";
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

export const notFound = (what: string, hint?: string) => new HttpError(404, "not_found", `${what} not found`, hint);
export const forbidden = (message: string, hint?: string) => new HttpError(403, "forbidden", message, hint);
export const conflict = (message: string, hint?: string) => new HttpError(409, "conflict", message, hint);
export const badRequest = (message: string, hint?: string) => new HttpError(400, "invalid", message, hint);

/** Domain errors may say how they map to HTTP (e.g. the SandboxManager's quota error: 429 "quota"). */
interface WithStatus {
  status: number;
  code: string;
}
function hasStatus(e: unknown): e is FaultlineError & WithStatus {
  return e instanceof FaultlineError && typeof (e as Partial<WithStatus>).status === "number" && typeof (e as Partial<WithStatus>).code === "string";
}

/** body-parser's errors carry `type` and `status` (and `limit`, in bytes, when too large). */
interface BodyParserError {
  type: string;
  status: number;
  limit?: number;
}
function isBodyParserError(e: unknown): e is Error & BodyParserError {
  return e instanceof Error && typeof (e as Partial<BodyParserError>).type === "string" && typeof (e as Partial<BodyParserError>).status === "number";
}

function toHttpError(e: unknown): HttpError | null {
  if (e instanceof HttpError) return e;
  if (hasStatus(e)) return new HttpError(e.status, e.code, e.message, e.hint);
  if (isBodyParserError(e)) {
    switch (e.type) {
      case "entity.parse.failed":
        return new HttpError(400, "malformed_json", "the request body is not valid JSON", "send a JSON object with Content-Type: application/json");
      case "entity.too.large":
        // 64 KiB but for the write-up's own route (app.ts).
        return new HttpError(413, "too_large", "the request body is too large", `bodies are limited to ${Math.round((e.limit ?? 65536) / 1024)} KiB`);
      case "encoding.unsupported":
      case "charset.unsupported":
        return new HttpError(415, "unsupported_media_type", e.message, "send UTF-8 JSON");
      default:
        return new HttpError(e.status >= 400 && e.status < 500 ? e.status : 400, "bad_request", e.message);
    }
  }
  // A user-fixable domain error that did not say otherwise: the request could not be carried out.
  if (e instanceof FaultlineError) return new HttpError(500, "failed", e.message, e.hint);
  return null;
}

export function sendError(res: Parameters<RequestHandler>[1], err: HttpError): void {
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  const body: ErrorBody = { error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
  res.status(err.status).json(body);
}

/** Mounted last. Unexpected errors are logged with their stack and answered without it. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const known = toHttpError(err);
    if (known) {
      if (known.status >= 500) log.error("http.failed", { method: req.method, path: req.path, error: known.message });
      return sendError(res, known);
    }
    log.error("http.internal_error", { method: req.method, path: req.path, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    sendError(res, new HttpError(500, "internal", "internal server error", "the server's log has the details"));
  };
}

/** For any route nobody answered: JSON, never Express's HTML page. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(req.path.startsWith("/api/") || req.path === "/api"
    ? new HttpError(404, "not_found", `no API route ${req.method} ${req.path}`, "see docs/server.md for the API")
    : new HttpError(404, "not_found", `nothing at ${req.path}`));
};
