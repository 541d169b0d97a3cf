import type pg from "pg";
import type { CompactionResult, CompactionStep } from "../../core/compaction.js";
import type * as Store from "../../core/store.js";
import { count, dueWindow, listWindow, readWindow } from "../../core/store.js";
import type { EventRecord, ThreadPatch, ThreadView } from "../../core/types.js";

import { append } from "./append.js";
import { inTransaction } from "./connection.js";
import type { PgLiveTail } from "./live-tail.js";
import type { Tables } from "./schema.js";
import type { ThreadTable } from "./threads.js";

/**
 * The PostgreSQL `ThreadLog`. Writes lock the thread's row first (an append: one statement, see
 * append-sql.ts; the others short transactions);
 * reads are single statements (one snapshot each). Live delivery: see `PgLiveTail`.
 */
export class PgThreadLog implements Store.ThreadLog {
  constructor(
    private readonly pool: pg.Pool,
    private readonly threads: ThreadTable,
    private readonly tables: Tables,
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

  async interruptsDue(opts?: { until?: number; limit?: number }) {
    const { until, limit } = dueWindow(opts);
    return this.threads.interruptsDue(this.pool, until, limit);
  }

  async list(opts: { limit?: number; offset?: number } = {}) {
    const { limit, offset } = listWindow(opts);
    return this.threads.list(this.pool, limit, offset);
  }

  async listAfter(after: string, limit: number) {
    return this.threads.listAfter(this.pool, after, count(limit, 0));
  }

  async update(threadId: string, patch: ThreadPatch) {
    return inTransaction(this.pool, (db) => this.threads.update(db, threadId, patch, Date.now()));
  }

  async delete(threadId: string) {
    return inTransaction(this.pool, (db) => this.threads.delete(db, threadId));
  }

  async append(...[threadId, fence, events, view]: Store.AppendArgs): Promise<EventRecord[]> {
    const channel = this.tail.channelName;
    // Announced after the commit: durable before visible.
    return this.tail.appendLocally(threadId, () =>
      append(this.pool, this.tables, channel, [threadId, fence, events, view], Date.now()),
    );
  }

  async compact(threadId: string, step: CompactionStep): Promise<CompactionResult | null> {
    return inTransaction(this.pool, (db) => this.threads.compact(db, threadId, step));
  }

  async reclaim(): Promise<void> {
    await this.threads.vacuum(this.pool);
  }

  async read(threadId: string, opts: { after: number; limit?: number }) {
    const { after, limit } = readWindow(opts);
    return this.threads.read(this.pool, threadId, after, limit);
  }

  async readText(threadId: string, opts: { after: number; limit?: number }) {
    const { after, limit } = readWindow(opts);
    return this.threads.readText(this.pool, threadId, after, limit);
  }

  subscribe(threadId: string, listener: Store.CommitListener): Store.Unsubscribe {
    return this.tail.subscribe(threadId, listener);
  }

  subscribeRunStarts(listener: Store.RunStartListener): Store.Unsubscribe {
    return this.tail.subscribeRunStarts(listener);
  }
}
