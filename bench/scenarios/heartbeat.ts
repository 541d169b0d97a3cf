import { existsSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import type { BaseEvent } from "@ag-ui/core";
import { FanOut } from "../../src/core/fanout.js";
import { Follow } from "../../src/core/follow.js";
import { RECLAIM_AFTER_ROWS } from "../../src/core/retention.js";
import { RetentionSweeper } from "../../src/core/retention-sweep.js";
import type { ThreadStore } from "../../src/core/store.js";
import { fmt } from "../lib/report.js";
import { scratchDir } from "../lib/scratch.js";
import type { Context } from "./context.js";

/**
 * Scenario 6 — a long-lived heartbeat thread under retention: heartbeat-shaped runs (a prompt,
 * a reply streamed in a few deltas, RUN_FINISHED; the view gains two messages) appended through
 * the store API at full speed, the retention sweep (`keepRuns`) run every `sweepEvery` runs as
 * the server's would, and at checkpoints the store's size on disk, the per-run cost (the
 * sweep's share included) and the time a compact attach takes. The figure: a thread
 * with 1,000,000 runs under a 1,000-run retention uses no more disk than one with 2,000 runs,
 * within 10%. The count is `--heartbeat-runs`; a per-store time budget cuts it short (then the
 * report says how far it got).
 */

interface Opened {
  store: ThreadStore;
  /** Bytes the store's data takes on disk now. */
  size(): Promise<number>;
  /** A fact about the database worth stating beside its figures (PostgreSQL's autovacuum). */
  note?: string;
  close(): Promise<void>;
}

async function openSqlite(): Promise<Opened> {
  const { createSqliteStore } = await import("../../src/stores/sqlite/index.js");
  const path = join(scratchDir("heartbeat"), "heartbeat.db");
  const store = createSqliteStore({ path });
  const fileSize = (p: string) => (existsSync(p) ? statSync(p).size : 0);
  return {
    store,
    // The database and its write-ahead log (what the directory holds for it).
    size: async () => fileSize(path) + fileSize(`${path}-wal`) + fileSize(`${path}-shm`),
    close: () => store.close(),
  };
}

async function openPostgres(reclaimAfterRows = RECLAIM_AFTER_ROWS): Promise<Opened> {
  const { createPostgresStore } = await import("../../src/stores/postgres/index.js");
  const pg = (await import("pg")).default;
  const url =
    process.env.BENCH_POSTGRES_URL ??
    process.env.THREADLINE_TEST_PG ??
    "postgres://postgres@127.0.0.1:5432/test";
  const schema = `bench_heartbeat_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  const store = await createPostgresStore({ connectionString: url, schema });
  const { rows: setting } = await admin.query<{ autovacuum: string }>("SHOW autovacuum");
  const autovacuum = setting[0]?.autovacuum === "on";
  return {
    store,
    // Nothing but the product reclaims space here: the sweep's own VACUUM (reclaimAfterRows).
    note: `autovacuum is ${autovacuum ? "on" : "off"} on this server; the space of removed rows is reclaimed by the retention sweep's own VACUUM (every ${reclaimAfterRows.toLocaleString("en-US")} rows removed${reclaimAfterRows === RECLAIM_AFTER_ROWS ? ", its default" : ""})`,
    // Tables with their indexes and TOAST (pg_total_relation_size), dead tuples included.
    size: async () => {
      const { rows } = await admin.query<{ bytes: string }>(
        `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [schema],
      );
      return Number(rows[0]?.bytes ?? 0);
    },
    close: async () => {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await admin.end();
    },
  };
}

const THREAD = "heartbeat";
const REPLY = ["Tick ", "the ", "thread ", "is ", "alive."];

/** One heartbeat run through the store API, as the coordinator would write it. */
async function heartbeatRun(store: ThreadStore, n: number): Promise<void> {
  const runId = `tick-${n}`;
  await store.runs.enqueue(
    {
      runId,
      threadId: THREAD,
      agentId: "demo",
      trigger: { kind: "heartbeat", scheduleId: "beat" },
      status: "queued",
      input: {},
      createdAt: Date.now(),
    },
    "enqueue",
  );
  const claimed = await store.runs.claimNext(THREAD, {
    owner: "bench",
    leaseMs: 60_000,
    now: Date.now(),
  });
  if (!claimed) throw new Error(`run ${runId} was not claimed`);
  const prompt = { id: `u-${n}`, role: "user" as const, content: `heartbeat ${n}` };
  const messageId = `a-${n}`;
  const events = [
    { type: "RUN_STARTED", threadId: THREAD, runId, input: { messages: [prompt] } },
    { type: "TEXT_MESSAGE_START", messageId, role: "assistant" },
    ...REPLY.map((delta) => ({ type: "TEXT_MESSAGE_CONTENT", messageId, delta })),
    { type: "TEXT_MESSAGE_END", messageId },
  ] as BaseEvent[];
  await store.threads.append(THREAD, claimed.fence, events, {
    upsertMessages: [prompt, { id: messageId, role: "assistant", content: REPLY.join("") }],
    state: { value: { ticks: n } },
  });
  await store.threads.append(THREAD, claimed.fence, [
    { type: "RUN_FINISHED", threadId: THREAD, runId } as BaseEvent,
  ]);
}

/** Median time of a compact attach that reads the whole replay (ms). */
async function attachMs(store: ThreadStore): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const follow = new Follow(store, new FanOut(store), THREAD, { replay: "compact", live: false });
    for await (const _ of follow) {
      // drained: the snapshot run
    }
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[2]!;
}

interface Checkpoint {
  runs: number;
  bytes: number;
  usPerRun: number;
  /** CPU time of this process per run (µs): less at the mercy of other load than wall time. */
  cpuUsPerRun: number;
  attachMs: number;
  events: number;
  messages: number;
}

export async function heartbeatScenario(ctx: Context): Promise<void> {
  const sz = ctx.opts.sizes.heartbeat;
  const openers: Record<string, (reclaimAfterRows?: number) => Promise<Opened>> = {
    sqlite: openSqlite,
    postgres: openPostgres,
  };
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  for (const name of ["sqlite", "postgres"].filter((n) => ctx.opts.stores.includes(n))) {
    const why = ctx.storeUnavailable(name);
    if (why) {
      notes.push(`${name}: not available (${why})`);
      continue;
    }
    let opened: Opened | undefined;
    try {
      opened = await openers[name]!(sz.reclaimAfterRows);
      const { store } = opened;
      const sweeper = new RetentionSweeper({
        store,
        defaults: { keepRuns: sz.keepRuns },
        instanceId: "bench",
        deleteThread: async () => undefined,
        intervalMs: 0,
        ...(sz.reclaimAfterRows === undefined ? {} : { reclaimAfterRows: sz.reclaimAfterRows }),
      });
      // The reference is the done-when's "2,000 runs" (twice the retention); then halfway, end.
      const reference = Math.min(2 * sz.keepRuns, sz.runs);
      const marks = [...new Set([reference, Math.round((reference + sz.runs) / 2), sz.runs])].sort(
        (a, b) => a - b,
      );
      const started = Date.now();
      const checkpoints: Checkpoint[] = [];
      let windowStart = performance.now();
      let windowCpu = process.cpuUsage();
      let windowRuns = 0;
      let n = 0;
      let stopped = false;
      // A progress line every 5% (the trend of a run the budget cuts short is in the log).
      const every = Math.max(1_000, Math.round(sz.runs / 20));
      let lap = { at: performance.now(), cpu: process.cpuUsage() };
      for (const mark of marks) {
        while (n < mark) {
          n += 1;
          await heartbeatRun(store, n);
          windowRuns += 1;
          if (n % sz.sweepEvery === 0) await sweeper.sweep();
          if (n % every === 0) {
            const cpu = process.cpuUsage(lap.cpu);
            const wall = ((performance.now() - lap.at) * 1000) / every;
            process.stdout.write(
              `    ${name}: ${n} runs, ${fmt((await opened.size()) / 1024)} KiB, ${fmt(wall)} µs/run (CPU ${fmt((cpu.user + cpu.system) / every)}) over the last ${every}, load ${loadavg()[0]!.toFixed(1)}\n`,
            );
            lap = { at: performance.now(), cpu: process.cpuUsage() };
          }
          if (Date.now() - started > sz.budgetMs) {
            stopped = true;
            break;
          }
        }
        await sweeper.sweep();
        const usPerRun = ((performance.now() - windowStart) * 1000) / Math.max(1, windowRuns);
        const cpu = process.cpuUsage(windowCpu);
        const cpuUsPerRun = (cpu.user + cpu.system) / Math.max(1, windowRuns);
        const view = (await store.threads.get(THREAD))!;
        const cp: Checkpoint = {
          runs: n,
          bytes: await opened.size(),
          usPerRun,
          cpuUsPerRun,
          attachMs: await attachMs(store),
          events: view.lastSeq - view.horizon,
          messages: view.messages.length,
        };
        checkpoints.push(cp);
        process.stdout.write(
          `  ${name}: ${n} runs, ${fmt(cp.bytes / 1024)} KiB, ${fmt(usPerRun)} µs/run (CPU ${fmt(cpuUsPerRun)}), attach ${fmt(cp.attachMs, 2)} ms\n`,
        );
        windowStart = performance.now();
        windowCpu = process.cpuUsage();
        windowRuns = 0;
        if (stopped) break;
      }
      const labels = ["start", "middle", "end"];
      checkpoints.forEach((cp, i) => {
        rows.push([
          name,
          checkpoints.length === 3 ? labels[i]! : i === 0 ? "start" : "end",
          cp.runs,
          cp.events,
          cp.messages,
          fmt(cp.bytes / 1024 / 1024, 2),
          fmt(cp.usPerRun),
          fmt(cp.cpuUsPerRun),
          fmt(cp.attachMs, 2),
        ]);
      });
      if (opened.note) notes.push(`${name}: ${opened.note}`);
      const first = checkpoints[0]!;
      const last = checkpoints[checkpoints.length - 1]!;
      const ratio = last.bytes / first.bytes;
      if (stopped) {
        notes.push(
          `${name}: the ${fmt(sz.budgetMs / 1000)} s budget stopped it at ${last.runs} of ${sz.runs} runs`,
        );
      }
      ctx.report.target({
        scenario: "heartbeat",
        text: `${name}: disk after ${last.runs} heartbeat runs (retention ${sz.keepRuns}) within 10% of after ${first.runs}`,
        measured: `${fmt(last.bytes / 1024 / 1024, 2)} MiB vs ${fmt(first.bytes / 1024 / 1024, 2)} MiB (${fmt((ratio - 1) * 100, 1)}%)`,
        met: last.runs > first.runs ? ratio <= 1.1 : null,
      });
    } catch (error) {
      ctx.fail(`heartbeat ${name}`, error);
    } finally {
      await opened?.close().catch(() => undefined);
    }
  }
  ctx.report.section({
    title: "Long-lived heartbeat thread (retention)",
    intro: `Heartbeat-shaped runs (prompt, 5 text deltas, end; 9 events, 2 messages each) appended through the store API at full speed on one thread, retention \`keepRuns: ${sz.keepRuns}\` applied by the sweep every ${sz.sweepEvery} runs. Per-run cost is the mean over the runs since the previous checkpoint, the sweep's share included (CPU µs/run: this process's CPU time, steadier than wall time on a loaded machine; PostgreSQL's own work is not in it); attach is the median of 5 compact attaches (snapshot of the kept view). The issue's figure is 1,000,000 runs; this run measured ${sz.runs} (\`--heartbeat-runs\`), within a ${fmt(sz.budgetMs / 1000)} s budget per store.`,
    headers: [
      "store",
      "point",
      "runs",
      "events kept",
      "messages kept",
      "disk MiB",
      "µs/run",
      "CPU µs/run",
      "compact attach ms",
    ],
    rows,
    notes,
  });
}
