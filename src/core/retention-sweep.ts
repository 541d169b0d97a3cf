import type { CompactionResult, CompactionStep } from "./compaction.js";
import { type Logger, silentLogger } from "./logger.js";
import {
  type EffectivePolicy,
  effectivePolicy,
  hasLimits,
  idleThreadExpired,
  keptRunsBoundary,
  nextCompactionStep,
  nthNewestStartSeq,
  RECLAIM_AFTER_ROWS,
  type RetentionPolicy,
  reclaimDue,
} from "./retention.js";
import { isTerminalEvent } from "./run-tracker.js";
import { type SchedulerClock, systemClock, type TimerHandle } from "./scheduler/clock.js";
import type { ThreadStore } from "./store.js";
import type { RunRecord, ThreadSummary } from "./types.js";

export interface RetentionSweepOptions {
  store: ThreadStore;
  /** The server's default policy (each thread and schedule may override it). */
  defaults?: RetentionPolicy;
  /** Owner of the sweep's lease (the instance id). */
  instanceId: string;
  /** Deletes an idle thread the way the API does (its followers end with the deleted marker). */
  deleteThread(threadId: string): Promise<unknown>;
  /** The scheduler's clock: tests drive the sweep with a `ManualClock`. */
  clock?: SchedulerClock;
  logger?: Logger;
  /** How often a sweep runs. Default 60 s; 0 never (call `sweep()` yourself). */
  intervalMs?: number;
  /** Events read (and so at most removed) per compaction step. Default 1,000. */
  batchEvents?: number;
  /** Steps per thread per sweep, so one huge thread does not hold a sweep. Default 100. */
  maxStepsPerThread?: number;
  /**
   * Rows removed (events, runs, messages; over one or more sweeps) after which the sweep asks
   * the store to reclaim their space (`ThreadLog.reclaim`: PostgreSQL's plain VACUUM), so the
   * disk stays flat whatever autovacuum's settings. Default `RECLAIM_AFTER_ROWS`; 0 never (leave it to
   * autovacuum). Stores that reuse freed space by themselves are never asked.
   */
  reclaimAfterRows?: number;
}

/** What one sweep did. */
export interface SweepReport {
  /** False when another instance held the sweep's lease (it sweeps instead). */
  swept: boolean;
  threads: number;
  compacted: number;
  deleted: number;
  events: number;
  runs: number;
  messages: number;
  /** True when the sweep asked the store to reclaim the space of removed rows. */
  reclaimed: boolean;
}

/** The sweep's lease in the store's records: one instance sweeps a shared store at a time. */
export const SWEEP_LEASE_KEY = "lease:retention-sweep";
const THREAD_PAGE = 100;
const RUN_PAGE = 500;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Applies retention policies (`retention.ts`) in the background: every `intervalMs` the instance
 * that holds the sweep's lease (`RecordStore.lease`, renewed as it goes) walks the threads, page by
 * page, deletes the idle ones and compacts the others in bounded steps (`batchEvents` events per
 * store call, one short transaction each), yielding to the event loop between steps so appends
 * and followers never wait for it. Timers come from the scheduler's clock.
 */
export class RetentionSweeper {
  readonly clock: SchedulerClock;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly batchEvents: number;
  private readonly maxSteps: number;
  private readonly reclaimAfterRows: number;
  /** Rows removed since the store last reclaimed their space (this instance's count). */
  private unreclaimed = 0;
  private timer: TimerHandle | undefined;
  private running = false;
  private current: Promise<SweepReport> | undefined;

  constructor(private readonly opts: RetentionSweepOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.batchEvents = Math.max(2, opts.batchEvents ?? 1_000);
    this.maxSteps = Math.max(1, opts.maxStepsPerThread ?? 100);
    this.reclaimAfterRows = Math.max(0, opts.reclaimAfterRows ?? RECLAIM_AFTER_ROWS);
  }

  start(): void {
    if (this.running || this.intervalMs <= 0) return;
    this.running = true;
    this.arm();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    await this.current?.catch(() => undefined);
  }

  /** One sweep now (or the one in progress). */
  sweep(): Promise<SweepReport> {
    this.current ??= this.sweepOnce().finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  private arm(): void {
    if (!this.running) return;
    this.timer = this.clock.setTimer(
      () =>
        this.sweep()
          .then((report) => {
            if (report.compacted > 0 || report.deleted > 0) {
              this.logger.info(report, "retention sweep");
            }
          })
          .catch((error) => this.logger.warn({ err: error }, "retention sweep failed"))
          .finally(() => this.arm()),
      this.intervalMs,
    );
  }

  /** Takes or renews the sweep's lease; false when another instance holds it. */
  private lease(): Promise<boolean> {
    // Longer than a sweep's interval, so a crashed holder is replaced within two intervals.
    const leaseMs = Math.max(2 * this.intervalMs, 30_000);
    return this.opts.store.records.lease(SWEEP_LEASE_KEY, {
      owner: this.opts.instanceId,
      leaseMs,
      now: this.clock.now(),
    });
  }

  private async sweepOnce(): Promise<SweepReport> {
    const report: SweepReport = {
      swept: false,
      threads: 0,
      compacted: 0,
      deleted: 0,
      events: 0,
      runs: 0,
      messages: 0,
      reclaimed: false,
    };
    if (!(await this.lease())) return report;
    report.swept = true;
    const store = this.opts.store;
    // A cursor along the thread ids where the store has one (every thread once, whatever is
    // updated meanwhile); else pages of `list`, whose order updates and deletions shift.
    const listAfter = store.threads.listAfter?.bind(store.threads);
    let cursor = "";
    for (let offset = 0; ; ) {
      const page = listAfter
        ? await listAfter(cursor, THREAD_PAGE)
        : await store.threads.list({ limit: THREAD_PAGE, offset });
      for (const thread of page) {
        report.threads += 1;
        const deleted = await this.sweepThread(thread, report);
        // Deleting moved every later thread one place up in the list.
        if (deleted) offset -= 1;
        // A deleted thread's rows count for the reclaim (its events; roughly, runs aside).
        if (deleted) this.unreclaimed += thread.lastSeq - thread.horizon;
        await yieldToLoop();
      }
      offset += page.length;
      cursor = page[page.length - 1]?.threadId ?? cursor;
      if (page.length < THREAD_PAGE) break;
      // Still ours? Another instance took over if this one stalled past the lease.
      if (!(await this.lease())) return report;
    }
    await this.reclaim(report);
    return report;
  }

  /**
   * After the pass, outside any step's transaction: when enough rows went, the store makes their
   * space reusable. Only the lease's holder does (two instances never vacuum at once); a failure
   * (say, a role that does not own the tables) is logged and the sweep goes on.
   */
  private async reclaim(report: SweepReport): Promise<void> {
    this.unreclaimed += report.events + report.runs + report.messages;
    const store = this.opts.store;
    if (!reclaimDue(this.unreclaimed, this.reclaimAfterRows) || !store.threads.reclaim) return;
    if (!(await this.lease())) return;
    this.unreclaimed = 0;
    try {
      await store.threads.reclaim();
      report.reclaimed = true;
    } catch (error) {
      this.logger.warn({ err: error }, "retention sweep: reclaiming removed rows' space failed");
    }
  }

  /** Applies the thread's policy; true when the thread was deleted. */
  private async sweepThread(thread: ThreadSummary, report: SweepReport): Promise<boolean> {
    const { policy, invalid } = effectivePolicy(this.opts.defaults, thread.metadata);
    if (invalid) {
      this.logger.warn(
        { threadId: thread.threadId, field: invalid },
        "ignoring a malformed retention policy",
      );
    }
    if (!hasLimits(policy)) return false;
    const store = this.opts.store;
    const now = this.clock.now();
    // Queued runs are looked for only when the thread is otherwise due (they are the newest).
    if (idleThreadExpired(thread, policy, now, false)) {
      const recent = await store.runs.list(thread.threadId, { limit: 20 });
      const queued = recent.some((r) => r.status === "queued");
      if (idleThreadExpired(thread, policy, now, queued)) {
        await this.opts.deleteThread(thread.threadId);
        report.deleted += 1;
        return true;
      }
    }
    await this.compactThread(thread.threadId, policy, now, report);
    return false;
  }

  private async compactThread(
    threadId: string,
    policy: EffectivePolicy,
    now: number,
    report: SweepReport,
  ): Promise<void> {
    if (policy.keepRuns === undefined && policy.maxAgeMs === undefined) return;
    const store = this.opts.store;
    const limits: { runsBoundary?: number; cutoff?: number } = {};
    if (policy.keepRuns !== undefined) {
      const boundary = await this.runsBoundary(threadId, policy.keepRuns);
      if (boundary > 0) limits.runsBoundary = boundary;
    }
    if (policy.maxAgeMs !== undefined) limits.cutoff = now - policy.maxAgeMs;
    if (limits.runsBoundary === undefined && limits.cutoff === undefined) return;
    let compacted = false;
    for (let step = 0; step < this.maxSteps; step++) {
      const head = await store.threads.head(threadId);
      if (!head) return;
      const next = await this.nextStep(threadId, head.horizon, limits);
      if (!next) break;
      const done: CompactionResult | null = await store.threads.compact(threadId, next);
      if (!done || done.events + done.runs + done.messages === 0) break;
      compacted = true;
      report.events += done.events;
      report.runs += done.runs;
      report.messages += done.messages;
      await yieldToLoop();
    }
    if (compacted) report.compacted += 1;
  }

  /**
   * The next step from the horizon on, reading `batchEvents` at a time: usually one page; a run
   * longer than a page is read on until its end (a step never cuts a run).
   */
  private async nextStep(
    threadId: string,
    horizon: number,
    limits: { runsBoundary?: number; cutoff?: number },
  ): Promise<CompactionStep | null> {
    for (let after = horizon; ; ) {
      const events = await this.opts.store.threads.read(threadId, {
        after,
        limit: this.batchEvents,
      });
      const step = nextCompactionStep(events, limits);
      if (step || events.length < this.batchEvents) return step;
      if (events.some((r) => isTerminalEvent(r.event))) return null;
      after = events[events.length - 1]!.seq;
    }
  }

  /** The `keepRuns` limit as a seq (0: fewer runs than that, nothing to remove by count). */
  private async runsBoundary(threadId: string, keepRuns: number): Promise<number> {
    if (keepRuns === 0) return keptRunsBoundary(0, null);
    const queue = this.opts.store.runs;
    // One indexed query where the store has it; otherwise every run record (which retention
    // keeps to about keepRuns, once it swept the thread).
    if (queue.nthNewestStartSeq) {
      return keptRunsBoundary(keepRuns, await queue.nthNewestStartSeq(threadId, keepRuns));
    }
    const runs: RunRecord[] = [];
    for (let offset = 0; ; offset += RUN_PAGE) {
      const page = await queue.list(threadId, { limit: RUN_PAGE, offset });
      runs.push(...page);
      if (page.length < RUN_PAGE) break;
    }
    return keptRunsBoundary(keepRuns, nthNewestStartSeq(runs, keepRuns));
  }
}
