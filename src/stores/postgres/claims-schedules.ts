import type pg from "pg";
import type { LeaseRequest, RecordStore, ScheduleRecordBase } from "../../core/store.js";
import { json } from "./rows.js";
import type { Tables } from "./schema.js";

/** Exactly-once claims (a unique key) and schedules (one JSON row each, in creation order). */
export class PgRecords implements RecordStore {
  constructor(
    private readonly db: pg.Pool,
    private readonly t: Tables,
  ) {}

  /** True only for the first claim of `key`: the primary key decides, across instances. */
  /** claimAvailable (core/run-rules.ts): `at` holds when the claim expires. */
  async claim(key: string, claim: LeaseRequest): Promise<boolean> {
    const res = await this.db.query(
      `INSERT INTO ${this.t.claims} AS c (key, owner, at) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, at = excluded.at
       WHERE c.at <= $4`,
      [key, claim.owner, claim.now + claim.leaseMs, claim.now],
    );
    if (res.rowCount !== 1) return false;
    // Expired claims and leases go, a bounded batch per claim (claims are rare: failed ticks).
    await this.db.query(
      `DELETE FROM ${this.t.claims} WHERE ctid IN
       (SELECT ctid FROM ${this.t.claims} WHERE at <= $1 LIMIT 100)`,
      [claim.now],
    );
    return true;
  }

  /** leaseAvailable (core/run-rules.ts): the claims row of a lease holds its expiry in `at`. */
  async lease(key: string, lease: LeaseRequest): Promise<boolean> {
    const res = await this.db.query(
      `INSERT INTO ${this.t.claims} AS c (key, owner, at) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, at = excluded.at
       WHERE c.at <= $4 OR c.owner = excluded.owner`,
      [key, lease.owner, lease.now + lease.leaseMs, lease.now],
    );
    return res.rowCount === 1;
  }

  // An upsert keeps the row (and so its place in the list).
  async putSchedule(schedule: ScheduleRecordBase): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.t.schedules} (id, record) VALUES ($1, $2::json)
       ON CONFLICT (id) DO UPDATE SET record = excluded.record`,
      [schedule.id, json(schedule)],
    );
  }

  async getSchedule<S extends ScheduleRecordBase>(id: string): Promise<S | null> {
    const { rows } = await this.db.query<{ record: S }>(
      `SELECT record FROM ${this.t.schedules} WHERE id = $1`,
      [id],
    );
    return rows[0]?.record ?? null;
  }

  async listSchedules<S extends ScheduleRecordBase>(): Promise<S[]> {
    const { rows } = await this.db.query<{ record: S }>(
      `SELECT record FROM ${this.t.schedules} ORDER BY created_order`,
    );
    return rows.map((r) => r.record);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    const res = await this.db.query(`DELETE FROM ${this.t.schedules} WHERE id = $1`, [id]);
    return (res.rowCount ?? 0) > 0;
  }
}
