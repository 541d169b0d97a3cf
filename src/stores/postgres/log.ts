import type { BaseEvent } from "@ag-ui/core";
import type pg from "pg";
import type { CompactionResult, CompactionStep } from "../../core/compaction.js";
import {
  type AppendListener,
  count,
  DEFAULT_LIST_LIMIT,
  DEFAULT_READ_LIMIT,
  type RunStartListener,
  type ThreadLog,
  type Unsubscribe,
} from "../../core/store.js";
import type { EventRecord, Fence, ThreadPatch, ThreadView, ViewUpdate } from "../../core/types.js";
import { appendInTransaction } from "./append.js";
import { inTransaction } from "./connection.js";
import type { PgLiveTail } from "./live-tail.js";
import type { RunTable } from "./runs.js";
import type { ThreadTable } from "./threads.js";

/**
 * The PostgreSQL `ThreadLog`. Writes are short transactions that lock the thread's row first;
 * reads are single statements (one snapshot each). Live delivery: see `PgLiveTail`.
 */
export class PgThreadLog implements ThreadLog {
  constructor(
    private readonly pool: pg.Pool,
    private readonly threads: ThreadTable,
    private readonly runs: RunTable,
    private readonly tail: PgLiveTail,
  ) {}

  async ensure(threadId: string, metadata?: Record<string, unknown>) {
    await this.threads.ensure(this.pool, threadId, metadata, Date.now());
    return (await this.threads.summary(this.pool, threadId))!;
  }

  async get(threadId: string): Promise<ThreadView | null> {
    return this.threads.view(this.pool, threadId);
  }

  async head(threadId: string) {
    return this.threads.summary(this.pool, threadId);
  }

  async list(opts: { limit?: number; offset?: number } = {}) {
    const limit = count(opts.limit, DEFAULT_LIST_LIMIT);
    return this.threads.list(this.pool, limit, count(opts.offset, 0));
  }

  async update(threadId: string, patch: ThreadPatch) {
    return inTransaction(this.pool, (db) => this.threads.update(db, threadId, patch, Date.now()));
  }

  async delete(threadId: string) {
    return inTransaction(this.pool, (db) => this.threads.delete(db, threadId));
  }

  async append(
    threadId: string,
    fence: Fence,
    events: readonly BaseEvent[],
    view?: ViewUpdate,
  ): Promise<EventRecord[]> {
    const channel = this.tail.channelName;
    const records = await inTransaction(this.pool, (db) =>
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

  async compact(threadId: string, step: CompactionStep): Promise<CompactionResult | null> {
    return inTransaction(this.pool, (db) => this.threads.compact(db, threadId, step));
  }

  async read(threadId: string, opts: { after: number; limit?: number }) {
    const limit = count(opts.limit, DEFAULT_READ_LIMIT);
    return this.threads.read(this.pool, threadId, count(opts.after, 0), limit);
  }

  subscribe(threadId: string, listener: AppendListener): Unsubscribe {
    return this.tail.subscribe(threadId, listener);
  }

  subscribeRunStarts(listener: RunStartListener): Unsubscribe {
    return this.tail.subscribeRunStarts(listener);
  }
}
