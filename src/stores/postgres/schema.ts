import type pg from "pg";
import { inTransaction, quoteIdent } from "./connection.js";

/** Schema-qualified names of the store's tables, ready to splice into SQL. */
export interface Tables {
  schema: string;
  threads: string;
  events: string;
  messages: string;
  runs: string;
  claims: string;
  schedules: string;
  migrations: string;
  counters: string;
}

export function tablesOf(schema: string): Tables {
  const s = quoteIdent(schema);
  return {
    schema: s,
    threads: `${s}.threads`,
    events: `${s}.events`,
    messages: `${s}.messages`,
    runs: `${s}.runs`,
    claims: `${s}.claims`,
    schedules: `${s}.schedules`,
    migrations: `${s}.threadline_migrations`,
    counters: `${s}.counters`,
  };
}

/**
 * Versioned schema. Entry N brings the schema from version N to N+1; entries are never edited
 * once released, only appended. JSON columns are `json` (not `jsonb`): the text is kept as
 * written, so an event reads back byte for byte as it was appended.
 */
const MIGRATIONS: readonly ((t: Tables) => string)[] = [
  (t) => `
  CREATE TABLE ${t.threads} (
    thread_id     text PRIMARY KEY,
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL,
    last_seq      bigint NOT NULL DEFAULT 0,
    active_run_id text,
    fence_token   bigint NOT NULL DEFAULT 0,
    metadata      json NOT NULL DEFAULT '{}',
    state         json NOT NULL DEFAULT '{}',
    -- Position the next new message gets: appends never count the messages table.
    next_position bigint NOT NULL DEFAULT 0
  );
  CREATE INDEX threads_by_update ON ${t.threads} (updated_at DESC, thread_id COLLATE "C");

  CREATE TABLE ${t.events} (
    thread_id text NOT NULL,
    seq       bigint NOT NULL,
    run_id    text NOT NULL,
    at        bigint NOT NULL,
    event     json NOT NULL,
    PRIMARY KEY (thread_id, seq)
  );

  CREATE TABLE ${t.messages} (
    thread_id  text NOT NULL,
    position   bigint NOT NULL,
    message_id text NOT NULL,
    body       json NOT NULL,
    PRIMARY KEY (thread_id, position),
    UNIQUE (thread_id, message_id)
  );

  CREATE TABLE ${t.runs} (
    thread_id        text NOT NULL,
    run_id           text NOT NULL,
    agent_id         text NOT NULL,
    trigger          json NOT NULL,
    input            json NOT NULL,
    status           text NOT NULL,
    created_at       bigint NOT NULL,
    started_at       bigint,
    ended_at         bigint,
    start_seq        bigint,
    error            json,
    lease_owner      text,
    lease_token      bigint,
    lease_expires_at bigint,
    cancel_requested boolean NOT NULL DEFAULT false,
    -- FIFO position while queued (NULL otherwise); interrupt puts a run before the head.
    queue_pos        bigint,
    -- Creation order (listRuns is newest first).
    created_order    bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (thread_id, run_id)
  );
  CREATE INDEX runs_by_thread ON ${t.runs} (thread_id, created_order DESC);
  CREATE INDEX runs_queue ON ${t.runs} (thread_id, queue_pos) WHERE queue_pos IS NOT NULL;
  CREATE INDEX runs_running ON ${t.runs} (lease_expires_at) WHERE status = 'running';

  CREATE TABLE ${t.claims} (
    key   text PRIMARY KEY,
    owner text NOT NULL,
    at    bigint NOT NULL
  );

  CREATE TABLE ${t.schedules} (
    id            text PRIMARY KEY,
    record        json NOT NULL,
    created_order bigint GENERATED ALWAYS AS IDENTITY
  );
  `,
  // The floor of fencing tokens: the highest token a deleted thread held, so that a new thread
  // of the same id never issues a token an old fence still holds.
  (t) => `
  CREATE TABLE ${t.counters} (
    name  text PRIMARY KEY,
    value bigint NOT NULL
  );
  INSERT INTO ${t.counters} (name, value) VALUES ('fence_floor', 0);
  `,
  // Who started and who cancelled a run (per-user access): `{ kind, id }`.
  (t) => `
  ALTER TABLE ${t.runs} ADD COLUMN started_by json, ADD COLUMN cancelled_by json;
  `,
  // Compaction (core/compaction.ts): the thread's horizon, and the seq of the batch that first
  // wrote each message (a message leaves the view with its run). Messages from before this
  // version count as written at seq 0: the first compaction removes them.
  (t) => `
  ALTER TABLE ${t.threads} ADD COLUMN horizon bigint NOT NULL DEFAULT 0;
  ALTER TABLE ${t.messages} ADD COLUMN seq bigint NOT NULL DEFAULT 0;
  `,
  // The schema's epoch (PROTOCOL.md §2.8): a schema dropped and created again is another log,
  // and a cursor into the old one must not resume in it. Random, below 2^53.
  (t) => `
  INSERT INTO ${t.counters} (name, value)
    VALUES ('epoch', floor(random() * 9007199254740991)::bigint) ON CONFLICT DO NOTHING;
  `,
  // Human-in-the-loop (core/interrupts.ts): the thread's pending interrupts, a JSON array.
  (t) => `
  ALTER TABLE ${t.threads} ADD COLUMN interrupts json NOT NULL DEFAULT '[]';
  `,
  // Interrupt expiry (core/interrupt-expiry.ts): when the pending interrupts fall due (ms, NULL:
  // never), and the due index the expirer reads.
  (t) => `
  ALTER TABLE ${t.threads} ADD COLUMN interrupts_due_at bigint;
  CREATE INDEX ON ${t.threads} (interrupts_due_at, thread_id COLLATE "C")
    WHERE interrupts_due_at IS NOT NULL;
  `,
  // The trace context of the request that asked for a run (`{ traceparent, tracestate? }`):
  // the instance that executes it continues that trace (core/tracing.ts).
  (t) => `
  ALTER TABLE ${t.runs} ADD COLUMN trace json;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the schema to `SCHEMA_VERSION` in one transaction, under a transaction-scoped advisory
 * lock on the schema's name: instances starting together wait for each other instead of racing
 * to create the same tables. Refuses a schema written by a newer Threadline.
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const t = tablesOf(schema);
  await inTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`threadline:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${t.schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${t.migrations} (
         version    integer PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${t.migrations}`,
    );
    const current = rows[0]?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `schema ${schema} is at version ${current}, newer than this Threadline supports (${SCHEMA_VERSION})`,
      );
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      await client.query(MIGRATIONS[v]!(t));
      await client.query(`INSERT INTO ${t.migrations} (version) VALUES ($1)`, [v + 1]);
    }
  });
}
