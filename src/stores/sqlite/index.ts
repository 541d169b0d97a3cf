import type { ThreadStore } from "../../core/store.js";
import { openDatabase } from "./connection.js";
import type { SqliteConnectionOptions } from "./options.js";
import { SCHEMA_VERSION as schemaVersion } from "./schema.js";
import { SqliteStore } from "./store.js";

export interface SqliteStoreOptions extends SqliteConnectionOptions {
  /**
   * How often, while this store has subscribers, it looks for appends that another process
   * (or another store instance) made to the same file. Default 50 ms. Appends made through
   * this store reach its subscribers at once, without waiting for a poll.
   */
  pollMs?: number;
}

/**
 * The embedded SQLite store: one file in WAL mode. Several processes may open the same file;
 * writes serialise on SQLite's write lock and each process's subscribers see every append.
 */
export function createSqliteStore(opts: SqliteStoreOptions): ThreadStore {
  return new SqliteStore(openDatabase(opts), { pollMs: opts.pollMs ?? 50 });
}

/**
 * The schema version this build writes. Declared here rather than re-exported, so the
 * subpath's declarations do not reach the driver's types.
 */
export const SCHEMA_VERSION: number = schemaVersion;
