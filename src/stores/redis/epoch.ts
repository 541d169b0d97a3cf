import { randomUUID } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import { ThreadlineError } from "../../core/errors.js";
import type { DataLossListener, Unsubscribe } from "../../core/store.js";
import { LuaScript } from "./script.js";

/** The prefix of the error reply a script gives when the epoch key is gone or another one. */
const LOST_REPLY = "DATA_LOST";

/**
 * The check every script starts with: the epoch key is the script's last KEY, the epoch this
 * store opened with its last ARGV. Inside the script, so a write can never land in a keyspace
 * that lost its data (it would reuse seqs, tokens and run ids).
 */
export const EPOCH_CHECK = `
if redis.call('GET', KEYS[#KEYS]) ~= ARGV[#ARGV] then
  return redis.error_reply('${LOST_REPLY} the epoch key ' .. KEYS[#KEYS] .. ' is gone or changed')
end
`;

/** `RedisEpoch.hmget`: KEYS[1] the hash, ARGV its fields (the epoch key and value last). */
const HMGET_CHECKED = new LuaScript(`${EPOCH_CHECK}
return redis.call('HMGET', KEYS[1], unpack(ARGV, 1, #ARGV - 1))
`);

/**
 * The generation of a Redis keyspace. The first store to open a prefix writes `P:epoch` (a
 * random id; SET NX, so instances starting together agree); every store remembers the value it
 * opened with. A Redis that restarted without persistence (or was flushed, or failed over to a
 * replica that never had the data) has no such key, or another instance's new one: every script
 * checks it atomically (`EPOCH_CHECK`), every read fetches it in the same MULTI, and the store
 * checks it again whenever its connection comes back. Once the loss is seen the store refuses
 * every operation with `DATA_LOST` and tells its listeners (followers end, runs stop): it never
 * writes a new epoch itself — a restart of the process does (see README "Stores").
 */
export class RedisEpoch {
  private lostError: ThreadlineError | undefined;
  private readonly listeners = new Set<DataLossListener>();

  private constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly value: string,
  ) {}

  /** Creates the keyspace's epoch if it has none, and returns the one in force. */
  static async open(redis: Redis, key: string): Promise<RedisEpoch> {
    await redis.set(key, randomUUID(), "NX");
    const value = await redis.get(key);
    if (value === null) {
      throw new ThreadlineError("UNAVAILABLE", `the redis epoch key ${key} vanished at start-up`);
    }
    const epoch = new RedisEpoch(redis, key, value);
    // A restarted server is the common way to lose data: look as soon as the connection is back.
    let ready = redis.status === "ready";
    redis.on("ready", () => {
      if (ready) void epoch.verify().catch(() => undefined);
      ready = true;
    });
    return epoch;
  }

  get lost(): ThreadlineError | undefined {
    return this.lostError;
  }

  /** Called once, with the DATA_LOST error, when the loss is detected. */
  onLost(listener: DataLossListener): Unsubscribe {
    if (this.lostError) {
      const error = this.lostError;
      queueMicrotask(() => listener(error));
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Throws DATA_LOST once the loss was seen: the store no longer operates. */
  assertKept(): void {
    if (this.lostError) throw this.lostError;
  }

  /** Compares the key with the value this store opened with (a GET). */
  async verify(): Promise<void> {
    this.assertKept();
    const current = await this.redis.get(this.key);
    if (current !== this.value) this.markLost(current);
  }

  /** Runs a script with the epoch key and value appended (see `EPOCH_CHECK`). */
  async run(script: LuaScript, keys: readonly string[], args: readonly (string | number)[]) {
    this.assertKept();
    try {
      return await script.run(this.redis, [...keys, this.key], [...args, this.value]);
    } catch (error) {
      if (String((error as Error)?.message).startsWith(LOST_REPLY)) throw this.markLost(undefined);
      throw error;
    }
  }

  /**
   * HMGET of one hash, checked against the epoch in the same script: the hot reads (a run's
   * record, a thread's head) as one command, not a four-command MULTI (its client-side cost was a
   * third of a Redis run's CPU beside the append itself).
   */
  async hmget(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    return (await this.run(HMGET_CHECKED, [key], fields)) as (string | null)[];
  }

  /**
   * Commands (reads, mostly) in one MULTI whose first command GETs the epoch: atomic, so what
   * they return belongs to the keyspace whose epoch was checked. The other replies, in order.
   */
  async exec(build: (multi: ChainableCommander) => void): Promise<unknown[]> {
    this.assertKept();
    const multi = this.redis.multi().get(this.key);
    build(multi);
    const replies = await multi.exec();
    if (!replies) throw new ThreadlineError("UNAVAILABLE", "a redis transaction was discarded");
    const [first, ...rest] = replies;
    if (first?.[0]) throw first[0];
    if (first?.[1] !== this.value) throw this.markLost(first?.[1] as string | null);
    return rest.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
  }

  private markLost(found: string | null | undefined): ThreadlineError {
    if (this.lostError) return this.lostError;
    const what =
      found === null
        ? "is gone"
        : found === undefined
          ? "is gone or changed"
          : `holds another epoch (${found})`;
    this.lostError = new ThreadlineError(
      "DATA_LOST",
      `the redis store lost its data: its epoch key ${this.key} ${what} (a restart without ` +
        "persistence, a flush or a failover); this instance refuses to operate until it is " +
        "restarted",
      { details: { epoch: this.value } },
    );
    const error = this.lostError;
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) {
      try {
        listener(error);
      } catch {
        // One listener's failure must not keep the others from hearing of the loss.
      }
    }
    return error;
  }
}
