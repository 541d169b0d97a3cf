import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ThreadStore } from "../../src/core/store.js";
import type { Queryable } from "../../src/stores/postgres/connection.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { RunTable } from "../../src/stores/postgres/runs.js";
import { tablesOf } from "../../src/stores/postgres/schema.js";
import { ThreadTable } from "../../src/stores/postgres/threads.js";
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

  /** Rows read by the statements `fn` sends, run for real in a transaction then rolled back. */
  async function rowsReadBy(fn: (db: Queryable) => Promise<unknown>): Promise<number> {
    let total = 0;
    const explaining = {
      query: async (text: string, values?: unknown[]) => {
        const { rows } = await client.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
          values,
        );
        total += rowsRead(rows[0]!["QUERY PLAN"][0].Plan);
        return { rows: [] };
      },
    } as unknown as Queryable;
    await client.query("BEGIN");
    try {
      await fn(explaining);
    } finally {
      await client.query("ROLLBACK");
    }
    return total;
  }

  /** The claim of a queued run and a batch's message upsert on `threadId`. */
  async function perRun(threadId: string) {
    const head = (await store.threads.head(threadId))!;
    await store.runs.enqueue(newRun(threadId), "enqueue");
    const lease = { owner: "o", expiresAt: Date.now() + 60_000 };
    const claim = await rowsReadBy((db) =>
      new RunTable(t).startHead(db, threadId, lease, 0, Date.now()),
    );
    const update = {
      upsertMessages: [
        { id: "u-0", role: "user" as const, content: "edited" },
        { id: "new", role: "user" as const, content: "new" },
      ],
    };
    const messages = await rowsReadBy((db) =>
      new ThreadTable(t).applyMessages(db, threadId, 1_000_000, update, head.lastSeq + 1),
    );
    return { claim, messages };
  }

  it("claiming the queue's head and upserting a batch's messages read as few rows on a thread with 300 ended runs as on one with 3", async () => {
    await heartbeats("young", 3);
    await heartbeats("old", 300);
    // What the retention sweep does after it removed rows: the tables' only VACUUM here.
    await store.threads.reclaim!();
    const young = await perRun("young");
    const old = await perRun("old");
    expect(old).toEqual(young);
    // A handful of index probes: the queue's head, the run row, the thread row, the counters.
    expect(old.claim).toBeLessThanOrEqual(5);
    expect(old.messages).toBeLessThanOrEqual(2);
  }, 120_000);
});
