import { claimAvailable, leaseAvailable } from "../../core/run-rules.js";
import type { LeaseRequest, RecordStore, ScheduleRecordBase } from "../../core/store.js";
import { copy, type MemoryStoreData } from "./data.js";

/** Claims (a set of keys) and schedules (a map in creation order). */
export class MemoryRecords implements RecordStore {
  constructor(private readonly data: MemoryStoreData) {}

  async claim(key: string, claim: LeaseRequest) {
    const claims = this.data.claims;
    const expiresAt = claims.get(key);
    if (!claimAvailable(expiresAt === undefined ? undefined : { expiresAt }, claim.now)) {
      return false;
    }
    for (const [k, at] of claims) if (at <= claim.now) claims.delete(k);
    claims.set(key, claim.now + claim.leaseMs);
    return true;
  }

  async lease(key: string, lease: LeaseRequest) {
    const leases = this.data.leases;
    if (!leaseAvailable(leases.get(key), lease.owner, lease.now)) return false;
    leases.set(key, { owner: lease.owner, expiresAt: lease.now + lease.leaseMs });
    return true;
  }

  async putSchedule<S extends ScheduleRecordBase>(schedule: S) {
    this.data.schedules.set(schedule.id, copy(schedule));
  }

  async getSchedule<S extends ScheduleRecordBase>(id: string) {
    const s = this.data.schedules.get(id);
    return s ? (copy(s) as S) : null;
  }

  async listSchedules<S extends ScheduleRecordBase>() {
    return [...this.data.schedules.values()].map((s) => copy(s) as S);
  }

  async deleteSchedule(id: string) {
    return this.data.schedules.delete(id);
  }
}
