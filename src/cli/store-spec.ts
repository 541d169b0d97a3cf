import { ThreadlineError } from "../core/errors.js";
import type { ThreadStore } from "../core/store.js";

export const DEFAULT_STORE = "sqlite:./.threadline/threadline.db";

export interface OpenStoreOptions {
  /** Background errors of networked stores (lost LISTEN/subscriber connection, ...). */
  onError?: (error: unknown) => void;
}

/**
 * Opens a store from its spec:
 * - `memory:`
 * - `sqlite:<path>`
 * - `postgres://user:pass@host:5432/db?schema=threadline` (also `postgresql://`; `schema` is
 *   Threadline's, every other parameter goes to `pg`)
 * - `redis://[:pass@]host:6379[/db]?prefix=threadline` (also `rediss://`)
 * Each backend is imported only when asked for, so optional drivers stay optional.
 */
export async function openStore(spec: string, opts: OpenStoreOptions = {}): Promise<ThreadStore> {
  try {
    return await open(spec, opts);
  } catch (error) {
    throw explainOpenError(spec, error);
  }
}

/** The store's error, saying what to install or check. */
function explainOpenError(spec: string, error: unknown): unknown {
  if (ThreadlineError.is(error, "DRIVER_MISSING")) {
    const hint = spec.startsWith("sqlite:")
      ? ` To run without installing anything, pass --store memory: (nothing is kept). With npx: npx -p threadline -p better-sqlite3 threadline serve`
      : "";
    return new ThreadlineError("DRIVER_MISSING", `${error.message}.${hint}`, { cause: error });
  }
  if (ThreadlineError.is(error)) return error;
  const why = error instanceof Error ? error.message || error.name : String(error);
  const where = redactSpec(spec);
  const check = spec.startsWith("sqlite:")
    ? "check that the directory exists and is writable, and that no other program holds the file locked"
    : /^rediss?:/.test(spec)
      ? "check that Redis is running and reachable at that address (host, port, password, TLS), or pass another --store"
      : "check that PostgreSQL is running and reachable at that address, and the user, password and database name, or pass another --store";
  return new ThreadlineError("UNAVAILABLE", `could not open the store ${where}: ${why}; ${check}`, {
    cause: error,
  });
}

async function open(spec: string, opts: OpenStoreOptions): Promise<ThreadStore> {
  const onError = opts.onError ? { onError: opts.onError } : {};
  if (spec === "memory:" || spec === "memory") {
    const { createMemoryStore } = await import("../stores/memory/index.js");
    return createMemoryStore();
  }
  if (spec.startsWith("sqlite:")) {
    const { createSqliteStore } = await import("../stores/sqlite/index.js");
    return createSqliteStore({ path: spec.slice("sqlite:".length) || DEFAULT_STORE.slice(7) });
  }
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const schema = takeParam(spec, "schema");
    const prepared = takeParam(schema.url, "prepared");
    const { createPostgresStore } = await import("../stores/postgres/index.js");
    return createPostgresStore({
      connectionString: prepared.url,
      ...(schema.param ? { schema: schema.param } : {}),
      ...(prepared.param === undefined
        ? {}
        : { preparedStatements: flag("prepared", prepared.param) }),
      ...onError,
    });
  }
  if (/^rediss?:\/\//.test(spec)) {
    const { url, param } = takeParam(spec, "prefix");
    const { createRedisStore } = await import("../stores/redis/index.js");
    return createRedisStore({ url, ...(param ? { prefix: param } : {}), ...onError });
  }
  throw new ThreadlineError(
    "BAD_REQUEST",
    `unknown store '${redactSpec(spec)}': use memory:, sqlite:<path>, postgres://... or redis://...`,
  );
}

/** Removes Threadline's own query parameter from a driver URL. */
function takeParam(spec: string, name: string): { url: string; param: string | undefined } {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new ThreadlineError("BAD_REQUEST", `invalid store URL '${redactSpec(spec)}'`);
  }
  const param = url.searchParams.get(name) ?? undefined;
  url.searchParams.delete(name);
  return { url: url.toString(), param: param || undefined };
}

/** A yes/no query parameter of a store URL (`?prepared=false`). */
export function flag(name: string, value: string): boolean {
  if (/^(true|1|on|yes)$/i.test(value)) return true;
  if (/^(false|0|off|no)$/i.test(value)) return false;
  throw new ThreadlineError(
    "BAD_REQUEST",
    `store URL parameter '${name}' must be true or false, not '${value}'`,
  );
}

/** The spec with any password masked, for logs and error messages. */
export function redactSpec(spec: string): string {
  return spec.replace(/^([a-z]+:\/\/[^/@:]*:)[^/@]*@/i, "$1***@");
}
