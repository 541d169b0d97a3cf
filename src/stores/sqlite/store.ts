import type { BaseEvent } from "@ag-ui/core";
import type Database from "better-sqlite3";
import type {
  AppendListener,
  ClaimedRun,
  EnqueueResult,
  RunStartListener,
  ScheduleRecordBase,
  ThreadStore,
  Unsubscribe,
} from "../../core/store.js";
import type {
  EventRecord,
  Fence,
  MultitaskStrategy,
  RunRecord,
  RunStatus,
  ThreadPatch,
  ThreadView,
  ViewUpdate,
} from "../../core/types.js";
import { appendInTransaction } from "./append.js";
import { ClaimsAndSchedules } from "./claims-schedules.js";
import { LiveTail } from "./live-tail.js";
import { RunQueue } from "./run-queue.js";
import { SqliteRunStarts } from "./run-starts.js";
import { RunTable } from "./runs.js";
import { ThreadTable } from "./threads.js";

const DEFAULT_READ_LIMIT = 1000;

/**
 * The SQLite `ThreadStore`. better-sqlite3 is synchronous, so every operation runs to completion
 * inside its promise: writes are IMMEDIATE transactions (the write lock is taken up front, so a
 * second process waits for it via busy_timeout instead of failing mid-transaction), reads that
 * must agree with each other are one deferred transaction (one WAL snapshot).
 */
export class SqliteStore implements ThreadStore {
  readonly kind = "sqlite";
  private readonly threads: ThreadTable;
  private readonly runs: RunTable;
  private readonly queue: RunQueue;
  private readonly misc: ClaimsAndSchedules;
  private readonly tail: LiveTail;
  private readonly runStarts: SqliteRunStarts;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    opts: { pollMs: number },
  ) {
    this.threads = new ThreadTable(db);
    this.runs = new RunTable(db);
    this.queue = new RunQueue(this.threads, this.runs);
    this.misc = new ClaimsAndSchedules(db);
    this.tail = new LiveTail(db, this.threads, opts.pollMs);
    this.runStarts = new SqliteRunStarts(db, opts.pollMs);
  }

  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private snapshot<T>(fn: () => T): T {
    return this.db.transaction(fn).deferred();
  }

  async ensureThread(threadId: string, metadata?: Record<string, unknown>) {
    return this.write(() => {
      this.threads.ensure(threadId, metadata, Date.now());
      return this.threads.summary(threadId)!;
    });
  }

  async getThread(threadId: string): Promise<ThreadView | null> {
    return this.snapshot(() => this.threads.view(threadId));
  }

  async listThreads(opts: { limit?: number; offset?: number } = {}) {
    return this.threads.list(clamp(opts.limit, 100), clamp(opts.offset, 0));
  }

  async head(threadId: string) {
    return this.threads.summary(threadId);
  }

  async updateThread(threadId: string, patch: ThreadPatch) {
    return this.write(() => this.threads.update(threadId, patch, Date.now()));
  }

  async deleteThread(threadId: string) {
    return this.write(() => {
      this.runs.deleteAll(threadId);
      return this.threads.delete(threadId);
    });
  }

  async append(
    threadId: string,
    fence: Fence,
    events: readonly BaseEvent[],
    view?: ViewUpdate,
  ): Promise<EventRecord[]> {
    const records = this.write(() =>
      appendInTransaction(this.threads, this.runs, threadId, fence, events, view, Date.now()),
    );
    // After the commit: durable before visible.
    this.tail.committed(threadId, records);
    this.runStarts.committed(threadId, records);
    return records;
  }

  async read(threadId: string, opts: { after: number; limit?: number }) {
    const after = Math.max(0, Math.floor(opts.after));
    return this.threads.read(threadId, after, clamp(opts.limit, DEFAULT_READ_LIMIT));
  }

  subscribe(threadId: string, listener: AppendListener): Unsubscribe {
    return this.tail.subscribe(threadId, listener);
  }

  subscribeRunStarts(listener: RunStartListener): Unsubscribe {
    return this.runStarts.subscribe(listener);
  }

  async enqueueRun(run: RunRecord, strategy: MultitaskStrategy): Promise<EnqueueResult> {
    return this.write(() => this.queue.enqueue(run, strategy, Date.now()));
  }

  async claimNextRun(threadId: string, owner: string, leaseMs: number, now: number) {
    return this.write(() => this.queue.claimNext(threadId, owner, leaseMs, now));
  }

  async renewLease(threadId: string, fence: Fence, leaseMs: number, now: number) {
    return this.write(() => this.queue.renew(threadId, fence, leaseMs, now));
  }

  async takeOverRun(
    threadId: string,
    runId: string,
    owner: string,
    leaseMs: number,
    now: number,
    force = false,
  ): Promise<ClaimedRun | null> {
    return this.write(() => this.queue.takeOver(threadId, runId, owner, leaseMs, now, force));
  }

  async markRunEnded(
    threadId: string,
    runId: string,
    status: RunStatus,
    now: number,
    error?: { code: string; message: string },
  ) {
    return this.write(() => this.queue.markEnded(threadId, runId, status, now, error));
  }

  async requestCancel(threadId: string, runId: string) {
    return this.write(() => this.queue.requestCancel(threadId, runId, Date.now()));
  }

  async getRun(threadId: string, runId: string) {
    return this.runs.get(threadId, runId);
  }

  async listRuns(threadId: string, opts: { limit?: number; offset?: number } = {}) {
    return this.runs.list(threadId, clamp(opts.limit, 100), clamp(opts.offset, 0));
  }

  async listStaleRuns(now: number, opts: { all?: boolean } = {}) {
    return this.runs.stale(now, opts.all === true);
  }

  async listIdleThreadsWithQueue() {
    return this.runs.idleThreadsWithQueue();
  }

  async claim(key: string, owner: string, now: number) {
    return this.misc.claim(key, owner, now);
  }

  async putSchedule<S extends ScheduleRecordBase>(schedule: S) {
    this.misc.put(schedule);
  }

  async getSchedule<S extends ScheduleRecordBase>(id: string) {
    return this.misc.get<S>(id);
  }

  async listSchedules<S extends ScheduleRecordBase>() {
    return this.misc.list<S>();
  }

  async deleteSchedule(id: string) {
    return this.misc.delete(id);
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    this.tail.close();
    this.runStarts.close();
    this.db.close();
  }
}

/** A non-negative integer option; SQLite would read a negative LIMIT as "no limit". */
function clamp(value: number | undefined, fallback: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.max(0, Math.floor(value));
}
