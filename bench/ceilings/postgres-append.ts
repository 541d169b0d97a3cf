/**
 * The PostgreSQL ceiling of scenario 1: `pg` alone, the same statements, round trips and
 * transactions Threadline's PostgreSQL store runs for one run — mirrors
 * src/stores/postgres/run-queue.ts (enqueueIn, claimNext), runs.ts (insertQueued, claimHead,
 * get), threads.ts (summary, lock, view) and append.ts / append-sql.ts (one statement
 * per append, in autocommit), with a LISTEN connection on the channel as the store keeps one.
 * The enqueue's insert, the claim and the append send the store's own SQL
 * (`RunTable.insertQueued`, `RunTable.claimHead`, `appendStatement`),
 * so they cannot drift; when the other files change, change this one. The schema is the store's
 * own (its migrations, run before the clock starts).
 */
import pg from "pg";
import type { AppendPlan } from "../../src/core/append-plan.js";
import type { RunRecord } from "../../src/core/types.js";
import { appendStatement } from "../../src/stores/postgres/append-sql.js";
import { RunTable } from "../../src/stores/postgres/runs.js";
import { migrate, tablesOf } from "../../src/stores/postgres/schema.js";
import { type AppendCeiling, LEASE_MS, OWNER } from "./payload.js";

const THREAD_COLUMNS =
  "thread_id, created_at, updated_at, last_seq, horizon, active_run_id, metadata, interrupts";
const RUN_COLUMNS = `thread_id, run_id, agent_id, trigger, input, status, created_at,
  started_at, ended_at, start_seq, error, lease_owner, lease_token, lease_expires_at,
  cancel_requested, started_by, cancelled_by`;

/** bigint columns as numbers, as the store's connections parse them (connection.ts). */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

interface Head {
  last_seq: number;
  active_run_id: string | null;
  fence_token: number;
  next_position: number;
}

export interface PgCeilingStats {
  /** Statements sent (BEGIN and COMMIT included), i.e. round trips. */
  queries: number;
  notifications: number;
}

export async function postgresAppendCeiling(
  connectionString: string,
  schema: string,
): Promise<AppendCeiling & { stats: PgCeilingStats }> {
  const pool = new pg.Pool({ max: 10, connectionString, types, application_name: "bench-ceiling" });
  pool.on("error", () => undefined);
  await migrate(pool, schema);
  const t = tablesOf(schema);
  const channel = `threadline:${schema}`;
  const stats: PgCeilingStats = { queries: 0, notifications: 0 };
  const listener = new pg.Client({ connectionString, types });
  listener.on("error", () => undefined);
  listener.on("notification", () => {
    stats.notifications++;
  });
  await listener.connect();
  await listener.query(`LISTEN "${channel}"`);

  type Q = Pick<pg.PoolClient, "query">;
  const q = <R extends pg.QueryResultRow>(db: Q, text: string, values?: unknown[]) => {
    stats.queries++;
    return db.query<R>(text, values);
  };
  /** connection.ts inTransaction: BEGIN, the statements, COMMIT on one pooled client. */
  async function tx<T>(fn: (db: Q) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await q(client, "BEGIN");
      const out = await fn(client);
      await q(client, "COMMIT");
      return out;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
  /** threads.ts lock: the thread row FOR UPDATE, with the run's lease columns. */
  const lock = async (db: Q, threadId: string, runId: string | null) =>
    (
      await q<Head & { status: string | null }>(
        db,
        `SELECT t.last_seq, t.active_run_id, t.fence_token, t.next_position, r.status,
           r.lease_owner, r.lease_token, r.lease_expires_at, r.cancel_requested
         FROM ${t.threads} t
         LEFT JOIN ${t.runs} r ON r.thread_id = t.thread_id AND r.run_id = $2
         WHERE t.thread_id = $1 FOR UPDATE OF t`,
        [threadId, runId],
      )
    ).rows[0];
  const runs = new RunTable(t);
  /** run-queue.ts claimNext: RunTable.claimHead, one statement in autocommit. */
  const claim = (threadId: string, now: number) =>
    runs.claimHead(
      { query: (text: string, values?: unknown[]) => q(pool, text, values) } as Q,
      threadId,
      { owner: OWNER, expiresAt: now + LEASE_MS },
      now,
    );

  return {
    stats,
    async runOne(r, phases) {
      await phases.time("head", () =>
        q(pool, `SELECT ${THREAD_COLUMNS} FROM ${t.threads} WHERE thread_id = $1`, [r.threadId]),
      );
      await phases.time("enqueue", () =>
        tx(async (db) => {
          const now = Date.now();
          await q(
            db,
            `INSERT INTO ${t.threads} (thread_id, created_at, updated_at, metadata)
             VALUES ($1, $2, $2, $3) ON CONFLICT (thread_id) DO NOTHING`,
            [r.threadId, now, "{}"],
          );
          await lock(db, r.threadId, r.runId);
          // runs.ts insertQueued: the queue's bounds and the insert in one statement.
          const run: RunRecord = {
            runId: r.runId,
            threadId: r.threadId,
            agentId: r.agentId,
            trigger: JSON.parse(r.triggerJson),
            input: JSON.parse(r.inputJson),
            status: "queued",
            createdAt: now,
          };
          const counted = { query: (text: string, values?: unknown[]) => q(db, text, values) };
          await runs.insertQueued(counted as Q, run, "tail", { empty: true, queued: true });
        }),
      );
      const claimed = (await phases.time("claim", () => claim(r.threadId, Date.now()))).run?.lease;
      if (!claimed) throw new Error(`ceiling: run ${r.runId} was not claimed`);
      await phases.time("reads", async () => {
        await q(
          pool,
          `SELECT ${THREAD_COLUMNS}, state,
             (SELECT json_agg(m.body ORDER BY m.position) FROM ${t.messages} m
              WHERE m.thread_id = t.thread_id) AS messages
           FROM ${t.threads} t WHERE thread_id = $1`,
          [r.threadId],
        );
        await q(pool, `SELECT ${RUN_COLUMNS} FROM ${t.runs} WHERE thread_id = $1 AND run_id = $2`, [
          r.threadId,
          r.runId,
        ]);
      });
      await phases.time("append", async () => {
        // append.ts: the plan core makes (the events' JSON, where the run starts and ends),
        // then append-sql.ts's one statement.
        const plan: AppendPlan = {
          json: r.events,
          types: [],
          started: 0,
          terminal: { index: r.events.length - 1, status: "succeeded" },
        };
        const view = { upsertMessages: r.messages.map((m) => JSON.parse(m.json)) };
        const statement = appendStatement(t, {
          threadId: r.threadId,
          fence: { runId: r.runId, token: claimed.token },
          plan,
          view,
          now: Date.now(),
          channel,
        });
        const { rows } = await q(pool, statement.text, statement.values);
        if (rows.length === 0) throw new Error(`ceiling: the fence of ${r.runId} did not hold`);
      });
      await phases.time("claim (empty)", () => claim(r.threadId, Date.now()));
    },
    async eventCount(threadId) {
      const { rows } = await pool.query<{ last_seq: number }>(
        `SELECT last_seq FROM ${t.threads} WHERE thread_id = $1`,
        [threadId],
      );
      return rows[0]?.last_seq ?? 0;
    },
    async close() {
      await listener.end().catch(() => undefined);
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await pool.end();
    },
  };
}
