/**
 * The store ceilings of scenario 1, run in a worker process: the bare-driver replicas in
 * bench/ceilings/ doing, run after run, the same store writes and reads Threadline's store does
 * for one scenario-1 run, with no Threadline code on the hot path.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type AppendCeiling, type CeilingRun, ceilingRun, Phases } from "../ceilings/payload.js";
import { postgresAppendCeiling } from "../ceilings/postgres-append.js";
import { postgresLeanCeiling } from "../ceilings/postgres-lean.js";
import { redisAppendCeiling } from "../ceilings/redis-append.js";
import { sqliteAppendCeiling } from "../ceilings/sqlite-append.js";
import { scratchDir } from "../lib/scratch.js";
import { now } from "../lib/script.js";
import { pgUrl, redisUrl } from "../lib/stores.js";

export interface CeilingParams {
  store: string;
  runs: number;
  events: number;
  warmupRuns: number;
}

export interface CeilingResult {
  events: number;
  runs: number;
  ms: number;
  eventsPerSec: number;
  usPerEvent: number;
  /** µs per run spent in each step (head, enqueue, claim, reads, append, claim (empty)). */
  phases: Record<string, number>;
  /** PostgreSQL: statements (round trips) per run. */
  queriesPerRun?: number;
}

const scratch = scratchDir("ceiling");
let opened = 0;

async function openCeiling(
  store: string,
): Promise<{ ceiling: AppendCeiling; queries?: () => number; done: () => void }> {
  const id = `bench_ceiling_${process.pid}_${++opened}`;
  if (store === "sqlite") {
    const dir = mkdtempSync(join(scratch, "sqlite-"));
    return {
      ceiling: sqliteAppendCeiling(join(dir, `${id}.db`)),
      done: () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  if (store === "postgres") {
    const c = await postgresAppendCeiling(pgUrl(), id);
    return { ceiling: c, queries: () => c.stats.queries, done: () => undefined };
  }
  if (store === "postgres-lean" || store === "postgres-lean-no-notify") {
    const c = await postgresLeanCeiling(pgUrl(), id, store === "postgres-lean");
    return { ceiling: c, queries: () => c.stats.queries, done: () => undefined };
  }
  if (store === "redis")
    return { ceiling: await redisAppendCeiling(redisUrl(), id), done: () => undefined };
  throw new Error(`no ceiling for store '${store}'`);
}

async function measure(p: CeilingParams): Promise<CeilingResult> {
  const { ceiling, queries, done } = await openCeiling(p.store);
  try {
    const tag = `c${opened}`;
    const warm = new Phases();
    globalThis.gc?.();
    for (let i = 0; i < p.warmupRuns; i++)
      await ceiling.runOne(ceilingRun(`${tag}-warmup-${i}`, i, p.events), warm);
    // Encoded before the clock starts: the ceiling pays for the store alone.
    const runs: CeilingRun[] = Array.from({ length: p.runs }, (_, i) =>
      ceilingRun(`${tag}-run${i}`, i, p.events),
    );
    const phases = new Phases();
    const q0 = queries?.() ?? 0;
    const start = now();
    for (const r of runs) await ceiling.runOne(r, phases);
    const ms = now() - start;
    const q1 = queries?.() ?? 0;
    let events = 0;
    for (const r of runs) events += await ceiling.eventCount(r.threadId);
    if (events !== p.runs * p.events)
      throw new Error(`${p.store} ceiling: ${events} events stored, expected ${p.runs * p.events}`);
    const perRun: Record<string, number> = {};
    for (const [k, v] of Object.entries(phases.ms)) perRun[k] = (v * 1000) / p.runs;
    return {
      events,
      runs: p.runs,
      ms,
      eventsPerSec: (events / ms) * 1000,
      usPerEvent: (ms * 1000) / events,
      phases: perRun,
      ...(queries ? { queriesPerRun: (q1 - q0) / p.runs } : {}),
    };
  } finally {
    await ceiling.close();
    done();
  }
}

/** Ceiling commands of the worker process (see worker.ts). */
export const ceilingCommands = {
  ceilingAppend: (p: CeilingParams) => measure(p),
};
