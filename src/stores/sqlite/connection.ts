import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { migrate } from "./schema.js";

export interface SqliteConnectionOptions {
  /** Database file; created (with its directory) when missing. `:memory:` for a private db. */
  path: string;
  /**
   * `NORMAL` (default) or `FULL`. In WAL mode a commit is in the OS's hands once `append`
   * returns under either setting, so a committed event survives `kill -9` of the process and
   * any crash that leaves the kernel running. `NORMAL` skips the fsync per commit, so the last
   * commits can be lost on power loss or a kernel crash; `FULL` fsyncs every commit and
   * survives those too, at a multiple of the per-commit cost.
   */
  synchronous?: "NORMAL" | "FULL";
  /**
   * How long a write waits for another connection's write lock (another process on the same
   * file) before failing with SQLITE_BUSY. Default 5000 ms. better-sqlite3 is synchronous:
   * the wait blocks this process's event loop, which is fine for the short write transactions
   * of this store.
   */
  busyTimeoutMs?: number;
}

/** Opens the file in WAL mode with this store's pragmas and brings its schema up to date. */
export function openDatabase(opts: SqliteConnectionOptions): Database.Database {
  if (opts.path !== ":memory:" && !opts.path.startsWith("file:")) {
    mkdirSync(dirname(opts.path), { recursive: true });
  }
  const db = new Database(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
  try {
    // WAL: readers never block the writer and vice versa, and a second process can read while
    // this one writes. journal_mode must be set outside a transaction.
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${opts.synchronous === "FULL" ? "FULL" : "NORMAL"}`);
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
