import { ThreadlineError } from "../core/errors.js";
import type { Api } from "./api.js";
import { fill, h, randomId, setText } from "./dom.js";

/**
 * Sends a user message to the thread's agent (`POST /threads/:id/runs`, multitask `enqueue`: it
 * waits behind a run in progress, such as a heartbeat's). The agent defaults to the one of the
 * thread's latest run until the user picks another.
 */
export class Composer {
  readonly el: HTMLFormElement;
  private readonly input = h("textarea", {
    rows: 2,
    placeholder: "Message the agent… (Enter sends, Shift+Enter for a new line)",
    "aria-label": "Message",
    "data-testid": "composer-input",
  });
  private readonly agent = h("select", { "aria-label": "Agent", "data-testid": "composer-agent" });
  private readonly send = h("button", { type: "submit", "data-testid": "composer-send" }, "Send");
  private readonly error = h("p", {
    class: "error",
    role: "alert",
    "data-testid": "composer-error",
  });
  private picked = false;
  private suggested: string | undefined;

  constructor(
    private readonly api: Api,
    private readonly threadId: string,
    agents: () => Promise<string[]>,
    private readonly onSent: () => void,
  ) {
    this.el = h(
      "form",
      { class: "composer" },
      this.input,
      h("div", { class: "row" }, this.agent, this.send),
      this.error,
    );
    this.agent.addEventListener("change", () => {
      this.picked = true;
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.el.requestSubmit();
      }
    });
    this.el.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    void agents()
      .catch(() => [] as string[])
      .then((ids) => this.setAgents(ids));
  }

  /** The agent of the thread's latest run, unless the user chose one. */
  suggestAgent(agentId: string | undefined): void {
    if (!agentId) return;
    this.suggested = agentId;
    if (![...this.agent.options].some((o) => o.value === agentId)) {
      this.agent.append(h("option", { value: agentId }, agentId));
    }
    if (!this.picked) this.agent.value = agentId;
  }

  private setAgents(ids: string[]): void {
    const all = [...new Set([...ids, ...(this.suggested ? [this.suggested] : [])])];
    if (all.length === 0) all.push("demo");
    const current = this.agent.value;
    fill(this.agent, ...all.map((id) => h("option", { value: id }, id)));
    this.agent.value = all.includes(current) ? current : (this.suggested ?? all[0]!);
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (!text) return;
    this.send.disabled = true;
    setText(this.error, "");
    this.api.sendMessage(this.threadId, this.agent.value, randomId("msg"), text).then(
      () => {
        this.send.disabled = false;
        this.input.value = "";
        this.onSent();
      },
      (e: unknown) => {
        this.send.disabled = false;
        setText(this.error, ThreadlineError.is(e) ? e.message : String(e));
      },
    );
  }
}
