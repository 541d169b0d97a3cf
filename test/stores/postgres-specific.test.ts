import { afterEach, expect, it } from "vitest";
import type { FollowItem } from "../../src/core/follow-item.js";
import type { ThreadStore } from "../../src/core/store.js";
import { createPostgresStore, SCHEMA_VERSION } from "../../src/stores/postgres/index.js";
import { activeRun, custom, listen, range, seqs, waitFor } from "../conformance/store/fixtures.js";
import { dropSchema, freshSchema, pgAdmin } from "../helpers/pg.js";
import { describeWithService, PG_URL, probePostgres } from "../helpers/services.js";

const probe = await probePostgres();

describeWithService(probe, "postgres store: schema and LISTEN connection", () => {
  const schemas: string[] = [];
  const stores: ThreadStore[] = [];
  const open = async (schema: string, onError?: (e: unknown) => void) => {
    const s = await createPostgresStore({
      connectionString: PG_URL,
      schema,
      pool: { max: 3 },
      ...(onError ? { onError } : {}),
    });
    stores.push(s);
    return s;
  };
  const schema = () => {
    const s = freshSchema("pg");
    schemas.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const s of schemas.splice(0)) await dropSchema(s);
  });

  it("instances starting together on a fresh schema migrate it once", async () => {
    const name = schema();
    const all = await Promise.all(range(1, 4).map(() => open(name)));
    await all[0]!.threads.ensure("x");
    expect((await all[3]!.threads.get("x"))?.threadId).toBe("x");
    const versions = await pgAdmin<{ version: number }>(
      `SELECT version FROM "${name}".threadline_migrations ORDER BY version`,
    );
    expect(versions.map((v) => v.version)).toEqual(range(1, SCHEMA_VERSION));
  });

  it("a schema keeps its epoch across instances; one created again has another", async () => {
    const name = schema();
    const [a, b] = await Promise.all([open(name), open(name)]);
    expect(a.epoch).toMatch(/^\d+$/);
    expect(b.epoch).toBe(a.epoch);
    await a.close();
    await b.close();
    await dropSchema(name);
    const again = await open(name);
    expect(again.epoch).not.toBe(a.epoch);
  });

  it("refuses a schema written by a newer Threadline", async () => {
    const name = schema();
    await (await open(name)).close();
    await pgAdmin(`INSERT INTO "${name}".threadline_migrations (version) VALUES ($1)`, [
      SCHEMA_VERSION + 1,
    ]);
    await expect(open(name)).rejects.toThrow(/newer/);
  });

  it("a schema from before the fencing-token floor upgrades, and a recreated thread issues tokens above the deleted one's", async () => {
    const name = schema();
    const store = await open(name);
    const held = await activeRun(store, "old-thread");
    const again = (await store.runs.takeOver("old-thread", held.run.runId, {
      owner: "o",
      leaseMs: 1_000,
      now: 1,
      force: true,
    }))!;
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    // Back to version 1: no counters table yet (nor the later runs columns).
    await pgAdmin(`DROP TABLE "${name}".counters`);
    await pgAdmin(
      `ALTER TABLE "${name}".threads DROP COLUMN horizon, DROP COLUMN interrupts, DROP COLUMN interrupts_due_at`,
    );
    await pgAdmin(`ALTER TABLE "${name}".messages DROP COLUMN seq`);
    await pgAdmin(
      `ALTER TABLE "${name}".runs DROP COLUMN started_by, DROP COLUMN cancelled_by, DROP COLUMN trace`,
    );
    await pgAdmin(`DELETE FROM "${name}".threadline_migrations WHERE version > 1`);
    const upgraded = await open(name);
    expect(await upgraded.threads.delete("old-thread")).toBe(true);
    const fresh = await activeRun(upgraded, "old-thread");
    expect(fresh.fence.token).toBeGreaterThan(again.fence.token);
  });

  it("a subscriber whose LISTEN connection drops catches up from its watermark", async () => {
    const name = schema();
    const errors: string[] = [];
    const writer = await open(name);
    const reader = await open(name, (e) => errors.push(String((e as Error).message)));
    const t = "listen-drop";
    const { fence } = await activeRun(writer, t);
    const got: FollowItem[] = [];
    const off = await listen(reader, t, (batch) => got.push(...batch));
    await writer.threads.append(t, fence, [custom(1), custom(2)]);
    await waitFor(() => got.length === 2, "the first records");

    const listeners = () =>
      pgAdmin<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
        [`threadline-listen:${name}`],
      );
    const before = (await listeners()).map((r) => r.pid);
    expect(before).toHaveLength(2);
    await pgAdmin("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [before]);
    // Appended while the listener is (most likely) down: their notifications are lost.
    for (let i = 3; i <= 20; i++) await writer.threads.append(t, fence, [custom(i)]);
    await waitFor(async () => {
      const now = (await listeners()).map((r) => r.pid);
      return now.length === 2 && now.every((pid) => !before.includes(pid));
    }, "both LISTEN connections to come back");
    expect(errors.some((m) => /LISTEN connection was lost/.test(m))).toBe(true);
    await waitFor(() => got.length >= 20, "the records appended during the outage");
    // And live again after the reconnect.
    await writer.threads.append(t, fence, [custom(21)]);
    await waitFor(() => got.length >= 21, "a record after the reconnect");
    off();
    expect(seqs(got)).toEqual(range(1, 21));
  });
});
