/**
 * The server-side printers behind `kubectl get`: per type, the columns kube-apiserver's
 * pkg/printers/internalversion declares and the cells it computes. Cells are always generated "wide"
 * (priority 1 columns included), as the real TableConvertor does; kubectl hides them unless `-o wide`.
 * One file per concern in this folder, registered in `index.ts`.
 */
import type { KObject } from "../objects.js";

/** meta/v1 TableColumnDefinition. */
export interface ColumnDefinition {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  format: string;
  description: string;
  priority: number;
}

export interface Printer {
  columns: ColumnDefinition[];
  cells(o: KObject, now: Date): unknown[];
}

export function col(name: string, type: ColumnDefinition["type"], description: string, priority = 0, format = ""): ColumnDefinition {
  return { name, type, format, description, priority };
}

export const NAME = col("Name", "string", "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: http://kubernetes.io/docs/user-guide/identifiers#names", 0, "name");
export const AGE = col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");

/**
 * apimachinery's duration.HumanDuration: "45s", "3m20s", "25m", "5h12m", "2d3h", "120d", "3y20d".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    return dy === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** translateTimestampSince: "<unknown>" for a missing or unparsable time. */
export function age(ts: unknown, now: Date): string {
  if (typeof ts !== "string" || ts === "") return "<unknown>";
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return "<unknown>";
  return humanDuration(now.getTime() - t);
}

/** Safe nested read of untyped object fields. */
export function get(o: unknown, ...path: Array<string | number>): unknown {
  let v: unknown = o;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : 0;
}

export function text(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** labels.FormatLabels: sorted `k=v` joined by commas, "<none>" when empty. */
export function formatLabels(m: unknown): string {
  if (!m || typeof m !== "object") return "<none>";
  const entries = Object.entries(m as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length ? entries.map(([k, v]) => `${k}=${String(v)}`).join(",") : "<none>";
}

/** layoutContainerCells: container names and images, comma-joined. */
export function containerCells(podSpec: unknown): [string, string] {
  const cs = arr(get(podSpec, "containers"));
  return [cs.map((c) => text(get(c, "name"))).join(","), cs.map((c) => text(get(c, "image"))).join(",")];
}
