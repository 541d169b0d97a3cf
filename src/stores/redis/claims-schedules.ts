import type { Redis } from "ioredis";
import type { RecordStore, ScheduleRecordBase } from "../../core/store.js";
import type { RedisKeys } from "./keys.js";
import { json } from "./rows.js";
import { LuaScript } from "./script.js";

/** KEYS: schedules, order, seq. ARGV: id, JSON. A new id gets the next place in the order. */
const PUT = new LuaScript(`
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
return 1
`);

/** Exactly-once claims (SET NX) and schedules (a hash of JSON records, in creation order). */
export class RedisRecords implements RecordStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** True only for the first claim of `key`: SET NX decides, across instances. */
  async claim(key: string, owner: string, now: number): Promise<boolean> {
    const value = JSON.stringify({ owner, at: now });
    return (await this.redis.set(this.keys.claim(key), value, "NX")) === "OK";
  }

  async putSchedule(schedule: ScheduleRecordBase): Promise<void> {
    const k = this.keys;
    await PUT.run(
      this.redis,
      [k.schedules, k.schedOrder, k.schedSeq],
      [schedule.id, json(schedule)],
    );
  }

  async getSchedule<S extends ScheduleRecordBase>(id: string): Promise<S | null> {
    const text = await this.redis.hget(this.keys.schedules, id);
    return text === null ? null : (JSON.parse(text) as S);
  }

  async listSchedules<S extends ScheduleRecordBase>(): Promise<S[]> {
    const ids = await this.redis.zrange(this.keys.schedOrder, "0", "-1");
    if (ids.length === 0) return [];
    const texts = await this.redis.hmget(this.keys.schedules, ...ids);
    // A schedule deleted between the two reads is simply not listed.
    return texts.filter((t) => t !== null).map((t) => JSON.parse(t) as S);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    const replies = await this.redis
      .multi()
      .hdel(this.keys.schedules, id)
      .zrem(this.keys.schedOrder, id)
      .exec();
    return Number(replies?.[0]?.[1] ?? 0) > 0;
  }
}
