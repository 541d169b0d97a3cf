import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server does not have it cached
 * (first use, or after a restart / SCRIPT FLUSH). A script runs atomically: no other command
 * interleaves, which is what makes each store operation all-or-nothing.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]) {
    try {
      return (await redis.evalsha(this.sha, keys.length, ...keys, ...args)) as unknown;
    } catch (error) {
      if (!String((error as Error).message).startsWith("NOSCRIPT")) throw error;
      return (await redis.eval(this.source, keys.length, ...keys, ...args)) as unknown;
    }
  }
}
