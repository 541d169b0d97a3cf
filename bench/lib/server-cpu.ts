import { readFile } from "node:fs/promises";
import { pgUrl, redisUrl } from "./stores.js";

/**
 * CPU time of what the bench does not run itself: the database server's processes (read from
 * /proc, or Redis's own INFO) and the whole machine (/proc/stat). The machine is shared, so the
 * server figures count only what can be attributed to the scenario's own connections where the
 * server allows it (a PostgreSQL backend per connection); Redis is one process for every client.
 */

/** Kernel clock ticks per second (`getconf CLK_TCK`; 100 on Linux everywhere that matters). */
const TICKS_PER_S = 100;

/** utime + stime of a process, in ms; undefined when it is gone. */
export async function processCpuMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its ')'.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** The whole machine: busy and total CPU time (every core) so far, in ms. */
export async function machineCpuMs(): Promise<{ busy: number; total: number }> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  // idle and iowait are not busy.
  const busy = total - v[3]! - v[4]!;
  return { busy: (busy * 1000) / TICKS_PER_S, total: (total * 1000) / TICKS_PER_S };
}

/** A CPU meter of a database server: `read()` so far, in ms; differences measure a window. */
export interface ServerCpu {
  /** What is counted, for the report. */
  readonly what: string;
  read(): Promise<ServerCpuReading>;
  close(): Promise<void>;
}

export interface ServerCpuReading {
  ms: Map<string, number>;
}

/** CPU ms between two readings (a process that appeared meanwhile counts whole). */
export function cpuBetween(a: ServerCpuReading, b: ServerCpuReading): number {
  let ms = 0;
  for (const [k, v] of b.ms) ms += v - (a.ms.get(k) ?? 0);
  return ms;
}

/**
 * The PostgreSQL backends serving connections whose `application_name` starts with one of
 * `prefixes` (the instances' pools and listening connections): found in pg_stat_activity, their
 * CPU read from /proc (the server runs on this machine). Backends that end between two readings
 * are missed; the pools keep theirs while a measurement runs.
 */
export async function pgBackendCpu(prefixes: string[]): Promise<ServerCpu> {
  const pg = (await import("pg")).default;
  const client = new pg.Client({ connectionString: pgUrl(), application_name: "bench-cpu-probe" });
  await client.connect();
  return {
    what: "PostgreSQL backends of the instances' connections (/proc/<pid>/stat)",
    async read() {
      const { rows } = await client.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name LIKE ANY($1)",
        [prefixes.map((p) => `${p.replace(/[\\%_]/g, "\\$&")}%`)],
      );
      const ms = new Map<string, number>();
      for (const { pid } of rows) {
        const cpu = await processCpuMs(pid);
        if (cpu !== undefined) ms.set(String(pid), cpu);
      }
      if (ms.size === 0 && rows.length > 0)
        throw new Error("PostgreSQL backends are not readable in /proc (server not local?)");
      return { ms };
    },
    close: () => client.end(),
  };
}

/** redis-server's own CPU (INFO cpu: user + sys of the whole process, every client's work). */
export async function redisServerCpu(): Promise<ServerCpu> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const field = (info: string, name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return {
    what: "redis-server process (INFO cpu, shared with every other client)",
    async read() {
      const info = await redis.info("cpu");
      const s = field(info, "used_cpu_sys") + field(info, "used_cpu_user");
      return { ms: new Map([["redis", s * 1000]]) };
    },
    close: async () => {
      redis.disconnect();
    },
  };
}

/** Commands Redis processed so far (every client's): to tell the scenario's from others'. */
export async function redisCommandsProcessed(): Promise<number> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const info = await redis.info("stats");
    return Number(/^total_commands_processed:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
  } finally {
    redis.disconnect();
  }
}
