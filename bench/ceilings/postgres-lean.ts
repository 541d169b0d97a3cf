/**
 * A leaner PostgreSQL ceiling: the rows, transactions and commits of postgres-append.ts (the
 * mirror of Threadline's statements), each transaction sent as ONE statement — a CTE that takes
 * the thread's row lock (FOR UPDATE, or the upsert's lock), checks the fence and writes — so a
 * run costs 6 round trips instead of 25, with the same 4 synchronous commits. Not a replica of
 * Threadline's SQL: what its PostgreSQL store could reach (issue 18, item 3). Simplification:
 * the view's messages are new on a fresh thread, so their positions are counted in SQL rather
 * than looked up first (a known id would keep its place in Threadline).
 */
import pg from "pg";
import { migrate, tablesOf } from "../../src/stores/postgres/schema.js";
import { type AppendCeiling, LEASE_MS, OWNER } from "./payload.js";
import type { PgCeilingStats } from "./postgres-append.js";

const THREAD_COLUMNS =
  "thread_id, created_at, updated_at, last_seq, horizon, active_run_id, metadata, interrupts";
const RUN_COLUMNS = `thread_id, run_id, agent_id, trigger, input, status, created_at,
  started_at, ended_at, start_seq, error, lease_owner, lease_token, lease_expires_at,
  cancel_requested, started_by, cancelled_by`;

const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

export async function postgresLeanCeiling(
  connectionString: string,
  schema: string,
  /** false: the append's two NOTIFYs left out (a diagnostic: what NOTIFY costs; not a ceiling). */
  notify = true,
): Promise<AppendCeiling & { stats: PgCeilingStats }> {
  const pool = new pg.Pool({ max: 10, connectionString, types, application_name: "bench-lean" });
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
  const q = <R extends pg.QueryResultRow>(text: string, values: unknown[]) => {
    stats.queries++;
    return pool.query<R>(text, values);
  };
  const sql = {
    head: `SELECT ${THREAD_COLUMNS} FROM ${t.threads} WHERE thread_id = $1`,
    // The upsert locks an existing thread row as lock() does; a fresh one is locked by its insert.
    enqueue: `WITH th AS (
        INSERT INTO ${t.threads} (thread_id, created_at, updated_at, metadata)
        VALUES ($1, $2, $2, '{}') ON CONFLICT (thread_id) DO UPDATE SET thread_id = excluded.thread_id
        RETURNING thread_id
      )
      INSERT INTO ${t.runs} (thread_id, run_id, agent_id, trigger, input, status, created_at,
        queue_pos, started_by)
      SELECT $1, $3, $4, $5, $6, 'queued', $2,
        coalesce((SELECT max(queue_pos) FROM ${t.runs} WHERE thread_id = $1
          AND queue_pos IS NOT NULL), 0) + 1, NULL
      FROM th RETURNING ${RUN_COLUMNS}`,
    claim: `WITH lk AS (
        SELECT fence_token FROM ${t.threads} WHERE thread_id = $1 AND active_run_id IS NULL
        FOR UPDATE
      ), head AS (
        SELECT run_id FROM ${t.runs}, lk WHERE thread_id = $1 AND queue_pos IS NOT NULL
        ORDER BY queue_pos LIMIT 1
      ), started AS (
        UPDATE ${t.runs} r SET status = 'running', started_at = $2, queue_pos = NULL,
          lease_owner = $3, lease_expires_at = $4,
          lease_token = greatest((SELECT value FROM ${t.counters} WHERE name = 'fence_floor'),
            lk.fence_token) + 1
        FROM head, lk WHERE r.thread_id = $1 AND r.run_id = head.run_id
        RETURNING ${RUN_COLUMNS.replace(/(\w+)/g, "r.$1")}
      ), active AS (
        UPDATE ${t.threads} t SET active_run_id = started.run_id, fence_token = started.lease_token
        FROM started WHERE t.thread_id = $1
      ) SELECT * FROM started`,
    reads: `SELECT ${THREAD_COLUMNS}, state,
        (SELECT json_agg(m.body ORDER BY m.position) FROM ${t.messages} m
         WHERE m.thread_id = t.thread_id) AS messages,
        (SELECT row_to_json(r) FROM (SELECT ${RUN_COLUMNS} FROM ${t.runs}
         WHERE thread_id = $1 AND run_id = $2) r) AS run
      FROM ${t.threads} t WHERE thread_id = $1`,
    // The fence (active run, token, run running) is the lock's WHERE: a stale fence locks
    // nothing, writes nothing and returns no row (LEASE_LOST).
    append: `WITH lk AS (
        SELECT t.last_seq, t.next_position FROM ${t.threads} t
        JOIN ${t.runs} r ON r.thread_id = t.thread_id AND r.run_id = $2
        WHERE t.thread_id = $1 AND t.active_run_id = $2 AND t.fence_token = $3
          AND r.status = 'running'
        FOR UPDATE OF t
      ), ev AS (
        INSERT INTO ${t.events} (thread_id, seq, run_id, at, event)
        SELECT $1, lk.last_seq + u.n, $2, $4, u.e::json
        FROM lk, unnest($5::text[]) WITH ORDINALITY AS u(e, n)
      ), run AS (
        UPDATE ${t.runs} SET start_seq = coalesce(start_seq, lk.last_seq + 1), status = 'succeeded',
          ended_at = $4, queue_pos = NULL, lease_owner = NULL, lease_token = NULL,
          lease_expires_at = NULL
        FROM lk WHERE thread_id = $1 AND run_id = $2
      ), msg AS (
        INSERT INTO ${t.messages} (thread_id, position, message_id, body, seq)
        SELECT $1, lk.next_position + u.n - 1, u.id, u.body::json, lk.last_seq + $6
        FROM lk, unnest($7::text[], $8::text[]) WITH ORDINALITY AS u(id, body, n)
        ON CONFLICT (thread_id, message_id) DO UPDATE SET body = excluded.body
      ), thr AS (
        UPDATE ${t.threads} t SET last_seq = lk.last_seq + $6, active_run_id = NULL,
          updated_at = $4, next_position = lk.next_position + $9
        FROM lk WHERE t.thread_id = $1
      )
      SELECT lk.last_seq + 1 AS first${
        notify
          ? `,
        pg_notify($10, (lk.last_seq + 1) || ':' || (lk.last_seq + $6) || ':' || $1),
        pg_notify($10, json_build_object('runStarted', json_build_object('threadId', $1::text,
          'runId', $2::text, 'seq', lk.last_seq + 1))::text)`
          : ", $10::text AS channel"
      }
      FROM lk`,
  };
  const claim = (threadId: string) => {
    const now = Date.now();
    return q(sql.claim, [threadId, now, OWNER, now + LEASE_MS]);
  };
  return {
    stats,
    async runOne(r, phases) {
      await phases.time("head", () => q(sql.head, [r.threadId]));
      await phases.time("enqueue", () =>
        q(sql.enqueue, [r.threadId, Date.now(), r.runId, r.agentId, r.triggerJson, r.inputJson]),
      );
      const claimed = await phases.time("claim", () => claim(r.threadId));
      const token = (claimed.rows[0] as { lease_token?: number } | undefined)?.lease_token;
      if (token === undefined) throw new Error(`lean ceiling: run ${r.runId} was not claimed`);
      await phases.time("reads", () => q(sql.reads, [r.threadId, r.runId]));
      await phases.time("append", async () => {
        const { rows } = await q(sql.append, [
          r.threadId,
          r.runId,
          token,
          Date.now(),
          r.events,
          r.events.length,
          r.messages.map((m) => m.id),
          r.messages.map((m) => m.json),
          r.messages.length,
          channel,
        ]);
        if (rows.length === 0)
          throw new Error(`lean ceiling: the fence of ${r.runId} did not hold`);
      });
      await phases.time("claim (empty)", () => claim(r.threadId));
    },
    async eventCount(threadId) {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${t.events} WHERE thread_id = $1`,
        [threadId],
      );
      return rows[0]?.n ?? 0;
    },
    async close() {
      await listener.end().catch(() => undefined);
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await pool.end();
    },
  };
}
