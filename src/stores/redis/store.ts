import type { Redis } from "ioredis";
import type { DataLossListener, ThreadStore, Unsubscribe } from "../../core/store.js";
import { RedisRecords } from "./claims-schedules.js";
import type { RedisEpoch } from "./epoch.js";
import type { RedisKeys } from "./keys.js";
import type { RedisLiveTail } from "./live-tail.js";
import { RedisRunQueue } from "./runs.js";
import type { RedisThreadLog } from "./threads.js";

/**
 * The Redis `ThreadStore`: a stream per thread for the log, hashes and sorted sets for the view,
 * runs, queue, leases and schedules. Every write is one Lua script, so all instances agree on
 * seqs, fences and the queue.
 */
export class RedisStore implements ThreadStore {
  readonly kind = "redis";
  readonly runs: RedisRunQueue;
  readonly records: RedisRecords;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly generation: RedisEpoch,
    keys: RedisKeys,
    readonly threads: RedisThreadLog,
    private readonly tail: RedisLiveTail,
  ) {
    this.runs = new RedisRunQueue(generation, keys);
    this.records = new RedisRecords(generation, keys);
    // The live tail's reads stop at once: they would only fail again, every second.
    generation.onLost(() => this.tail.close());
  }

  get epoch(): string {
    return this.generation.value;
  }

  onDataLost(listener: DataLossListener): Unsubscribe {
    return this.generation.onLost(listener);
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.tail.close();
    // QUIT lets queued commands finish; without a live connection it would wait for one.
    if (this.redis.status === "ready") await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }
}
