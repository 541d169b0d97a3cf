import { ThreadlineError } from "../core/errors.js";
import type { Api, ScheduleRecord } from "./api.js";
import { fill, h, setText } from "./dom.js";
import { describeTiming, formatRelative } from "./format.js";
import { threadHref } from "./thread-list.js";

const kindOf = (s: ScheduleRecord) => (s.everyMs === undefined ? "schedule" : "heartbeat");
const message = (e: unknown) => (ThreadlineError.is(e) ? e.message : String(e));

/** The sidebar's schedules: list, create (interval or cron), pause/resume, delete. */
export class SchedulesPanel {
  readonly el: HTMLElement;
  private readonly list = h("ul", { class: "items", "data-testid": "schedules" });
  private readonly note = h("p", { class: "muted" });
  private readonly error = h("p", {
    class: "error",
    role: "alert",
    "data-testid": "schedule-error",
  });
  private readonly agentSelect = h("select", { name: "agentId", "aria-label": "Agent" });
  private schedules: ScheduleRecord[] = [];
  /** Schedules whose Delete was clicked once (kept across the polling re-renders). */
  private readonly armed = new Set<string>();

  constructor(
    private readonly api: Api,
    private readonly agents: () => Promise<string[]>,
  ) {
    this.el = h(
      "section",
      { class: "panel", "aria-label": "Schedules" },
      h("div", { class: "panel-head" }, h("h2", null, "Schedules")),
      this.list,
      this.note,
      this.createForm(),
      this.error,
    );
  }

  async refresh(): Promise<void> {
    this.schedules = await this.api.listSchedules();
    this.render();
  }

  private createForm(): HTMLElement {
    const kind = h(
      "select",
      { name: "kind", "aria-label": "Timing" },
      h("option", { value: "every" }, "every (seconds)"),
      h("option", { value: "cron" }, "cron"),
    );
    const field = (name: string, label: string, placeholder: string) =>
      h("input", { name, "aria-label": label, placeholder, autocomplete: "off" });
    const timing = field("timing", "Interval or cron expression", "seconds, e.g. 30");
    kind.addEventListener("change", () => {
      timing.placeholder = kind.value === "cron" ? "e.g. 0 9 * * 1-5" : "seconds, e.g. 30";
    });
    const id = field("id", "Schedule id", "id (optional)");
    const threadId = field("threadId", "Thread", "thread (default schedule:<id>)");
    const prompt = field("prompt", "Prompt", "prompt (optional)");
    const form = h(
      "form",
      { class: "stack", "data-testid": "schedule-form" },
      id,
      h("div", { class: "row" }, this.agentSelect, kind, timing),
      threadId,
      prompt,
      h("button", { type: "submit" }, "Create schedule"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = timing.value.trim();
      const seconds = Number(value);
      if (kind.value === "every" && !(value && Number.isFinite(seconds) && seconds > 0)) {
        return setText(this.error, "The interval must be a number of seconds, e.g. 30.");
      }
      const body: Record<string, unknown> = {
        agentId: this.agentSelect.value,
        ...(kind.value === "every" ? { everyMs: Math.round(seconds * 1000) } : { cron: value }),
        ...(id.value.trim() ? { id: id.value.trim() } : {}),
        ...(threadId.value.trim() ? { threadId: threadId.value.trim() } : {}),
        ...(prompt.value.trim()
          ? { input: { messages: [{ role: "user", content: prompt.value.trim() }] } }
          : {}),
      };
      this.api.createSchedule(body).then(
        () => {
          form.reset();
          setText(this.error, "");
          void this.refresh();
        },
        (e) => setText(this.error, message(e)),
      );
    });
    const details = h("details", { class: "create" }, h("summary", null, "New schedule"), form);
    details.addEventListener("toggle", () => {
      if (details.open) void this.loadAgents();
    });
    return details;
  }

  private async loadAgents(): Promise<void> {
    const agents = await this.agents().catch(() => ["demo"]);
    const current = this.agentSelect.value;
    fill(this.agentSelect, ...agents.map((a) => h("option", { value: a }, a)));
    if (agents.includes(current)) this.agentSelect.value = current;
  }

  private act(promise: Promise<unknown>): void {
    promise.then(
      () => {
        setText(this.error, "");
        void this.refresh();
      },
      (e) => setText(this.error, message(e)),
    );
  }

  private row(s: ScheduleRecord): HTMLElement {
    const toggle = h(
      "button",
      { type: "button", class: "small", "data-testid": "schedule-toggle" },
      s.paused ? "Resume" : "Pause",
    );
    toggle.addEventListener("click", () =>
      this.act(this.api.updateSchedule(s.id, { paused: !s.paused })),
    );
    // Two clicks delete: a misclick on a phone should not remove a schedule.
    const armed = this.armed.has(s.id);
    const remove = h(
      "button",
      { type: "button", class: "small danger", "data-testid": "schedule-delete" },
      armed ? "Confirm delete" : "Delete",
    );
    remove.addEventListener("click", () => {
      if (this.armed.delete(s.id)) return this.act(this.api.deleteSchedule(s.id));
      this.armed.add(s.id);
      remove.textContent = "Confirm delete";
      setTimeout(() => {
        if (this.armed.delete(s.id)) this.render();
      }, 5000);
    });
    const thread = s.newThreadPerTick ? null : (s.threadId ?? `schedule:${s.id}`);
    return h(
      "li",
      {
        class: "schedule",
        "data-testid": "schedule",
        "data-schedule-id": s.id,
        "data-paused": String(s.paused),
      },
      h(
        "div",
        { class: "line" },
        h("span", { class: "name" }, s.id),
        h("span", { class: `badge trigger-${kindOf(s)}` }, kindOf(s)),
        s.paused ? h("span", { class: "chip status-paused" }, "paused") : null,
      ),
      h(
        "div",
        { class: "meta" },
        `${describeTiming(s)} · ${s.agentId} → `,
        thread ? h("a", { href: threadHref(thread) }, thread) : "a new thread per tick",
      ),
      h(
        "div",
        { class: "meta" },
        s.paused || !s.nextFireAt
          ? "not scheduled"
          : `next ${formatRelative(Date.parse(s.nextFireAt))}`,
        s.lastFiredAt ? ` · last ${formatRelative(Date.parse(s.lastFiredAt))}` : "",
      ),
      s.lastError ? h("div", { class: "error" }, `last tick failed: ${s.lastError.message}`) : null,
      h("div", { class: "row" }, toggle, remove),
    );
  }

  private render(): void {
    fill(this.list, ...this.schedules.map((s) => this.row(s)));
    this.note.textContent = this.schedules.length === 0 ? "No schedules." : "";
  }
}
