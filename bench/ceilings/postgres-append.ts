/**
 * The PostgreSQL ceiling of scenario 1: `pg` alone, the same statements, round trips and
 * transactions Threadline's PostgreSQL store runs for one run — mirrors
 * src/stores/postgres/run-queue.ts (enqueueIn, claimNextIn), runs.ts (queueBounds, insert,
 * startHead, setStartSeq, end, get), threads.ts (summary, lock, view, applyView, saveAppend with
 * its NOTIFYs) and append.ts (appendInTransaction), with a LISTEN connection on the channel as
 * the store keeps one. When those files change, change this one. The schema is the store's own
 * (its migrations, run before the clock starts).
 */
import pg from "pg";
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
  const nextToken = (n: number) =>
    `greatest((SELECT value FROM ${t.counters} WHERE name = 'fence_floor'), $${n}::bigint) + 1`;
  /** run-queue.ts claimNextIn + runs.ts startHead. */
  const claim = (threadId: string, now: number) =>
    tx(async (db) => {
      const head = await lock(db, threadId, null);
      if (!head || head.active_run_id !== null) return null;
      const { rows } = await q(
        db,
        `WITH head AS (
           SELECT run_id FROM ${t.runs} WHERE thread_id = $1 AND queue_pos IS NOT NULL
           ORDER BY queue_pos LIMIT 1
         ), started AS (
           UPDATE ${t.runs} r SET status = 'running', started_at = $2, queue_pos = NULL,
             lease_owner = $3, lease_token = ${nextToken(4)}, lease_expires_at = $5
           FROM head WHERE r.thread_id = $1 AND r.run_id = head.run_id
           RETURNING ${RUN_COLUMNS.replace(/(\w+)/g, "r.$1")}
         ), active AS (
           UPDATE ${t.threads} t SET active_run_id = started.run_id,
             fence_token = started.lease_token
           FROM started WHERE t.thread_id = $1
         ) SELECT * FROM started`,
        [threadId, now, OWNER, head.fence_token, now + LEASE_MS],
      );
      return rows[0] ?? null;
    });

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
          const b = (
            await q<{ hi: number | null }>(
              db,
              `SELECT min(queue_pos) AS lo, max(queue_pos) AS hi, count(*) AS n FROM ${t.runs}
               WHERE thread_id = $1 AND queue_pos IS NOT NULL`,
              [r.threadId],
            )
          ).rows[0];
          await q(
            db,
            `INSERT INTO ${t.runs} (thread_id, run_id, agent_id, trigger, input, status,
               created_at, queue_pos, started_by) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8)
             RETURNING ${RUN_COLUMNS}`,
            [
              r.threadId,
              r.runId,
              r.agentId,
              r.triggerJson,
              r.inputJson,
              now,
              (b?.hi ?? 0) + 1,
              null,
            ],
          );
        }),
      );
      await phases.time("claim", () => claim(r.threadId, Date.now()));
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
      await phases.time("append", () =>
        tx(async (db) => {
          const now = Date.now();
          const head = (await lock(db, r.threadId, r.runId))!;
          const first = head.last_seq + 1;
          await q(
            db,
            `UPDATE ${t.runs} SET start_seq = $3
             WHERE thread_id = $1 AND run_id = $2 AND start_seq IS NULL`,
            [r.threadId, r.runId, first],
          );
          await q(
            db,
            `UPDATE ${t.runs} SET status = $3, ended_at = $4, error = coalesce($5::json, error),
               queue_pos = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
             WHERE thread_id = $1 AND run_id = $2 RETURNING ${RUN_COLUMNS}`,
            [r.threadId, r.runId, "succeeded", now, null],
          );
          const last = head.last_seq + r.events.length;
          const ids = r.messages.map((m) => m.id);
          const known = new Set(
            (
              await q<{ message_id: string }>(
                db,
                `SELECT message_id FROM ${t.messages}
                 WHERE thread_id = $1 AND message_id = ANY($2::text[])`,
                [r.threadId, ids],
              )
            ).rows.map((x) => x.message_id),
          );
          let position = head.next_position;
          const positions = ids.map((id) => (known.has(id) ? -1 : position++));
          await q(
            db,
            `INSERT INTO ${t.messages} (thread_id, position, message_id, body, seq)
             SELECT $1, u.p, u.id, u.body::json, $5
             FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(p, id, body)
             ON CONFLICT (thread_id, message_id) DO UPDATE SET body = excluded.body`,
            [r.threadId, positions, ids, r.messages.map((m) => m.json), last],
          );
          await q(
            db,
            `WITH ins AS (
               INSERT INTO ${t.events} (thread_id, seq, run_id, at, event)
               SELECT $1, $2 + u.n - 1, $3, $4, u.e::json
               FROM unnest($5::text[]) WITH ORDINALITY AS u(e, n)
             ), upd AS (
               UPDATE ${t.threads} SET last_seq = $6, active_run_id = $7, updated_at = $4,
                 next_position = $8 WHERE thread_id = $1
             ) SELECT pg_notify($9, $10),
                 CASE WHEN $11::text IS NULL THEN NULL ELSE pg_notify($9, $11) END`,
            [
              r.threadId,
              first,
              r.runId,
              now,
              r.events,
              last,
              null,
              position,
              channel,
              `${first}:${last}:${r.threadId}`,
              JSON.stringify({ runStarted: { threadId: r.threadId, runId: r.runId, seq: first } }),
            ],
          );
        }),
      );
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
