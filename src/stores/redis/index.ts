import type { ThreadStore } from "../../core/store.js";
import { connect, type RedisConnectionOptions } from "./connection.js";
import { RedisEpoch } from "./epoch.js";
import { RedisKeys } from "./keys.js";
import { RedisLiveTail } from "./live-tail.js";
import { RedisStore } from "./store.js";
import { lastSeqOf, RedisThreadLog } from "./threads.js";

export interface RedisStoreOptions extends RedisConnectionOptions {
  /** Called with background errors (lost subscriber connection, failed live reads). */
  onError?: (error: unknown) => void;
}

export const DEFAULT_PREFIX = "threadline";

/**
 * The Redis store, for several Threadline instances on one Redis. Resolves once both of its
 * connections are up: one for commands and scripts, one subscribed to the appends channel that
 * wakes this instance's followers.
 */
export async function createRedisStore(opts: RedisStoreOptions = {}): Promise<ThreadStore> {
  const keys = new RedisKeys(opts.prefix ?? DEFAULT_PREFIX);
  const onError = opts.onError ?? (() => undefined);
  const redis = await connect(opts, `threadline:${keys.prefix}`);
  let sub: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    const epoch = await RedisEpoch.open(redis, keys.epoch);
    // The live tail subscribes again itself on every reconnect, with a handler: ioredis' own
    // re-subscription has none, so a connection closed while it waits for its answer would end
    // as an unhandled rejection ("Connection is closed.").
    sub = await connect(
      { ...opts, options: { ...opts.options, autoResubscribe: false } },
      `threadline-sub:${keys.prefix}`,
    );
    const tail = new RedisLiveTail(
      sub,
      keys.channel,
      {
        lastSeq: (threadId) => lastSeqOf(epoch, keys, threadId),
      },
      onError,
    );
    await tail.start();
    return new RedisStore(redis, epoch, keys, new RedisThreadLog(epoch, keys, tail), tail);
  } catch (error) {
    sub?.disconnect();
    redis.disconnect();
    throw error;
  }
}
