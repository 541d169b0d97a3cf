import type { BaseEvent } from "@ag-ui/core";
import { afterEach, expect, it } from "vitest";
import { RetentionSweeper } from "../../src/core/retention-sweep.js";
import type { ThreadStore } from "../../src/core/store.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { activeRun, runFinished, runStarted } from "../conformance/store/fixtures.js";
import { dropSchema, freshSchema, pgAdmin } from "../helpers/pg.js";
import { describeWithService, PG_URL, probePostgres } from "../helpers/services.js";

const probe = await probePostgres();
const KEEP = 5;
const TABLES = ["events", "messages", "runs", "threads", "claims"];

/**
 * Retention on PostgreSQL keeps the disk flat by itself: the sweep VACUUMs (plain, not FULL)
 * once it removed `reclaimAfterRows` rows. Autovacuum is switched off on the test's own tables,
 * so nothing else reclaims anything and the comparison with `reclaimAfterRows: 0` is fair.
 */
describeWithService(probe, "postgres store: retention reclaims the space it removes", () => {
  const schemas: string[] = [];
  const stores: ThreadStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const s of schemas.splice(0)) await dropSchema(s);
  });

  /** A store on a fresh schema whose tables autovacuum never touches. */
  async function open() {
    const schema = freshSchema("reclaim");
    schemas.push(schema);
    const store = await createPostgresStore({ connectionString: PG_URL, schema, pool: { max: 2 } });
    stores.push(store);
    for (const t of TABLES) {
      await pgAdmin(`ALTER TABLE "${schema}".${t} SET (autovacuum_enabled = false)`);
    }
    const size = async () => {
      const rows = await pgAdmin<{ bytes: string }>(
        `SELECT sum(pg_total_relation_size(format('%I.%I', $1::text, t)::regclass)) AS bytes
         FROM unnest($2::text[]) AS t`,
        [schema, TABLES],
      );
      return Number(rows[0]!.bytes);
    };
    return { store, size };
  }

  /** Heartbeat-shaped runs with some bulk, so that what is not reclaimed shows. */
  async function runs(store: ThreadStore, sweeper: RetentionSweeper, from: number, to: number) {
    let reclaims = 0;
    const filler = "x".repeat(1000);
    for (let n = from; n < to; n++) {
      const { fence } = await activeRun(store, "beat");
      const events = [
        runStarted("beat", fence.runId),
        ...Array.from({ length: 8 }, (_, i) => ({ type: "CUSTOM", name: "n", value: filler + i })),
      ] as BaseEvent[];
      await store.threads.append("beat", fence, events, {
        upsertMessages: [{ id: `m-${n}`, role: "user", content: filler }],
        state: { value: { n } },
      });
      await store.threads.append("beat", fence, [runFinished("beat", fence.runId)]);
      if ((n + 1) % KEEP === 0 && (await sweeper.sweep()).reclaimed) reclaims += 1;
    }
    return reclaims;
  }

  const sweeperOf = (store: ThreadStore, reclaimAfterRows: number) =>
    new RetentionSweeper({
      store,
      defaults: { keepRuns: KEEP },
      instanceId: "test",
      deleteThread: async () => undefined,
      intervalMs: 0,
      reclaimAfterRows,
    });

  it("after 100 runs under a 5-run retention the tables take what they took after 20; without reclaiming they grow", async () => {
    const reclaiming = await open();
    const never = await open();
    const sweepers = [sweeperOf(reclaiming.store, 100), sweeperOf(never.store, 0)] as const;
    // The two stores are independent: they run side by side.
    const reclaims = await Promise.all([
      runs(reclaiming.store, sweepers[0], 0, 20),
      runs(never.store, sweepers[1], 0, 20),
    ]);
    const reference = [await reclaiming.size(), await never.size()];
    const later = await Promise.all([
      runs(reclaiming.store, sweepers[0], 20, 100),
      runs(never.store, sweepers[1], 20, 100),
    ]);
    const end = [await reclaiming.size(), await never.size()];
    // The sweep reclaimed every 100 rows or so (a sweep removes 5 runs: 60 rows); never with 0.
    expect(reclaims[0] + later[0]).toBeGreaterThanOrEqual(5);
    expect(reclaims[1] + later[1]).toBe(0);

    // Both kept the same history: the retention worked on both.
    for (const { store } of [reclaiming, never]) {
      const view = (await store.threads.get("beat"))!;
      expect(view.messages).toHaveLength(KEEP);
      expect(await store.runs.list("beat")).toHaveLength(KEEP);
    }
    expect(end[0]).toBeLessThanOrEqual(reference[0]! * 1.1);
    expect(end[1]).toBeGreaterThan(reference[1]! * 2);
    // ~1,000 store calls: generous for a loaded machine (a size test, not a timing one).
  }, 180_000);
});
