import { ThreadlineError } from "../core/errors.js";
import type { Api } from "./api.js";
import { h, setText } from "./dom.js";

/**
 * Asks for the server's bearer token when a request is refused (401), checks it against the
 * server before keeping it (for the browser session, in sessionStorage), and shows why a token
 * was not accepted. However many requests were refused, one prompt is shown.
 */
export class TokenPrompt {
  private pending: Promise<void> | undefined;

  constructor(
    private readonly api: Api,
    private readonly host: HTMLElement,
  ) {}

  get open(): boolean {
    return this.pending !== undefined;
  }

  /** Resolves once a token the server accepts is stored. */
  ask(reason: ThreadlineError): Promise<void> {
    this.pending ??= new Promise<void>((resolve) => this.show(reason, resolve)).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private show(reason: ThreadlineError, done: () => void): void {
    const rejectedStored = this.api.token !== null;
    // A stored token the server refuses (rotated, or another server) is of no further use.
    if (rejectedStored) this.api.setToken(null);
    const input = h("input", {
      type: "password",
      name: "token",
      autocomplete: "off",
      required: true,
      "aria-label": "Token",
      placeholder: "token",
      "data-testid": "token-input",
    });
    const error = h("p", { class: "error", role: "alert", "data-testid": "token-error" });
    const button = h("button", { type: "submit", "data-testid": "token-submit" }, "Connect");
    const form = h(
      "form",
      { class: "token-form" },
      h("h2", { id: "token-title" }, "Token required"),
      h(
        "p",
        null,
        rejectedStored
          ? `The token kept for this session was not accepted (${reason.message}). Enter the current one.`
          : "This Threadline server requires a bearer token (its --token or THREADLINE_TOKEN). It is kept for this browser session only.",
      ),
      h("div", { class: "row" }, input, button),
      error,
    );
    const overlay = h(
      "div",
      {
        class: "overlay",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "token-title",
        "data-testid": "token-prompt",
      },
      form,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return setText(error, "Enter the token.");
      button.disabled = true;
      setText(error, "");
      this.api.verify(token).then(
        () => {
          this.api.setToken(token);
          overlay.remove();
          done();
        },
        (e: unknown) => {
          button.disabled = false;
          const why = ThreadlineError.is(e) ? e.message : String(e);
          setText(
            error,
            ThreadlineError.is(e) && e.status === 401 ? `Token not accepted: ${why}` : why,
          );
          input.select();
        },
      );
    });
    this.host.append(overlay);
    input.focus();
  }
}
