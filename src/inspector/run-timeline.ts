import type { RunRecord, RunTrigger } from "../core/types.js";
import { fill, h, scrollPane, setText } from "./dom.js";
import { formatDateTime, formatStamp, runDuration } from "./format.js";

/** Where a run came from, in a tooltip: schedule id and tick, webhook and delivery... */
export function triggerDetails(t: RunTrigger): string {
  const parts = [
    t.scheduleId && `schedule ${t.scheduleId}`,
    t.fireAt && `tick ${t.fireAt}`,
    t.hookId && `webhook ${t.hookId}`,
    t.deliveryId && `delivery ${t.deliveryId}`,
    t.source && `source ${t.source}`,
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : `started by ${t.kind}`;
}

/** The run a Cancel button stops: the running one, else the next queued (runs newest first). */
export function activeRun(runs: readonly RunRecord[]): RunRecord | undefined {
  return (
    runs.find((r) => r.status === "running") ??
    [...runs].reverse().find((r) => r.status === "queued")
  );
}

/**
 * A page of the thread's runs, newest first: provenance badge, status, agent, start time,
 * duration, error. Each row opens the run's detail view.
 */
export class RunTimeline {
  readonly el = scrollPane(h("ol", { class: "runs", "data-testid": "runs" }), "Runs");
  runs: RunRecord[] = [];
  private durations = new Map<string, HTMLElement>();
  private selected: string | undefined;

  constructor(private readonly runHref: (runId: string) => string) {}

  set(runs: RunRecord[], empty = "No runs yet."): void {
    this.runs = runs;
    this.durations.clear();
    fill(this.el, ...runs.map((r) => this.row(r)));
    if (runs.length === 0) this.el.append(h("li", { class: "muted" }, empty));
  }

  /** Highlights the run whose detail is open. */
  select(runId: string | undefined): void {
    this.selected = runId;
    for (const a of this.el.querySelectorAll<HTMLElement>("a.run-open")) {
      const on = a.dataset.runId === runId;
      a.classList.toggle("selected", on);
      if (on) a.setAttribute("aria-current", "true");
      else a.removeAttribute("aria-current");
    }
  }

  get hasRunning(): boolean {
    return this.runs.some((r) => r.status === "running");
  }

  /** Advances the durations of runs in progress (called every second while there are some). */
  tick(): void {
    const now = Date.now();
    for (const r of this.runs) {
      const el = this.durations.get(r.runId);
      if (el && r.status === "running") setText(el, runDuration(r, now));
    }
  }

  private row(r: RunRecord): HTMLElement {
    const duration = h("span", { class: "duration" }, runDuration(r));
    this.durations.set(r.runId, duration);
    const selected = r.runId === this.selected;
    const at = r.startedAt ?? r.createdAt;
    const link = h(
      "a",
      {
        class: selected ? "run-open selected" : "run-open",
        href: this.runHref(r.runId),
        "data-run-id": r.runId,
        "aria-current": selected ? "true" : null,
      },
      h(
        "div",
        { class: "line" },
        h(
          "span",
          {
            class: `badge trigger-${r.trigger.kind}`,
            title: triggerDetails(r.trigger),
            "data-testid": "run-trigger",
          },
          r.trigger.kind,
        ),
        h("span", { class: `chip status-${r.status}`, "data-testid": "run-status" }, r.status),
        h("span", { class: "agent" }, r.agentId),
        duration,
      ),
      h(
        "div",
        { class: "meta" },
        h(
          "time",
          { datetime: new Date(at).toISOString(), title: formatDateTime(at) },
          formatStamp(at),
        ),
        " · ",
        h("code", { title: r.runId }, r.runId.length > 14 ? `${r.runId.slice(0, 13)}…` : r.runId),
        r.startSeq === undefined ? "" : ` · from seq ${r.startSeq}`,
      ),
      r.error ? h("div", { class: "error" }, `${r.error.code}: ${r.error.message}`) : null,
    );
    return h(
      "li",
      {
        class: "run",
        "data-testid": "run",
        "data-run-id": r.runId,
        "data-status": r.status,
        "data-trigger": r.trigger.kind,
      },
      link,
    );
  }
}
