/**
 * Claims are taken once per key (a schedule tick that failed, an interrupt) and expire: what the
 * stores keep of them stays bounded however many keys were ever claimed (RecordStore.claim).
 */
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import type { ThreadStore } from "../../src/core/store.js";
import { type Backend, forEachBackend } from "../backends.js";
import { pgAdmin } from "../helpers/pg.js";
import { REDIS_URL } from "../helpers/services.js";

/** How many claim entries the backend holds, read with its own queries. */
async function storedClaims(backend: Backend["name"], spec: string): Promise<number> {
  if (backend === "sqlite") {
    const db = new Database(spec.slice("sqlite:".length), { readonly: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM claims").get() as { n: number }).n;
    } finally {
      db.close();
    }
  }
  if (backend === "postgres") {
    const schema = new URL(spec).searchParams.get("schema");
    const [row] = await pgAdmin<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".claims`);
    return Number(row?.n);
  }
  const prefix = new URL(spec).searchParams.get("prefix");
  const redis = new Redis(REDIS_URL);
  try {
    let n = 0;
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:claim:*`, "COUNT", 1000);
      cursor = next;
      // Redis drops an expired claim itself (PX): every key left has a time to live.
      for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
      n += keys.length;
    } while (cursor !== "0");
    return n;
  } finally {
    redis.disconnect();
  }
}

await forEachBackend(
  "expired claims are removed",
  (backend) => {
    it("150 claims that expired leave at most a bounded batch behind after new claims", async () => {
      const data = await backend.fresh("claims");
      let store: ThreadStore | undefined;
      try {
        store = await data.open();
        for (let i = 0; i < 150; i++) {
          expect(
            await store.records.claim(`tick-${i}`, { owner: "a", now: 1_000, leaseMs: 60_000 }),
          ).toBe(true);
        }
        expect(await storedClaims(backend.name, data.spec!)).toBe(150);
        // A week later (for the SQL stores' pruning; Redis' keys carry their own expiry).
        const later = 1_000 + 7 * 24 * 3600_000;
        for (let i = 0; i < 3; i++) {
          expect(
            await store.records.claim(`late-${i}`, { owner: "b", now: later, leaseMs: 60_000 }),
          ).toBe(true);
        }
        const left = await storedClaims(backend.name, data.spec!);
        // Redis keeps the expired ones until their real-time PX runs out: a TTL was checked.
        if (backend.name === "redis") expect(left).toBe(153);
        else expect(left).toBe(3);
      } finally {
        await store?.close();
        await data.cleanup();
      }
    });
  },
  (b) => b.name !== "memory",
);
