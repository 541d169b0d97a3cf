import type { Redis, RedisOptions } from "ioredis";
import { loadDriver } from "../driver.js";

export interface RedisConnectionOptions {
  /** `redis://[:password@]host:6379[/db]` (or `rediss://` for TLS). */
  url?: string;
  /** Any ioredis options (host, port, password, tls, sentinels, ...). */
  options?: RedisOptions;
  /**
   * Prefix of every key and of the appends channel. Default `threadline`. Several deployments
   * (or tests) can share one Redis database with a prefix each.
   */
  prefix?: string;
}

/**
 * Opens a connection and waits until it is ready; fails (rather than retrying forever) when the
 * first connection attempt fails. Once connected, ioredis reconnects by itself and queues
 * commands meanwhile.
 */
export async function connect(opts: RedisConnectionOptions, name: string): Promise<Redis> {
  const options: RedisOptions = { ...opts.options, lazyConnect: true, connectionName: name };
  const { Redis: Driver } = loadDriver<typeof import("ioredis")>("ioredis");
  const redis = opts.url ? new Driver(opts.url, options) : new Driver(options);
  // Errors surface on the commands that hit them; the event must not crash the process.
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    return redis;
  } catch (error) {
    redis.disconnect();
    throw error;
  }
}
