import type { BaseEvent } from "@ag-ui/core";
import type { Redis } from "ioredis";
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
import { appendScript } from "./append.js";
import { ClaimsAndSchedules } from "./claims-schedules.js";
import type { RedisKeys } from "./keys.js";
import type { RedisLiveTail } from "./live-tail.js";
import { RunTable } from "./runs.js";
import { ThreadTable } from "./threads.js";

const DEFAULT_READ_LIMIT = 1000;

/**
 * The Redis `ThreadStore`: a stream per thread for the log, hashes and sorted sets for the view,
 * runs, queue, leases and schedules. Every write is one Lua script (atomic, and ordered with
 * every other command on the server), so all instances agree on seqs, fences and the queue.
 * Live delivery: see `RedisLiveTail`.
 */
export class RedisStore implements ThreadStore {
  readonly kind = "redis";
  private readonly threads: ThreadTable;
  private readonly runs: RunTable;
  private readonly misc: ClaimsAndSchedules;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly tail: RedisLiveTail,
  ) {
    this.threads = new ThreadTable(redis, keys);
    this.runs = new RunTable(redis, keys);
    this.misc = new ClaimsAndSchedules(redis, keys);
  }

  async ensureThread(threadId: string, metadata?: Record<string, unknown>) {
    return this.threads.ensure(threadId, metadata, Date.now());
  }

  async getThread(threadId: string): Promise<ThreadView | null> {
    return this.threads.view(threadId);
  }

  async listThreads(opts: { limit?: number; offset?: number } = {}) {
    return this.threads.list(clamp(opts.limit, 100), clamp(opts.offset, 0));
  }

  async head(threadId: string) {
    return this.threads.head(threadId);
  }

  async updateThread(threadId: string, patch: ThreadPatch) {
    return this.threads.update(threadId, patch, Date.now());
  }

  async deleteThread(threadId: string) {
    return this.threads.delete(threadId);
  }

  async append(
    threadId: string,
    fence: Fence,
    events: readonly BaseEvent[],
    view?: ViewUpdate,
  ): Promise<EventRecord[]> {
    const records = await appendScript(
      this.redis,
      this.keys,
      threadId,
      fence,
      events,
      view,
      Date.now(),
    );
    // After the script ran: durable (as far as Redis persistence goes) before visible.
    this.tail.committed(threadId, records);
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
    return this.tail.subscribeRunStarts(listener);
  }

  async enqueueRun(run: RunRecord, strategy: MultitaskStrategy): Promise<EnqueueResult> {
    return this.runs.enqueue(run, strategy, Date.now());
  }

  async claimNextRun(threadId: string, owner: string, leaseMs: number, now: number) {
    return this.runs.claimNext(threadId, owner, leaseMs, now);
  }

  async renewLease(threadId: string, fence: Fence, leaseMs: number, now: number) {
    return this.runs.renew(threadId, fence, leaseMs, now);
  }

  async takeOverRun(
    threadId: string,
    runId: string,
    owner: string,
    leaseMs: number,
    now: number,
    force = false,
  ): Promise<ClaimedRun | null> {
    return this.runs.takeOver(threadId, runId, owner, leaseMs, now, force);
  }

  async markRunEnded(
    threadId: string,
    runId: string,
    status: RunStatus,
    now: number,
    error?: { code: string; message: string },
  ) {
    return this.runs.markEnded(threadId, runId, status, now, error);
  }

  async requestCancel(threadId: string, runId: string) {
    return this.runs.requestCancel(threadId, runId, Date.now());
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
    await this.misc.put(schedule);
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
    await this.tail.close();
    // QUIT lets queued commands finish; without a live connection it would wait for one.
    if (this.redis.status === "ready") await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }
}

/** A non-negative integer option. */
function clamp(value: number | undefined, fallback: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.max(0, Math.floor(value));
}
