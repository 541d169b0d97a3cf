import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ThreadStore } from "../../src/core/store.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import {
  activeRun,
  custom,
  customValue,
  newRun,
  range,
  readAll,
  seqs,
} from "../conformance/store/fixtures.js";
import { type PrivateRedis, startPrivateRedis } from "../helpers/private-services.js";

/**
 * The store's connection killed by the server (CLIENT KILL) right as a command runs: Redis may
 * have executed it and dropped its reply, and ioredis then sends it again on the new connection.
 * Every script must be idempotent against that, or an append commits twice under new seqs, a
 * claim (an exactly-once tick) answers "taken" to the caller that took it, an enqueue CONFLICT.
 * A private redis-server: killing the shared one's clients would hit other test runs.
 */
let redis: PrivateRedis;
let store: ThreadStore;
let admin: Redis;
beforeAll(async () => {
  redis = await startPrivateRedis();
  // Reconnect at once: the rounds wait for it.
  store = await createRedisStore({
    url: redis.url,
    prefix: "drop",
    options: { retryStrategy: () => 5 },
  });
  admin = new Redis(redis.url);
}, 30_000);
afterAll(async () => {
  await store?.close();
  admin?.disconnect();
  await redis?.stop();
});

/** Kills every other normal connection (the store's command connection among them). */
const kill = () => admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");

const ROUNDS = 60;

describe("redis commands racing a killed connection", () => {
  it("an append resent after its reply was lost commits once", async () => {
    const { fence } = await activeRun(store, "t");
    for (let i = 0; i < ROUNDS; i++) {
      await Promise.all([store.threads.append("t", fence, [custom(i)]), kill()]);
    }
    const log = await readAll(store, "t");
    expect(log.map(customValue)).toEqual(range(0, ROUNDS - 1));
    expect(seqs(log)).toEqual(range(1, ROUNDS));
  });

  it("a claim resent is still the first claim; an enqueue resent is no conflict", async () => {
    const claims: boolean[] = [];
    for (let i = 0; i < ROUNDS / 2; i++) {
      const [claimed] = await Promise.all([
        store.records.claim(`k${i}`, { owner: "me", now: i, leaseMs: 60_000 }),
        kill(),
      ]);
      claims.push(claimed);
    }
    expect(claims.every(Boolean)).toBe(true);
    expect(await store.records.claim("k0", { owner: "me", now: 0, leaseMs: 60_000 })).toBe(false);
    for (let i = 0; i < ROUNDS / 2; i++) {
      await Promise.all([store.runs.enqueue(newRun(`q${i}`), "enqueue"), kill()]);
    }
  });

  it("a claim of the next run resent returns that run", async () => {
    for (let i = 0; i < ROUNDS / 4; i++) {
      const run = newRun(`c${i}`);
      await store.runs.enqueue(run, "enqueue");
      const [claimed] = await Promise.all([
        store.runs.claimNext(run.threadId, { owner: "me", leaseMs: 10_000, now: 1_000 + i }),
        kill(),
      ]);
      expect(claimed?.run.runId).toBe(run.runId);
    }
  });
});
