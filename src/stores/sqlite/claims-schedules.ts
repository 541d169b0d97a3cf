import type Database from "better-sqlite3";
import type { LeaseRequest, RecordStore, ScheduleRecordBase } from "../../core/store.js";
import { json } from "./rows.js";

/** Exactly-once claims (a unique key) and schedules (one JSON row each, in creation order). */
export class SqliteRecords implements RecordStore {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      // claimAvailable (core/run-rules.ts): `at` holds when the claim expires; an expired claim
      // is taken over.
      claim: db.prepare(
        `INSERT INTO claims (key, owner, at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE
         SET owner = excluded.owner, at = excluded.at WHERE claims.at <= ?`,
      ),
      // Expired claims and leases go, a bounded batch per claim (claims are rare: failed ticks).
      prune: db.prepare(
        "DELETE FROM claims WHERE rowid IN (SELECT rowid FROM claims WHERE at <= ? LIMIT 100)",
      ),
      // leaseAvailable (core/run-rules.ts): the claims row of a lease holds its expiry in `at`.
      lease: db.prepare(
        `INSERT INTO claims (key, owner, at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE
         SET owner = excluded.owner, at = excluded.at
         WHERE claims.at <= ? OR claims.owner = excluded.owner`,
      ),
      // An upsert keeps the row (and so its place in the list), unlike INSERT OR REPLACE.
      put: db.prepare(
        `INSERT INTO schedules (id, record) VALUES (?, ?)
         ON CONFLICT (id) DO UPDATE SET record = excluded.record`,
      ),
      get: db.prepare<[string], string>("SELECT record FROM schedules WHERE id = ?").pluck(),
      list: db.prepare<[], string>("SELECT record FROM schedules ORDER BY rowid").pluck(),
      delete: db.prepare("DELETE FROM schedules WHERE id = ?"),
    };
  }

  /** True only for the first claim of `key`: the unique key decides, across processes. */
  async claim(key: string, claim: LeaseRequest): Promise<boolean> {
    const won = this.s.claim.run(key, claim.owner, claim.now + claim.leaseMs, claim.now).changes;
    if (won === 1) this.s.prune.run(claim.now);
    return won === 1;
  }

  async lease(key: string, lease: LeaseRequest): Promise<boolean> {
    const expiresAt = lease.now + lease.leaseMs;
    return this.s.lease.run(key, lease.owner, expiresAt, lease.now).changes === 1;
  }

  async putSchedule(schedule: ScheduleRecordBase): Promise<void> {
    this.s.put.run(schedule.id, json(schedule));
  }

  async getSchedule<S extends ScheduleRecordBase>(id: string): Promise<S | null> {
    const text = this.s.get.get(id);
    return text === undefined ? null : (JSON.parse(text) as S);
  }

  async listSchedules<S extends ScheduleRecordBase>(): Promise<S[]> {
    return this.s.list.all().map((text) => JSON.parse(text) as S);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    return this.s.delete.run(id).changes > 0;
  }
}
