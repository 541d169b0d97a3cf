import type Database from "better-sqlite3";

/**
 * Versioned schema. Entry N brings a database from `user_version` N to N+1; entries are never
 * edited once released, only appended. Every migration runs in one IMMEDIATE transaction, so two
 * processes opening a fresh file at once cannot both apply it.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE threads (
    thread_id     TEXT PRIMARY KEY,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL DEFAULT 0,
    active_run_id TEXT,
    fence_token   INTEGER NOT NULL DEFAULT 0,
    metadata      TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL DEFAULT '{}',
    -- Position the next new message gets: appends never count the messages table.
    next_position INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX threads_by_update ON threads (updated_at DESC, thread_id);

  CREATE TABLE events (
    thread_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    run_id    TEXT NOT NULL,
    at        INTEGER NOT NULL,
    event     TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
  ) WITHOUT ROWID;

  CREATE TABLE messages (
    thread_id  TEXT NOT NULL,
    position   INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    json       TEXT NOT NULL,
    PRIMARY KEY (thread_id, position)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX messages_by_id ON messages (thread_id, message_id);

  -- The rowid orders runs by creation (listRuns is newest first).
  CREATE TABLE runs (
    thread_id        TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    agent_id         TEXT NOT NULL,
    trigger_json     TEXT NOT NULL,
    input_json       TEXT NOT NULL,
    status           TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    ended_at         INTEGER,
    start_seq        INTEGER,
    error_json       TEXT,
    lease_owner      TEXT,
    lease_token      INTEGER,
    lease_expires_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    -- FIFO position while queued (NULL otherwise); interrupt puts a run before the head.
    queue_pos        INTEGER,
    UNIQUE (thread_id, run_id)
  );
  CREATE INDEX runs_by_thread ON runs (thread_id); -- rowid order within a thread
  CREATE INDEX runs_queue ON runs (thread_id, queue_pos) WHERE queue_pos IS NOT NULL;
  CREATE INDEX runs_running ON runs (lease_expires_at) WHERE status = 'running';

  CREATE TABLE claims (
    key   TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    at    INTEGER NOT NULL
  );

  CREATE TABLE schedules (
    id     TEXT PRIMARY KEY,
    record TEXT NOT NULL
  );
  `,
  // The floor of fencing tokens: the highest token a deleted thread held, so that a new thread
  // of the same id never issues a token an old fence still holds.
  `
  CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  );
  INSERT INTO counters (name, value) VALUES ('fence_floor', 0);
  `,
  // Who started and who cancelled a run (per-user access): JSON `{ kind, id }`.
  `
  ALTER TABLE runs ADD COLUMN started_by TEXT;
  ALTER TABLE runs ADD COLUMN cancelled_by TEXT;
  `,
  // Compaction (core/compaction.ts): the thread's horizon, and the seq of the batch that first
  // wrote each message (a message leaves the view with its run). Messages from before this
  // version count as written at seq 0: the first compaction removes them.
  `
  ALTER TABLE threads ADD COLUMN horizon INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
  `,
  // The database's epoch (PROTOCOL.md §2.8): a file deleted and created again is another log,
  // and a cursor into the old one must not resume in it. Random, below 2^53 (a safe JS number).
  `
  INSERT OR IGNORE INTO counters (name, value) VALUES ('epoch', abs(random() % 9007199254740991));
  `,
  // Human-in-the-loop (core/interrupts.ts): the thread's pending interrupts, a JSON array.
  `
  ALTER TABLE threads ADD COLUMN interrupts TEXT NOT NULL DEFAULT '[]';
  `,
  // Interrupt expiry (core/interrupt-expiry.ts): when the pending interrupts fall due (ms, NULL:
  // never), and the due index the expirer reads.
  `
  ALTER TABLE threads ADD COLUMN interrupts_due_at INTEGER;
  CREATE INDEX threads_by_interrupts_due ON threads (interrupts_due_at, thread_id)
    WHERE interrupts_due_at IS NOT NULL;
  `,
  // The trace context of the request that asked for a run (JSON `{ traceparent, tracestate? }`):
  // the instance that executes it continues that trace (core/tracing.ts).
  `
  ALTER TABLE runs ADD COLUMN trace TEXT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the database to `SCHEMA_VERSION`; refuses a file written by a newer Threadline. */
export function migrate(db: Database.Database): void {
  const run = db.transaction(() => {
    const current = db.pragma("user_version", { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `database schema version ${current} is newer than this Threadline supports (${SCHEMA_VERSION})`,
      );
    }
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    if (current !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
  run.immediate();
}
