/**
 * The lab view: instructions (fenced blocks paste into the active terminal), objectives, hints and
 * the write-up on one side; the sandbox on the other: a start button, the provisioning progress bar with the real
 * phases, then terminal tabs. Attempt state, phases and objectives arrive over socket.io as they
 * happen (an objective turns green as the grading evaluator sees it pass); the attempt is re-read on
 * a state change, after a reconnection (events may have been missed), when a hint's time comes, and
 * every few seconds as a fallback.
 */
import { ApiError, get, post, type Attempt, type AttemptSummary, type LabDetail } from "../api";
import { announce, fill, h, inlineCode } from "../dom";
import { HintsPanel } from "../lab/hints";
import { instructions } from "../lab/instructions";
import { ObjectivesPanel } from "../lab/objectives";
import { ProvisioningBar } from "../lab/provisioning";
import { TerminalTabs } from "../lab/terminals";
import { WriteupPanel } from "../lab/writeup";
import { objectiveStates } from "../progress";
import { getSocket, onConnect, request } from "../realtime";
import type { ServerMessage } from "../../../shared/protocol";
import type { Cleanup } from "../router";
import { requireUser } from "../session";

/** The fallback: pushed events are the primary path, this catches anything they missed. */
const POLL_MS = 10_000;
/** Above the objectives of an attempt that is over: they are its last states, not live ones. */
const STOPPED_NOTE = "As your stopped attempt left them; start again for a fresh sandbox.";

export async function labPage(main: HTMLElement, params: Record<string, string>): Promise<Cleanup | void> {
  if (!(await requireUser())) return;
  const labId = params.id!;
  let lab: LabDetail;
  try {
    lab = (await get<{ lab: LabDetail }>(`/api/labs/${encodeURIComponent(labId)}`)).lab;
  } catch (e) {
    main.append(h("h1", null, "Lab not found"), h("p", null, e instanceof ApiError ? e.message : "could not reach the server"), h("a", { href: "/", "data-link": true }, "Back to the labs"));
    return;
  }
  document.title = `${lab.title} · Faultline`;

  let attempt: Attempt | null = null;
  let terminals: TerminalTabs | null = null;
  let left = false;
  const bar = new ProvisioningBar();
  const objectives = new ObjectivesPanel();
  const hints = new HintsPanel(() => void refresh());
  // The write-up of the open attempt, else of the latest one: trainees often write up after stopping.
  const writeup = new WriteupPanel(lab.writeupPrompt, (attemptId, objs) => {
    if (!attempt || attempt.id !== attemptId) return;
    attempt = { ...attempt, objectives: objs };
    objectives.update(objectiveStates(lab, attempt));
  });
  const status = h("p", { class: "status", role: "status" });
  const actions = h("div", { class: "actions" });
  const work = h("section", { class: "lab-work", "aria-label": "Sandbox" });
  const notice = h("p", { class: "error", role: "alert" });

  const paste = (text: string): boolean => {
    if (terminals?.paste(text)) return true;
    announce("Start the lab and open a terminal first");
    return false;
  };

  main.append(
    h(
      "div",
      { class: "lab-layout" },
      h(
        "div",
        { class: "lab-side" },
        h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/", "data-link": true }, "Labs"), " / ", lab.id),
        h("h1", null, inlineCode(lab.title)),
        h("p", { class: "meta" }, `${lab.level} · ${lab.duration} · ${lab.tags.join(", ")}`),
        actions,
        status,
        notice,
        objectives.element,
        instructions(lab, paste),
        hints.element,
        writeup.element,
      ),
      work,
    ),
  );

  const act = async (fn: () => Promise<unknown>) => {
    notice.textContent = "";
    try {
      await fn();
    } catch (e) {
      notice.textContent = e instanceof ApiError ? `${e.message}${e.hint ? ` (${e.hint})` : ""}` : "could not reach the server";
    }
  };

  const start = () =>
    act(async () => {
      const r = await post<{ attempt: Attempt }>("/api/attempts", { lab: lab.id });
      watch(r.attempt.id);
      apply(r.attempt);
    });
  const reset = () =>
    act(async () => {
      if (!attempt || !confirm("Reset the sandbox? Your cluster is rebuilt from the start; open shells end. Your attempt and its timeline stay.")) return;
      apply((await post<{ attempt: Attempt }>(`/api/attempts/${attempt.id}/reset`)).attempt);
    });
  const stop = () =>
    act(async () => {
      if (!attempt || !confirm("Stop this attempt? The sandbox is removed and the attempt ends.")) return;
      apply((await post<{ attempt: Attempt }>(`/api/attempts/${attempt.id}/stop`)).attempt);
    });

  let watching: string | null = null;
  const watch = (id: string) => {
    if (watching === id) return;
    watching = id;
    void request("attempt:watch", { attemptId: id });
  };
  const socket = getSocket();
  const offConnect = onConnect(() => {
    if (!watching) return;
    // Events pushed while the connection was down are lost: read the attempt again.
    void request("attempt:watch", { attemptId: watching }).then(() => refresh());
  });
  const onPhase = (m: { attemptId: string; phase: { phase: string; detail?: string; ms: number } }) => {
    if (m.attemptId === attempt?.id) bar.add(m.phase);
  };
  const onState = (m: { attemptId: string }) => {
    if (m.attemptId === attempt?.id) void refresh();
  };
  const onObjectives = (m: ServerMessage<"attempt:objectives">) => {
    if (!attempt || m.attemptId !== attempt.id) return;
    attempt = { ...attempt, objectives: m.objectives };
    objectives.update(objectiveStates(lab, attempt));
  };
  socket.on("attempt:phase", onPhase);
  socket.on("attempt:state", onState);
  socket.on("attempt:objectives", onObjectives);

  // The server reveals a hint when its time comes: read the attempt again then.
  let hintTimer: ReturnType<typeof setTimeout> | null = null;
  const nextHint = (a: Attempt | null) => {
    if (hintTimer) clearTimeout(hintTimer);
    hintTimer = null;
    if (!a) return;
    const opens = a.hints.filter((x) => !x.revealed && x.afterMs !== null).map((x) => Date.parse(a.startedAt) + x.afterMs! - Date.now());
    const wait = Math.min(...opens.filter((ms) => ms > 0));
    // A second late, so the server has recorded it; timers beyond ~24 days overflow, and polling covers them anyway.
    if (Number.isFinite(wait) && wait < 2 ** 31 - 1000) hintTimer = setTimeout(() => void refresh(), wait + 1000);
  };

  async function refresh(): Promise<void> {
    if (!attempt || left) return;
    try {
      const r = await get<{ attempt: Attempt }>(`/api/attempts/${attempt.id}`);
      if (!left) apply(r.attempt);
    } catch {
      /* the next poll tries again */
    }
  }

  function showTerminals(a: Attempt): void {
    if (!terminals) {
      terminals = new TerminalTabs(a.id);
      fill(work, terminals.element);
      terminals.setTargets(a.targets);
      void terminals.restore();
    } else terminals.setTargets(a.targets);
  }

  function dropTerminals(): void {
    terminals?.dispose();
    terminals = null;
  }

  function apply(a: Attempt): void {
    const before = attempt?.state;
    attempt = a.endedAt ? null : a;
    void writeup.setAttempt(a.id);
    // A stopped attempt keeps its last recorded states (the catalog counts them too).
    objectives.update(objectiveStates(lab, a), a.endedAt ? STOPPED_NOTE : null);
    hints.update(attempt, lab.hints);
    nextHint(attempt);
    const button = (label: string, onclick: () => void, cls = "") => h("button", { type: "button", class: cls, onclick }, label);
    switch (attempt?.state) {
      case undefined:
        fill(actions, button(a.endedAt ? "Start again" : "Start lab", () => void start(), "primary"));
        status.textContent = a.endedAt ? "This attempt was stopped." : "";
        dropTerminals();
        fill(work, h("div", { class: "placeholder" }, h("p", null, "Start the lab to get your own cluster and a terminal on it.")));
        break;
      case "provisioning":
        fill(actions, button("Stop", () => void stop(), "danger"));
        status.textContent = "Provisioning your sandbox…";
        dropTerminals();
        bar.set(a.progress.phases, a.progress.expected);
        if (!work.contains(bar.element)) fill(work, bar.element);
        break;
      case "running":
        fill(actions, button("Reset", () => void reset()), button("Stop", () => void stop(), "danger"));
        status.textContent = "Your sandbox is running.";
        if (before === "provisioning") announce("Your sandbox is ready");
        showTerminals(a);
        break;
      case "suspended":
        fill(actions, button("Start again", () => void start(), "primary"), button("Stop", () => void stop(), "danger"));
        status.textContent = a.error ? `The sandbox could not be provisioned: ${a.error}` : lastEventDetail(a) ?? "The sandbox was removed. Start again to get a new one; your attempt is kept.";
        dropTerminals();
        fill(work, h("div", { class: "placeholder" }, h("p", null, "No sandbox right now.")));
        break;
    }
  }

  // The open attempt at this lab, if any; else the latest, for its write-up (newest first).
  const mine = await get<{ attempts: AttemptSummary[] }>("/api/attempts").then((r) => r.attempts.filter((x) => x.lab === lab.id));
  const open = mine.find((x) => !x.endedAt);
  void writeup.setAttempt((open ?? mine[0])?.id ?? null);
  if (open) {
    watch(open.id);
    apply((await get<{ attempt: Attempt }>(`/api/attempts/${open.id}`)).attempt);
  } else {
    const last = mine[0] ? await get<{ attempt: Attempt }>(`/api/attempts/${mine[0].id}`).then((r) => r.attempt, () => null) : null;
    objectives.update(objectiveStates(lab, last), last ? STOPPED_NOTE : null);
    hints.update(null, lab.hints);
    fill(actions, h("button", { type: "button", class: "primary", onclick: () => void start() }, "Start lab"));
    fill(work, h("div", { class: "placeholder" }, h("p", null, "Start the lab to get your own cluster and a terminal on it.")));
  }
  const poll = setInterval(() => {
    if (document.visibilityState !== "visible") return;
    void refresh();
    void writeup.refresh();
  }, POLL_MS);

  return () => {
    left = true;
    clearInterval(poll);
    nextHint(null);
    offConnect();
    socket.off("attempt:phase", onPhase);
    socket.off("attempt:state", onState);
    socket.off("attempt:objectives", onObjectives);
    if (watching) socket.emit("attempt:unwatch", { attemptId: watching });
    dropTerminals();
    writeup.dispose();
  };
}

function lastEventDetail(a: Attempt): string | null {
  const e = a.events.at(-1);
  return e?.detail && (e.kind === "reaped" || e.kind === "interrupted" || e.kind === "failed") ? `The sandbox was removed: ${e.detail}.` : null;
}
