import type { ThreadStore } from "../../core/store.js";
import { createPool, type PostgresConnectionOptions } from "./connection.js";
import { PgLiveTail } from "./live-tail.js";
import { migrate, tablesOf } from "./schema.js";
import { PostgresStore } from "./store.js";
import { ThreadTable } from "./threads.js";

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /** Called with background errors (lost LISTEN connection, failed live reads). */
  onError?: (error: unknown) => void;
}

export const DEFAULT_SCHEMA = "threadline";

/**
 * The PostgreSQL store, for several Threadline instances on one database. Resolves once the
 * schema is migrated (versioned, under an advisory lock, so instances may start together) and
 * the LISTEN connection that wakes this instance's followers is up. Uses a pool of `pool.max`
 * (default 10) connections plus one dedicated listening connection.
 */
export async function createPostgresStore(opts: PostgresStoreOptions): Promise<ThreadStore> {
  const schema = opts.schema ?? DEFAULT_SCHEMA;
  const pool = createPool(opts);
  const tables = tablesOf(schema);
  const threads = new ThreadTable(tables);
  const tail = new PgLiveTail(
    opts,
    schema,
    {
      lastSeq: (threadId) => threads.lastSeq(pool, threadId),
    },
    opts.onError ?? (() => undefined),
  );
  let epoch: string;
  try {
    await migrate(pool, schema);
    const { rows } = await pool.query<{ value: string }>(
      `SELECT value FROM ${tables.counters} WHERE name = 'epoch'`,
    );
    epoch = String(rows[0]?.value);
    await tail.start();
  } catch (error) {
    await tail.close();
    await pool.end().catch(() => undefined);
    throw error;
  }
  return new PostgresStore(pool, tables, tail, epoch);
}

export { SCHEMA_VERSION } from "./schema.js";
