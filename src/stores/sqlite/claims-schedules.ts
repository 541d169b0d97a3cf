import type Database from "better-sqlite3";
import type { ScheduleRecordBase } from "../../core/store.js";
import { json } from "./rows.js";

/** Exactly-once claims (a unique key) and schedules (one JSON row each, in creation order). */
export class ClaimsAndSchedules {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      claim: db.prepare(
        "INSERT INTO claims (key, owner, at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
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
  claim(key: string, owner: string, now: number): boolean {
    return this.s.claim.run(key, owner, now).changes === 1;
  }

  put(schedule: ScheduleRecordBase): void {
    this.s.put.run(schedule.id, json(schedule));
  }

  get<S extends ScheduleRecordBase>(id: string): S | null {
    const text = this.s.get.get(id);
    return text === undefined ? null : (JSON.parse(text) as S);
  }

  list<S extends ScheduleRecordBase>(): S[] {
    return this.s.list.all().map((text) => JSON.parse(text) as S);
  }

  delete(id: string): boolean {
    return this.s.delete.run(id).changes > 0;
  }
}
