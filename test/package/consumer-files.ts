/**
 * The files of the scratch consumer project the packaging test installs the packed tarball into:
 * an ESM and a CommonJS script that load every subpath, TypeScript files of both kinds for
 * `nodenext` with `skipLibCheck: false`, and a TypeScript config file for `threadline serve`.
 */

/** What both scripts print (one JSON line) so the test can compare them. */
const PROBE = `
async function probe(load, dir) {
  const out = {};
  const main = await load("threadline");
  const { createMemoryStore } = await load("threadline/stores/memory");
  const tl = main.createThreadline({
    store: createMemoryStore(),
    agents: { demo: new main.DemoAgent() },
  });
  out.healthz = (await tl.fetch(new Request("http://consumer/healthz"))).status;
  const started = await tl.fetch(
    new Request("http://consumer/threads/t1/runs", {
      method: "POST",
      // A traced request: without @opentelemetry/api installed it runs exactly as any other.
      headers: {
        "content-type": "application/json",
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      },
      body: JSON.stringify({ agentId: "demo", messages: [{ id: "m1", role: "user", content: "hi" }] }),
    }),
  );
  out.run = started.status;
  const seen = [];
  for await (const item of tl.follow("t1", { replay: "full" })) {
    seen.push(item.event.type);
    if (item.event.type === "RUN_FINISHED") break;
  }
  out.events = seen[0] + ".." + seen.at(-1);
  await tl.ready;
  out.tracing = tl.coordinator.tracing === undefined ? "off" : "on";
  await tl.close();
  try {
    await load("@opentelemetry/api");
    out.otel = "installed";
  } catch {
    out.otel = "not installed";
  }
  const client = await load("threadline/client");
  out.client = typeof client.ThreadlineClient + "," + typeof client.followThread;
  const describe = (e) => (e && e.code ? e.code + ": " : "") + String(e && e.message).split("\\n")[0];
  try {
    const { createSqliteStore } = await load("threadline/stores/sqlite");
    const store = createSqliteStore({ path: dir + "/probe.db" });
    await store.threads.ensure("t", {});
    out.sqlite = "ok";
    await store.close?.();
  } catch (e) {
    out.sqlite = describe(e);
  }
  try {
    const { createPostgresStore } = await load("threadline/stores/postgres");
    await createPostgresStore({ connectionString: "postgres://nobody@127.0.0.1:1/none" });
    out.postgres = "connected?";
  } catch (e) {
    out.postgres = e.code === "DRIVER_MISSING" ? describe(e) : "driver loaded";
  }
  try {
    const { createRedisStore } = await load("threadline/stores/redis");
    await createRedisStore({ url: "redis://127.0.0.1:1", options: { maxRetriesPerRequest: 0, retryStrategy: () => null } });
    out.redis = "connected?";
  } catch (e) {
    out.redis = e.code === "DRIVER_MISSING" ? describe(e) : "driver loaded";
  }
  try {
    const ck = await load("threadline/copilotkit");
    out.copilotkit = typeof ck.ThreadlineAgentRunner;
  } catch (e) {
    out.copilotkit = describe(e);
  }
  return out;
}
`;

export const ESM_SCRIPT = `${PROBE}
const dir = process.argv[2];
const out = await probe((name) => import(name), dir);
console.log(JSON.stringify(out));
`;

export const CJS_SCRIPT = `"use strict";
${PROBE}
const dir = process.argv[2];
// require() of every subpath (Node >= 20.19 loads ES modules through require).
probe(async (name) => require(name), dir).then((out) => console.log(JSON.stringify(out)));
`;

/** Typed use of the subpaths that need no driver. */
export const TYPES_CORE_MTS = `import { createThreadline, DemoAgent, defineConfig, ThreadlineError, type ThreadlineOptions } from "threadline";
import { followThread, ThreadlineClient, type ThreadEvent } from "threadline/client";
import { createMemoryStore } from "threadline/stores/memory";
import { createSqliteStore, type SqliteStoreOptions } from "threadline/stores/sqlite";

const options: ThreadlineOptions = { store: createMemoryStore(), agents: { demo: new DemoAgent() } };
const tl = createThreadline(options);
const client = new ThreadlineClient({ baseUrl: "http://127.0.0.1:8787" });
const sqlite: SqliteStoreOptions = { path: "x.db", synchronous: "FULL" };
export const used: unknown[] = [tl, client, followThread, createSqliteStore, sqlite, defineConfig({}), ThreadlineError];
export type Ev = ThreadEvent;
`;

export const TYPES_CORE_CTS = `import { createThreadline, DemoAgent } from "threadline";
import { ThreadlineClient } from "threadline/client";
import { createMemoryStore } from "threadline/stores/memory";

const tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
export const used: unknown[] = [tl, new ThreadlineClient({ baseUrl: "http://127.0.0.1:8787" })];
`;

/** The driver subpaths, type-checked once the drivers (and @types/pg) are installed. */
export const TYPES_DRIVERS_MTS = `import { createPostgresStore, type PostgresStoreOptions } from "threadline/stores/postgres";
import { createRedisStore, type RedisStoreOptions } from "threadline/stores/redis";
import { ThreadlineAgentRunner } from "threadline/copilotkit";

const pg: PostgresStoreOptions = { connectionString: "postgres://localhost/db", pool: { max: 2 } };
const redis: RedisStoreOptions = { url: "redis://localhost:6379", options: { db: 1 } };
export const used: unknown[] = [createPostgresStore, createRedisStore, pg, redis, ThreadlineAgentRunner];
`;

export function tsconfig(files: string[]): string {
  return JSON.stringify(
    {
      compilerOptions: {
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ["node"],
      },
      files,
    },
    null,
    2,
  );
}

/** A TypeScript config, loaded by `threadline serve` in a production install. */
export const CONFIG_TS = `import { DemoAgent, defineConfig } from "threadline";

const agents: Record<string, DemoAgent> = { echo: new DemoAgent() };
export default defineConfig({ agents });
`;

/** The browser entry: only threadline/client, bundled for a browser. */
export const BROWSER_ENTRY = `import { followThread, ThreadlineAgent, ThreadlineClient } from "threadline/client";
console.log(typeof followThread, typeof ThreadlineAgent, typeof ThreadlineClient);
`;
