import { randomUUID } from "node:crypto";
import type { Message } from "@ag-ui/core";
import { RUN_ERROR_INTERRUPTED } from "../protocol.js";
import { AgentDirectory, type AgentSource } from "./agent-directory.js";
import { ThreadlineError } from "./errors.js";
import type { AgentHistory } from "./history-window.js";
import { holdInstance, newInstanceId } from "./instance.js";
import type { Logger } from "./logger.js";
import { silentLogger } from "./logger.js";
import { QueuePump } from "./queue-pump.js";
import { findStaleRuns, interruptRun } from "./recovery.js";
import { checkResume } from "./resume-check.js";
import { RunExecutor } from "./run-executor.js";
import { checkRunId } from "./run-ids.js";
import {
  checkInput,
  type StartRunRequest,
  type StartRunResult,
  shuttingDown,
} from "./run-request.js";
import { every, type SchedulerClock, systemClock, type TimerHandle } from "./scheduler/clock.js";
import type { ThreadStore } from "./store.js";
import { runKey, SuppliedAgents } from "./supplied-agents.js";
import type { Telemetry } from "./telemetry.js";
import { type RunTracing, traceToKeep } from "./tracing.js";
import type { RunActor, RunRecord } from "./types.js";
import { ViewCache } from "./view-cache.js";

/** Runs accepted here and not yet started that the queue-depth gauge keeps track of. */
const MAX_TRACKED_QUEUED = 10_000;

export type { AgentSource } from "./agent-directory.js";
export type { RunInputCheck, StartRunRequest, StartRunResult } from "./run-request.js";
export { shuttingDown } from "./run-request.js";

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

/**
 * The run coordinator: at most one active run per thread, multitask strategies, execution of
 * `@ag-ui/client` agents into the thread's log, leases and recovery of runs a dead process left.
 * It composes the parts that do it — `RunExecutor` (execution, its lease and its stop),
 * `QueuePump` (a thread's queue, one run after another), `SuppliedAgents` (callers' instances
 * until their runs execute), `ViewCache` (views between runs) — and decides what a run request
 * is: accepted (checked, enqueued), refused, or cancelled; and the lease sweep.
 */
export class Coordinator {
  readonly instanceId: string;
  readonly store: ThreadStore;
  /** The agents runs may name. */
  readonly agents: AgentDirectory;
  readonly leaseMs: number;
  /** The clock of leases and sweeps (see `CoordinatorOptions.clock`). */
  readonly clock: SchedulerClock;
  private readonly logger: Logger;
  private readonly sweepMs: number;
  private readonly views: ViewCache;
  private readonly supplied = new SuppliedAgents();
  private readonly executor: RunExecutor;
  private readonly queue: QueuePump;
  private sweeper: TimerHandle | undefined;
  private closing = false;
  private readonly liveness: { release(): void };
  private readonly telemetry: Telemetry;
  /** Runs this process accepted that it has not started (bounded; see `queuedHere`). */
  private readonly queued = new Map<string, RunRecord>();

  constructor(opts: CoordinatorOptions) {
    this.store = opts.store;
    this.agents =
      opts.agents instanceof AgentDirectory ? opts.agents : new AgentDirectory(opts.agents);
    this.logger = opts.logger ?? silentLogger;
    this.instanceId = opts.instanceId ?? newInstanceId();
    this.liveness = holdInstance(this.instanceId);
    this.leaseMs = opts.leaseMs ?? 15_000;
    this.sweepMs = opts.sweepMs ?? Math.max(250, Math.floor(this.leaseMs / 2));
    this.clock = opts.clock ?? systemClock;
    this.telemetry = opts.telemetry ?? {};
    this.views = new ViewCache(this.store);
    this.executor = new RunExecutor({
      store: this.store,
      agents: this.agents,
      history: opts.history ?? {},
      logger: this.logger,
      instanceId: this.instanceId,
      leaseMs: this.leaseMs,
      clock: this.clock,
      telemetry: this.telemetry,
      views: this.views,
      supplied: this.supplied,
      onStart: (run) => this.queued.delete(runKey(run)),
    });
    this.queue = new QueuePump(this.executor, this.logger);
  }

  /** Spans of runs (OpenTelemetry, when installed; see `createThreadline`). */
  get tracing(): RunTracing | undefined {
    return this.executor.tracing;
  }

  set tracing(tracing: RunTracing | undefined) {
    this.executor.tracing = tracing;
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
    return this.executor.running;
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
    this.sweeper = every(this.clock, this.sweepMs, () =>
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
      createdAt: this.clock.now(),
      ...(req.startedBy ? { startedBy: req.startedBy } : {}),
      ...(trace ? { trace } : {}),
    };
    checkInput(req.agent ?? this.agents.configured(req.agentId), run.input);
    // A thread waiting for a person: the run must answer it (PROTOCOL.md §3.1.4), checked
    // before anything is stored, against interrupts the store confirms atomically with the
    // enqueue (two answers racing cannot both be accepted). A run that answers none is checked
    // against none: no head read first.
    const answersNone = (run.input.resume ?? []).length === 0;
    let checked: readonly string[] = answersNone ? [] : await this.checkResume(run);
    if (req.agent) this.supplied.hold(run, req.agent);
    // A run id already taken is refused by the store (CONFLICT), atomically with the enqueue.
    let result: Awaited<ReturnType<ThreadStore["runs"]["enqueue"]>> | undefined;
    const strategy = req.multitask ?? "reject";
    try {
      for (let attempt = 1; !result; attempt++) {
        try {
          result = await this.store.runs.enqueue(run, strategy, { interrupts: checked });
        } catch (error) {
          if (!ThreadlineError.is(error, "INTERRUPTS_PENDING") || attempt >= 3) throw error;
          // The thread's interrupts are others now: the check again, against them, gives the
          // refusal that names them (or passes, and the enqueue goes again).
          checked = await this.checkResume(run);
        }
      }
    } catch (error) {
      if (req.agent) this.supplied.drop(run);
      throw error;
    }
    this.supplied.enqueued(run);
    if (result.interrupted) this.executor.stop(req.threadId, "interrupt");
    if (result.run.status === "queued") {
      this.queued.set(runKey(run), result.run);
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
      this.supplied.drop(run);
      if (this.queued.delete(runKey(run))) {
        this.telemetry.runEnded?.(run, {
          status: "cancelled",
          at: run.endedAt ?? this.clock.now(),
        });
      }
    }
    if (await this.executor.stopAndWait(threadId, runId, "cancel")) {
      return (await this.store.runs.get(threadId, runId)) ?? run;
    }
    return run;
  }

  /**
   * `checkResume` (resume-check.ts) against the thread's pending interrupts, read now; their
   * ids, for the store to confirm at the enqueue.
   */
  private async checkResume(run: RunRecord): Promise<string[]> {
    const pending = (await this.store.threads.head(run.threadId))?.interrupts ?? [];
    checkResume(pending, run.input.resume, this.clock.now());
    return pending.map((i) => i.id);
  }

  /**
   * The store lost its data: every local run stops now (nothing of it can be written any more;
   * its followers get their end from the follow, PROTOCOL.md §2.8), cached views go.
   */
  storeLost(): void {
    this.views.clear();
    this.executor.stopAll("lease");
  }

  /** Drops what this process keeps of a thread (its cached view): the thread was deleted. */
  forgetThread(threadId: string): void {
    this.views.forget(threadId);
    this.supplied.forgetThread(threadId);
    for (const [key, run] of this.queued) if (run.threadId === threadId) this.queued.delete(key);
  }

  /** The run currently executing in this process for a thread, if any. */
  localRun(threadId: string): { runId: string } | undefined {
    return this.executor.localRun(threadId);
  }

  /** Resolves when the thread has no local run executing or queued for this process. */
  idle(threadId: string): Promise<void> {
    return this.queue.idle(threadId);
  }

  /** Claims and executes the thread's queued runs one after another. */
  pump(threadId: string): void {
    if (this.closing) return;
    this.queue.pump(threadId);
  }

  /**
   * Closes runs whose holder is gone (see recovery.ts) and restarts their threads' queues; then
   * starts queues nobody is running (their enqueuer died before it could start them, say).
   */
  private async sweep(startup: boolean): Promise<void> {
    await this.closeStaleRuns(startup);
    await this.supplied.release(this.store, this.instanceId, this.logger);
    if (startup || this.closing) return; // start() pumps every queue right after
    for (const threadId of await this.store.runs.idleThreadsWithQueue()) this.pump(threadId);
  }

  private async closeStaleRuns(startup: boolean): Promise<void> {
    const now = () => this.clock.now();
    for (const stale of await findStaleRuns(this.store, this.instanceId, now(), startup)) {
      const { threadId, runId } = stale.run;
      if (this.localRun(threadId)?.runId === runId) continue;
      try {
        if (await interruptRun(this.store, stale, this.instanceId, this.leaseMs, now())) {
          this.logger.info({ threadId, runId }, "closed an interrupted run");
          this.telemetry.runEnded?.(stale.run, {
            status: "interrupted",
            errorCode: RUN_ERROR_INTERRUPTED,
            at: now(),
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
    // No claim after this; a pump finishes the run it executes.
    const pumps = this.queue.close();
    await this.executor.close(graceMs);
    await pumps;
    this.supplied.clear();
    this.liveness.release();
  }
}

export type { Message };
