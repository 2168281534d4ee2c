/**
 * The lab server's JSON API (docs/server.md) as the app uses it: same-origin fetches with the
 * session cookie, the CSRF token (cookie `faultline_csrf`) echoed on every change, and errors thrown
 * as ApiError with the server's code, message and hint.
 */
import type {
  ObjectiveState, ObjectiveView, Person, RecordingView, RevealView, ReviewItem, WriteupComment, WriteupReply, WriteupStatusName, WriteupView,
} from "../../shared/protocol";

export type { ObjectiveState, ObjectiveView, Person, RecordingView, RevealView, ReviewItem, WriteupComment, WriteupReply, WriteupStatusName, WriteupView };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export type Role = "trainee" | "reviewer" | "admin";
export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export interface LabSummary {
  id: string;
  title: string;
  summary: string;
  level: string;
  duration: string;
  durationMs: number;
  tags: string[];
  objectives: number;
}

export interface LabDetail extends LabSummary {
  objectiveList: Array<{ id: string; title: string }>;
  hints: Array<{ index: number; afterMs: number | null }>;
  writeupPrompt: string | null;
  html: string;
  codeBlocks: Array<{ index: number; lang: string | null; text: string }>;
}

export type AttemptState = "provisioning" | "running" | "suspended" | "stopped";

interface AttemptBase {
  id: string;
  lab: string;
  userId: string;
  state: AttemptState;
  startedAt: string;
  endedAt: string | null;
  error: string | null;
}

/** An attempt as `GET /api/attempts` lists it. */
export interface AttemptSummary extends AttemptBase {
  /** Where the attempt's write-up stands ("none" before it is first saved). */
  writeup: WriteupStatusName;
}

/** An attempt as `GET /api/attempts/:id` describes it. */
export interface Attempt extends AttemptBase {
  sandbox: string;
  progress: { phases: Array<{ phase: string; detail?: string; ms: number }>; expected: string[] | null };
  targets: string[];
  events: Array<{ kind: string; detail: string | null; at: string }>;
  transitions: Array<{ objectiveId: string; from: string | null; to: string; detail: string | null; at: string }>;
  /** Hints (ref: the hint's index) and the solution as they were shown. */
  reveals: RevealView[];
  hints: Array<{ index: number; afterMs: number | null; revealed: boolean; text?: string }>;
  /** Every objective's state: the live evaluator's while the sandbox runs, else the last recorded (shared/protocol.ts). */
  objectives: ObjectiveView[];
}

export type Step =
  | { lab: string; note?: string }
  | { concept: string; note?: string }
  | { reading: string; text: string; url?: string };

export interface Curriculum {
  id: string;
  title: string;
  summary: string;
  audience: string;
  duration: string;
  totalWeeks: number;
  weeks: Array<{
    title: string;
    span: number;
    goal?: string;
    days?: Array<{ title: string; steps: Step[] }>;
    steps?: Step[];
    milestone?: { title: string; text: string };
  }>;
}

function csrfToken(): string | undefined {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === "faultline_csrf") return decodeURIComponent(v.join("="));
  }
  return undefined;
}

export async function api<T>(method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const token = method === "GET" ? undefined : csrfToken();
  if (token) headers["x-csrf-token"] = token;
  const res = await fetch(path, { method, headers, credentials: "same-origin", ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => null)) as { error?: { code: string; message: string; hint?: string } } | null;
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? "http", json?.error?.message ?? `${res.status} ${res.statusText}`, json?.error?.hint);
  return json as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T>(path: string, body: unknown) => api<T>("PUT", path, body);
