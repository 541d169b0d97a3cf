import type { FollowStatus, ThreadEvent } from "../client/follow-thread.js";
import { ThreadlineError } from "../core/errors.js";
import { type Api, NETWORK_ERROR } from "./api.js";
import { Composer } from "./composer.js";
import { Conversation } from "./conversation.js";
import { ConversationView } from "./conversation-view.js";
import { h, setText } from "./dom.js";
import { EventLog } from "./event-log.js";
import { clip } from "./format.js";
import { RunTimeline } from "./run-timeline.js";
import type { TokenPrompt } from "./token-prompt.js";

/** Reconnect quickly after a restart, without hammering a server that stays down. */
const BACKOFF = { initialMs: 250, maxMs: 5_000 };
const RUN_BOUNDARIES = new Set(["RUN_STARTED", "RUN_FINISHED", "RUN_ERROR"]);

export interface ThreadViewDeps {
  api: Api;
  prompt: TokenPrompt;
  agents: () => Promise<string[]>;
}

/**
 * One thread, live: it follows the thread with `followThread` (compact replay, then every future
 * run; after a drop or a server restart it resumes from its cursor and catches up), and shows the
 * conversation, the runs, the state and the raw event log. Rendering is batched per frame.
 */
export class ThreadView {
  readonly el: HTMLElement;
  private readonly disposed = new AbortController();
  private followAbort = new AbortController();
  private conversation = new Conversation();
  private readonly conversationView = new ConversationView();
  private readonly timeline = new RunTimeline();
  private readonly log: EventLog;
  private readonly composer: Composer;
  private readonly state = h("pre", { class: "state", "data-testid": "state" }, "{}");
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
    this.log = new EventLog((after, until) =>
      deps.api.readEvents(threadId, after, until, this.disposed.signal),
    );
    this.composer = new Composer(deps.api, threadId, deps.agents, () => {
      // The first message creates the thread: follow it now.
      if (this.notFound) this.restart();
      else this.refreshRuns();
    });
    this.cancel.addEventListener("click", () => this.cancelActive());
    this.el = h(
      "section",
      { class: "thread-view", "data-testid": "thread-view", "data-thread-id": threadId },
      h(
        "header",
        { class: "thread-head" },
        h("a", { href: "#/", class: "back" }, "← Threads"),
        h("h2", { class: "thread-title", title: threadId }, threadId),
        this.status,
        this.seqLabel,
        this.cancel,
      ),
      this.error,
      h(
        "div",
        { class: "thread-grid" },
        h(
          "section",
          { class: "panel conversation", "aria-label": "Conversation" },
          h("h3", null, "Conversation"),
          this.conversationView.el,
          this.composer.el,
        ),
        h(
          "div",
          { class: "side" },
          h(
            "section",
            { class: "panel", "aria-label": "Runs" },
            h("h3", null, "Runs"),
            this.timeline.el,
          ),
          h(
            "section",
            { class: "panel", "aria-label": "State" },
            h("h3", null, "State"),
            this.state,
          ),
          h(
            "section",
            { class: "panel", "aria-label": "Events" },
            h("h3", null, "Events"),
            this.log.el,
          ),
        ),
      ),
    );
    void this.follow();
  }

  dispose(): void {
    this.disposed.abort();
    this.followAbort.abort();
    cancelAnimationFrame(this.frame);
    clearInterval(this.ticker);
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
        // The compact snapshot stands for the log up to `lastSeq`: show the tail of it too.
        this.historyLoaded = true;
        this.log.startsAfter(s.lastSeq ?? 0);
        void this.log.loadEarlier({ scrollToEnd: true }).catch(() => undefined);
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

  private onItem(item: ThreadEvent): void {
    this.conversation.apply(item.event);
    this.log.add(item);
    this.seq = Math.max(this.seq, item.seq);
    if (item.kind === "event" && RUN_BOUNDARIES.has(item.event.type)) this.refreshRuns();
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  private render(): void {
    this.frame = 0;
    const { stateChanged } = this.conversationView.render(this.conversation);
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
      this.timeline.set([]);
    } else if (e?.status === 401) {
      this.setStatus("error", "token required");
      await this.deps.prompt.ask(e);
      if (!this.disposed.signal.aborted) this.restart();
    } else {
      this.setStatus("error", "stopped");
      this.showError(`Following stopped: ${e?.message ?? String(error)}`, () => this.restart());
    }
  }

  private refreshRuns(): void {
    if (this.runsBusy) {
      this.runsAgain = true;
      return;
    }
    this.runsBusy = true;
    this.deps.api
      .listRuns(this.threadId)
      .then(
        (runs) => {
          if (this.disposed.signal.aborted) return;
          this.timeline.set(runs);
          this.composer.suggestAgent(runs[0]?.agentId);
          this.cancel.disabled = !this.timeline.active();
          if (this.timeline.hasRunning)
            this.ticker ??= setInterval(() => this.timeline.tick(), 1000);
          else {
            clearInterval(this.ticker);
            this.ticker = undefined;
          }
        },
        // Not found or unreachable: the follow loop reports those.
        () => undefined,
      )
      .finally(() => {
        this.runsBusy = false;
        if (this.runsAgain) {
          this.runsAgain = false;
          this.refreshRuns();
        }
      });
  }

  private cancelActive(): void {
    const run = this.timeline.active();
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
