import {
  AbstractAgent,
  type AgentConfig,
  type AgentStateMutation,
  type AgentSubscriber,
  type RunAgentParameters,
  type RunAgentResult,
  randomUUID,
} from "@ag-ui/client";
import {
  type BaseEvent,
  EventType,
  type Message,
  type RunAgentInput,
  type RunStartedEvent,
} from "@ag-ui/core";
import { lastValueFrom, map, type Observable } from "rxjs";
import { ThreadlineError } from "../core/errors.js";
import { interruptsOf } from "../core/interrupts.js";
import type { MultitaskStrategy } from "../core/types.js";
import type { BackoffOptions } from "./backoff.js";
import { FollowLoop, type FollowMode } from "./follow-loop.js";
import type { FollowStatus, HistoryReset, ThreadEvent } from "./follow-thread.js";
import type { FetchLike } from "./http.js";
import { keepUnsentLast, messageIdsIn } from "./message-ids.js";
import { runOnServer } from "./run-on-server.js";
import { isTerminal, RunSession } from "./run-session.js";
import { ThreadlineClient } from "./threadline-client.js";

export interface ThreadlineAgentConfig extends AgentConfig {
  /** Base URL of the Threadline server. */
  url: string;
  /** The server-side agent that runs started by this client use. */
  agentId: string;
  headers?: Record<string, string>;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  fetch?: FetchLike;
  /** What `runAgent` does when the thread is busy. Default `enqueue`. */
  multitask?: MultitaskStrategy;
  backoff?: BackoffOptions;
  /** Connection state of the follow (connecting / open / reconnecting). */
  onStatus?: (status: FollowStatus) => void;
  /**
   * The follow resumed from a cursor the thread had compacted away (PROTOCOL.md §2.9): the
   * events in between were skipped and a snapshot of the thread replaced them.
   */
  onHistoryReset?: (reset: HistoryReset) => void;
}

interface Outcome {
  result?: unknown;
  error?: unknown;
}

/** A run this client started and whose `runAgent` call waits for it. */
interface LocalRun {
  input: RunAgentInput;
  subscribers: AgentSubscriber[];
  settle(outcome: Outcome): void;
  outcome: Promise<Outcome>;
  abortRequested: boolean;
}

/** A RUN_FINISHED that leaves interrupts pending. */
const asksQuestion = (event: BaseEvent | undefined): boolean =>
  !!event && (interruptsOf(event)?.length ?? 0) > 0;

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
const clone = <T>(v: T): T => structuredClone(v);

/**
 * An AG-UI agent that follows a Threadline thread.
 *
 * `connectAgent()` resolves once the thread's replay is applied, then keeps following: every
 * later run — scheduled, webhook, another tab — is applied to `messages`/`state` through
 * @ag-ui/client's own apply pipeline, with the usual subscriber callbacks. `runAgent()` starts
 * a run on the server and waits for it to arrive through the follow, so its events are applied
 * exactly once. `isRunning` is true while a run is active on the thread (or one this client
 * started is waiting in its queue). `detachActiveRun()` and `dispose()` end the follow; the next
 * `runAgent()` resumes it from its cursor.
 */
export class ThreadlineAgent extends AbstractAgent {
  readonly url: string;
  /** The server-side agent id (a host such as CopilotKit may rename `agentId`). */
  remoteAgentId: string;
  headers: Record<string, string>;
  multitask: MultitaskStrategy;
  /** The follow's latest connection status. */
  followStatus: FollowStatus | undefined;
  /** The error that ended the follow, if one did. */
  followError: unknown;
  /**
   * The latest history reset of the follow (PROTOCOL.md §2.9): it resumed from a cursor the
   * thread had compacted away, so the events between were replaced by a snapshot.
   */
  historyReset: HistoryReset | undefined;
  private readonly config: ThreadlineAgentConfig;
  private readonly client: ThreadlineClient;
  private follower: FollowLoop | undefined;
  /** Bumped by each connect and detach: a follow start from an older one gives up. */
  private followGeneration = 0;
  private session: RunSession | undefined;
  private readonly localRuns = new Map<string, LocalRun>();
  /** Seq of the last applied log position; undefined before anything was applied. */
  private cursor: number | undefined;
  /** connectAgent was asked for the thread's history: a restarted follow must replay it. */
  private wantsReplay = false;
  private readonly seen = new Set<string>();
  /** JSON of the state as the thread last reported it: state is only sent when it differs. */
  private threadState: string | undefined;
  private connectSubscriber: AgentSubscriber | undefined;
  /** Inputs of compact-snapshot runs, whose MESSAGES_SNAPSHOT replaces everything. */
  private readonly snapshotInputs = new WeakSet<RunAgentInput>();

  constructor(config: ThreadlineAgentConfig) {
    super(config);
    this.config = config;
    this.url = config.url;
    this.remoteAgentId = config.agentId;
    this.headers = { ...config.headers };
    this.multitask = config.multitask ?? "enqueue";
    this.client = new ThreadlineClient({
      baseUrl: config.url,
      headers: () => this.headers,
      ...(config.token ? { token: config.token } : {}),
      ...(config.fetch ? { fetch: config.fetch } : {}),
      ...(config.backoff ? { backoff: config.backoff } : {}),
    });
  }

  /** Follows the thread; resolves once its history is applied. */
  override async connectAgent(
    parameters?: RunAgentParameters,
    subscriber?: AgentSubscriber,
  ): Promise<RunAgentResult> {
    const generation = ++this.followGeneration;
    await this.stopFollow();
    // A detach or a newer connect came while the old follow was stopping: that one wins.
    if (generation !== this.followGeneration) return { result: undefined, newMessages: [] };
    this.discardSession();
    this.cursor = undefined;
    this.seen.clear();
    this.threadState = undefined;
    this.wantsReplay = true;
    this.connectSubscriber = subscriber;
    const before = new Set(this.messages.map((m) => m.id));
    try {
      await this.follow("fresh", generation);
    } catch (error) {
      const subscribers = [...this.subscribers, subscriber ?? {}];
      const rethrow = await this.reportError(
        this.prepareRunAgentInput(parameters),
        error,
        subscribers,
      );
      if (rethrow) throw rethrow;
    }
    return { result: undefined, newMessages: this.newSince(before) };
  }

  /** Starts a run on the thread and resolves when it ended (applied through the follow). */
  override async runAgent(
    parameters?: RunAgentParameters,
    subscriber?: AgentSubscriber,
  ): Promise<RunAgentResult> {
    const input = this.prepareRunAgentInput(parameters);
    const subscribers = [...this.subscribers, subscriber ?? {}];
    const before = new Set(this.messages.map((m) => m.id));
    let settle!: (o: Outcome) => void;
    const outcome = new Promise<Outcome>((r) => {
      settle = r;
    });
    const local: LocalRun = { input, subscribers, settle, outcome, abortRequested: false };
    // An answer to pending interrupts is a new run (AG-UI), even when the caller names the run
    // that asked — CopilotKit's useInterrupt does (PROTOCOL.md §3.1.9): it gets an id of its own.
    const resume = input.resume?.length ? input.resume : undefined;
    const runId = resume ? randomUUID() : input.runId;
    this.localRuns.set(runId, local);
    this.updateRunning();
    try {
      await this.onInitialize(input, subscribers);
      await this.ensureFollowing();
      await this.client.startRun(this.threadId, {
        agentId: this.remoteAgentId,
        runId,
        messages: input.messages.filter((m) => !this.seen.has(m.id)),
        tools: input.tools,
        context: input.context,
        forwardedProps: input.forwardedProps,
        multitask: this.multitask,
        trigger: { kind: "client" },
        ...(resume ? { resume } : {}),
        ...this.stateToSend(input.state),
      });
      if (local.abortRequested) this.cancel(runId);
    } catch (error) {
      if (this.localRuns.get(runId) === local) this.localRuns.delete(runId);
      local.settle({ error });
    }
    const { result, error } = await outcome;
    this.updateRunning();
    if (error !== undefined) {
      const rethrow = await this.reportError(input, error, subscribers);
      await this.onFinalize(input, subscribers);
      if (rethrow) throw rethrow;
    } else {
      await this.onFinalize(input, subscribers);
    }
    return { result, newMessages: this.newSince(before) };
  }

  /** Cancels the thread's active run and the runs this client has waiting in the queue. */
  override abortRun(): void {
    const ids = new Set(this.localRuns.keys());
    if (this.session && !this.session.synthetic) ids.add(this.session.runId);
    for (const runId of ids) {
      const local = this.localRuns.get(runId);
      if (local) local.abortRequested = true;
      this.cancel(runId);
    }
  }

  /** Ends the follow. Waiting `runAgent` calls resolve with what they have so far. */
  override async detachActiveRun(): Promise<void> {
    this.followGeneration += 1;
    await this.stopFollow();
    for (const [runId, local] of this.localRuns) {
      this.localRuns.delete(runId);
      local.settle({});
    }
    this.updateRunning();
  }

  /** Ends the follow and forgets the run in progress. */
  async dispose(): Promise<void> {
    await this.detachActiveRun();
    this.discardSession();
    this.updateRunning();
  }

  override clone(): ThreadlineAgent {
    const copy = new ThreadlineAgent({
      ...this.config,
      agentId: this.remoteAgentId,
      threadId: this.threadId,
      headers: { ...this.headers },
      initialMessages: this.messages,
      initialState: this.state,
    });
    copy.agentId = this.agentId;
    copy.description = this.description;
    copy.multitask = this.multitask;
    copy.subscribers = [...this.subscribers];
    return copy;
  }

  /**
   * One run as a plain event stream (for code that calls `run()` directly, e.g. the legacy
   * bridge): starts it on the server and emits its events until its terminal event.
   */
  override run(input: RunAgentInput): Observable<BaseEvent> {
    return runOnServer(this.client, this.remoteAgentId, input, this.multitask);
  }

  // ---- following -------------------------------------------------------------------------

  private async ensureFollowing(): Promise<void> {
    if (this.follower) return this.follower.ready;
    const mode: FollowMode =
      this.cursor !== undefined ? "resume" : this.wantsReplay ? "fresh" : "live";
    return this.follow(mode, this.followGeneration);
  }

  /**
   * Starts a follow; a thread that does not exist yet is created (a new chat) once. Only one
   * loop may run: a start superseded by a detach or a newer connect (React's StrictMode connects,
   * detaches and connects again at once) gives up, and one that finds a loop already started in
   * its generation joins it.
   */
  private async follow(mode: FollowMode, generation: number): Promise<void> {
    for (let created = false; ; created = true) {
      if (generation !== this.followGeneration) return;
      if (this.follower) return this.follower.ready;
      const loop = this.startFollow(mode);
      try {
        await loop.ready;
        return;
      } catch (error) {
        if (created || !ThreadlineError.is(error, "THREAD_NOT_FOUND")) throw error;
        await this.client.createThread({ threadId: this.threadId });
      }
    }
  }

  private startFollow(mode: FollowMode): FollowLoop {
    const loop: FollowLoop = new FollowLoop({
      client: this.client,
      threadId: this.threadId,
      mode,
      ...(this.cursor === undefined ? {} : { after: this.cursor }),
      apply: (item) => this.applyItem(item),
      replayed: (lastSeq) => (this.cursor ?? -1) >= lastSeq && !this.session?.synthetic,
      onStatus: (status) => {
        this.followStatus = status;
        if (status.state === "open") {
          // Known at once when there is nothing to replay first (empty thread, `none`).
          if (this.cursor === undefined && status.cursor !== undefined) this.cursor = status.cursor;
          this.updateRunning();
        }
        this.config.onStatus?.(status);
      },
      onFailed: (error) => this.followFailed(error),
    });
    this.follower = loop;
    this.followError = undefined;
    void loop.done.then(() => {
      if (this.follower === loop) this.follower = undefined;
      this.updateRunning();
    });
    return loop;
  }

  private async stopFollow(): Promise<void> {
    const loop = this.follower;
    if (!loop) return;
    this.follower = undefined;
    await loop.stop();
    if (this.session?.synthetic) this.discardSession();
  }

  private followFailed(error: unknown): void {
    this.followError = error;
    this.discardSession();
    for (const [runId, local] of this.localRuns) {
      this.localRuns.delete(runId);
      local.settle({ error });
    }
    this.updateRunning();
  }

  // ---- applying the thread's events ---------------------------------------------------------

  private async applyItem(item: ThreadEvent): Promise<void> {
    const { event } = item;
    if (item.reset && event.type === EventType.RUN_STARTED) {
      this.historyReset = item.reset;
      this.config.onHistoryReset?.(item.reset);
    }
    for (const id of messageIdsIn(event)) this.seen.add(id);
    if (event.type === EventType.RUN_STARTED) {
      // A run that never ended cannot be followed by another; close it defensively.
      if (this.session) await this.closeSession();
      await this.openSession(item);
    }
    const session = this.session;
    if (session) {
      session.push(event);
      if (isTerminal(event)) await this.closeSession(event);
    }
    // A snapshot stands for its seq only once it is applied whole.
    if (item.kind !== "snapshot" || !this.session) this.cursor = item.seq;
  }

  private async openSession(item: ThreadEvent): Promise<void> {
    const start = item.event as RunStartedEvent;
    const synthetic = item.kind === "snapshot";
    const local = synthetic ? undefined : this.localRuns.get(start.runId);
    const { messages: _m, state: _s, ...serverInput } = start.input ?? {};
    const input: RunAgentInput = {
      tools: [],
      context: [],
      forwardedProps: {},
      ...(local ? local.input : serverInput),
      threadId: this.threadId,
      runId: start.runId,
      // The fold starts from what this client holds now.
      messages: clone(this.messages),
      state: clone(this.state),
    };
    const subscribers = local
      ? local.subscribers
      : [...this.subscribers, ...(this.connectSubscriber ? [this.connectSubscriber] : [])];
    if (synthetic) this.snapshotInputs.add(input);
    this.session = new RunSession({
      runId: start.runId,
      input,
      subscribers,
      synthetic,
      build: (events$, subs) =>
        this.processApplyEvents(input, this.apply(input, events$, subs), subs),
    });
    if (synthetic) return;
    this.updateRunning();
    if (!local) await this.notifyInitialized(input, this.session.subscribers);
  }

  /**
   * Keeps messages this client added and the thread has not seen yet (a message typed while a
   * run streams) after the thread's own, instead of letting a fold that began before they were
   * added drop them until their run starts. The compact snapshot stays authoritative (AG-UI's
   * MESSAGES_SNAPSHOT rule).
   */
  protected override processApplyEvents(
    input: RunAgentInput,
    events$: Observable<AgentStateMutation>,
    subscribers: AgentSubscriber[],
  ): Observable<AgentStateMutation> {
    if (this.snapshotInputs.has(input)) {
      return super.processApplyEvents(input, events$, subscribers);
    }
    const ordered = events$.pipe(
      map((mutation: AgentStateMutation) =>
        mutation.messages
          ? { ...mutation, messages: keepUnsentLast(mutation.messages, this.messages, this.seen) }
          : mutation,
      ),
    );
    return super.processApplyEvents(input, ordered, subscribers);
  }

  private async closeSession(terminal?: BaseEvent): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    const error = await session.end();
    this.threadState = JSON.stringify(this.state ?? null);
    if (session.synthetic) {
      // A snapshot is not a run (no lifecycle callbacks), except when it carries the thread's
      // pending question (RUN_FINISHED outcome interrupt, PROTOCOL.md §3.1): CopilotKit's
      // useInterrupt takes the question up in onRunFinalized, as after a stock connect, so a
      // question asked before the page opened is shown.
      if (error === undefined && asksQuestion(terminal)) {
        await this.onFinalize(session.input, session.subscribers);
      }
      return;
    }
    const local = this.localRuns.get(session.runId);
    if (local) {
      // runAgent reports the outcome (onRunFailed / onRunFinalized) itself.
      this.localRuns.delete(session.runId);
      local.settle(error === undefined ? { result: session.result } : { error });
      this.updateRunning();
      return;
    }
    this.updateRunning();
    if (error !== undefined) await this.reportError(session.input, error, session.subscribers);
    await this.onFinalize(session.input, session.subscribers);
  }

  /** Drops the run being applied without finishing it (a fresh replay supersedes it). */
  private discardSession(): void {
    const session = this.session;
    this.session = undefined;
    void session?.end();
  }

  /**
   * `onRunInitialized` for a run started elsewhere. Not `onInitialize`: that one refuses to start
   * while interrupts are pending, and the run has already started on the server. Mutations a
   * subscriber returns are ignored for the same reason: the run's input is already fixed.
   */
  private async notifyInitialized(
    input: RunAgentInput,
    subscribers: AgentSubscriber[],
  ): Promise<void> {
    for (const subscriber of subscribers) {
      try {
        await subscriber.onRunInitialized?.({
          messages: this.messages,
          state: this.state,
          agent: this,
          input,
        });
      } catch (error) {
        console.error("onRunInitialized failed:", error);
      }
    }
  }

  // ---- helpers ----------------------------------------------------------------------------

  private updateRunning(): void {
    const active = this.session !== undefined && !this.session.synthetic;
    this.isRunning = (active && this.follower !== undefined) || this.localRuns.size > 0;
  }

  private cancel(runId: string): void {
    this.client
      .cancelRun(this.threadId, runId)
      .then((run) => {
        // A run cancelled while still queued never starts, so no event will end its runAgent.
        const local = this.localRuns.get(runId);
        if (local && run.status === "cancelled" && run.startSeq === undefined) {
          this.localRuns.delete(runId);
          local.settle({});
        }
      })
      .catch(() => undefined);
  }

  /** The state goes with a run only when the client changed it (it would replace the thread's). */
  private stateToSend(state: unknown): { state?: unknown } {
    const json = JSON.stringify(state ?? null);
    if (this.threadState !== undefined) return json === this.threadState ? {} : { state };
    const empty = json === "null" || json === "{}";
    return empty ? {} : { state };
  }

  private newSince(before: Set<string>): Message[] {
    return clone(this.messages).filter((m) => !before.has(m.id));
  }

  /** Runs `onRunFailed` through the base class; returns the error to rethrow, if any. */
  private async reportError(
    input: RunAgentInput,
    error: unknown,
    subscribers: AgentSubscriber[],
  ): Promise<unknown> {
    try {
      await lastValueFrom(this.onError(input, asError(error), subscribers), {
        defaultValue: undefined,
      });
      return undefined;
    } catch (rethrown) {
      return rethrown;
    }
  }
}
