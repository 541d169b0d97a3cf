import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ThreadStore } from "../../src/core/store.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";

/**
 * The stores the bench measures. Adding a backend is one entry: its name, the module under
 * src/stores, its factory's export name and options. A store whose module is not there yet, or
 * whose server is not configured (env var unset), is reported as "not available", not an error.
 */
interface StoreSpec {
  name: string;
  /** Module path relative to src/stores (without extension), e.g. "sqlite/index". */
  module?: string;
  factory?: string;
  /** Options for the factory; `dir` is a scratch directory for this bench run. */
  options?: (dir: string) => Record<string, unknown> | string;
}

const SPECS: StoreSpec[] = [
  { name: "memory" },
  {
    name: "sqlite",
    module: "sqlite/index",
    factory: "createSqliteStore",
    options: (dir) => ({ path: join(dir, "bench.db") }),
  },
  {
    name: "postgres",
    module: "postgres/index",
    factory: "createPostgresStore",
    options: () => ({ connectionString: process.env.BENCH_POSTGRES_URL ?? "" }),
  },
  {
    name: "redis",
    module: "redis/index",
    factory: "createRedisStore",
    options: () => ({ url: process.env.BENCH_REDIS_URL ?? "" }),
  },
];

const ENV_OF: Record<string, string> = { postgres: "BENCH_POSTGRES_URL", redis: "BENCH_REDIS_URL" };
const STORES_DIR = fileURLToPath(new URL("../../src/stores/", import.meta.url));

export const STORE_NAMES = SPECS.map((s) => s.name);

/** Why a store cannot be measured in this checkout, or undefined when it can. */
export function unavailable(name: string): string | undefined {
  const spec = SPECS.find((s) => s.name === name);
  if (!spec) return `unknown store '${name}'`;
  if (spec.module && !existsSync(join(STORES_DIR, `${spec.module}.ts`))) {
    return `src/stores/${spec.module}.ts is not in this checkout`;
  }
  const env = ENV_OF[name];
  if (env && !process.env[env]) return `set ${env} to measure it`;
  return undefined;
}

export async function openStore(name: string, dir: string): Promise<ThreadStore> {
  const why = unavailable(name);
  if (why) throw new Error(`store ${name} is not available: ${why}`);
  const spec = SPECS.find((s) => s.name === name)!;
  if (!spec.module) return createMemoryStore();
  // A computed specifier: the module may not exist on this branch, so tsc must not resolve it.
  const url = new URL(`../../src/stores/${spec.module}.js`, import.meta.url).href;
  const mod = (await import(url)) as Record<string, (opts: unknown) => ThreadStore>;
  const factory = mod[spec.factory ?? ""];
  if (typeof factory !== "function") throw new Error(`${url} has no export ${spec.factory}`);
  return factory(spec.options?.(dir) ?? {});
}
