import { readdir, readFile } from "node:fs/promises";
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

/**
 * A process's time on a core and time spent runnable but waiting for one (the scheduler's run
 * queue), summed over its threads, in ms (/proc/<pid>/task/<tid>/schedstat). Waiting for a core
 * is what a process loses on a machine with more work than cores. Undefined when it is gone.
 */
export async function schedMs(pid: number): Promise<{ run: number; wait: number } | undefined> {
  try {
    let run = 0;
    let wait = 0;
    for (const tid of await readdir(`/proc/${pid}/task`)) {
      const f = (await readFile(`/proc/${pid}/task/${tid}/schedstat`, "utf8").catch(() => ""))
        .trim()
        .split(" ");
      if (f.length < 2) continue;
      run += Number(f[0]) / 1e6;
      wait += Number(f[1]) / 1e6;
    }
    return { run, wait };
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
  /**
   * PostgreSQL: samples the states of the backends of the first prefix (the pools) every
   * `everyMs` until the returned stop is called,
   * which resolves to the counts (running, waiting for the client, a lock, WAL, ...).
   */
  sampleStates?(everyMs: number): () => Promise<StateSamples>;
  close(): Promise<void>;
}

export interface ServerCpuReading {
  ms: Map<string, number>;
  /** Time runnable but waiting for a core (schedstat), where the process can be read. */
  waitMs: Map<string, number>;
}

/** What a server's connections were doing: samples per state, while `sampleStates` ran. */
export type StateSamples = Map<string, number>;

/** CPU ms between two readings (a process that appeared meanwhile counts whole). */
export function cpuBetween(a: ServerCpuReading, b: ServerCpuReading): number {
  let ms = 0;
  for (const [k, v] of b.ms) ms += v - (a.ms.get(k) ?? 0);
  return ms;
}

/** Run-queue wait ms between two readings, like `cpuBetween`. */
export function waitBetween(a: ServerCpuReading, b: ServerCpuReading): number {
  let ms = 0;
  for (const [k, v] of b.waitMs) ms += v - (a.waitMs.get(k) ?? 0);
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
  const patterns = prefixes.map((p) => `${p.replace(/[\\%_]/g, "\\$&")}%`);
  return {
    what: "PostgreSQL backends of the instances' connections (/proc/<pid>/stat)",
    async read() {
      const { rows } = await client.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name LIKE ANY($1)",
        [patterns],
      );
      const ms = new Map<string, number>();
      const waitMs = new Map<string, number>();
      for (const { pid } of rows) {
        const cpu = await processCpuMs(pid);
        if (cpu !== undefined) ms.set(String(pid), cpu);
        const sched = await schedMs(pid);
        if (sched) waitMs.set(String(pid), sched.wait);
      }
      if (ms.size === 0 && rows.length > 0)
        throw new Error("PostgreSQL backends are not readable in /proc (server not local?)");
      return { ms, waitMs };
    },
    sampleStates(everyMs) {
      const counts: StateSamples = new Map();
      let stop = false;
      const loop = (async () => {
        while (!stop) {
          const { rows } = await client.query<{
            state: string | null;
            wait_event_type: string | null;
            wait_event: string | null;
          }>(
            "SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE application_name LIKE ANY($1)",
            [patterns.slice(0, 1)],
          );
          for (const r of rows) {
            const k = stateName(r.state, r.wait_event_type, r.wait_event);
            counts.set(k, (counts.get(k) ?? 0) + 1);
          }
          await new Promise((resolve) => setTimeout(resolve, everyMs));
        }
      })();
      return async () => {
        stop = true;
        await loop;
        return counts;
      };
    },
    close: () => client.end(),
  };
}

/** A backend's state as the report names it. */
function stateName(state: string | null, type: string | null, event: string | null): string {
  if (state === "active")
    return type ? `active, waiting: ${type}:${event}` : "active (on CPU or runnable)";
  if (state === "idle in transaction") return "in a transaction, waiting for the instance";
  if (state === "idle") return "idle (no statement)";
  return state ?? "unknown";
}

/** redis-server's own CPU (INFO cpu: user + sys of the whole process, every client's work). */
export async function redisServerCpu(): Promise<ServerCpu> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const field = (info: string, name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
  // Its pid, for the run-queue wait: readable when the server runs on this machine.
  const pid = field(await redis.info("server"), "process_id");
  return {
    what: "redis-server process (INFO cpu, shared with every other client)",
    async read() {
      const info = await redis.info("cpu");
      const s = field(info, "used_cpu_sys") + field(info, "used_cpu_user");
      const sched = Number.isInteger(pid) ? await schedMs(pid) : undefined;
      return {
        ms: new Map([["redis", s * 1000]]),
        waitMs: sched ? new Map([["redis", sched.wait]]) : new Map(),
      };
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
