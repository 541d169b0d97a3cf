import type { CompactionResult, CompactionStep } from "../../core/compaction.js";
import type * as Store from "../../core/store.js";
import { count, dueWindow, listWindow, readWindow } from "../../core/store.js";
import type { EventRecord, ThreadPatch, ThreadView } from "../../core/types.js";

import { appendInTransaction } from "./append.js";
import type { SqliteCommitNotices } from "./commit-notices.js";
import type { Db } from "./db.js";
import type { SqliteRunStarts } from "./run-starts.js";
import type { RunTable } from "./runs.js";
import type { ThreadTable } from "./threads.js";

/** The SQLite `ThreadLog`: threads, their logs and views, each operation one transaction. */
export class SqliteThreadLog implements Store.ThreadLog {
  constructor(
    private readonly db: Db,
    private readonly threads: ThreadTable,
    private readonly runs: RunTable,
    private readonly tail: SqliteCommitNotices,
    private readonly runStarts: SqliteRunStarts,
  ) {}

  async ensure(threadId: string, metadata?: Record<string, unknown>) {
    return this.db.write(() => {
      this.threads.ensure(threadId, metadata, Date.now());
      return this.threads.summary(threadId)!;
    });
  }

  async get(threadId: string): Promise<ThreadView | null> {
    return this.db.snapshot(() => this.threads.view(threadId));
  }

  async head(threadId: string) {
    return this.threads.summary(threadId);
  }

  async interruptsDue(opts?: { until?: number; limit?: number }) {
    const { until, limit } = dueWindow(opts);
    return this.threads.interruptsDue(until, limit);
  }

  async list(opts: { limit?: number; offset?: number } = {}) {
    const { limit, offset } = listWindow(opts);
    return this.threads.list(limit, offset);
  }

  async listAfter(after: string, limit: number) {
    return this.threads.listAfter(after, count(limit, 0));
  }

  async update(threadId: string, patch: ThreadPatch) {
    return this.db.write(() => this.threads.update(threadId, patch, Date.now()));
  }

  async delete(threadId: string) {
    return this.db.write(() => {
      this.runs.deleteAll(threadId);
      return this.threads.delete(threadId);
    });
  }

  async append(...[threadId, fence, events, view]: Store.AppendArgs): Promise<EventRecord[]> {
    const records = this.db.write(() =>
      appendInTransaction(this.threads, this.runs, threadId, fence, events, view, Date.now()),
    );
    // After the commit: durable before visible.
    this.tail.committed(threadId, records);
    this.runStarts.committed(threadId, records);
    return records;
  }

  async compact(threadId: string, step: CompactionStep): Promise<CompactionResult | null> {
    return this.db.write(() => {
      const lastSeq = this.threads.lastSeq(threadId);
      const horizon = Math.min(Math.floor(step.horizon), lastSeq);
      const done = this.threads.compact(threadId, horizon);
      if (!done) return null;
      if (horizon <= done.from) return { horizon: done.from, events: 0, messages: 0, runs: 0 };
      const runs = this.runs.compact(threadId, horizon, step.endedBefore);
      return { horizon, events: done.events, messages: done.messages, runs };
    });
  }

  async read(threadId: string, opts: { after: number; limit?: number }) {
    const { after, limit } = readWindow(opts);
    return this.threads.read(threadId, after, limit);
  }

  async readText(threadId: string, opts: { after: number; limit?: number }) {
    const { after, limit } = readWindow(opts);
    return this.threads.readText(threadId, after, limit);
  }

  subscribe(threadId: string, listener: Store.CommitListener): Store.Unsubscribe {
    return this.tail.subscribe(threadId, listener);
  }

  subscribeRunStarts(listener: Store.RunStartListener): Store.Unsubscribe {
    return this.runStarts.subscribe(listener);
  }
}
