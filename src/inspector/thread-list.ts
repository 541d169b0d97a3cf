import type { ThreadSummary } from "../core/types.js";
import type { Api } from "./api.js";
import { fill, h, setText } from "./dom.js";
import { formatRelative } from "./format.js";
import { Pager } from "./pager.js";

export const threadHref = (threadId: string) => `#/t/${encodeURIComponent(threadId)}`;

/** Threads per page. */
const PAGE_SIZE = 50;
/** Typing pause before a search is sent. */
const SEARCH_DELAY_MS = 250;

/**
 * The sidebar's threads, most recently active first (the server's order), a page at a time,
 * refreshed by polling. The search box matches ids and metadata (`key=value`) on the server.
 */
export class ThreadList {
  readonly el: HTMLElement;
  private readonly list = h("ul", { class: "items", "data-testid": "threads" });
  private readonly note = h("p", { class: "muted", "data-testid": "threads-note" });
  private readonly search = h("input", {
    type: "search",
    name: "q",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "id or key=value",
    "aria-label": "Search threads by id or metadata",
    "data-testid": "thread-search",
  });
  private readonly pager: Pager;
  private threads: ThreadSummary[] = [];
  private selected: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Answers to older requests are dropped (the search or page changed meanwhile). */
  private generation = 0;

  constructor(
    private readonly api: Api,
    private readonly onError: (error: unknown) => void,
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
    this.pager = new Pager("Threads", () => this.reload());
    this.search.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.pager.reset();
        this.reload();
      }, SEARCH_DELAY_MS);
    });
    this.el = h(
      "section",
      { class: "panel", "aria-labelledby": "threads-heading" },
      h("div", { class: "panel-head" }, h("h2", { id: "threads-heading" }, "Threads"), create),
      h("div", { class: "search" }, this.search),
      this.list,
      this.note,
      this.pager.el,
    );
  }

  async refresh(): Promise<void> {
    const generation = ++this.generation;
    const q = this.search.value.trim();
    const page = await this.api.listThreads({
      limit: PAGE_SIZE,
      offset: this.pager.offset,
      ...(q ? { q } : {}),
    });
    if (generation !== this.generation) return;
    this.threads = page.threads;
    this.pager.update(page.next);
    this.render(q);
  }

  select(threadId: string | undefined): void {
    this.selected = threadId;
    this.render(this.search.value.trim());
  }

  private reload(): void {
    this.refresh().catch(this.onError);
  }

  private render(q: string): void {
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
            h(
              "span",
              { class: "flags" },
              t.interrupts?.length
                ? h(
                    "span",
                    {
                      class: "badge waiting",
                      title: `waiting for a person: ${t.interrupts.map((i) => i.reason || i.id).join(", ")}`,
                      "data-testid": "interrupt-badge",
                    },
                    `${t.interrupts.length} waiting`,
                  )
                : null,
              t.activeRunId
                ? h(
                    "span",
                    { class: "dot", title: "a run is in progress" },
                    h("span", { class: "sr-only" }, "running"),
                  )
                : null,
            ),
            h("span", { class: "meta" }, `seq ${t.lastSeq} · ${formatRelative(t.updatedAt, now)}`),
          ),
        ),
      ),
    );
    setText(this.note, this.threads.length > 0 ? "" : this.emptyNote(q));
  }

  private emptyNote(q: string): string {
    // A search reads a bounded stretch of threads per page: say when older ones remain.
    if (this.pager.hasNext) return "No match among these threads: try Older.";
    if (q) return `No threads match “${q}”.`;
    return this.pager.offset > 0 ? "No more threads." : "No threads yet.";
  }
}
