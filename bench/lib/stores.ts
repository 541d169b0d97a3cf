import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ThreadStore } from "../../src/core/store.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";

/**
 * The stores the bench measures. Adding a backend is one entry: its name, the module under
 * src/stores, its factory's export name and options (given a fresh namespace per store opened,
 * so measurements never see each other's data), and, for a server, its URL and how to remove
 * the namespace afterwards. A store whose module is not in the checkout, or whose server does
 * not answer, is reported as "not available", not an error.
 */
interface StoreSpec {
  name: string;
  /** Module path relative to src/stores (without extension), e.g. "sqlite/index". */
  module?: string;
  factory?: string;
  options?: (ns: Namespace) => Record<string, unknown>;
  /** The server it needs: a URL (from the environment, else the test suites' default). */
  url?: () => string;
  cleanup?: (ns: Namespace) => Promise<void>;
}

interface Namespace {
  /** A scratch directory of this bench process. */
  dir: string;
  /** A name unique to this store instance (schema, key prefix, file name). */
  id: string;
  /** PostgreSQL: the pool's `application_name`, so pg_stat_activity finds its backends. */
  app?: string;
}

export const pgUrl = (): string =>
  process.env.BENCH_POSTGRES_URL ??
  process.env.THREADLINE_TEST_PG ??
  "postgres://postgres@127.0.0.1:5432/test";
export const redisUrl = (): string =>
  process.env.BENCH_REDIS_URL ?? process.env.THREADLINE_TEST_REDIS ?? "redis://127.0.0.1:6379";

type RedisClient = import("ioredis").Redis;

/** Every key matching `pattern` (SCAN, pages of about 1,000), handed to `each` page by page. */
export async function scanRedis(
  pattern: string,
  each: (redis: RedisClient, keys: string[]) => Promise<void> | void,
): Promise<void> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      if (keys.length > 0) await each(redis, keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

const SPECS: StoreSpec[] = [
  { name: "memory" },
  {
    name: "sqlite",
    module: "sqlite/index",
    factory: "createSqliteStore",
    options: (ns) => ({ path: join(ns.dir, `${ns.id}.db`) }),
  },
  {
    name: "postgres",
    module: "postgres/index",
    factory: "createPostgresStore",
    url: pgUrl,
    options: (ns) => ({
      connectionString: pgUrl(),
      schema: ns.id,
      ...(ns.app ? { pool: { application_name: ns.app } } : {}),
    }),
    async cleanup(ns) {
      const pg = (await import("pg")).default;
      const client = new pg.Client({ connectionString: pgUrl() });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${ns.id}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  },
  {
    name: "redis",
    module: "redis/index",
    factory: "createRedisStore",
    url: redisUrl,
    options: (ns) => ({ url: redisUrl(), prefix: ns.id }),
    async cleanup(ns) {
      await scanRedis(`${ns.id}:*`, async (redis, keys) => {
        await redis.del(...keys);
      });
    },
  },
];

const STORES_DIR = fileURLToPath(new URL("../../src/stores/", import.meta.url));

export const STORE_NAMES = SPECS.map((s) => s.name);

function reachable(
  url: string,
  defaultPort: number,
  timeoutMs = 1000,
): Promise<string | undefined> {
  const u = new URL(url);
  const host = u.hostname || "127.0.0.1";
  const port = Number(u.port || defaultPort);
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer from ${host}:${port}`));
    socket.once("connect", () => done(undefined));
    socket.once("error", (e) => done(`${host}:${port}: ${e.message}`));
  });
}

/** Why a store cannot be measured here (module missing, server down), or undefined. */
export async function unavailable(name: string): Promise<string | undefined> {
  const spec = SPECS.find((s) => s.name === name);
  if (!spec) return `unknown store '${name}' (known: ${STORE_NAMES.join(", ")})`;
  if (spec.module && !existsSync(join(STORES_DIR, `${spec.module}.ts`))) {
    return `src/stores/${spec.module}.ts is not in this checkout`;
  }
  if (spec.url) {
    const url = spec.url();
    const why = await reachable(url, name === "postgres" ? 5432 : 6379);
    if (why) return `${why} (set BENCH_${name.toUpperCase()}_URL)`;
  }
  return undefined;
}

/** Availability of each store, checked once by the orchestrator. */
export async function storeAvailability(names: string[]): Promise<Map<string, string | undefined>> {
  return new Map(await Promise.all(names.map(async (n) => [n, await unavailable(n)] as const)));
}

let opened = 0;

/** Where a store opened by `openStore` keeps its data: what a bare-driver ceiling reads. */
export interface StoreLocation {
  store: string;
  /** SQLite: the database file. */
  path?: string;
  /** PostgreSQL: the schema. */
  schema?: string;
  /** Redis: the key prefix. */
  prefix?: string;
}

const locations = new WeakMap<ThreadStore, StoreLocation>();

export function storeLocation(store: ThreadStore): StoreLocation | undefined {
  return locations.get(store);
}

/**
 * A namespace (schema, key prefix) several processes open together: the scale-out scenario's
 * instances. Its owner (the orchestrator) removes it with `dropNamespace`, not the processes:
 * they are killed with SIGKILL.
 */
export interface SharedNamespace {
  id: string;
  /** PostgreSQL: `application_name` of this process's pool connections. */
  app?: string;
}

/** Removes a namespace a store wrote (a shared one: its processes do not). */
export async function dropNamespace(name: string, id: string): Promise<void> {
  await SPECS.find((s) => s.name === name)?.cleanup?.({ dir: "", id });
}

/**
 * Opens a fresh instance of a store (its own file, schema or key prefix); close() cleans up.
 * With `shared`, opens that namespace instead and leaves it in place on close.
 */
export async function openStore(
  name: string,
  dir: string,
  shared?: SharedNamespace,
): Promise<ThreadStore> {
  const spec = SPECS.find((s) => s.name === name);
  if (!spec) throw new Error(`unknown store '${name}'`);
  if (!spec.module) return createMemoryStore();
  if (shared && !spec.url) throw new Error(`store '${name}' cannot be shared between processes`);
  const ns: Namespace = shared
    ? { dir, id: shared.id, ...(shared.app ? { app: shared.app } : {}) }
    : { dir, id: `bench_${process.pid}_${++opened}` };
  // A computed specifier: the module may not exist on this branch, so tsc must not resolve it.
  const url = new URL(`../../src/stores/${spec.module}.js`, import.meta.url).href;
  const mod = (await import(url)) as Record<string, (opts: unknown) => Promise<ThreadStore>>;
  const factory = mod[spec.factory ?? ""];
  if (typeof factory !== "function") throw new Error(`${url} has no export ${spec.factory}`);
  const store = await factory(spec.options?.(ns) ?? {});
  locations.set(store, {
    store: name,
    ...(name === "sqlite" ? { path: join(ns.dir, `${ns.id}.db`) } : {}),
    ...(name === "postgres" ? { schema: ns.id } : {}),
    ...(name === "redis" ? { prefix: ns.id } : {}),
  });
  const cleanup = spec.cleanup;
  if (cleanup && !shared) {
    const close = store.close.bind(store);
    store.close = async () => {
      await close();
      await cleanup(ns).catch(() => undefined);
    };
  }
  return store;
}
