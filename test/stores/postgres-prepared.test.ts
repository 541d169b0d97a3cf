import type pg from "pg";
import { afterEach, expect, it } from "vitest";
import { createPool } from "../../src/stores/postgres/connection.js";
import { describeWithService, PG_URL, probePostgres } from "../helpers/services.js";

const probe = await probePostgres();

/**
 * The store's parameterised statements are named prepared statements: PostgreSQL parses and
 * plans each once per connection (planning was ~45% of the server's time per heartbeat run).
 * `pg_prepared_statements` lists what this session prepared, so one pooled connection shows it.
 */
describeWithService(probe, "postgres store: prepared statements", () => {
  const pools: pg.Pool[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.end();
  });

  const prepared = async (pool: pg.Pool) => {
    const { rows } = await pool.query<{ name: string; statement: string }>(
      "SELECT name, statement FROM pg_prepared_statements ORDER BY name",
    );
    return rows;
  };

  it("prepares each parameterised text once per connection, under one name", async () => {
    const pool = createPool({ connectionString: PG_URL, pool: { max: 1 } });
    pools.push(pool);
    const a = "SELECT $1::int + 1 AS x";
    const b = "SELECT $1::text || 'b' AS y";
    expect((await pool.query<{ x: number }>(a, [1])).rows[0]?.x).toBe(2);
    expect((await pool.query<{ x: number }>(a, [41])).rows[0]?.x).toBe(42);
    expect((await pool.query<{ y: string }>(b, ["a"])).rows[0]?.y).toBe("ab");
    const rows = await prepared(pool);
    expect(rows.map((r) => r.statement).sort()).toEqual([a, b].sort());
    expect(rows.every((r) => /^tl_[0-9a-f]{24}$/.test(r.name))).toBe(true);
    // Inside a transaction on a checked-out client too (the append path).
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      expect((await client.query<{ x: number }>(a, [2])).rows[0]?.x).toBe(3);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    expect((await prepared(pool)).length).toBe(2);
    // A query config (rows as arrays, as the replay's read asks) is prepared too.
    const c = "SELECT $1::int * 2 AS z";
    const res = await pool.query<[number]>({ text: c, values: [21], rowMode: "array" });
    expect(res.rows[0]).toEqual([42]);
    expect((await prepared(pool)).map((r) => r.statement)).toContain(c);
  });

  it("sends plain statements when preparedStatements is false (poolers without them)", async () => {
    const pool = createPool({
      connectionString: PG_URL,
      pool: { max: 1 },
      preparedStatements: false,
    });
    pools.push(pool);
    expect((await pool.query<{ x: number }>("SELECT $1::int AS x", [7])).rows[0]?.x).toBe(7);
    expect(await prepared(pool)).toEqual([]);
  });
});
