import type Database from "better-sqlite3";
import type { ThreadStore } from "../../core/store.js";
import { SqliteRecords } from "./claims-schedules.js";
import { SqliteCommitNotices } from "./commit-notices.js";
import { Db } from "./db.js";
import { SqliteThreadLog } from "./log.js";
import { SqliteRunQueue } from "./run-queue.js";
import { SqliteRunStarts } from "./run-starts.js";
import { RunTable } from "./runs.js";
import { ThreadTable } from "./threads.js";

/** The SQLite `ThreadStore`: one connection, its statements prepared once per table. */
export class SqliteStore implements ThreadStore {
  readonly kind = "sqlite";
  readonly threads: SqliteThreadLog;
  readonly runs: SqliteRunQueue;
  readonly records: SqliteRecords;
  /** Written when the database was created (see the schema): names this file's log. */
  readonly epoch: string;
  private readonly tail: SqliteCommitNotices;
  private readonly runStarts: SqliteRunStarts;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    opts: { pollMs: number },
  ) {
    const conn = new Db(db);
    const threads = new ThreadTable(db);
    const runs = new RunTable(db);
    this.tail = new SqliteCommitNotices(db, threads, opts.pollMs);
    this.runStarts = new SqliteRunStarts(db, opts.pollMs);
    this.threads = new SqliteThreadLog(conn, threads, runs, this.tail, this.runStarts);
    this.runs = new SqliteRunQueue(conn, threads, runs);
    this.records = new SqliteRecords(db);
    const epoch = db.prepare("SELECT value FROM counters WHERE name = 'epoch'").pluck().get();
    this.epoch = String(epoch);
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    this.tail.close();
    this.runStarts.close();
    this.db.close();
  }
}
