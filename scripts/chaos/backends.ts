import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import {
  type PrivatePostgres,
  type PrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
} from "../../test/helpers/private-services.js";

export type StoreName = "sqlite" | "postgres" | "redis";
export const STORES: readonly StoreName[] = ["sqlite", "postgres", "redis"];

/**
 * The store a chaos server runs on, and the faults it can suffer. PostgreSQL and Redis are
 * private servers on free ports (the shared ones on 5432/6379 serve other test runs and must not
 * be restarted or have their connections killed).
 */
export interface Backend {
  name: StoreName;
  /** `--store` of the CLI. */
  spec: string;
  /** Kills the server's connections from the database side; resolves with how many. */
  killConnections?(): Promise<number>;
  /** Restarts the database server keeping its data (PostgreSQL). */
  restart?(): Promise<void>;
  /** Makes the store unanswerable for `ms` (stopped, or every client paused). */
  outage?(ms: number): Promise<void>;
  /** Restarts the database server without its data (Redis without persistence). */
  loseData?(): Promise<void>;
  /** Keys left in the store (Redis): proof that nothing was written after a loss. */
  keyCount?(): Promise<number>;
  destroy(): Promise<void>;
}

export async function openBackend(name: StoreName): Promise<Backend> {
  if (name === "sqlite") return sqliteBackend();
  if (name === "postgres") return postgresBackend(await startPrivatePostgres());
  return redisBackend(await startPrivateRedis());
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), "threadline-chaos-"));
  return {
    name: "sqlite",
    spec: `sqlite:${join(dir, "chaos.db")}`,
    async destroy() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresBackend(server: PrivatePostgres): Backend {
  const sql = async <T>(text: string): Promise<T[]> => {
    const client = new pg.Client({ connectionString: server.url, application_name: "chaos" });
    await client.connect();
    try {
      return (await client.query(text)).rows as T[];
    } finally {
      await client.end();
    }
  };
  return {
    name: "postgres",
    spec: `${server.url}?schema=chaos`,
    async killConnections() {
      // Only the server's own backends (its pool and its LISTEN connection), by name.
      const rows = await sql<{ ok: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity " +
          "WHERE application_name LIKE 'threadline%' AND pid <> pg_backend_pid()",
      );
      return rows.filter((r) => r.ok).length;
    },
    restart: () => server.restart("fast"),
    async outage(ms) {
      await server.stop("fast");
      await new Promise((r) => setTimeout(r, ms));
      await server.start();
    },
    destroy: () => server.destroy(),
  };
}

function redisBackend(server: PrivateRedis): Backend {
  const admin = async <T>(fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      return await fn(r);
    } finally {
      r.disconnect();
    }
  };
  return {
    name: "redis",
    spec: `${server.url}/0?prefix=chaos`,
    async killConnections() {
      return admin(async (r) => {
        const normal = Number(await r.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"));
        const pubsub = Number(await r.call("CLIENT", "KILL", "TYPE", "pubsub"));
        return normal + pubsub;
      });
    },
    async outage(ms) {
      // Every client waits (commands queue in Redis): unanswerable, but nothing is lost.
      await admin((r) => r.call("CLIENT", "PAUSE", String(ms), "ALL"));
      await new Promise((r) => setTimeout(r, ms));
    },
    loseData: () => server.restart(),
    keyCount: () => admin((r) => r.dbsize()),
    destroy: () => server.stop(),
  };
}
