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
  /** Errors of the list's buttons (pause, resume, delete), shown above the list. */
  private readonly error = h("p", {
    class: "error",
    role: "alert",
    "data-testid": "schedule-action-error",
  });
  /** Errors of the form, shown right above its button (never out of sight below it). */
  private readonly formError = h("p", {
    class: "error",
    role: "alert",
    id: "schedule-form-error",
    "data-testid": "schedule-error",
  });
  private readonly agentSelect = h("select", { name: "agentId" });
  private schedules: ScheduleRecord[] = [];
  /** Schedules whose Delete was clicked once (kept across the polling re-renders). */
  private readonly armed = new Set<string>();

  constructor(
    private readonly api: Api,
    private readonly agents: () => Promise<string[]>,
  ) {
    this.el = h(
      "section",
      { class: "panel", "aria-labelledby": "schedules-heading" },
      h("div", { class: "panel-head" }, h("h2", { id: "schedules-heading" }, "Schedules")),
      this.error,
      this.list,
      this.note,
      this.createForm(),
    );
  }

  async refresh(): Promise<void> {
    this.schedules = await this.api.listSchedules();
    this.render();
  }

  private createForm(): HTMLElement {
    const kind = h(
      "select",
      { name: "kind" },
      h("option", { value: "every" }, "every N seconds"),
      h("option", { value: "cron" }, "cron expression"),
    );
    const input = (name: string, placeholder: string) =>
      h("input", { name, placeholder, autocomplete: "off", spellcheck: "false" });
    const timing = input("timing", "e.g. 30");
    kind.addEventListener("change", () => {
      timing.placeholder = kind.value === "cron" ? "e.g. 0 9 * * 1-5" : "e.g. 30";
    });
    const id = input("id", "optional");
    const threadId = input("threadId", "default schedule:<id>");
    const prompt = input("prompt", "optional user message");
    // Every control has a visible label above it, at any width (no placeholder-only fields).
    const field = (label: string, control: HTMLElement) =>
      h("label", { class: "field" }, h("span", null, label), control);
    /** Shows (or, with "", clears) the form's error, in view and next to its field. */
    const fail = (text: string, control?: HTMLElement) => {
      setText(this.formError, text);
      if (control === timing) timing.setAttribute("aria-invalid", "true");
      else timing.removeAttribute("aria-invalid");
      if (!text) return;
      this.formError.scrollIntoView({ block: "nearest" });
      control?.focus({ preventScroll: true });
    };
    const submit = h("button", { type: "submit" }, "Create schedule");
    const form = h(
      "form",
      { class: "schedule-form", "data-testid": "schedule-form", "aria-label": "New schedule" },
      field("Id", id),
      field("Agent", this.agentSelect),
      h("div", { class: "timing" }, field("Timing", kind), field("Every / cron", timing)),
      field("Thread", threadId),
      field("Prompt", prompt),
      this.formError,
      submit,
    );
    timing.setAttribute("aria-describedby", "schedule-form-error");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = timing.value.trim();
      const seconds = Number(value);
      if (kind.value === "every" && !(value && Number.isFinite(seconds) && seconds > 0)) {
        return fail("The interval must be a number of seconds, e.g. 30.", timing);
      }
      if (kind.value === "cron" && !value) {
        return fail("Enter a cron expression, e.g. 0 9 * * 1-5.", timing);
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
      submit.disabled = true;
      this.api
        .createSchedule(body)
        .then(
          () => {
            form.reset();
            fail("");
            void this.refresh();
          },
          (e) => fail(message(e), /cron|every|interval/i.test(message(e)) ? timing : undefined),
        )
        .finally(() => {
          submit.disabled = false;
        });
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
