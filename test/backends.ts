import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ThreadStore } from "../src/core/store.js";
import { createMemoryData, createMemoryStore } from "../src/stores/memory/index.js";
import { createPostgresStore } from "../src/stores/postgres/index.js";
import { createRedisStore } from "../src/stores/redis/index.js";
import { createSqliteStore } from "../src/stores/sqlite/index.js";
import { dropSchema, freshSchema } from "./helpers/pg.js";
import { dropPrefix, freshPrefix } from "./helpers/redis.js";
import {
  describeWithService,
  PG_URL,
  type Probe,
  probePostgres,
  probeRedis,
  REDIS_URL,
} from "./helpers/services.js";

/**
 * Fresh, empty data on a backend: every `open()` is one more store instance on it (a restart, or
 * another process), `cleanup()` removes it. Data of two calls never meet (a temporary SQLite
 * file, a PostgreSQL schema, a Redis key prefix of its own), so suites run in parallel.
 */
export interface BackendData {
  open(): Promise<ThreadStore>;
  /** The store as `--store` / THREADLINE_STORE names it, for a server in another process. */
  readonly spec: string | undefined;
  cleanup(): Promise<void>;
}

export interface Backend {
  readonly name: "memory" | "sqlite" | "postgres" | "redis";
  /** Whether several processes can share its data (the multi-instance suite needs that). */
  readonly shared: boolean;
  /** Fresh data; `tag` names it (schema / prefix) for whoever looks at the service. */
  fresh(tag: string): Promise<BackendData>;
}

const memory: Backend = {
  name: "memory",
  shared: false,
  async fresh() {
    const data = createMemoryData();
    return {
      open: async () => createMemoryStore({ data }),
      spec: undefined,
      cleanup: async () => {},
    };
  },
};

const sqlite: Backend = {
  name: "sqlite",
  shared: false,
  async fresh(tag) {
    const dir = mkdtempSync(join(tmpdir(), `threadline-${tag}-`));
    // A directory the store has to create: it must.
    const path = join(dir, "nested", "threadline.db");
    return {
      open: async () => createSqliteStore({ path }),
      spec: `sqlite:${path}`,
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

const postgres: Backend = {
  name: "postgres",
  shared: true,
  async fresh(tag) {
    const schema = freshSchema(tag);
    const url = new URL(PG_URL);
    url.searchParams.set("schema", schema);
    return {
      open: () => createPostgresStore({ connectionString: PG_URL, schema, pool: { max: 4 } }),
      spec: url.toString(),
      cleanup: () => dropSchema(schema),
    };
  },
};

const redis: Backend = {
  name: "redis",
  shared: true,
  async fresh(tag) {
    const prefix = freshPrefix(tag);
    const url = new URL(REDIS_URL);
    url.searchParams.set("prefix", prefix);
    return {
      open: () => createRedisStore({ url: REDIS_URL, prefix }),
      spec: url.toString(),
      cleanup: () => dropPrefix(prefix),
    };
  },
};

/** Every store Threadline ships; every conformance suite runs on each. */
export const BACKENDS: readonly Backend[] = [memory, sqlite, postgres, redis];

const probes: Record<Backend["name"], () => Promise<Probe | undefined>> = {
  memory: async () => undefined,
  sqlite: async () => undefined,
  postgres: () => probePostgres(),
  redis: () => probeRedis(),
};

/** The backends, each with its service probe (PostgreSQL and Redis must be reachable). */
export async function backends(filter: (b: Backend) => boolean = () => true) {
  const out: Array<{ backend: Backend; probe: Probe | undefined }> = [];
  for (const backend of BACKENDS.filter(filter)) {
    out.push({ backend, probe: await probes[backend.name]() });
  }
  return out;
}

/**
 * Registers `body` once per backend: `describe(title)`, or for a service-backed one the
 * service-checked describe (a failure when THREADLINE_REQUIRE_SERVICES=1 and it is down).
 */
export async function forEachBackend(
  title: string,
  body: (backend: Backend) => void,
  filter?: (b: Backend) => boolean,
): Promise<void> {
  for (const { backend, probe } of await backends(filter)) {
    const named = `${title}: ${backend.name}`;
    if (probe) describeWithService(probe, named, () => body(backend));
    else
      describeWithService({ name: backend.name, up: true, reason: "" }, named, () => body(backend));
  }
}
