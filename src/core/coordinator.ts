import { randomUUID } from "node:crypto";
import type { AbstractAgent } from "@ag-ui/client";
import type { Message, RunAgentInput } from "@ag-ui/core";
import { RUN_ERROR_INTERRUPTED } from "../protocol.js";
import { AgentDirectory, type AgentSource } from "./agent-directory.js";
import { runAgentWithHistory } from "./agent-exec.js";
import { ThreadlineError } from "./errors.js";
import { type AgentHistory, agentHistory } from "./history-window.js";
import { holdInstance, newInstanceId } from "./instance.js";
import { recordsOnly } from "./interrupt-expiry.js";
import type { Logger } from "./logger.js";
import { silentLogger } from "./logger.js";
import { RecordingAgent } from "./recording-agent.js";
import { closeTakenRun, findStaleRuns, interruptedEnd, interruptRun } from "./recovery.js";
import { checkResume } from "./resume-check.js";
import { checkRunId } from "./run-ids.js";
import { startedInput } from "./run-start.js";
import { RunWriter } from "./run-writer.js";
import { type SchedulerClock, systemClock, type TimerHandle } from "./scheduler/clock.js";
import { errorOfTerminal, statusOfTerminal, type ThreadStore } from "./store.js";
import type { RunEnd, Telemetry } from "./telemetry.js";
import { type RunTracing, type TraceParent, traceToKeep } from "./tracing.js";
import type {
  Fence,
  MultitaskStrategy,
  RunActor,
  RunInput,
  RunRecord,
  RunTrigger,
} from "./types.js";
import { ViewBuilder } from "./view.js";

interface CachedView {
  view: ViewBuilder;
  lastSeq: number;
  /** The thread's creation time: a thread deleted and created again is another thread. */
  createdAt: number;
  /** The thread's compaction horizon: a compaction since removed messages from the view. */
  horizon: number;
}

/** A turn of the event loop a run's events held longer than this is worth a warning. */
const SLOW_TURN_MS = 200;

/** Runs accepted here and not yet started that the queue-depth gauge keeps track of. */
const MAX_TRACKED_QUEUED = 10_000;

/** Threads whose materialized view stays in memory between runs. */
const VIEW_CACHE_SIZE = 256;

export type { AgentSource } from "./agent-directory.js";

/**
 * An agent (instance) may check a run's input before the run is queued: what it throws refuses
 * the run at once — a ThreadlineError as is (e.g. VALIDATION_FAILED, a 400 for an HTTP caller),
 * anything else as VALIDATION_FAILED — instead of a run that is queued and then fails.
 */
export interface RunInputCheck {
  checkRunInput(input: RunInput): void;
}

export interface StartRunRequest {
  threadId: string;
  agentId: string;
  input?: RunInput;
  trigger?: RunTrigger;
  multitask?: MultitaskStrategy;
  /** Use this run id (e.g. the one a CopilotKit client chose); must be unique. */
  runId?: string;
  /**
   * Execute this agent instance (used as is, not cloned) instead of the registry's `agentId`,
   * e.g. the per-request agent a CopilotKit runtime prepared. `agentId` then only labels the
   * run. The instance lives in this process: if another process sharing the store claims the
   * run first (it was queued behind that process's run), it runs its own `agentId` instead, and
   * this process lets the instance go at its next lease sweep (as when the run is cancelled or
   * its thread deleted anywhere).
   */
  agent?: AbstractAgent;
  /** The principal that asked for the run (recorded on it, shown by the run list). */
  startedBy?: RunActor;
  /**
   * The trace of the request that asked for it: stored with the run (when valid), so its span is
   * a child of that trace on whichever instance executes it.
   */
  traceparent?: TraceParent;
}

export interface StartRunResult {
  runId: string;
  status: RunRecord["status"];
  threadId: string;
  interrupted?: string;
}

export interface CoordinatorOptions {
  store: ThreadStore;
  agents: Record<string, AgentSource> | AgentDirectory;
  /** What each agent sees of its thread (by agent id; default the whole view). */
  history?: Record<string, AgentHistory>;
  logger?: Logger;
  instanceId?: string;
  /** How long a run's lease lasts without renewal. Default 15 s. */
  leaseMs?: number;
  /** How often expired leases of other instances are looked for. Default leaseMs / 2. */
  sweepMs?: number;
  /**
   * Time of leases and sweeps: lease expiry, renewal every third of a lease, the sweep for
   * expired leases. Tests inject a `ManualClock` (the scheduler's and webhooks' clock too, when
   * given to `createThreadline`), so lease expiry is tested without waiting for it.
   */
  clock?: SchedulerClock;
  /** Observers of run transitions (metrics, the run log, traces). */
  telemetry?: Telemetry;
}

/** Why a run's agent is stopped before it ends by itself. */
type StopKind = "cancel" | "interrupt" | "lease" | "fault";

interface SuppliedAgent {
  threadId: string;
  runId: string;
  agent: AbstractAgent;
  /** The enqueue committed: until then the store does not know the run (not a release). */
  enqueued: boolean;
}

interface ActiveRun {
  threadId: string;
  runId: string;
  writer: RunWriter;
  abort: (reason: StopKind) => void;
  done: Promise<void>;
}

/**
 * The run coordinator: at most one active run per thread, multitask strategies, execution of
 * `@ag-ui/client` agents into the thread's log, leases and recovery of runs a dead process left.
 */
export class Coordinator {
  readonly instanceId: string;
  readonly store: ThreadStore;
  /** The agents runs may name. */
  readonly agents: AgentDirectory;
  private readonly history: Record<string, AgentHistory>;
  private readonly logger: Logger;
  readonly leaseMs: number;
  private readonly sweepMs: number;
  private readonly clock: SchedulerClock;
  private readonly active = new Map<string, ActiveRun>();
  private readonly pumping = new Map<string, Promise<void>>();
  /** LRU of writer views, so a run does not reload (and re-parse) the thread's history. */
  private readonly views = new Map<string, CachedView>();
  /**
   * Agent instances callers supplied for runs not yet executed (see `suppliedKey`). Dropped
   * when this process executes the run, and when the run ends or starts anywhere else (see
   * `releaseSupplied`), so an instance never outlives its run here.
   */
  private readonly supplied = new Map<string, SuppliedAgent>();
  private sweeper: TimerHandle | undefined;
  private closing = false;
  private readonly liveness: { release(): void };
  /** Sleeps to cut short when closing (see `sleep`). */
  private readonly wakeOnClose = new Set<() => void>();
  /** Threads whose pump was asked to run while it was already running (see `pump`). */
  private readonly pumpAgain = new Set<string>();
  private readonly telemetry: Telemetry;
  /** Runs this process accepted that it has not started (bounded; see `queuedHere`). */
  private readonly queued = new Map<string, RunRecord>();
  /** Spans of runs (OpenTelemetry, when installed; see `createThreadline`). */
  tracing: RunTracing | undefined;

  constructor(opts: CoordinatorOptions) {
    this.store = opts.store;
    this.agents =
      opts.agents instanceof AgentDirectory ? opts.agents : new AgentDirectory(opts.agents);
    this.history = opts.history ?? {};
    this.logger = opts.logger ?? silentLogger;
    this.instanceId = opts.instanceId ?? newInstanceId();
    this.liveness = holdInstance(this.instanceId);
    this.leaseMs = opts.leaseMs ?? 15_000;
    this.sweepMs = opts.sweepMs ?? Math.max(250, Math.floor(this.leaseMs / 2));
    this.clock = opts.clock ?? systemClock;
    this.telemetry = opts.telemetry ?? {};
  }

  /** Runs this process accepted and has not started or cancelled (the queue-depth gauge). */
  get queuedHere(): number {
    return this.queued.size;
  }

  /** Caller-supplied agent instances this process holds for runs it has not executed. */
  get suppliedHere(): number {
    return this.supplied.size;
  }

  /** Runs executing in this process. */
  get runningHere(): number {
    return this.active.size;
  }

  private now(): number {
    return this.clock.now();
  }

  /**
   * Calls `fn` every `ms` on the coordinator's clock until the handle is cancelled. Re-armed
   * before `fn` runs, as `setInterval` would; the returned promise is `fn`'s, so a manual clock
   * has the work done when its `advance` resolves.
   */
  private every(ms: number, fn: () => Promise<unknown> | undefined): TimerHandle {
    let current: TimerHandle | undefined;
    let cancelled = false;
    const tick = (): Promise<unknown> | undefined => {
      if (cancelled) return undefined;
      current = this.clock.setTimer(tick, ms);
      return fn();
    };
    current = this.clock.setTimer(tick, ms);
    return {
      cancel() {
        cancelled = true;
        current?.cancel();
      },
    };
  }

  agentIds(): string[] {
    return this.agents.ids();
  }

  hasAgent(agentId: string): boolean {
    return this.agents.has(agentId);
  }

  /** Recovers what a crashed process left, restarts queues, and starts the lease sweeper. */
  async start(): Promise<void> {
    await this.sweep(true);
    for (const threadId of await this.store.runs.idleThreadsWithQueue()) this.pump(threadId);
    this.sweeper = this.every(this.sweepMs, () =>
      this.sweep(false).catch((error) => this.logger.warn({ err: error }, "lease sweep failed")),
    );
  }

  async startRun(req: StartRunRequest): Promise<StartRunResult> {
    if (this.closing) throw shuttingDown();
    // A record-only expiry run executes no agent (interrupt-expiry.ts).
    if (!req.agent && !this.hasAgent(req.agentId) && req.trigger?.expiry !== "record") {
      throw new ThreadlineError("AGENT_NOT_FOUND", `unknown agent '${req.agentId}'`, {
        details: { agents: this.agentIds() },
      });
    }
    const trigger = req.trigger ?? { kind: "api" };
    const trace = traceToKeep(req.traceparent);
    // A caller's own id must not take a tick's or a delivery's (see run-ids.ts).
    if (req.runId !== undefined) checkRunId(req.runId, trigger.kind);
    const run: RunRecord = {
      runId: req.runId ?? randomUUID(),
      threadId: req.threadId,
      agentId: req.agentId,
      trigger,
      status: "queued",
      input: req.input ?? {},
      createdAt: this.now(),
      ...(req.startedBy ? { startedBy: req.startedBy } : {}),
      ...(trace ? { trace } : {}),
    };
    checkInput(req.agent ?? this.agents.configured(req.agentId), run.input);
    // A thread waiting for a person: the run must answer it (PROTOCOL.md §3.1.4), checked
    // before anything is stored.
    const head = await this.store.threads.head(req.threadId);
    checkResume(head?.interrupts ?? [], run.input.resume, this.clock.now());
    if (req.agent) {
      // A run id taken by a run still waiting here: refuse before touching its agent.
      if (this.supplied.has(suppliedKey(run))) {
        throw new ThreadlineError("CONFLICT", `run '${run.runId}' already exists on this thread`);
      }
      this.supplied.set(suppliedKey(run), {
        threadId: run.threadId,
        runId: run.runId,
        agent: req.agent,
        enqueued: false,
      });
    }
    // A run id already taken is refused by the store (CONFLICT), atomically with the enqueue.
    let result: Awaited<ReturnType<ThreadStore["runs"]["enqueue"]>>;
    try {
      result = await this.store.runs.enqueue(run, req.multitask ?? "reject");
    } catch (error) {
      if (req.agent) this.supplied.delete(suppliedKey(run));
      throw error;
    }
    const supplied = this.supplied.get(suppliedKey(run));
    if (supplied) supplied.enqueued = true;
    if (result.interrupted) this.active.get(req.threadId)?.abort("interrupt");
    if (result.run.status === "queued") {
      this.queued.set(suppliedKey(run), result.run);
      // Bounded: runs another process started are never seen starting here.
      if (this.queued.size > MAX_TRACKED_QUEUED)
        this.queued.delete(this.queued.keys().next().value!);
      this.telemetry.runQueued?.(result.run);
    }
    this.pump(req.threadId);
    return {
      runId: run.runId,
      threadId: run.threadId,
      status: result.run.status,
      ...(result.interrupted ? { interrupted: result.interrupted } : {}),
    };
  }

  /** Cancels a run; `by` is recorded as who asked (the first asker when several do). */
  async cancelRun(
    threadId: string,
    runId: string,
    opts: { by?: RunActor } = {},
  ): Promise<RunRecord> {
    const run = await this.store.runs.requestCancel(threadId, runId, opts.by);
    if (!run) throw new ThreadlineError("RUN_NOT_FOUND", `unknown run '${runId}' on '${threadId}'`);
    // A run cancelled while queued never executes: drop its supplied agent.
    if (run.status === "cancelled") {
      this.supplied.delete(suppliedKey(run));
      if (this.queued.delete(suppliedKey(run))) {
        this.telemetry.runEnded?.(run, { status: "cancelled", at: run.endedAt ?? this.now() });
      }
    }
    const local = this.active.get(threadId);
    if (local?.runId === runId) {
      local.abort("cancel");
      await local.done;
      return (await this.store.runs.get(threadId, runId)) ?? run;
    }
    return run;
  }

  /**
   * The store lost its data: every local run stops now (nothing of it can be written any more;
   * its followers get their end from the follow, PROTOCOL.md §2.8), cached views go.
   */
  storeLost(): void {
    this.views.clear();
    for (const run of this.active.values()) run.abort("lease");
  }

  /** Drops what this process keeps of a thread (its cached view): the thread was deleted. */
  forgetThread(threadId: string): void {
    this.views.delete(threadId);
    for (const [key, s] of this.supplied) if (s.threadId === threadId) this.supplied.delete(key);
    for (const [key, run] of this.queued) if (run.threadId === threadId) this.queued.delete(key);
  }

  /** The run currently executing in this process for a thread, if any. */
  localRun(threadId: string): { runId: string } | undefined {
    const a = this.active.get(threadId);
    return a ? { runId: a.runId } : undefined;
  }

  /** Resolves when the thread has no local run executing or queued for this process. */
  async idle(threadId: string): Promise<void> {
    for (;;) {
      const p = this.pumping.get(threadId);
      if (!p) return;
      await p;
    }
  }

  /** Claims and executes the thread's queued runs one after another. */
  pump(threadId: string): void {
    if (this.closing) return;
    if (this.pumping.has(threadId)) {
      // The running pump may be past its last claim already (an async store answers later):
      // tell it to look again, or a run enqueued now would wait for the next restart.
      this.pumpAgain.add(threadId);
      return;
    }
    const p = (async () => {
      try {
        for (;;) {
          if (this.closing) return;
          this.pumpAgain.delete(threadId);
          const claimed = await this.store.runs.claimNext(threadId, {
            owner: this.instanceId,
            leaseMs: this.leaseMs,
            now: this.now(),
          });
          if (!claimed) {
            if (this.pumpAgain.has(threadId)) continue;
            return;
          }
          await this.execute(claimed.run, claimed.fence);
        }
      } catch (error) {
        this.logger.error({ err: error, threadId }, "run queue failed");
      } finally {
        this.pumping.delete(threadId);
        this.pumpAgain.delete(threadId);
      }
    })();
    this.pumping.set(threadId, p);
  }

  /** A supplied instance for the run, taken out of the map (this process executes it now). */
  private takeSupplied(run: RunRecord): AbstractAgent | undefined {
    const supplied = this.supplied.get(suppliedKey(run));
    this.supplied.delete(suppliedKey(run));
    return supplied?.agent;
  }

  /**
   * Drops the supplied instances of runs this process will never execute: the run ended (a
   * cancel while queued, from any process), it is gone (its thread deleted), or another process
   * holds it (it claimed the run, or took it over). A run this process claimed is out of the map
   * already (`execute` takes its agent before its first await).
   */
  private async releaseSupplied(): Promise<void> {
    for (const [key, { threadId, runId, enqueued }] of [...this.supplied]) {
      if (!enqueued) continue;
      try {
        const run = await this.store.runs.get(threadId, runId);
        if (run?.status === "queued") continue;
        if (run?.status === "running" && run.lease?.owner === this.instanceId) continue;
        this.supplied.delete(key);
      } catch (error) {
        this.logger.debug(
          { err: error, threadId, runId },
          "could not check a supplied agent's run",
        );
      }
    }
  }

  private resolveAgent(run: RunRecord, supplied: AbstractAgent | undefined): AbstractAgent {
    if (supplied) return supplied;
    return this.agents.instance(run.agentId);
  }

  private async execute(run: RunRecord, fence: { runId: string; token: number }): Promise<void> {
    const { threadId, runId } = run;
    // Before any await: a release running meanwhile must find the instance taken, not drop it.
    const supplied = this.takeSupplied(run);
    this.queued.delete(suppliedKey(run));
    this.telemetry.runStarted?.(run, run.startedAt ?? this.now());
    // The stored trace context: the request may have reached another instance.
    const span = this.tracing?.startRun(run, run.trace);
    const { view, createdAt, horizon } = await this.loadView(threadId);
    this.views.delete(threadId);
    let fatal: unknown;
    let stopAgent: (() => void) | undefined;
    const writer = new RunWriter({
      store: this.store,
      threadId,
      fence,
      view,
      ...(span ? { span } : {}),
      onFatal: (error) => {
        fatal = error;
        this.logger.warn({ err: error, threadId, runId }, "append failed; stopping run");
        stopAgent?.();
      },
      // The writer closed the run already (RUN_ERROR AGENT_ERROR): only the agent must stop.
      onAgentFault: () => abort("fault"),
    });

    // What the thread waited on before this run's RUN_STARTED answers it.
    const pendingBefore = view.interrupts;
    const started = startedInput(run, view);
    // RUN_STARTED (carrying only the new messages) folds them into the view; the agent then
    // gets the whole history from it.
    writer.start(started, run.trigger, run.agentId);
    const input: RunAgentInput = {
      ...started,
      messages: await agentHistory(
        { messages: view.agentMessages(), state: started.state, run },
        this.history[run.agentId],
      ),
    };

    let outcome: { kind: StopKind; reason: string } | undefined;
    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => {
      resolveStopped = r;
    });
    let agent: AbstractAgent | undefined;
    const abort = (kind: StopKind) => {
      if (outcome) return;
      outcome = {
        kind,
        reason:
          kind === "cancel"
            ? "cancelled"
            : kind === "interrupt"
              ? "interrupted by a newer run"
              : kind === "fault"
                ? "the agent emitted an event that cannot be stored"
                : "lease lost",
      };
      try {
        agent?.abortRun();
      } catch (error) {
        this.logger.debug({ err: error }, "abortRun threw");
      }
      void agent?.detachActiveRun().catch(() => undefined);
      resolveStopped();
    };
    stopAgent = () => abort("lease");

    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    const entry: ActiveRun = { threadId, runId, writer, abort, done };
    this.active.set(threadId, entry);
    const renewNow = () =>
      this.store.runs
        .renew(threadId, fence, { leaseMs: this.leaseMs, now: this.now() })
        .then((r) => {
          if (!r.ok) abort("lease");
          else if (r.cancelRequested) abort("cancel");
        })
        .catch((error) => {
          if (endsForGood(error)) abort("lease");
          else this.logger.warn({ err: error, runId }, "lease renewal failed");
        });
    const renew = this.every(Math.max(100, Math.floor(this.leaseMs / 3)), renewNow);
    // A cancel or interrupt that reached the store between the claim and now found no local run
    // to stop (likely with a networked store): look once now rather than a third of a lease
    // later. A read, not a renewal: the lease was just granted, and a write costs a commit.
    this.store.runs
      .get(threadId, runId)
      .then((r) => {
        if (r?.cancelRequested) abort("cancel");
      })
      .catch((error) => this.logger.warn({ err: error, runId }, "run check failed"));

    try {
      let agentError: unknown;
      const agentSpan = span?.child("threadline.agent.run", { "threadline.agent_id": run.agentId });
      try {
        agent = recordsOnly(run, pendingBefore)
          ? new RecordingAgent()
          : this.resolveAgent(run, supplied);
        if (agentSpan) propagateTrace(agent, agentSpan.headers());
        let first = true;
        const running = runAgentWithHistory(agent, input, (event) => {
          if (first) {
            first = false;
            this.telemetry.runFirstEvent?.(run, this.now());
          }
          return writer.write(event);
        });
        await Promise.race([running, stopped]);
        // Swallow a late rejection of an agent we stopped.
        running.catch(() => undefined);
      } catch (error) {
        agentError = error;
      }
      agentSpan?.end(agentError === undefined ? {} : { error: errorText(agentError) });
      if (outcome?.kind === "lease" || outcome?.kind === "fault" || fatal) {
        // Lease lost: whoever holds the thread now closes the run. A failed append: below. An
        // agent's fault: the writer closed the run.
      } else if (outcome) {
        writer.cancel(outcome.reason);
      } else if (agentError) {
        const message = agentError instanceof Error ? agentError.message : String(agentError);
        this.logger.warn({ err: agentError, threadId, runId }, "agent failed");
        writer.fail(message);
      } else {
        // A no-op when the agent ended its run itself; else INCOMPLETE_STREAM (not a success).
        writer.endOfStream();
      }
      await writer.flushed();
      if (writer.turns.longestMs > SLOW_TURN_MS) {
        this.logger.warn(
          {
            threadId,
            runId,
            agentId: run.agentId,
            longestTurnMs: Math.round(writer.turns.longestMs),
          },
          "the run's events kept the event loop busy; the agent should yield (await) between events",
        );
      }
      // The store failed under the run (a dropped connection, a restarted server): we still
      // hold its lease, so we close it ourselves once the store answers again, rather than
      // leave its followers hanging until the lease expires.
      if (fatal !== undefined && !endsForGood(fatal)) {
        await this.closeAfterStoreFailure(run, fence, fatal);
      }
      const end = this.reportEnd(run, writer, fatal !== undefined);
      span?.end({
        status: end.status,
        ...(end.status === "failed" || end.status === "interrupted"
          ? { error: end.errorCode ?? end.status }
          : {}),
      });
      if (!fatal && writer.lastSeq !== undefined) {
        this.views.set(threadId, { view, lastSeq: writer.lastSeq, createdAt, horizon });
        if (this.views.size > VIEW_CACHE_SIZE) this.views.delete(this.views.keys().next().value!);
      }
    } finally {
      renew.cancel();
      this.active.delete(threadId);
      resolveDone();
    }
  }

  /** Tells observers how an executed run ended (a failed store: interrupted). */
  private reportEnd(run: RunRecord, writer: RunWriter, storeFailed: boolean): RunEnd {
    const terminal = writer.tracker.terminal;
    const status = storeFailed || !terminal ? "interrupted" : statusOfTerminal(terminal);
    const code = storeFailed || !terminal ? RUN_ERROR_INTERRUPTED : errorOfTerminal(terminal)?.code;
    const end: RunEnd = {
      status,
      ...(code !== undefined && status !== "succeeded" && status !== "cancelled"
        ? { errorCode: code }
        : {}),
      events: writer.eventsWritten,
      at: this.now(),
    };
    this.telemetry.runEnded?.(run, end);
    return end;
  }

  /**
   * Closes a run whose append failed (see `closeTakenRun`: from the log as stored, RUN_STARTED
   * included if it never committed), retrying with backoff while the store is unreachable. Gives
   * up when the run was taken over or ended meanwhile, or when this process shuts down: then
   * whoever holds the thread next closes it (lease expiry, or start-up recovery).
   */
  private async closeAfterStoreFailure(
    run: RunRecord,
    fence: Fence,
    cause: unknown,
  ): Promise<void> {
    const { threadId, runId } = run;
    const message = `the store failed while the run was writing: ${errorText(cause)}`;
    for (let delay = 100; !this.closing; delay = Math.min(delay * 2, 5_000)) {
      try {
        await closeTakenRun(this.store, { run, fence }, this.now(), interruptedEnd(message));
        this.logger.info({ threadId, runId }, "closed a run after a store failure");
        return;
      } catch (error) {
        if (endsForGood(error)) return;
        this.logger.warn({ err: error, threadId, runId }, "could not close the run yet; retrying");
        await this.sleep(delay);
      }
    }
  }

  /** Waits `ms`, or less when the coordinator starts closing. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeOnClose.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeOnClose.add(done);
    });
  }

  /**
   * The thread's view: the cached one if no one appended since (nor deleted the thread and made
   * it again), else loaded from the store.
   */
  private async loadView(
    threadId: string,
  ): Promise<{ view: ViewBuilder; createdAt: number; horizon: number }> {
    const cached = this.views.get(threadId);
    if (cached) {
      const head = await this.store.threads.head(threadId);
      if (
        head?.lastSeq === cached.lastSeq &&
        head.createdAt === cached.createdAt &&
        head.horizon === cached.horizon
      ) {
        return cached;
      }
    }
    const thread = await this.store.threads.get(threadId);
    const view = new ViewBuilder(thread?.messages ?? [], thread?.state ?? {}, {
      owned: true,
      interrupts: thread?.interrupts ?? [],
    });
    return { view, createdAt: thread?.createdAt ?? 0, horizon: thread?.horizon ?? 0 };
  }

  /**
   * Closes runs whose holder is gone (see recovery.ts) and restarts their threads' queues; then
   * starts queues nobody is running (their enqueuer died before it could start them, say).
   */
  private async sweep(startup: boolean): Promise<void> {
    await this.closeStaleRuns(startup);
    await this.releaseSupplied();
    if (startup || this.closing) return; // start() pumps every queue right after
    for (const threadId of await this.store.runs.idleThreadsWithQueue()) this.pump(threadId);
  }

  private async closeStaleRuns(startup: boolean): Promise<void> {
    for (const stale of await findStaleRuns(this.store, this.instanceId, this.now(), startup)) {
      const { threadId, runId } = stale.run;
      if (this.active.get(threadId)?.runId === runId) continue;
      try {
        if (await interruptRun(this.store, stale, this.instanceId, this.leaseMs, this.now())) {
          this.logger.info({ threadId, runId }, "closed an interrupted run");
          this.telemetry.runEnded?.(stale.run, {
            status: "interrupted",
            errorCode: RUN_ERROR_INTERRUPTED,
            at: this.now(),
          });
          this.pump(threadId);
        }
      } catch (error) {
        this.logger.warn({ err: error, runId }, "could not close a stale run");
      }
    }
  }

  /**
   * Stops taking work; lets local runs finish for up to `graceMs`, then closes the rest as
   * INTERRUPTED so their followers are not left hanging.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    this.sweeper?.cancel();
    for (const wake of [...this.wakeOnClose]) wake();
    const runs = [...this.active.values()];
    const all = Promise.all(runs.map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const r of this.active.values()) {
        r.writer.fail("the server shut down before the run finished", RUN_ERROR_INTERRUPTED);
        r.abort("lease");
      }
      await Promise.all(runs.map((r) => r.writer.flushed()));
    }
    await Promise.all([...this.pumping.values()]);
    this.supplied.clear();
    this.liveness.release();
  }
}

/** What a run request gets once shutdown began: 503, try another instance or later. */
export const shuttingDown = (): ThreadlineError =>
  new ThreadlineError("UNAVAILABLE", "the server is shutting down");

/**
 * Carries the run's trace into an agent that makes HTTP requests (`HttpAgent`: its `headers`),
 * so the backend's spans join the run's trace. The agent is this run's own clone.
 */
function propagateTrace(agent: AbstractAgent, headers: Record<string, string>): void {
  const http = agent as { headers?: unknown };
  if (Object.keys(headers).length === 0 || !http.headers || typeof http.headers !== "object")
    return;
  http.headers = { ...(http.headers as Record<string, string>), ...headers };
}

function checkInput(agent: AgentSource | undefined, input: RunInput): void {
  const check = (agent as Partial<RunInputCheck> | undefined)?.checkRunInput;
  if (typeof agent === "function" || typeof check !== "function") return;
  try {
    check.call(agent, input);
  } catch (error) {
    if (ThreadlineError.is(error)) throw error;
    throw new ThreadlineError("VALIDATION_FAILED", errorText(error), { cause: error });
  }
}

/** Errors after which a run's writer must not try again: its lease is gone, or its data is. */
function endsForGood(error: unknown): boolean {
  return ThreadlineError.is(error, "LEASE_LOST") || ThreadlineError.is(error, "DATA_LOST");
}

const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

const suppliedKey = (run: { threadId: string; runId: string }) =>
  `${run.threadId}\u0000${run.runId}`;

export type { Message };
