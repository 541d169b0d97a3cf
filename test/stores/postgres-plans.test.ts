import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { planAppend } from "../../src/core/append-plan.js";
import type { ThreadStore } from "../../src/core/store.js";
import { appendStatement } from "../../src/stores/postgres/append-sql.js";
import type { Queryable } from "../../src/stores/postgres/connection.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { RunTable } from "../../src/stores/postgres/runs.js";
import { tablesOf } from "../../src/stores/postgres/schema.js";
import { newRun, runFinished, runStarted } from "../conformance/store/fixtures.js";
import { dropSchema, freshSchema, pgAdmin } from "../helpers/pg.js";
import { describeWithService, PG_URL, probePostgres } from "../helpers/services.js";

const probe = await probePostgres();
const TABLES = ["events", "messages", "runs", "threads", "claims"];

/** A plan node of EXPLAIN (ANALYZE, FORMAT JSON). */
interface PlanNode {
  "Node Type": string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Join Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  Plans?: PlanNode[];
}

/** Rows the plan read from tables and indexes (what it kept and what it threw away). */
function rowsRead(node: PlanNode): number {
  const own =
    /Scan/.test(node["Node Type"]) && !/^(CTE|Function|Subquery) Scan$/.test(node["Node Type"])
      ? (node["Actual Rows"] ?? 0) * (node["Actual Loops"] ?? 1)
      : 0;
  const removed =
    (node["Rows Removed by Filter"] ?? 0) +
    (node["Rows Removed by Join Filter"] ?? 0) +
    (node["Rows Removed by Index Recheck"] ?? 0);
  return own + removed + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child), 0);
}

/**
 * Issue 14: on a long-lived thread, the per-run statements must read only the rows they change,
 * however many runs and messages the thread keeps (and however many dead versions of them wait
 * for the next VACUUM). The tables are never ANALYZEd here, as on a server without autovacuum:
 * the statements must not leave the plan to statistics. Counted from the statements' own plans
 * (EXPLAIN ANALYZE in a transaction rolled back), not timed.
 */
describeWithService(probe, "postgres store: per-run statements on a long thread", () => {
  const schema = freshSchema("plans");
  const t = tablesOf(schema);
  let store: ThreadStore;
  let client: pg.Client;

  beforeAll(async () => {
    store = await createPostgresStore({ connectionString: PG_URL, schema, pool: { max: 2 } });
    for (const table of TABLES) {
      await pgAdmin(`ALTER TABLE "${schema}".${table} SET (autovacuum_enabled = false)`);
    }
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await store?.close();
    await dropSchema(schema);
  });

  /** Heartbeat-shaped runs on `threadId`: a prompt and a reply each. */
  async function heartbeats(threadId: string, count: number) {
    for (let n = 0; n < count; n++) {
      const run = newRun(threadId);
      await store.runs.enqueue(run, "enqueue");
      const claimed = (await store.runs.claimNext(threadId, {
        owner: "o",
        leaseMs: 60_000,
        now: Date.now(),
      }))!;
      const prompt = { id: `u-${n}`, role: "user" as const, content: `beat ${n}` };
      const reply = { id: `a-${n}`, role: "assistant" as const, content: "alive" };
      await store.threads.append(threadId, claimed.fence, [runStarted(threadId, run.runId)], {
        upsertMessages: [prompt, reply],
      });
      await store.threads.append(threadId, claimed.fence, [runFinished(threadId, run.runId)]);
    }
  }

  /** Rows the statement reads, run for real in a transaction then rolled back. */
  async function rowsReadBy(text: string, values: unknown[]): Promise<number> {
    await client.query("BEGIN");
    try {
      const { rows } = await client.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
        values,
      );
      return rowsRead(rows[0]!["QUERY PLAN"][0].Plan);
    } finally {
      await client.query("ROLLBACK");
    }
  }

  /** The statements sent through `fn`, captured (not run). */
  async function sent(fn: (db: Queryable) => Promise<unknown>) {
    const statements: { text: string; values: unknown[] }[] = [];
    const capture = {
      query: async (text: string, values: unknown[] = []) => {
        statements.push({ text, values });
        return { rows: [] };
      },
    } as unknown as Queryable;
    await fn(capture).catch(() => undefined);
    return statements;
  }

  /** Rows read by a claim of a queued run and by an append (events, messages, state). */
  async function perRun(threadId: string) {
    const run = newRun(threadId);
    await store.runs.enqueue(run, "enqueue");
    const lease = { owner: "o", expiresAt: Date.now() + 60_000 };
    let claim = 0;
    for (const s of await sent((db) =>
      new RunTable(t).claimHead(db, threadId, lease, Date.now()),
    )) {
      claim += await rowsReadBy(s.text, s.values);
    }
    const { fence } = (await store.runs.claimNext(threadId, {
      owner: "o",
      leaseMs: 60_000,
      now: Date.now(),
    }))!;
    const view = {
      upsertMessages: [
        { id: "u-0", role: "user" as const, content: "edited" },
        { id: "new", role: "user" as const, content: "new" },
      ],
      state: { value: { n: 1 } },
    };
    const batch = [runStarted(threadId, run.runId), runFinished(threadId, run.runId)];
    const plan = planAppend(batch);
    const statement = appendStatement(t, {
      threadId,
      fence,
      plan,
      view,
      now: Date.now(),
      channel: "c",
    });
    const append = await rowsReadBy(statement.text, statement.values);
    return { claim, append };
  }

  it("a claim and an append (events, messages, state) read as few rows on a thread with 300 ended runs as on one with 3", async () => {
    await heartbeats("young", 3);
    await heartbeats("old", 300);
    // What the retention sweep does after it removed rows: the tables' only VACUUM here.
    await store.threads.reclaim!();
    const young = await perRun("young");
    const old = await perRun("old");
    expect(old).toEqual(young);
    // A handful of index probes (the thread row, the run row, the queue head, the counters) and
    // the odd row of a table this small read beside them.
    expect(old.claim).toBeLessThanOrEqual(10);
    expect(old.append).toBeLessThanOrEqual(10);
  }, 120_000);
});
