import type { BaseEvent } from "@ag-ui/core";
import type pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { planAppend } from "../../src/core/append-plan.js";
import { appendStatement } from "../../src/stores/postgres/append-sql.js";
import { createPool } from "../../src/stores/postgres/connection.js";
import { tablesOf } from "../../src/stores/postgres/schema.js";
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

describe("postgres store: the append's statement text", () => {
  const text = (events: BaseEvent[], messages: number) =>
    appendStatement(tablesOf("s"), {
      threadId: "t",
      fence: { runId: "r", token: 1 },
      plan: planAppend(events),
      view: {
        upsertMessages: Array.from({ length: messages }, (_, i) => ({
          id: `m${i}`,
          role: "user" as const,
          content: "x",
        })),
      },
      now: 1,
      channel: "c",
    }).text;
  const delta = (i: number) => ({ type: "CUSTOM", name: "n", value: i }) as BaseEvent;
  const started = { type: "RUN_STARTED", threadId: "t", runId: "r" } as BaseEvent;

  it("depends on the batch's shape, not its sizes (one prepared statement per shape)", () => {
    expect(text([delta(1)], 1)).toBe(text([delta(1), delta(2), delta(3)], 4));
    expect(text([started, delta(1)], 1)).toBe(text([delta(0), started, delta(1), delta(2)], 2));
  });
});
