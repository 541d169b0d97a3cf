import { type Child, killAllOf, startAll } from "../lib/children.js";
import { pgBackendCpu, redisServerCpu, type ServerCpu } from "../lib/server-cpu.js";
import { dropNamespace, pgUrl, scanRedis } from "../lib/stores.js";
import type { Context } from "./context.js";

/** The stores several processes can share (the scale-out scenario's subjects). */
export const SHARED_STORES = ["postgres", "redis"];

/** Instances are named A, B, C, ... in reports. */
export const instanceName = (i: number): string => String.fromCharCode(65 + i);

/** Every schema / key prefix of the scenario starts with this, then the orchestrator's pid. */
const NS_PREFIX = "bench_scale_";

export interface ScaleProcesses {
  /** Threadline server processes (threadline-server.ts): instance A, B, C, ... */
  servers: Child[];
  /** Two load generators (followers.ts): the latency probe's followers on A and on B. */
  followers: [Child, Child];
}

/** The servers and the two followers' processes, started up front (run.ts) and reused. */
export function scaleoutProcesses(ctx: Context): Promise<ScaleProcesses> {
  return ctx.resource(
    "scaleout",
    async () => {
      const n = ctx.opts.sizes.scaleout.instances;
      const children = await startAll([
        ...Array.from({ length: n }, (_, i): [string, { name: string }] => [
          "threadline-server.ts",
          { name: `instance ${instanceName(i)}` },
        ]),
        ["followers.ts", { name: "follower on A" }],
        ["followers.ts", { name: "follower on B" }],
      ]);
      const fb = children.pop()!;
      const fa = children.pop()!;
      return { servers: children, followers: [fa, fb] };
    },
    (p) => killAllOf([...p.servers, ...p.followers]),
  );
}

/** One configuration: the first `n` instances on a fresh shared namespace of one store. */
export interface Config {
  store: string;
  id: string;
  servers: Child[];
  urls: string[];
  /** CPU of the database server work these instances cause. */
  dbCpu: ServerCpu;
  close(): Promise<void>;
}

let namespaces = 0;

/**
 * Starts instances 0..n-1 on one new schema / key prefix (one after another: the first one
 * migrates, the others find it migrated) and the database CPU meter. `close` stops them, drops
 * the namespace and closes the meter, whatever failed before.
 */
export async function startConfig(
  procs: ScaleProcesses,
  store: string,
  n: number,
): Promise<Config> {
  const id = `${NS_PREFIX}${process.pid}_${++namespaces}`;
  const servers = procs.servers.slice(0, n);
  if (servers.length < n) throw new Error(`${n} instances asked, ${servers.length} started`);
  const started: Child[] = [];
  let dbCpu: ServerCpu | undefined;
  const close = async () => {
    const errors: unknown[] = [];
    for (const s of started) await s.call("stop", {}, 30_000).catch((e) => errors.push(e));
    await dbCpu?.close().catch(() => undefined);
    await dropNamespace(store, id).catch((e) => errors.push(e));
    if (errors.length > 0) throw errors[0];
  };
  try {
    const urls: string[] = [];
    for (const [i, s] of servers.entries()) {
      // The driver census (round trips) is a map update per statement: a few % of the
      // instance's CPU (its profile shows it), kept on in every configuration alike.
      await s.call("census", { store });
      const r = await s.call<{ url: string }>(
        "start",
        { store, shared: { id, app: `tlscale:${id}:${i}` } },
        60_000,
      );
      started.push(s);
      urls.push(r.url);
    }
    dbCpu =
      store === "postgres"
        ? await pgBackendCpu([`tlscale:${id}:`, `threadline-listen:${id}`])
        : await redisServerCpu();
    return { store, id, servers, urls, dbCpu, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Drops what an earlier scenario run left when it was killed before its cleanup (a schema or key
 * prefix named after an orchestrator pid that no longer runs). Never touches a live run's.
 */
export async function dropStaleNamespaces(store: string): Promise<string[]> {
  const ids = new Set<string>();
  if (store === "postgres") {
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: pgUrl() });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(
        "SELECT schema_name AS n FROM information_schema.schemata WHERE starts_with(schema_name, $1)",
        [NS_PREFIX],
      );
      for (const r of rows) ids.add(r.n);
    } finally {
      await client.end();
    }
  } else if (store === "redis") {
    // Every store's keyspace has an epoch key: one per prefix.
    await scanRedis(`${NS_PREFIX}*:epoch`, (_, keys) => {
      for (const k of keys) ids.add(k.slice(0, k.indexOf(":")));
    });
  }
  const stale = [...ids].filter((id) => {
    const pid = Number(id.slice(NS_PREFIX.length).split("_")[0]);
    return Number.isInteger(pid) && pid !== process.pid && !alive(pid);
  });
  for (const id of stale) await dropNamespace(store, id);
  return stale;
}
