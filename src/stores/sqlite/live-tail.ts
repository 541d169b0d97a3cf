import type Database from "better-sqlite3";
import type { AppendListener, Unsubscribe } from "../../core/store.js";
import type { EventRecord } from "../../core/types.js";
import { ListenerRegistry } from "../listeners.js";
import type { ThreadTable } from "./threads.js";

const PAGE = 1000;

/**
 * Live delivery of committed batches to this store's subscribers.
 *
 * Appends made through this connection are handed over right after their commit. Appends made
 * by another connection to the same file (another process, or another store instance) are
 * found by a poll that runs only while someone is subscribed: it checks `PRAGMA data_version`
 * (which changes only when another connection committed) and then reads each subscribed
 * thread's new records from the log.
 *
 * Per thread, `delivered` is the last seq handed to the listeners. Every delivery starts right
 * after it, so each listener sees a contiguous run of seqs: never twice, never out of order.
 * When a local commit does not start at `delivered + 1` (another process appended in between
 * and the poll has not run yet), the missing records are read from the log first.
 */
export class LiveTail {
  private readonly listeners = new ListenerRegistry();
  private readonly delivered = new Map<string, number>();
  private readonly dataVersion;
  private version = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    db: Database.Database,
    private readonly threads: ThreadTable,
    private readonly pollMs: number,
  ) {
    this.dataVersion = db.prepare<[], number>("PRAGMA data_version").pluck();
  }

  subscribe(threadId: string, listener: AppendListener): Unsubscribe {
    if (!this.delivered.has(threadId)) {
      this.delivered.set(threadId, this.threads.lastSeq(threadId));
    }
    const off = this.listeners.add(threadId, listener);
    if (!this.timer) {
      this.version = this.dataVersion.get() ?? 0;
      this.timer = setInterval(() => this.poll(), this.pollMs);
      // A subscription alone must not keep the process alive; close() stops the timer anyway.
      this.timer.unref();
    }
    return () => {
      off();
      if (this.listeners.has(threadId)) return;
      this.delivered.delete(threadId);
      if (this.delivered.size === 0) this.stop();
    };
  }

  /** Called right after this connection committed `records` (ascending, contiguous). */
  committed(threadId: string, records: readonly EventRecord[]): void {
    const done = this.delivered.get(threadId);
    const first = records[0];
    if (done === undefined || !first) return;
    if (first.seq === done + 1) {
      this.deliver(threadId, records);
    } else {
      this.catchUp(threadId);
    }
  }

  /** One poll: cheap when no other connection committed since the last one. */
  poll(): void {
    try {
      const v = this.dataVersion.get() ?? 0;
      if (v === this.version) return;
      this.version = v;
      for (const threadId of [...this.delivered.keys()]) this.catchUp(threadId);
    } catch {
      // The database may be closing or briefly unavailable; the next poll retries.
    }
  }

  private catchUp(threadId: string): void {
    for (;;) {
      const done = this.delivered.get(threadId);
      if (done === undefined) return;
      const page = this.threads.read(threadId, done, PAGE);
      // Records this connection already delivered are at or below `done` and not read again.
      if (page.length > 0) this.deliver(threadId, page);
      if (page.length < PAGE) return;
    }
  }

  private deliver(threadId: string, records: readonly EventRecord[]): void {
    const done = this.delivered.get(threadId) ?? 0;
    const fresh = records.filter((r) => r.seq > done);
    const last = fresh[fresh.length - 1];
    if (!last) return;
    this.delivered.set(threadId, last.seq);
    this.listeners.emit(threadId, fresh);
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.delivered.clear();
    this.listeners.clear();
  }
}
