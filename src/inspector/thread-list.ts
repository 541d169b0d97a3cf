import type { ThreadSummary } from "../core/types.js";
import type { Api } from "./api.js";
import { fill, h } from "./dom.js";
import { formatRelative } from "./format.js";

export const threadHref = (threadId: string) => `#/t/${encodeURIComponent(threadId)}`;

/** The sidebar's threads, most recently active first (the server's order), refreshed by polling. */
export class ThreadList {
  readonly el: HTMLElement;
  private readonly list = h("ul", { class: "items", "data-testid": "threads" });
  private readonly note = h("p", { class: "muted" });
  private threads: ThreadSummary[] = [];
  private selected: string | undefined;

  constructor(
    private readonly api: Api,
    onError: (error: unknown) => void,
  ) {
    const create = h(
      "button",
      { type: "button", class: "small", title: "Create an empty thread" },
      "New",
    );
    create.addEventListener("click", () => {
      this.api.createThread().then((t) => {
        location.hash = threadHref(t.threadId);
        void this.refresh();
      }, onError);
    });
    this.el = h(
      "section",
      { class: "panel", "aria-label": "Threads" },
      h("div", { class: "panel-head" }, h("h2", null, "Threads"), create),
      this.list,
      this.note,
    );
  }

  async refresh(): Promise<void> {
    this.threads = await this.api.listThreads();
    this.render();
  }

  select(threadId: string | undefined): void {
    this.selected = threadId;
    this.render();
  }

  private render(): void {
    const now = Date.now();
    fill(
      this.list,
      ...this.threads.map((t) =>
        h(
          "li",
          null,
          h(
            "a",
            {
              href: threadHref(t.threadId),
              class: t.threadId === this.selected ? "item selected" : "item",
              "data-testid": "thread-item",
              "data-thread-id": t.threadId,
              "aria-current": t.threadId === this.selected ? "page" : null,
            },
            h("span", { class: "name" }, t.threadId),
            t.activeRunId ? h("span", { class: "dot", title: "a run is in progress" }) : null,
            h("span", { class: "meta" }, `seq ${t.lastSeq} · ${formatRelative(t.updatedAt, now)}`),
          ),
        ),
      ),
    );
    this.note.textContent = this.threads.length === 0 ? "No threads yet." : "";
  }
}
