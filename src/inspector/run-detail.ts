import type { BaseEvent } from "@ag-ui/core";
import type { ThreadEvent } from "../client/follow-thread.js";
import { ThreadlineError } from "../core/errors.js";
import { type RunRecord, TERMINAL_RUN_STATUSES } from "../core/types.js";
import type { Api } from "./api.js";
import { textOf } from "./conversation.js";
import { fill, h, scrollPane } from "./dom.js";
import { eventRow } from "./event-log.js";
import { clip, formatDateTime, formatDuration, runDuration } from "./format.js";

/** Events read per step; a run with more shows "Load more events". */
const EVENTS_PAGE = 500;
const isTerminal = (e: BaseEvent) => e.type === "RUN_FINISHED" || e.type === "RUN_ERROR";

const dl = (rows: [string, Node | string | undefined][]) =>
  h(
    "dl",
    { class: "facts" },
    ...rows
      .filter((r): r is [string, Node | string] => r[1] !== undefined && r[1] !== "")
      .flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)]),
  );

const stamp = (at: number | undefined) =>
  at === undefined
    ? undefined
    : h("time", { datetime: new Date(at).toISOString() }, formatDateTime(at));

/**
 * One run, opened from the Runs panel or a conversation marker (`#/t/<thread>/r/<run>`): status
 * and error, where it came from, its timings, its input and its events (read from the log,
 * then live while it runs).
 */
export class RunDetail {
  readonly el: HTMLElement;
  private readonly heading = h("h2", { class: "run-title", tabindex: -1 }, "Run");
  private readonly body = h("div", { class: "run-body" }, h("p", { class: "muted" }, "Loading…"));
  private readonly events = scrollPane(
    h("ol", { class: "events", "data-testid": "run-events" }),
    "Run events",
  );
  private readonly more = h(
    "button",
    { type: "button", class: "small", hidden: true },
    "Load more events",
  );
  private readonly abort = new AbortController();
  private run: RunRecord | undefined;
  /** The last seq shown; undefined until the stored events are read. */
  private lastSeq: number | undefined;
  private ended = false;
  /** The last read reached the end of the log: live items continue it. */
  private atEnd = false;
  /** Live items that arrived during a read. */
  private buffer: ThreadEvent[] = [];
  private reading = false;

  constructor(
    private readonly api: Api,
    private readonly threadId: string,
    readonly runId: string,
    threadHref: string,
  ) {
    this.more.addEventListener("click", () => void this.readMore());
    this.el = h(
      "section",
      {
        class: "panel run-detail",
        "data-testid": "run-detail",
        "data-run-id": runId,
        "aria-labelledby": "run-detail-title",
      },
      h("a", { href: threadHref, class: "back-link" }, "← Conversation"),
      this.heading,
      this.body,
    );
    this.heading.id = "run-detail-title";
    void this.load();
  }

  dispose(): void {
    this.abort.abort();
  }

  focus(): void {
    this.heading.focus({ preventScroll: false });
  }

  /** A live item of the thread: part of this run while it runs (runs never interleave). */
  live(item: ThreadEvent): void {
    if (item.kind !== "event" || this.ended || !this.run) return;
    if (this.run.startSeq === undefined) {
      // Queued when opened: it starts with its own RUN_STARTED.
      const e = item.event as BaseEvent & { runId?: string };
      if (e.type === "RUN_STARTED" && e.runId === this.runId) void this.load();
      return;
    }
    if (this.reading) this.buffer.push(item);
    else if (this.atEnd && this.lastSeq !== undefined && item.seq > this.lastSeq + 1) {
      // A hole: the page's follow began after our read ended, and its compact snapshot stands
      // for the events in between. They are in the log: read them, then this item.
      this.buffer.push(item);
      void this.readMore();
    } else if (this.atEnd) this.appendLive(item);
    // Otherwise "Load more events" reads it from the log in order.
  }

  private appendLive(item: ThreadEvent): void {
    if (this.ended || this.lastSeq === undefined || item.seq <= this.lastSeq) return;
    this.lastSeq = item.seq;
    this.events.append(eventRow(item.seq, "event", item.event));
    if (isTerminal(item.event)) {
      this.ended = true;
      void this.load(); // the record's status, error and end time
    }
  }

  private async load(): Promise<void> {
    try {
      const run = await this.api.getRun(this.threadId, this.runId);
      if (this.abort.signal.aborted) return;
      const first = this.run === undefined || this.run.startSeq !== run.startSeq;
      this.run = run;
      this.ended = TERMINAL_RUN_STATUSES.has(run.status);
      this.render(run);
      if (first) {
        this.events.replaceChildren();
        this.lastSeq = undefined;
        if (run.startSeq !== undefined) await this.readMore();
      }
    } catch (error) {
      if (this.abort.signal.aborted) return;
      const e = ThreadlineError.is(error) ? error : undefined;
      this.heading.textContent = `Run ${this.runId}`;
      fill(
        this.body,
        h(
          "p",
          { class: "banner error", role: "alert", "data-testid": "run-error" },
          e?.code === "RUN_NOT_FOUND"
            ? `Unknown run '${this.runId}' on thread '${this.threadId}'.`
            : `Could not load the run: ${e?.message ?? String(error)}`,
        ),
      );
    }
  }

  /** Reads the run's next stored events, up to its terminal event. */
  private async readMore(): Promise<void> {
    const start = this.run?.startSeq;
    if (start === undefined) return;
    this.more.disabled = true;
    this.reading = true;
    try {
      const events = await this.api.readEvents(this.threadId, {
        after: this.lastSeq ?? start - 1,
        max: EVENTS_PAGE,
        stop: isTerminal,
        signal: this.abort.signal,
      });
      if (this.abort.signal.aborted) return;
      this.events.append(...events.map((e) => eventRow(e.seq, "event", e.event)));
      this.lastSeq = events.at(-1)?.seq ?? this.lastSeq ?? start - 1;
      const done = events.some((e) => isTerminal(e.event));
      if (done) this.ended = true;
      // Fewer than a page and no end: the run is still going, and live items continue it.
      this.atEnd = done || events.length < EVENTS_PAGE;
      this.more.hidden = this.atEnd;
    } finally {
      this.reading = false;
      this.more.disabled = false;
      const buffered = this.buffer;
      this.buffer = [];
      if (this.atEnd) for (const item of buffered) this.appendLive(item);
    }
  }

  private render(run: RunRecord): void {
    this.heading.replaceChildren(
      "Run ",
      h("code", null, run.runId),
      " ",
      h(
        "span",
        { class: `chip status-${run.status}`, "data-testid": "run-detail-status" },
        run.status,
      ),
    );
    const t = run.trigger;
    const queuedFor =
      run.startedAt === undefined ? undefined : formatDuration(run.startedAt - run.createdAt);
    const input = run.input;
    const messages = input.messages ?? [];
    fill(
      this.body,
      run.error
        ? h(
            "p",
            { class: "banner error", "data-testid": "run-detail-error" },
            h("strong", null, run.error.code),
            `: ${run.error.message}`,
          )
        : null,
      h(
        "div",
        { class: "detail-grid" },
        h(
          "section",
          { "aria-labelledby": "run-trigger-h" },
          h("h3", { id: "run-trigger-h" }, "Trigger"),
          dl([
            ["Kind", h("span", { class: `badge trigger-${t.kind}` }, t.kind)],
            ["Schedule", t.scheduleId],
            ["Tick", t.fireAt],
            ["Webhook", t.hookId],
            ["Delivery", t.deliveryId],
            ["Source", t.source],
            ["Agent", run.agentId],
          ]),
        ),
        h(
          "section",
          { "aria-labelledby": "run-timings-h" },
          h("h3", { id: "run-timings-h" }, "Timings"),
          dl([
            ["Queued", stamp(run.createdAt)],
            ["Started", stamp(run.startedAt)],
            ["Waited", queuedFor],
            ["Ended", stamp(run.endedAt)],
            ["Took", run.startedAt === undefined ? undefined : runDuration(run)],
            ["First seq", run.startSeq === undefined ? undefined : String(run.startSeq)],
          ]),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "run-input-h" },
        h("h3", { id: "run-input-h" }, "Input"),
        messages.length
          ? h(
              "ul",
              { class: "input-messages" },
              ...messages.map((m) =>
                h(
                  "li",
                  null,
                  h("span", { class: "who" }, m.role),
                  " ",
                  clip(textOf((m as { content?: unknown }).content), 500),
                ),
              ),
            )
          : h("p", { class: "muted" }, "No new messages: the run used the thread as it was."),
        h(
          "details",
          null,
          h("summary", null, "Input as JSON"),
          scrollPane(h("pre", { class: "json" }, JSON.stringify(input, null, 2)), "Run input"),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "run-events-h" },
        h("h3", { id: "run-events-h" }, "Events"),
        run.startSeq === undefined
          ? h("p", { class: "muted" }, "This run has not started: it has no events yet.")
          : null,
        this.events,
        this.more,
      ),
    );
  }
}
