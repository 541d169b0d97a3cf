import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import { loadDriver } from "../driver.js";
import type { SqliteConnectionOptions } from "./options.js";
import { migrate } from "./schema.js";

export type { SqliteConnectionOptions } from "./options.js";

/** Opens the file in WAL mode with this store's pragmas and brings its schema up to date. */
export function openDatabase(opts: SqliteConnectionOptions): Database.Database {
  if (opts.path !== ":memory:" && !opts.path.startsWith("file:")) {
    mkdirSync(dirname(opts.path), { recursive: true });
  }
  const Driver = loadDriver<typeof Database>("better-sqlite3");
  const db = new Driver(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
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
