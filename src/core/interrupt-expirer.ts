import type { Interrupt } from "@ag-ui/core";
import { ThreadlineError } from "./errors.js";
import {
  type ExpiryAction,
  expiryActionOf,
  expiryDueAt,
  expiryResume,
  expiryRunId,
  expiryTrigger,
} from "./interrupt-expiry.js";
import { type Logger, silentLogger } from "./logger.js";
import type { StartRunRequest, StartRunResult } from "./run-request.js";
import { type SchedulerClock, systemClock, type TimerHandle } from "./scheduler/clock.js";
import type { ThreadStore } from "./store.js";

export interface InterruptExpirerOptions {
  store: ThreadStore;
  startRun(req: StartRunRequest): Promise<StartRunResult>;
  hasAgent(agentId: string): boolean;
  clock?: SchedulerClock;
  logger?: Logger;
  /** The server's expiry action (default `resume`); `agents` per agent id wins over it. */
  onExpiry?: ExpiryAction;
  agents?: Record<string, ExpiryAction>;
  /** How often the store's due index is read (interrupts raised elsewhere). Default 10 s. */
  pollMs?: number;
  /** An expiry later than this fires as a catch-up (`trigger.catchUp`). Default 5 s. */
  misfireGraceMs?: number;
  /** Threads read from the due index per pass. Default 100. */
  batch?: number;
}

/** The label of a record-only expiry run on a thread whose runs are all gone (compacted). */
export const EXPIRY_FALLBACK_AGENT = "threadline";

/** Answers of `startRun` that mean someone else answered the interrupts first (or will). */
const LOST = new Set([
  "CONFLICT",
  "THREAD_BUSY",
  "INTERRUPT_NOT_FOUND",
  "INTERRUPTS_PENDING",
  "UNAVAILABLE",
]);

/**
 * Expires interrupts on time (PROTOCOL.md §3.1.6-8), the scheduler's way: every instance reads
 * the store's due index (`ThreadLog.interruptsDue`) every `pollMs` and arms a timer, on the
 * injectable clock, for the earliest due thread; when a thread falls due it starts the expiry
 * run, whose id is derived from the thread's last seq (`expiryRunId`), so the store lets exactly
 * one instance through — as a schedule tick's id does. After downtime the first pass fires what
 * fell due meanwhile, once (`trigger.catchUp`). A thread that is busy, or whose interrupts
 * someone answered first, is left alone.
 */
export class InterruptExpirer {
  readonly clock: SchedulerClock;
  private readonly logger: Logger;
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly batch: number;
  private timer: { handle: TimerHandle; at: number } | undefined;
  private running = false;
  private current: Promise<number> = Promise.resolve(0);

  constructor(private readonly opts: InterruptExpirerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.pollMs = Math.max(10, opts.pollMs ?? 10_000);
    this.graceMs = opts.misfireGraceMs ?? 5_000;
    this.batch = Math.max(1, opts.batch ?? 100);
  }

  /** Fires what fell due while no instance ran (awaited), then keeps watching. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.check();
  }

  /** Stops the timers and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.handle.cancel();
    this.timer = undefined;
    await this.current.catch(() => undefined);
  }

  /** One pass now (after the one in progress): expires what is due; the expiry runs it started. */
  check(): Promise<number> {
    const next = this.current.catch(() => 0).then(() => this.pass());
    this.current = next;
    return next;
  }

  /**
   * A run that ended here asked `interrupts` (`RunEnd.interrupts`): if they fall due, watch for
   * that time now rather than at the next poll. No store read: what the run asked is what the
   * thread waits on (`pendingAfter`), and the pass that fires reads the thread again anyway.
   */
  asked(interrupts: readonly Interrupt[] | undefined): void {
    if (!this.running || !interrupts?.length) return;
    const due = expiryDueAt(interrupts);
    if (due !== null) this.arm(due);
  }

  private arm(at: number): void {
    if (!this.running) return;
    const now = this.clock.now();
    const when = Math.min(Math.max(at, now), now + this.pollMs);
    if (this.timer && this.timer.at <= when) return;
    this.timer?.handle.cancel();
    const handle = this.clock.setTimer(() => {
      if (this.timer?.handle === handle) this.timer = undefined;
      return this.check().catch((error) =>
        this.logger.warn({ err: error }, "interrupt expiry pass failed"),
      );
    }, when - now);
    this.timer = { handle, at: when };
  }

  private async pass(): Promise<number> {
    if (!this.running) return 0;
    let started = 0;
    let next = Number.POSITIVE_INFINITY;
    try {
      const now = this.clock.now();
      const due = await this.opts.store.threads.interruptsDue({ limit: this.batch });
      for (const entry of due) {
        if (entry.dueAt > now) {
          next = entry.dueAt;
          break;
        }
        if (await this.expire(entry.threadId, now)) started += 1;
      }
    } finally {
      // A full page of due threads may have more behind it: look again at the next poll.
      this.arm(next);
    }
    return started;
  }

  /** Starts the thread's expiry run if it is due now; false when it is not (or lost). */
  private async expire(threadId: string, now: number): Promise<boolean> {
    const { store } = this.opts;
    const head = await store.threads.head(threadId);
    if (!head) return false;
    // Read again: the index entry may be older than the thread's interrupts.
    const dueAt = expiryDueAt(head.interrupts);
    if (dueAt === null || dueAt > now || head.activeRunId) return false;
    const agentId = (await store.runs.list(threadId, { limit: 1 }))[0]?.agentId;
    let action = expiryActionOf(head.metadata, agentId, {
      ...(this.opts.onExpiry ? { default: this.opts.onExpiry } : {}),
      ...(this.opts.agents ? { agents: this.opts.agents } : {}),
    });
    if (action === "resume" && (agentId === undefined || !this.opts.hasAgent(agentId))) {
      // Nobody to resume: the thread must not wait forever on a deadline that passed.
      this.logger.warn(
        { threadId, agentId },
        "interrupt expiry: the thread's agent is unknown here; recording the expiry only",
      );
      action = "record";
    }
    const runId = expiryRunId(head.lastSeq);
    try {
      await this.opts.startRun({
        threadId,
        agentId: agentId ?? EXPIRY_FALLBACK_AGENT,
        runId,
        trigger: expiryTrigger(dueAt, action, now - dueAt > this.graceMs),
        multitask: "reject",
        input: { resume: expiryResume(head.interrupts) },
      });
      this.logger.info(
        { threadId, runId, action, interrupts: head.interrupts.map((i) => i.id) },
        "interrupts expired",
      );
      return true;
    } catch (error) {
      if (ThreadlineError.is(error) && LOST.has(error.code)) {
        this.logger.debug(
          { threadId, runId, code: error.code },
          "interrupt expiry: answered first",
        );
        return false;
      }
      this.logger.warn({ err: error, threadId, runId }, "interrupt expiry: run not started");
      return false;
    }
  }
}
