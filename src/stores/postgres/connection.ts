import { createHash } from "node:crypto";
import type pg from "pg";
import { loadDriver } from "../driver.js";

/** The `pg` module, loaded when a store is opened (an optional peer dependency). */
export const pgDriver = (): typeof pg => loadDriver<typeof pg>("pg");

export interface PostgresConnectionOptions {
  /** `postgres://user:pass@host:5432/db`. Combined with `pool` when both are given. */
  connectionString?: string;
  /** Any `pg.Pool` options (host, user, ssl, max, ...). */
  pool?: pg.PoolConfig;
  /**
   * Schema holding Threadline's tables; created when missing. Default `threadline`. Several
   * deployments (or tests) can share one database with a schema each.
   */
  schema?: string;
  /**
   * Run the store's parameterised statements as named prepared statements (default `true`):
   * PostgreSQL parses and plans each once per connection instead of at every call, which was
   * ~45% of the server's time per heartbeat run. Set `false` behind a pooler that cannot keep
   * prepared statements across transactions (PgBouncer in transaction mode before 1.21).
   */
  preparedStatements?: boolean;
}

/** Quotes an SQL identifier (a schema name may hold any character). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

const INT8 = 20;

/**
 * bigint columns (seqs, epoch milliseconds, tokens) come back as numbers rather than strings;
 * every value this store keeps in them is far below 2^53. Per connection, so other users of `pg`
 * in the process keep the driver's defaults.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8
      ? (value: string) => Number(value)
      : pgDriver().types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

/** The client settings of every connection this store opens (pool and listener alike). */
export function clientConfig(opts: PostgresConnectionOptions, applicationName: string) {
  return {
    ...opts.pool,
    ...(opts.connectionString ? { connectionString: opts.connectionString } : {}),
    types: TYPES,
    application_name: opts.pool?.application_name ?? applicationName,
  } satisfies pg.PoolConfig;
}

export function createPool(opts: PostgresConnectionOptions): pg.Pool {
  const pool = new (pgDriver().Pool)({ max: 10, ...clientConfig(opts, "threadline") });
  // An idle client that loses its connection is dropped by the pool and replaced on demand; the
  // error must not become an unhandled 'error' event that kills the process.
  pool.on("error", () => undefined);
  // The pool listens to a client's errors only while it is idle. Handed out, a client is on its
  // own until its borrower listens — and a new client's backend can die (terminated, restarted)
  // in the very read that completed its start-up, before the borrower could. Every client
  // therefore has a listener for its whole life; the failure itself reaches whoever uses it
  // (their query fails, the client is not reused).
  const named = opts.preparedStatements === false ? undefined : new Map<string, string>();
  pool.on("connect", (client) => {
    client.on("error", () => undefined);
    if (named) prepareNamed(client, named);
  });
  return pool;
}

/** Statement texts a pool names at most (the store has a few dozen per schema). */
const MAX_PREPARED = 256;

type QueryFn = (config: unknown, values?: unknown, callback?: unknown) => unknown;

/**
 * Makes a client send every parameterised statement given as text under a name derived from
 * that text, so `pg` prepares it once per connection and then only binds and executes it. The
 * name is a hash of the text: one text, one name, and a schema change makes PostgreSQL re-plan
 * it by itself (every statement names its columns, so no cached plan changes its result type).
 * Unparameterised statements (BEGIN, COMMIT, VACUUM, DDL) stay simple queries.
 */
function prepareNamed(client: pg.PoolClient, names: Map<string, string>): void {
  // `query` is heavily overloaded in pg's types; the wrapper forwards each call shape unchanged.
  const target = client as unknown as { query: QueryFn };
  const query = target.query.bind(client) as QueryFn;
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text);
    // The store's texts are a fixed set per schema; past the cap a text runs unnamed rather
    // than leave one more prepared statement on every connection for good.
    if (name === undefined && names.size < MAX_PREPARED) {
      name = `tl_${createHash("sha1").update(text).digest("hex").slice(0, 24)}`;
      names.set(text, name);
    }
    return name;
  };
  target.query = (config, values, callback) => {
    if (typeof config === "string" && Array.isArray(values) && values.length > 0) {
      const name = nameOf(config);
      return name
        ? query({ name, text: config, values }, callback)
        : query(config, values, callback);
    }
    // A query config (e.g. rows as arrays) with parameters and no name of its own.
    const c = config as { text?: unknown; values?: unknown; name?: unknown } | null;
    if (
      c &&
      typeof c === "object" &&
      typeof c.text === "string" &&
      c.name === undefined &&
      Array.isArray(c.values) &&
      c.values.length > 0
    ) {
      const name = nameOf(c.text);
      return query(name ? { ...c, name } : config, values, callback);
    }
    return query(config, values, callback);
  };
}

/** Something to run queries on: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, "query">;

/**
 * Runs `fn` in one READ COMMITTED transaction on one pooled client. Writers serialise per thread
 * by locking the thread's row (`SELECT ... FOR UPDATE`) first, so READ COMMITTED is enough: every
 * statement after the lock sees the latest committed state of that thread.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // The pool listens for errors of idle clients only. A checked-out client whose connection
  // dies (the backend terminated, the server restarted) emits 'error' — between two statements
  // of the transaction, with nobody else listening — and an unheard 'error' kills the process.
  // The statement in flight (or the next one) fails with it, and the client is not reused.
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken ??= error;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    if (!broken) {
      await client.query("ROLLBACK").catch((e: Error) => {
        // A connection that cannot roll back is not given back to the pool.
        broken = e;
      });
    }
    throw error;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}
