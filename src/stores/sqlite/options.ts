/**
 * The sqlite store's connection options. In a file of their own, without driver types, so the
 * subpath's declarations type-check in a project that has no `@types/better-sqlite3`.
 */
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
