import type Database from "better-sqlite3";
import type { RunStartListener, Unsubscribe } from "../../core/store.js";
import type { EventRecord } from "../../core/types.js";
import { RunStartListeners, runStartsIn } from "../run-start-notice.js";

interface StartedRow {
  thread_id: string;
  run_id: string;
  start_seq: number;
}

const key = (threadId: string, runId: string) => `${threadId}\u0000${runId}`;

/**
 * The store-wide run-start signal of a SQLite file. Runs started through this connection are
 * announced right after their commit. Runs another process (or store instance) started on the
 * same file are found by a poll that runs only while someone listens: when `PRAGMA data_version`
 * moved, the running runs whose RUN_STARTED is in the log are compared with those already
 * announced. A run another process starts and finishes between two polls is not announced.
 */
export class SqliteRunStarts {
  private readonly listeners = new RunStartListeners();
  private readonly dataVersion;
  private readonly running;
  /** Started runs still running at the last look (plus local starts since). */
  private announced = new Set<string>();
  private version = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    db: Database.Database,
    private readonly pollMs: number,
  ) {
    this.dataVersion = db.prepare<[], number>("PRAGMA data_version").pluck();
    this.running = db.prepare<[], StartedRow>(
      `SELECT thread_id, run_id, start_seq FROM runs
       WHERE status = 'running' AND start_seq IS NOT NULL`,
    );
  }

  subscribe(listener: RunStartListener): Unsubscribe {
    if (this.listeners.size === 0) {
      // Runs already running started before anyone listened: not news.
      this.version = this.dataVersion.get() ?? 0;
      this.announced = new Set(this.running.all().map((r) => key(r.thread_id, r.run_id)));
      this.timer = setInterval(() => this.poll(), this.pollMs);
      this.timer.unref();
    }
    const off = this.listeners.add(listener);
    return () => {
      off();
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Called right after this connection committed `records`. */
  committed(threadId: string, records: readonly EventRecord[]): void {
    if (this.listeners.size === 0) return;
    for (const notice of runStartsIn(threadId, records)) {
      this.announced.add(key(threadId, notice.runId));
      this.listeners.emit(notice);
    }
  }

  poll(): void {
    try {
      const v = this.dataVersion.get() ?? 0;
      if (v === this.version) return;
      this.version = v;
      const now = new Set<string>();
      for (const row of this.running.all()) {
        const k = key(row.thread_id, row.run_id);
        now.add(k);
        if (!this.announced.has(k)) {
          this.listeners.emit({ threadId: row.thread_id, runId: row.run_id, seq: row.start_seq });
        }
      }
      this.announced = now;
    } catch {
      // The database may be closing or briefly locked; the next poll looks again.
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.announced.clear();
  }

  close(): void {
    this.stop();
    this.listeners.clear();
  }
}
