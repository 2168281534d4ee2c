/**
 * The catalog: each curriculum (GET /api/curricula) week by week with its labs, concept pages and
 * readings, and every lab offered grouped by level, each with the trainee's progress and where the
 * write-up of their latest attempt stands.
 */
import { ApiError, get, type Curriculum, type LabSummary, type Step } from "../api";
import { h, inlineCode } from "../dom";
import { labProgress, statusText, type LabProgress } from "../progress";
import { requireUser } from "../session";
import { statusBadge } from "../writeups";

const LEVELS = ["intro", "intermediate", "advanced"];

export async function catalogPage(main: HTMLElement): Promise<void> {
  if (!(await requireUser())) return;
  document.title = "Labs · Faultline";
  main.append(h("p", { class: "muted", role: "status" }, "Loading labs…"));
  const [{ labs }, curricula] = await Promise.all([
    get<{ labs: LabSummary[] }>("/api/labs"),
    get<{ curricula: Curriculum[] }>("/api/curricula").then(
      (r) => r.curricula,
      (e: unknown) => (e instanceof ApiError && e.status === 404 ? [] : Promise.reject(e)),
    ),
  ]);
  const progress = await labProgress(labs);
  main.replaceChildren(h("h1", null, "Labs"));
  if (!labs.length) main.append(h("p", { class: "muted" }, "This server offers no labs yet."));

  // The shorter path first (onboarding's two weeks before a six-month program).
  for (const c of [...curricula].sort((a, b) => a.totalWeeks - b.totalWeeks)) main.append(curriculumSection(c, progress));

  const byLevel = new Map<string, LabSummary[]>();
  for (const lab of labs) byLevel.set(lab.level, [...(byLevel.get(lab.level) ?? []), lab]);
  const levels = [...byLevel.keys()].sort((a, b) => rank(a) - rank(b));
  main.append(
    h(
      "section",
      { class: "catalog-all", "aria-labelledby": "all-labs" },
      h("h2", { id: "all-labs" }, curricula.length ? "All labs" : "Labs by level"),
      levels.map((level) => [h("h3", { class: "level" }, level), h("ul", { class: "cards" }, byLevel.get(level)!.map((l) => h("li", null, labCard(l, progress.get(l.id)))))]),
    ),
  );
}

function rank(level: string): number {
  const i = LEVELS.indexOf(level);
  return i < 0 ? LEVELS.length : i;
}

function labCard(lab: LabSummary, p: LabProgress | undefined): HTMLElement {
  const status = statusText(p);
  return h(
    "article",
    { class: `lab-card status-${status.kind}` },
    h("h4", null, h("a", { href: `/labs/${encodeURIComponent(lab.id)}`, "data-link": true }, lab.title)),
    h("p", null, lab.summary),
    h("p", { class: "meta" }, `${lab.level} · ${lab.duration} · ${lab.objectives} objectives`),
    h("p", { class: "badges" }, h("span", { class: `badge ${status.kind}` }, status.text), p && p.writeup !== "none" ? [" ", statusBadge(p.writeup, "Write-up: ")] : null),
  );
}

function curriculumSection(c: Curriculum, progress: Map<string, LabProgress>): HTMLElement {
  const steps = (w: Curriculum["weeks"][number]): Step[] => [...(w.steps ?? []), ...(w.days ?? []).flatMap((d) => d.steps)];
  const labIds = [...new Set(c.weeks.flatMap((w) => steps(w).flatMap((s) => ("lab" in s ? [s.lab] : []))))];
  const done = labIds.filter((id) => statusText(progress.get(id)).kind === "done").length;
  const headingId = `curriculum-${c.id}`;
  // The first week with a lab not completed yet is open; the others are a click away.
  const firstOpen = Math.max(0, c.weeks.findIndex((w) => steps(w).some((s) => "lab" in s && statusText(progress.get(s.lab)).kind !== "done")));
  return h(
    "section",
    { class: "curriculum", "aria-labelledby": headingId },
    h("h2", { id: headingId }, c.title),
    h("p", null, c.summary),
    h("p", { class: "meta" }, `${c.duration} · ${labIds.length} labs · ${done} completed`),
    h("progress", { max: Math.max(1, labIds.length), value: done, "aria-label": `${done} of ${labIds.length} labs completed` }),
    h("details", null, h("summary", null, "Who it is for"), h("p", null, c.audience)),
    h(
      "ol",
      { class: "weeks" },
      c.weeks.map((w, i) => {
        const ids = steps(w).flatMap((s) => ("lab" in s ? [s.lab] : []));
        const finished = ids.filter((id) => statusText(progress.get(id)).kind === "done").length;
        return h(
          "li",
          null,
          h(
            "details",
            { open: i === firstOpen },
            h("summary", null, h("span", { class: "week-title" }, w.title), ids.length ? h("span", { class: "muted" }, ` · ${finished}/${ids.length} labs completed`) : null),
            w.goal ? h("p", { class: "muted" }, inlineCode(w.goal)) : null,
            w.days
              ? h("ol", { class: "days" }, w.days.map((d) => h("li", null, h("h4", null, d.title), stepList(d.steps, progress))))
              : stepList(w.steps ?? [], progress),
            w.milestone ? h("p", { class: "milestone" }, h("strong", null, `Milestone: ${w.milestone.title}. `), inlineCode(w.milestone.text)) : null,
          ),
        );
      }),
    ),
  );
}

function stepList(steps: Step[], progress: Map<string, LabProgress>): HTMLElement {
  return h(
    "ul",
    { class: "steps" },
    steps.map((s) => {
      if ("lab" in s) {
        const p = progress.get(s.lab);
        if (!p) return h("li", { class: "step lab missing" }, `Lab ${s.lab} (not offered on this server)`);
        const status = statusText(p);
        return h(
          "li",
          { class: "step lab" },
          h("a", { href: `/labs/${encodeURIComponent(s.lab)}`, "data-link": true }, p.lab.title),
          " ",
          h("span", { class: `badge ${status.kind}` }, status.text),
          p.writeup !== "none" ? [" ", statusBadge(p.writeup, "Write-up: ")] : null,
          s.note ? h("p", { class: "note" }, inlineCode(s.note)) : null,
        );
      }
      if ("concept" in s) return h("li", { class: "step concept" }, h("span", { class: "kind" }, "Concept: "), s.concept, s.note ? h("p", { class: "note" }, s.note) : null);
      return h(
        "li",
        { class: "step reading" },
        h("span", { class: "kind" }, "Reading: "),
        s.url ? h("a", { href: s.url, target: "_blank", rel: "noopener noreferrer" }, s.reading) : s.reading,
        h("p", { class: "note" }, inlineCode(s.text)),
      );
    }),
  );
}
