import { randomUUID } from "node:crypto";
import type { LeaseRequest, RecordStore, ScheduleRecordBase } from "../../core/store.js";
import { EPOCH_CHECK, type RedisEpoch } from "./epoch.js";
import type { RedisKeys } from "./keys.js";
import { json } from "./rows.js";
import { LuaScript } from "./script.js";

/** KEYS: schedules, order, seq. ARGV: id, JSON. A new id gets the next place in the order. */
const PUT = new LuaScript(`${EPOCH_CHECK}
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
return 1
`);

/**
 * KEYS: the claim key. ARGV: value (`{ owner, expiresAt, n }` JSON), now, keep ms → 1 for the
 * first claim while none is held (or the held one expired). In a script, so a claim never lands
 * in a keyspace that lost its data (where every earlier claim is gone). The same value again is
 * the same claim (ioredis resends a command whose reply a dropped connection lost): 1 again.
 */
const CLAIM = new LuaScript(`${EPOCH_CHECK}
local held = redis.call('GET', KEYS[1])
if held then
  if held == ARGV[1] then return 1 end
  local ok, v = pcall(cjson.decode, held)
  -- claimAvailable (core/run-rules.ts); a claim from before claims expired is kept.
  if not ok or type(v) ~= 'table' or type(v.expiresAt) ~= 'number'
    or v.expiresAt > tonumber(ARGV[2]) then return 0 end
end
-- PX lets Redis drop the key itself once the claim ran out.
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`);

/**
 * KEYS: the lease key. ARGV: owner, expiry, now → 1 when the lease is (now) the owner's
 * (leaseAvailable in core/run-rules.ts; the value is `{ owner, expiresAt }` JSON).
 */
const LEASE = new LuaScript(`${EPOCH_CHECK}
local current = redis.call('GET', KEYS[1])
if current then
  local held = cjson.decode(current)
  if held.expiresAt > tonumber(ARGV[3]) and held.owner ~= ARGV[1] then return 0 end
end
redis.call('SET', KEYS[1], cjson.encode({ owner = ARGV[1], expiresAt = tonumber(ARGV[2]) }))
return 1
`);

/** Exactly-once claims (SET NX) and schedules (a hash of JSON records, in creation order). */
export class RedisRecords implements RecordStore {
  constructor(
    private readonly epoch: RedisEpoch,
    private readonly keys: RedisKeys,
  ) {}

  /** True only for the first claim of `key`: SET NX decides, across instances. */
  async claim(key: string, claim: LeaseRequest): Promise<boolean> {
    // The nonce tells this call's resend (the same claim) from another call of the same owner.
    const expiresAt = claim.now + claim.leaseMs;
    const value = JSON.stringify({ owner: claim.owner, expiresAt, n: randomUUID() });
    const keepMs = Math.max(1, Math.ceil(claim.leaseMs));
    return (await this.epoch.run(CLAIM, [this.keys.claim(key)], [value, claim.now, keepMs])) === 1;
  }

  async lease(key: string, lease: LeaseRequest): Promise<boolean> {
    const args = [lease.owner, lease.now + lease.leaseMs, lease.now];
    return (await this.epoch.run(LEASE, [this.keys.claim(key)], args)) === 1;
  }

  async putSchedule(schedule: ScheduleRecordBase): Promise<void> {
    const k = this.keys;
    await this.epoch.run(
      PUT,
      [k.schedules, k.schedOrder, k.schedSeq],
      [schedule.id, json(schedule)],
    );
  }

  async getSchedule<S extends ScheduleRecordBase>(id: string): Promise<S | null> {
    const [text] = await this.epoch.exec((m) => m.hget(this.keys.schedules, id));
    return text === null ? null : (JSON.parse(text as string) as S);
  }

  async listSchedules<S extends ScheduleRecordBase>(): Promise<S[]> {
    const [ids] = (await this.epoch.exec((m) => m.zrange(this.keys.schedOrder, "0", "-1"))) as [
      string[],
    ];
    if (ids.length === 0) return [];
    const [texts] = (await this.epoch.exec((m) => m.hmget(this.keys.schedules, ...ids))) as [
      (string | null)[],
    ];
    // A schedule deleted between the two reads is simply not listed.
    return texts.filter((t) => t !== null).map((t) => JSON.parse(t) as S);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    const [removed] = await this.epoch.exec((m) =>
      m.hdel(this.keys.schedules, id).zrem(this.keys.schedOrder, id),
    );
    return Number(removed ?? 0) > 0;
  }
}
