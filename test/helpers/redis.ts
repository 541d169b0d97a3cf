import { Redis } from "ioredis";
import { REDIS_URL } from "./services.js";

let n = 0;
/** A key prefix no other test (or worker, or concurrent run) uses. */
export const freshPrefix = (tag = "t"): string =>
  `tl-test:${tag}:${process.pid}:${Date.now().toString(36)}:${++n}`;

/** Deletes every key under `prefix` (SCAN, never KEYS: other users share the server). */
export async function dropPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
