import type pg from "pg";
import type { ThreadStore } from "../../core/store.js";
import { PgRecords } from "./claims-schedules.js";
import type { PgLiveTail } from "./live-tail.js";
import { PgThreadLog } from "./log.js";
import { PgRunQueue } from "./run-queue.js";
import { RunTable } from "./runs.js";
import type { Tables } from "./schema.js";
import { ThreadTable } from "./threads.js";

/**
 * The PostgreSQL `ThreadStore`: the system of record for several instances. All instances agree
 * on seqs, fences and the run queue because every write locks the thread's row first.
 */
export class PostgresStore implements ThreadStore {
  readonly kind = "postgres";
  readonly threads: PgThreadLog;
  readonly runs: PgRunQueue;
  readonly records: PgRecords;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    tables: Tables,
    private readonly tail: PgLiveTail,
    /** Written when the schema was created (see the schema): names this schema's log. */
    readonly epoch: string,
  ) {
    const threads = new ThreadTable(tables);
    const runs = new RunTable(tables);
    this.threads = new PgThreadLog(pool, threads, tables, tail);
    this.runs = new PgRunQueue(pool, threads, runs);
    this.records = new PgRecords(pool, tables);
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.tail.close();
    await this.pool.end();
  }
}
