import type Database from "better-sqlite3";
import type { CommitListener, Unsubscribe } from "../../core/store.js";
import type { EventRecord } from "../../core/types.js";
import { CommitListeners } from "../commit-listeners.js";
import type { ThreadTable } from "./threads.js";

/**
 * Commit announcements of a SQLite file. Appends made through this connection are announced,
 * with their records, right after their commit. Appends made by another connection to the same
 * file (another process, or another store instance) are found by a poll that runs only while
 * someone is subscribed: when `PRAGMA data_version` moved (it does only when another connection
 * committed), each subscribed thread's `lastSeq` is announced and the core live tail reads what
 * it has not seen.
 */
export class SqliteCommitNotices {
  private readonly listeners = new CommitListeners();
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

  subscribe(threadId: string, listener: CommitListener): Unsubscribe {
    const off = this.listeners.add(threadId, listener);
    if (!this.timer) {
      this.version = this.dataVersion.get() ?? 0;
      this.timer = setInterval(() => this.poll(), this.pollMs);
      // A subscription alone must not keep the process alive; close() stops the timer anyway.
      this.timer.unref();
    }
    return () => {
      off();
      if (this.listeners.threads().length === 0) this.stop();
    };
  }

  /** Called right after this connection committed `records` (ascending, contiguous). */
  committed(threadId: string, records: readonly EventRecord[]): void {
    const last = records[records.length - 1];
    if (last) this.listeners.announce(threadId, { lastSeq: last.seq, records });
  }

  /** One poll: cheap when no other connection committed since the last one. */
  poll(): void {
    try {
      const v = this.dataVersion.get() ?? 0;
      if (v === this.version) return;
      this.version = v;
      for (const threadId of this.listeners.threads()) {
        this.listeners.announce(threadId, { lastSeq: this.threads.lastSeq(threadId) });
      }
    } catch {
      // The database may be closing or briefly unavailable; the next poll retries.
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.listeners.clear();
  }
}
