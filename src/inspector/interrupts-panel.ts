import type { Interrupt, ResumeEntry } from "@ag-ui/core";
import { ThreadlineError } from "../core/errors.js";
import type { Api } from "./api.js";
import { fill, h, setText } from "./dom.js";
import { formatDateTime, formatRelative } from "./format.js";
import {
  type AnswerForm,
  answerFormOf,
  type FieldValue,
  type FormField,
  payloadOf,
} from "./interrupt-form.js";

/** Where a field's input sits, to read it back. */
interface FieldInput {
  field: FormField | undefined;
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
}

interface Card {
  interrupt: Interrupt;
  /** The interrupt as it was drawn (a changed one is drawn again). */
  key: string;
  li: HTMLLIElement;
  form: HTMLFormElement;
  inputs: FieldInput[];
  answer: AnswerForm;
  buttons: HTMLButtonElement[];
  error: HTMLElement;
  status: HTMLElement;
}

let fieldIds = 0;

/**
 * The questions a thread waits on (PROTOCOL.md §3.1), each with an answer form built from its
 * `responseSchema` and Resolve / Cancel buttons that call `POST
 * /threads/:id/interrupts/:interruptId`. The server wants every pending interrupt answered by
 * the one resume run, so on a thread waiting on several the answers are collected here and sent
 * with the last one (the others in `resume`). The cards go when the follow stream shows the
 * resume run's RUN_STARTED; errors of the server are shown on the card they concern.
 */
export class InterruptsPanel {
  readonly el: HTMLElement;
  private readonly list = h("ol", { class: "interrupt-list" });
  private readonly intro = h("p", { class: "muted" });
  private cards: Card[] = [];
  /** Answers given, waiting for the others; by interrupt id. */
  private readonly answers = new Map<string, ResumeEntry>();

  constructor(
    private readonly api: Api,
    private readonly threadId: string,
  ) {
    this.el = h(
      "section",
      {
        class: "panel interrupts",
        "data-testid": "interrupts",
        "aria-labelledby": "interrupts-heading",
        hidden: true,
      },
      h("h3", { id: "interrupts-heading" }, "Waiting for a person"),
      this.intro,
      this.list,
    );
  }

  /** The thread's pending interrupts changed (or were read for the first time). */
  set(interrupts: readonly Interrupt[]): void {
    const old = new Map(this.cards.map((c) => [c.interrupt.id, c]));
    this.cards = interrupts.map((i) => {
      const key = JSON.stringify(i);
      const kept = old.get(i.id);
      return kept && kept.key === key ? kept : this.card(i, key);
    });
    const ids = new Set(interrupts.map((i) => i.id));
    for (const id of [...this.answers.keys()]) if (!ids.has(id)) this.answers.delete(id);
    this.list.replaceChildren(...this.cards.map((c) => c.li));
    this.el.hidden = this.cards.length === 0;
    setText(
      this.intro,
      this.cards.length > 1
        ? `The agent asked ${this.cards.length} questions; it resumes once every one is answered.`
        : "The agent asked a question; it resumes when it is answered.",
    );
  }

  private card(interrupt: Interrupt, key: string): Card {
    const answer = answerFormOf(interrupt.responseSchema);
    const inputs = answer.kind === "fields" ? answer.fields.map((f) => this.input(f)) : [];
    if (answer.kind === "json") {
      const input = h("textarea", {
        rows: 3,
        class: "json",
        spellcheck: "false",
        placeholder: "payload as JSON (optional when the schema allows none)",
        "data-testid": "interrupt-json",
      });
      input.value = answer.example;
      inputs.push({ field: undefined, input });
    }
    const resolve = h("button", { type: "submit", "data-testid": "interrupt-resolve" }, "Resolve");
    const cancel = h(
      "button",
      { type: "button", class: "danger", "data-testid": "interrupt-cancel" },
      "Cancel",
    );
    const error = h("div", { class: "error", role: "alert", "data-testid": "interrupt-error" });
    const status = h("p", { class: "muted", role: "status", "data-testid": "interrupt-status" });
    const form = h(
      "form",
      { class: "answer", "aria-label": `Answer ${interrupt.id}` },
      ...inputs.map(({ field, input }) => this.row(field, input)),
      h("div", { class: "row" }, resolve, cancel),
      error,
      status,
    );
    const expires = interrupt.expiresAt ? Date.parse(interrupt.expiresAt) : Number.NaN;
    const li = h(
      "li",
      { class: "interrupt", "data-testid": "interrupt", "data-interrupt-id": interrupt.id },
      h(
        "div",
        { class: "line" },
        h("strong", { "data-testid": "interrupt-reason" }, interrupt.reason || "interrupt"),
        h("code", { class: "muted" }, interrupt.id),
      ),
      interrupt.message
        ? h("p", { class: "question", "data-testid": "interrupt-message" }, interrupt.message)
        : null,
      h(
        "p",
        { class: "meta", "data-testid": "interrupt-expiry" },
        Number.isFinite(expires)
          ? h(
              "time",
              { datetime: interrupt.expiresAt!, title: formatDateTime(expires) },
              `expires ${formatDateTime(expires)} (${formatRelative(expires)})`,
            )
          : "no expiry",
        interrupt.toolCallId ? ` · tool call ${interrupt.toolCallId}` : null,
      ),
      interrupt.responseSchema === undefined
        ? null
        : h(
            "details",
            { class: "schema" },
            h("summary", null, "Response schema"),
            h(
              "pre",
              { "data-testid": "interrupt-schema" },
              JSON.stringify(interrupt.responseSchema, null, 2),
            ),
          ),
      form,
    );
    const card: Card = {
      interrupt,
      key,
      li,
      form,
      inputs,
      answer,
      buttons: [resolve, cancel],
      error,
      status,
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.resolve(card);
    });
    cancel.addEventListener("click", () => this.answer(card, { status: "cancelled" }));
    return card;
  }

  private input(field: FormField): FieldInput {
    const common = {
      id: `interrupt-field-${++fieldIds}`,
      name: field.name || "value",
      "data-testid": "interrupt-field",
      "data-field": field.name,
    };
    if (field.kind === "boolean") {
      const input = h("input", { ...common, type: "checkbox" });
      input.checked = field.default === true;
      return { field, input };
    }
    if (field.kind === "enum") {
      const options = field.options ?? [];
      const select = h(
        "select",
        { ...common, required: field.required },
        field.required ? null : h("option", { value: "" }, "—"),
        ...options.map((v, i) =>
          h("option", { value: String(i) }, typeof v === "string" ? v : JSON.stringify(v)),
        ),
      );
      const at = options.findIndex((v) => JSON.stringify(v) === JSON.stringify(field.default));
      if (at >= 0) select.value = String(at);
      return { field, input: select };
    }
    const numeric = field.kind === "number" || field.kind === "integer";
    const input = h("input", {
      ...common,
      type: numeric ? "number" : "text",
      required: field.required,
      ...(numeric ? { step: field.kind === "integer" ? "1" : "any" } : {}),
      min: field.minimum,
      max: field.maximum,
      minlength: field.minLength,
      maxlength: field.maxLength,
      pattern: field.pattern,
      autocomplete: "off",
    });
    if (typeof field.default === "string" || typeof field.default === "number") {
      input.value = String(field.default);
    }
    return { field, input };
  }

  private row(field: FormField | undefined, input: FieldInput["input"]): HTMLElement {
    const label = field ? field.label || "answer" : "Payload (JSON)";
    const note = field?.description;
    const noteId = note ? `${input.id || `interrupt-field-${++fieldIds}`}-note` : undefined;
    if (noteId) input.setAttribute("aria-describedby", noteId);
    if (!input.id) input.id = `interrupt-field-${++fieldIds}`;
    return h(
      "div",
      { class: field?.kind === "boolean" ? "field check" : "field" },
      h(
        "label",
        { for: input.id },
        label,
        field?.required ? h("span", { class: "muted" }, " *") : null,
      ),
      input,
      note ? h("span", { class: "muted note", id: noteId }, note) : null,
    );
  }

  private resolve(card: Card): void {
    if (!card.form.reportValidity()) return;
    const values: Record<string, FieldValue> = {};
    for (const { field, input } of card.inputs) {
      values[field?.name ?? ""] =
        input instanceof HTMLInputElement && input.type === "checkbox"
          ? input.checked
          : input.value;
    }
    const result = payloadOf(card.answer, values);
    if (!result.ok) {
      this.showError(
        card,
        "Check the answer:",
        result.errors.map((e) => `${e.field || "payload"}: ${e.message}`),
      );
      return;
    }
    this.answer(card, {
      status: "resolved",
      ...(result.payload === undefined ? {} : { payload: result.payload }),
    });
  }

  /** Records an answer; the last one sends them all. */
  private answer(card: Card, answer: Omit<ResumeEntry, "interruptId">): void {
    const id = card.interrupt.id;
    this.answers.set(id, { interruptId: id, ...answer });
    this.showError(card, null);
    const waiting = this.cards.filter((c) => !this.answers.has(c.interrupt.id));
    if (waiting.length > 0) {
      setText(
        card.status,
        `${answer.status === "resolved" ? "Resolved" : "Cancelled"}: sent with the answer to ` +
          `${waiting.map((c) => c.interrupt.id).join(", ")}.`,
      );
      return;
    }
    const others = [...this.answers.values()].filter((a) => a.interruptId !== id);
    for (const c of this.cards) for (const b of c.buttons) b.disabled = true;
    setText(card.status, "Sending…");
    this.api
      .resolveInterrupt(this.threadId, id, {
        status: answer.status,
        ...(answer.payload === undefined ? {} : { payload: answer.payload }),
        ...(others.length > 0 ? { resume: others } : {}),
      })
      .then(
        (started) => {
          // The cards go when the follow stream shows the resume run.
          setText(card.status, `Sent: the agent resumes in run ${started.runId}.`);
        },
        (error: unknown) => {
          // Nothing was answered: every answer given so far is to be given again.
          for (const c of this.cards) {
            for (const b of c.buttons) b.disabled = false;
            setText(c.status, "");
          }
          const e = ThreadlineError.is(error) ? error : undefined;
          const about = (e?.details as { interruptId?: unknown } | undefined)?.interruptId;
          const target = this.cards.find((c) => c.interrupt.id === about) ?? card;
          this.answers.clear();
          this.showError(target, e ? `${e.code}: ${e.message}` : String(error), detailsOf(e));
        },
      );
  }

  private showError(card: Card, text: string | null, lines: string[] = []): void {
    if (text === null) {
      fill(card.error);
      return;
    }
    fill(
      card.error,
      h("p", null, text),
      lines.length > 0 ? h("ul", null, ...lines.map((l) => h("li", null, l))) : null,
    );
  }
}

/** The lines of an error's details worth showing: schema errors, missing answers. */
function detailsOf(e: ThreadlineError | undefined): string[] {
  const d = e?.details as
    | { errors?: { path?: unknown; message?: unknown }[]; missing?: unknown[] }
    | undefined;
  if (!d || typeof d !== "object") return [];
  const lines: string[] = [];
  if (Array.isArray(d.errors)) {
    for (const err of d.errors) lines.push(`${String(err.path || "/")}: ${String(err.message)}`);
  }
  if (Array.isArray(d.missing)) lines.push(`not answered: ${d.missing.map(String).join(", ")}`);
  return lines;
}
