import type { FollowStatus, ThreadEvent } from "../client/follow-thread.js";
import { ThreadlineError } from "../core/errors.js";
import type { RunRecord } from "../core/types.js";
import { type Api, NETWORK_ERROR } from "./api.js";
import { Composer } from "./composer.js";
import { Conversation } from "./conversation.js";
import { ConversationView } from "./conversation-view.js";
import { h, scrollPane, setText } from "./dom.js";
import { EventLog, PAGE as LOG_PAGE } from "./event-log.js";
import { clip } from "./format.js";
import { InterruptsPanel } from "./interrupts-panel.js";
import { RunDetail } from "./run-detail.js";
import { RUN_PAGE, RunList } from "./run-list.js";
import { activeRun } from "./run-timeline.js";
import { threadHref } from "./thread-list.js";
import type { TokenPrompt } from "./token-prompt.js";

/** Reconnect quickly after a restart, without hammering a server that stays down. */
const BACKOFF = { initialMs: 250, maxMs: 5_000 };
const RUN_BOUNDARIES = new Set(["RUN_STARTED", "RUN_FINISHED", "RUN_ERROR"]);
/**
 * Stored events read when a thread opens, to place the messages of its compact snapshot in
 * their runs (message times, markers of failed runs); its tail seeds the event log.
 */
const HISTORY_EVENTS = 2_000;

export const runHref = (threadId: string, runId: string) =>
  `${threadHref(threadId)}/r/${encodeURIComponent(runId)}`;

export interface ThreadViewDeps {
  api: Api;
  prompt: TokenPrompt;
  agents: () => Promise<string[]>;
}

/**
 * One thread, live: it follows the thread with `followThread` (compact replay, then every future
 * run; after a drop or a server restart it resumes from its cursor and catches up), and shows the
 * conversation, the runs, the state and the raw event log. Rendering is batched per frame. A
 * run's detail (`#/t/<thread>/r/<run>`) replaces the panels while the follow goes on.
 */
export class ThreadView {
  readonly el: HTMLElement;
  private readonly disposed = new AbortController();
  private followAbort = new AbortController();
  private conversation = new Conversation();
  private readonly conversationView: ConversationView;
  private readonly runList: RunList;
  private readonly log: EventLog;
  private readonly composer: Composer;
  private readonly interrupts: InterruptsPanel;
  private readonly grid: HTMLElement;
  private detail: RunDetail | undefined;
  /** Run records seen (recent runs, pages shown): message times come from them. */
  private readonly runs = new Map<string, RunRecord>();
  /** The newest runs, unfiltered: the Cancel button and the composer's agent use them. */
  private recent: RunRecord[] = [];
  private readonly state = scrollPane(
    h("pre", { class: "state", "data-testid": "state" }, "{}"),
    "Thread state",
  );
  private readonly status = h("span", { class: "status", "data-testid": "follow-status" });
  private readonly seqLabel = h("span", { class: "muted seq-label" });
  private readonly error = h("div", {
    class: "banner error",
    role: "alert",
    "data-testid": "thread-error",
    hidden: true,
  });
  private readonly cancel = h(
    "button",
    { type: "button", class: "danger", disabled: true, "data-testid": "cancel-run" },
    "Cancel run",
  );
  private frame = 0;
  private seq = 0;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private runsBusy = false;
  private runsAgain = false;
  private historyLoaded = false;
  private notFound = false;

  constructor(
    readonly threadId: string,
    private readonly deps: ThreadViewDeps,
  ) {
    const toRun = (runId: string) => runHref(threadId, runId);
    this.conversationView = new ConversationView({
      runOf: (id) => this.runs.get(id),
      runHref: toRun,
    });
    this.runList = new RunList(deps.api, threadId, toRun, () => this.refreshRuns());
    this.log = new EventLog(
      (after, until) =>
        deps.api.readEvents(threadId, { after, until, signal: this.disposed.signal }),
      (events) => this.attribute(events),
    );
    this.composer = new Composer(deps.api, threadId, deps.agents, () => {
      // The first message creates the thread: follow it now.
      if (this.notFound) this.restart();
      else this.refreshRuns();
    });
    this.interrupts = new InterruptsPanel(deps.api, threadId);
    this.cancel.addEventListener("click", () => this.cancelActive());
    const panel = (id: string, title: string, ...content: HTMLElement[]) =>
      h(
        "section",
        { class: `panel panel-${id}`, "aria-labelledby": `${id}-heading` },
        h("h3", { id: `${id}-heading` }, title),
        ...content,
      );
    this.grid = h(
      "div",
      { class: "thread-grid" },
      panel("conversation", "Conversation", this.conversationView.el, this.composer.el),
      h(
        "div",
        { class: "side" },
        panel("runs", "Runs", this.runList.el),
        panel("state", "State", this.state),
        panel("events", "Events", this.log.el),
      ),
    );
    this.el = h(
      "section",
      {
        class: "thread-view",
        "data-testid": "thread-view",
        "data-thread-id": threadId,
        "aria-labelledby": "thread-title",
      },
      h(
        "header",
        { class: "thread-head" },
        h("a", { href: "#/", class: "back" }, "← Threads"),
        h("h2", { class: "thread-title", id: "thread-title", title: threadId }, threadId),
        this.status,
        this.seqLabel,
        this.cancel,
      ),
      this.error,
      this.interrupts.el,
      this.grid,
    );
    void this.follow();
  }

  dispose(): void {
    this.disposed.abort();
    this.followAbort.abort();
    this.detail?.dispose();
    cancelAnimationFrame(this.frame);
    clearInterval(this.ticker);
  }

  /** Shows a run's detail in place of the panels, or (undefined) the panels again. */
  showRun(runId: string | undefined): void {
    if (this.detail?.runId === runId) return;
    this.detail?.dispose();
    this.detail?.el.remove();
    this.detail = runId
      ? new RunDetail(this.deps.api, this.threadId, runId, threadHref(this.threadId))
      : undefined;
    this.grid.hidden = this.detail !== undefined;
    this.runList.timeline.select(runId);
    if (this.detail) {
      this.el.append(this.detail.el);
      this.detail.focus();
    }
  }

  /** Starts over: a fresh follow (compact replay), e.g. once a token was entered. */
  restart(): void {
    this.followAbort.abort();
    this.followAbort = new AbortController();
    void this.follow();
  }

  private async follow(): Promise<void> {
    const signal = this.followAbort.signal;
    this.conversation = new Conversation();
    this.conversationView.clear();
    this.interrupts.set([]);
    this.log.reset();
    this.historyLoaded = false;
    this.notFound = false;
    this.seq = 0;
    this.showError(null);
    try {
      for await (const item of this.deps.api.follow(this.threadId, {
        replay: "compact",
        signal,
        backoff: BACKOFF,
        onStatus: (s) => this.onStatus(s),
      })) {
        this.onItem(item);
      }
    } catch (error) {
      if (!signal.aborted) await this.onFollowError(error);
    }
  }

  private onStatus(s: FollowStatus): void {
    if (s.state === "open") {
      this.setStatus("live", "live");
      if (!this.historyLoaded) {
        // The compact snapshot stands for the log up to `lastSeq`.
        this.historyLoaded = true;
        this.log.startsAfter(s.lastSeq ?? 0);
        void this.loadHistory(s.lastSeq ?? 0);
      }
      this.refreshRuns(); // catch up on runs that happened while the stream was down
    } else if (s.state === "connecting") {
      if (s.attempt === 1) this.setStatus("connecting", "connecting…");
      else this.setStatus("reconnecting", `reconnecting… (attempt ${s.attempt})`);
    } else {
      const wait = `retry in ${(s.delayMs / 1000).toFixed(1)} s`;
      this.setStatus("reconnecting", `reconnecting… ${wait} (${s.reason})`);
    }
  }

  /**
   * Reads the log's recent history once: the event log shows its tail, and the conversation
   * learns which run each snapshot message came from and which runs ended badly.
   */
  private async loadHistory(lastSeq: number): Promise<void> {
    if (lastSeq === 0) return;
    const after = Math.max(0, lastSeq - HISTORY_EVENTS);
    const events = await this.deps.api
      .readEvents(this.threadId, { after, until: lastSeq, signal: this.disposed.signal })
      .catch(() => []);
    if (this.disposed.signal.aborted) return;
    const tail = events.slice(-LOG_PAGE);
    this.log.showStored(tail, tail.length ? tail[0]!.seq - 1 : lastSeq, { scrollToEnd: true });
    this.attribute(events);
    // The runs those messages came from, for their times (one request).
    const runsInHistory = events.filter((e) => e.event.type === "RUN_STARTED").length;
    if (runsInHistory > RUN_PAGE) {
      const page = await this.deps.api
        .listRuns(this.threadId, { limit: Math.min(1000, runsInHistory + 1) })
        .catch(() => undefined);
      if (page) this.remember(page.runs);
    }
  }

  private attribute(events: { seq: number; event: ThreadEvent["event"] }[]): void {
    this.conversation.attribute(events);
    this.schedule();
  }

  private onItem(item: ThreadEvent): void {
    this.conversation.apply(item.event, item);
    this.log.add(item);
    this.detail?.live(item);
    this.seq = Math.max(this.seq, item.seq);
    if (item.kind === "event" && RUN_BOUNDARIES.has(item.event.type)) this.refreshRuns();
    this.schedule();
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  private render(): void {
    this.frame = 0;
    const { stateChanged, interruptsChanged } = this.conversationView.render(this.conversation);
    if (interruptsChanged) this.interrupts.set(this.conversation.interrupts);
    if (stateChanged) {
      setText(
        this.state,
        clip(JSON.stringify(this.conversation.state, null, 2) ?? "null", 100_000),
      );
    }
    this.log.render();
    setText(this.seqLabel, `seq ${this.seq}`);
  }

  private async onFollowError(error: unknown): Promise<void> {
    const e = ThreadlineError.is(error) ? error : undefined;
    if (e?.code === "THREAD_NOT_FOUND") {
      this.notFound = true;
      this.setStatus("error", "not found");
      this.showError(
        `Unknown thread '${this.threadId}': no thread with this id exists on this server. ` +
          "Send a message below to start it.",
      );
      this.runList.timeline.set([]);
    } else if (e?.status === 401) {
      this.setStatus("error", "token required");
      await this.deps.prompt.ask(e);
      if (!this.disposed.signal.aborted) this.restart();
    } else {
      this.setStatus("error", "stopped");
      this.showError(`Following stopped: ${e?.message ?? String(error)}`, () => this.restart());
    }
  }

  /** Adds run records to the cache; message times that were waiting for them appear. */
  private remember(runs: RunRecord[]): void {
    let added = false;
    for (const r of runs) {
      const had = this.runs.get(r.runId);
      if (!had || had.startedAt !== r.startedAt) added = true;
      this.runs.set(r.runId, r);
    }
    if (added) this.conversationView.refreshTimes();
  }

  private refreshRuns(): void {
    if (this.runsBusy) {
      this.runsAgain = true;
      return;
    }
    this.runsBusy = true;
    this.loadRuns()
      // Not found or unreachable: the follow loop reports those.
      .catch(() => undefined)
      .finally(() => {
        this.runsBusy = false;
        if (this.runsAgain) {
          this.runsAgain = false;
          this.refreshRuns();
        }
      });
  }

  private async loadRuns(): Promise<void> {
    const recent = await this.deps.api.listRuns(this.threadId, { limit: RUN_PAGE });
    if (this.disposed.signal.aborted) return;
    this.recent = recent.runs;
    this.remember(recent.runs);
    if (this.runList.isDefault) this.runList.show(recent);
    else this.remember(await this.runList.load());
    this.runList.timeline.select(this.detail?.runId);
    this.composer.suggestAgent(this.recent[0]?.agentId);
    this.cancel.disabled = !activeRun(this.recent);
    if (this.runList.timeline.hasRunning) {
      this.ticker ??= setInterval(() => this.runList.timeline.tick(), 1000);
    } else {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private cancelActive(): void {
    const run = activeRun(this.recent);
    if (!run) return;
    this.cancel.disabled = true;
    this.deps.api.cancelRun(this.threadId, run.runId).then(
      () => this.refreshRuns(),
      (e: unknown) => {
        this.cancel.disabled = false;
        if (!ThreadlineError.is(e, NETWORK_ERROR))
          this.showError(`Cancel failed: ${(e as Error).message}`);
      },
    );
  }

  private setStatus(state: string, text: string): void {
    this.status.dataset.state = state;
    setText(this.status, text);
  }

  private showError(text: string | null, retry?: () => void): void {
    this.error.hidden = text === null;
    this.error.replaceChildren();
    if (text === null) return;
    this.error.append(text);
    if (retry) {
      const button = h("button", { type: "button", class: "small" }, "Retry");
      button.addEventListener("click", retry);
      this.error.append(" ", button);
    }
  }
}
