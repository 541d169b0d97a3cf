import type { AbstractAgent } from "@ag-ui/client";
import type { RunAgentInput } from "@ag-ui/core";
import { RUN_ERROR_INTERRUPTED } from "../protocol.js";
import type { AgentDirectory } from "./agent-directory.js";
import { runAgentWithHistory } from "./agent-exec.js";
import { errorText } from "./errors.js";
import { type AgentHistory, agentHistory } from "./history-window.js";
import { recordsOnly } from "./interrupt-expiry.js";
import { interruptsOf } from "./interrupts.js";
import { endsForGood, keepLease } from "./lease-keeper.js";
import type { Logger } from "./logger.js";
import { RecordingAgent } from "./recording-agent.js";
import { closeTakenRun, interruptedEnd } from "./recovery.js";
import { startedInput } from "./run-start.js";
import { RunStop, type StopKind } from "./run-stop.js";
import { RunWriter } from "./run-writer.js";
import type { SchedulerClock } from "./scheduler/clock.js";
import { type ClaimedRun, errorOfTerminal, statusOfTerminal, type ThreadStore } from "./store.js";
import type { SuppliedAgents } from "./supplied-agents.js";
import type { RunEnd, Telemetry } from "./telemetry.js";
import type { RunTracing } from "./tracing.js";
import type { Fence, RunRecord } from "./types.js";
import type { ViewCache } from "./view-cache.js";

/** A turn of the event loop a run's events held longer than this is worth a warning. */
const SLOW_TURN_MS = 200;

export interface RunExecutorOptions {
  store: ThreadStore;
  agents: AgentDirectory;
  /** What each agent sees of its thread (by agent id; default the whole view). */
  history: Record<string, AgentHistory>;
  logger: Logger;
  instanceId: string;
  leaseMs: number;
  clock: SchedulerClock;
  telemetry: Telemetry;
  views: ViewCache;
  supplied: SuppliedAgents;
  /** A claimed run starts executing here (it is no longer queued here). */
  onStart(run: RunRecord): void;
}

interface ActiveRun {
  runId: string;
  writer: RunWriter;
  stop: RunStop;
  done: Promise<void>;
}

/**
 * Run execution: claims a thread's next run under a lease, executes its agent into the thread's
 * log through a `RunWriter`, keeps the lease while it runs (`keepLease`) and stops the agent when
 * the run is cancelled, interrupted, or its lease or its store is lost (`RunStop`); reports how
 * each run ended. At most one run per thread executes here at a time (the queue pump's job).
 */
export class RunExecutor {
  /** Spans of runs (OpenTelemetry, when installed; see `createThreadline`). */
  tracing: RunTracing | undefined;
  private readonly active = new Map<string, ActiveRun>();
  private closing = false;
  /** Sleeps to cut short when closing (see `sleep`). */
  private readonly wakeOnClose = new Set<() => void>();

  constructor(private readonly opts: RunExecutorOptions) {}

  /** Runs executing in this process. */
  get running(): number {
    return this.active.size;
  }

  /** The run currently executing in this process for a thread, if any. */
  localRun(threadId: string): { runId: string } | undefined {
    const a = this.active.get(threadId);
    return a ? { runId: a.runId } : undefined;
  }

  /** Claims the thread's next queued run under a lease of this process. */
  claim(threadId: string): Promise<ClaimedRun | null> {
    const { store, instanceId, leaseMs, clock } = this.opts;
    return store.runs.claimNext(threadId, { owner: instanceId, leaseMs, now: clock.now() });
  }

  /** Stops the thread's local run, if any (a newer run interrupted it). */
  stop(threadId: string, kind: StopKind): void {
    this.active.get(threadId)?.stop.stop(kind);
  }

  /** Stops the local run `runId` and waits for its end; false when it does not execute here. */
  async stopAndWait(threadId: string, runId: string, kind: StopKind): Promise<boolean> {
    const local = this.active.get(threadId);
    if (local?.runId !== runId) return false;
    local.stop.stop(kind);
    await local.done;
    return true;
  }

  /** Every local run stops now (the store lost its data: nothing of it can be written any more). */
  stopAll(kind: StopKind): void {
    for (const run of this.active.values()) run.stop.stop(kind);
  }

  async execute({ run, fence }: ClaimedRun): Promise<void> {
    const { store, logger, telemetry, clock } = this.opts;
    const { threadId, runId } = run;
    // Before any await: a release running meanwhile must find the instance taken, not drop it.
    const supplied = this.opts.supplied.take(run);
    this.opts.onStart(run);
    telemetry.runStarted?.(run, run.startedAt ?? clock.now());
    // The stored trace context: the request may have reached another instance.
    const span = this.tracing?.startRun(run, run.trace);
    const loaded = await this.opts.views.take(threadId);
    const { view } = loaded;
    let fatal: unknown;
    const stop = new RunStop(logger);
    const writer = new RunWriter({
      store,
      threadId,
      fence,
      view,
      ...(span ? { span } : {}),
      onFatal: (error) => {
        fatal = error;
        logger.warn({ err: error, threadId, runId }, "append failed; stopping run");
        stop.stop("lease");
      },
      // The writer closed the run already (RUN_ERROR AGENT_ERROR): only the agent must stop.
      onAgentFault: () => stop.stop("fault"),
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
        this.opts.history[run.agentId],
      ),
    };

    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    this.active.set(threadId, { runId, writer, stop, done });
    const lease = keepLease({
      store,
      threadId,
      runId,
      fence,
      leaseMs: this.opts.leaseMs,
      clock,
      logger,
      onLost: () => stop.stop("lease"),
      onCancel: () => stop.stop("cancel"),
    });

    try {
      let agentError: unknown;
      const agentSpan = span?.child("threadline.agent.run", { "threadline.agent_id": run.agentId });
      try {
        const agent = recordsOnly(run, pendingBefore)
          ? new RecordingAgent()
          : (supplied ?? this.opts.agents.instance(run.agentId));
        stop.attach(agent);
        if (agentSpan) propagateTrace(agent, agentSpan.headers());
        let first = true;
        const running = runAgentWithHistory(agent, input, (event) => {
          if (first) {
            first = false;
            telemetry.runFirstEvent?.(run, clock.now());
          }
          return writer.write(event);
        });
        await Promise.race([running, stop.stopped]);
        // Swallow a late rejection of an agent we stopped.
        running.catch(() => undefined);
      } catch (error) {
        agentError = error;
      }
      agentSpan?.end(agentError === undefined ? {} : { error: errorText(agentError) });
      const outcome = stop.outcome;
      if (outcome?.kind === "lease" || outcome?.kind === "fault" || fatal) {
        // Lease lost: whoever holds the thread now closes the run. A failed append: below. An
        // agent's fault: the writer closed the run.
      } else if (outcome) {
        writer.cancel(outcome.reason);
      } else if (agentError) {
        logger.warn({ err: agentError, threadId, runId }, "agent failed");
        writer.fail(errorText(agentError));
      } else {
        // A no-op when the agent ended its run itself; else INCOMPLETE_STREAM (not a success).
        writer.endOfStream();
      }
      await writer.flushed();
      if (writer.turns.longestMs > SLOW_TURN_MS) {
        logger.warn(
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
        this.opts.views.keep(threadId, loaded, writer.lastSeq);
      }
    } finally {
      lease.cancel();
      this.active.delete(threadId);
      resolveDone();
    }
  }

  /**
   * Stops executing: lets local runs finish for up to `graceMs`, then closes the rest as
   * INTERRUPTED so their followers are not left hanging.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    for (const wake of [...this.wakeOnClose]) wake();
    const runs = [...this.active.values()];
    const all = Promise.all(runs.map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => {
        // Wall time, not the clock: a shutdown is bounded in real time (a frozen manual
        // clock must not hold a process's exit), as the process's own exit is.
        timer = setTimeout(() => r(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const r of this.active.values()) {
        r.writer.fail("the server shut down before the run finished", RUN_ERROR_INTERRUPTED);
        r.stop.stop("lease");
      }
      await Promise.all(runs.map((r) => r.writer.flushed()));
    }
  }

  /** Tells observers how an executed run ended (a failed store: interrupted). */
  private reportEnd(run: RunRecord, writer: RunWriter, storeFailed: boolean): RunEnd {
    const terminal = writer.tracker.terminal;
    const status = storeFailed || !terminal ? "interrupted" : statusOfTerminal(terminal);
    const code = storeFailed || !terminal ? RUN_ERROR_INTERRUPTED : errorOfTerminal(terminal)?.code;
    // What the run asked, as the view took it (the same rule): observers need no read for it.
    const asked = storeFailed || !terminal ? undefined : interruptsOf(terminal);
    const end: RunEnd = {
      status,
      ...(code !== undefined && status !== "succeeded" && status !== "cancelled"
        ? { errorCode: code }
        : {}),
      ...(asked?.length ? { interrupts: asked } : {}),
      events: writer.eventsWritten,
      at: this.opts.clock.now(),
    };
    this.opts.telemetry.runEnded?.(run, end);
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
    const { store, logger, clock } = this.opts;
    const { threadId, runId } = run;
    const message = `the store failed while the run was writing: ${errorText(cause)}`;
    for (let delay = 100; !this.closing; delay = Math.min(delay * 2, 5_000)) {
      try {
        await closeTakenRun(store, { run, fence }, clock.now(), interruptedEnd(message));
        logger.info({ threadId, runId }, "closed a run after a store failure");
        return;
      } catch (error) {
        if (endsForGood(error)) return;
        logger.warn({ err: error, threadId, runId }, "could not close the run yet; retrying");
        await this.sleep(delay);
      }
    }
  }

  /** Waits `ms` on the clock, or less when the executor starts closing. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        timer.cancel();
        this.wakeOnClose.delete(done);
        resolve();
      };
      const timer = this.opts.clock.setTimer(done, ms);
      this.wakeOnClose.add(done);
    });
  }
}

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
