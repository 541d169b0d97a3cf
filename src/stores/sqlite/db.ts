import type Database from "better-sqlite3";

/**
 * The connection and its two kinds of transaction. better-sqlite3 is synchronous, so every
 * operation runs to completion inside its promise: writes are IMMEDIATE transactions (the write
 * lock is taken up front, so a second process waits for it via busy_timeout instead of failing
 * mid-transaction), reads that must agree with each other are one deferred transaction (one WAL
 * snapshot).
 */
export class Db {
  constructor(readonly raw: Database.Database) {}

  write<T>(fn: () => T): T {
    return this.raw.transaction(fn).immediate();
  }

  snapshot<T>(fn: () => T): T {
    return this.raw.transaction(fn).deferred();
  }
}
