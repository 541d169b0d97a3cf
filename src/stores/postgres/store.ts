import type { BaseEvent } from "@ag-ui/core";
import type pg from "pg";
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
import { inTransaction } from "./connection.js";
import type { PgLiveTail } from "./live-tail.js";
import { RunQueue } from "./run-queue.js";
import { RunTable } from "./runs.js";
import type { Tables } from "./schema.js";
import { ThreadTable } from "./threads.js";

const DEFAULT_READ_LIMIT = 1000;

/**
 * The PostgreSQL `ThreadStore`: the system of record for several instances. Writes are short
 * transactions that lock the thread's row first, so all instances agree on seqs, fences and the
 * run queue; reads are single statements (one snapshot each). Live delivery: see `PgLiveTail`.
 */
export class PostgresStore implements ThreadStore {
  readonly kind = "postgres";
  private readonly threads: ThreadTable;
  private readonly runs: RunTable;
  private readonly queue: RunQueue;
  private readonly misc: ClaimsAndSchedules;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    tables: Tables,
    private readonly tail: PgLiveTail,
  ) {
    this.threads = new ThreadTable(tables);
    this.runs = new RunTable(tables);
    this.queue = new RunQueue(this.threads, this.runs);
    this.misc = new ClaimsAndSchedules(tables);
  }

  private write<T>(fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }

  async ensureThread(threadId: string, metadata?: Record<string, unknown>) {
    await this.threads.ensure(this.pool, threadId, metadata, Date.now());
    return (await this.threads.summary(this.pool, threadId))!;
  }

  async getThread(threadId: string): Promise<ThreadView | null> {
    return this.threads.view(this.pool, threadId);
  }

  async listThreads(opts: { limit?: number; offset?: number } = {}) {
    return this.threads.list(this.pool, clamp(opts.limit, 100), clamp(opts.offset, 0));
  }

  async head(threadId: string) {
    return this.threads.summary(this.pool, threadId);
  }

  async updateThread(threadId: string, patch: ThreadPatch) {
    return this.write((db) => this.threads.update(db, threadId, patch, Date.now()));
  }

  async deleteThread(threadId: string) {
    return this.write((db) => this.threads.delete(db, threadId));
  }

  async append(
    threadId: string,
    fence: Fence,
    events: readonly BaseEvent[],
    view?: ViewUpdate,
  ): Promise<EventRecord[]> {
    const channel = this.tail.channelName;
    const records = await this.write((db) =>
      appendInTransaction(
        db,
        this.threads,
        this.runs,
        channel,
        threadId,
        fence,
        events,
        view,
        Date.now(),
      ),
    );
    // After the commit: durable before visible.
    this.tail.committed(threadId, records);
    return records;
  }

  async read(threadId: string, opts: { after: number; limit?: number }) {
    const after = Math.max(0, Math.floor(opts.after));
    return this.threads.read(this.pool, threadId, after, clamp(opts.limit, DEFAULT_READ_LIMIT));
  }

  subscribe(threadId: string, listener: AppendListener): Unsubscribe {
    return this.tail.subscribe(threadId, listener);
  }

  subscribeRunStarts(listener: RunStartListener): Unsubscribe {
    return this.tail.subscribeRunStarts(listener);
  }

  async enqueueRun(run: RunRecord, strategy: MultitaskStrategy): Promise<EnqueueResult> {
    return this.write((db) => this.queue.enqueue(db, run, strategy, Date.now()));
  }

  async claimNextRun(threadId: string, owner: string, leaseMs: number, now: number) {
    return this.write((db) => this.queue.claimNext(db, threadId, owner, leaseMs, now));
  }

  async renewLease(threadId: string, fence: Fence, leaseMs: number, now: number) {
    return this.write((db) => this.queue.renew(db, threadId, fence, leaseMs, now));
  }

  async takeOverRun(
    threadId: string,
    runId: string,
    owner: string,
    leaseMs: number,
    now: number,
    force = false,
  ): Promise<ClaimedRun | null> {
    return this.write((db) => this.queue.takeOver(db, threadId, runId, owner, leaseMs, now, force));
  }

  async markRunEnded(
    threadId: string,
    runId: string,
    status: RunStatus,
    now: number,
    error?: { code: string; message: string },
  ) {
    return this.write((db) => this.queue.markEnded(db, threadId, runId, status, now, error));
  }

  async requestCancel(threadId: string, runId: string) {
    return this.write((db) => this.queue.requestCancel(db, threadId, runId, Date.now()));
  }

  async getRun(threadId: string, runId: string) {
    return this.runs.get(this.pool, threadId, runId);
  }

  async listRuns(threadId: string, opts: { limit?: number; offset?: number } = {}) {
    return this.runs.list(this.pool, threadId, clamp(opts.limit, 100), clamp(opts.offset, 0));
  }

  async listStaleRuns(now: number, opts: { all?: boolean } = {}) {
    return this.runs.stale(this.pool, now, opts.all === true);
  }

  async listIdleThreadsWithQueue() {
    return this.runs.idleThreadsWithQueue(this.pool);
  }

  async claim(key: string, owner: string, now: number) {
    return this.misc.claim(this.pool, key, owner, now);
  }

  async putSchedule<S extends ScheduleRecordBase>(schedule: S) {
    await this.misc.put(this.pool, schedule);
  }

  async getSchedule<S extends ScheduleRecordBase>(id: string) {
    return this.misc.get<S>(this.pool, id);
  }

  async listSchedules<S extends ScheduleRecordBase>() {
    return this.misc.list<S>(this.pool);
  }

  async deleteSchedule(id: string) {
    return this.misc.delete(this.pool, id);
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.tail.close();
    await this.pool.end();
  }
}

/** A non-negative integer option (LIMIT/OFFSET must not be negative). */
function clamp(value: number | undefined, fallback: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.max(0, Math.floor(value));
}
