/** How far a trainee is in each lab: their latest attempt, its objectives' states and its write-up. */
import { get, type Attempt, type AttemptSummary, type LabDetail, type LabSummary, type ObjectiveView, type WriteupStatusName } from "./api";

/**
 * Each objective's state: the attempt's `objectives` as the server reports them (live, or as last
 * recorded); without an attempt, every objective of the lab not checked yet.
 */
export function objectiveStates(lab: Pick<LabDetail, "objectiveList">, attempt: Pick<Attempt, "objectives"> | null): ObjectiveView[] {
  if (attempt) return attempt.objectives;
  return lab.objectiveList.map((o) => ({ id: o.id, title: o.title, state: "pending", detail: null, since: null }));
}

export interface LabProgress {
  lab: LabSummary;
  latest: AttemptSummary | null;
  open: boolean;
  passed: number;
  total: number;
  /** The latest attempt's write-up ("none" without one). */
  writeup: WriteupStatusName;
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
    const passed = detail?.objectives.filter((o) => o.state === "pass").length ?? 0;
    out.set(lab.id, { lab, latest: a, open: !!a && !a.endedAt, passed, total: lab.objectives, writeup: a?.writeup ?? "none" });
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
