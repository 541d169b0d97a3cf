import type { RunRecord, RunTrigger } from "../core/types.js";
import { fill, h, setText } from "./dom.js";
import { formatTime, runDuration } from "./format.js";

/** Where a run came from, in a tooltip: schedule id and tick, webhook and delivery... */
function triggerDetails(t: RunTrigger): string {
  const parts = [
    t.scheduleId && `schedule ${t.scheduleId}`,
    t.fireAt && `tick ${t.fireAt}`,
    t.hookId && `webhook ${t.hookId}`,
    t.deliveryId && `delivery ${t.deliveryId}`,
    t.source && `source ${t.source}`,
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : `started by ${t.kind}`;
}

/** The thread's runs, newest first: provenance badge, status, agent, start time, duration. */
export class RunTimeline {
  readonly el = h("ol", { class: "runs", "data-testid": "runs" });
  runs: RunRecord[] = [];
  private durations = new Map<string, HTMLElement>();

  set(runs: RunRecord[]): void {
    this.runs = runs;
    this.durations.clear();
    fill(this.el, ...runs.map((r) => this.row(r)));
    if (runs.length === 0) this.el.append(h("li", { class: "muted" }, "No runs yet."));
  }

  /** The run a Cancel button stops: the running one, else the next queued. */
  active(): RunRecord | undefined {
    return (
      this.runs.find((r) => r.status === "running") ??
      [...this.runs].reverse().find((r) => r.status === "queued")
    );
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
    return h(
      "li",
      {
        class: "run",
        "data-testid": "run",
        "data-run-id": r.runId,
        "data-status": r.status,
        "data-trigger": r.trigger.kind,
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
        formatTime(r.startedAt ?? r.createdAt),
        " · ",
        h("code", { title: r.runId }, r.runId.length > 14 ? `${r.runId.slice(0, 13)}…` : r.runId),
        r.startSeq === undefined ? "" : ` · from seq ${r.startSeq}`,
      ),
      r.error ? h("div", { class: "error" }, `${r.error.code}: ${r.error.message}`) : null,
    );
  }
}
