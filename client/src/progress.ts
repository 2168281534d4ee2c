/** How far a trainee is in each lab: their latest attempt and its objectives' states. */
import { get, type Attempt, type AttemptSummary, type LabDetail, type LabSummary, type ObjectiveState } from "./api";

export interface ObjectiveView {
  id: string;
  title: string;
  state: ObjectiveState;
  detail: string | null;
  at: string | null;
}

/**
 * Each objective's state: from the attempt's `objectives` when the server sends them (the live
 * evaluator), else from the last recorded transition of each, else "pending".
 */
export function objectiveStates(lab: Pick<LabDetail, "objectiveList">, attempt: Attempt | null): ObjectiveView[] {
  const last = new Map<string, { state: ObjectiveState; detail: string | null; at: string | null }>();
  for (const t of attempt?.transitions ?? []) last.set(t.objectiveId, { state: normalize(t.to), detail: t.detail, at: t.at });
  for (const o of attempt?.objectives ?? []) {
    const id = o.id ?? o.objective;
    if (id) last.set(id, { state: normalize(o.state), detail: o.detail ?? null, at: last.get(id)?.at ?? null });
  }
  return lab.objectiveList.map((o) => ({ id: o.id, title: o.title, ...(last.get(o.id) ?? { state: "pending" as const, detail: null, at: null }) }));
}

function normalize(s: string): ObjectiveState {
  return s === "pass" || s === "fail" || s === "error" ? s : "pending";
}

export interface LabProgress {
  lab: LabSummary;
  latest: AttemptSummary | null;
  open: boolean;
  passed: number;
  total: number;
}

export async function labProgress(labs: LabSummary[]): Promise<Map<string, LabProgress>> {
  const { attempts } = await get<{ attempts: AttemptSummary[] }>("/api/attempts");
  const latest = new Map<string, AttemptSummary>();
  for (const a of attempts) if (!latest.has(a.lab)) latest.set(a.lab, a); // newest first
  const details = await Promise.all(
    [...latest.values()].map((a) => get<{ attempt: Attempt }>(`/api/attempts/${a.id}`).then((r) => r.attempt, () => null)),
  );
  const byLab = new Map(details.filter((d): d is Attempt => d !== null).map((d) => [d.lab, d]));
  const out = new Map<string, LabProgress>();
  for (const lab of labs) {
    const a = latest.get(lab.id) ?? null;
    const detail = byLab.get(lab.id) ?? null;
    const ids = new Set(detail?.transitions.map((t) => t.objectiveId) ?? []);
    const states = detail ? objectiveStates({ objectiveList: [...ids].map((id) => ({ id, title: id })) }, detail) : [];
    out.set(lab.id, { lab, latest: a, open: !!a && !a.endedAt, passed: states.filter((s) => s.state === "pass").length, total: lab.objectives });
  }
  return out;
}

export function statusText(p: LabProgress | undefined): { text: string; kind: "new" | "open" | "done" | "ended" } {
  if (!p?.latest) return { text: "Not started", kind: "new" };
  const objectives = p.total ? ` · ${p.passed}/${p.total} objectives` : "";
  if (p.total && p.passed === p.total) return { text: `Completed${objectives}`, kind: "done" };
  if (p.open) return { text: `In progress${objectives}`, kind: "open" };
  return { text: `Stopped${objectives}`, kind: "ended" };
}
