/**
 * Scenario 1 (and its scaling curve) for one subject, run in a worker process: runs of the scripted
 * agent pushed through Threadline's coordinator into a store, or through CopilotKit's
 * InMemoryAgentRunner, on threads with or without prior history.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Message } from "@ag-ui/core";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { LeanApplyAgent, ScriptedAgent } from "../lib/agents.js";
import { loadCopilotKit, runThroughCopilotKit, seedCopilotKit } from "../lib/copilotkit.js";
import { installPgCensus, pgDelta, pgSnapshot, type StatementCount } from "../lib/pg-census.js";
import { startProfile, stopProfile } from "../lib/profile.js";
import { scratchDir } from "../lib/scratch.js";
import { now, userMessage } from "../lib/script.js";
import { seedThreadline } from "../lib/seed.js";
import { openStore } from "../lib/stores.js";

export interface AppendParams {
  /** A store name (memory, sqlite, ...) or "copilotkit". */
  subject: string;
  /**
   * Prior runs on the thread before measuring. With 0, every measured run gets a fresh thread
   * (each sees an empty history); otherwise all measured runs of a lane go to one seeded thread.
   */
  history: number;
  /** Lanes running concurrently, each its runs one after another. */
  threads: number;
  runsPerThread: number;
  /** Keep the seeded history (and its runtime) for the next call with the same parameters. */
  reuseHistory?: boolean;
  /** Stop a lane early once this much time has passed (after at least 1 run). */
  budgetMs?: number;
  /** Events per run (RUN_STARTED and RUN_FINISHED included). */
  events: number;
  warmupRuns: number;
  /** Write a CPU profile of the measured part to this file. */
  profile?: string;
}

export interface AppendResult {
  events: number;
  runs: number;
  ms: number;
  eventsPerSec: number;
  usPerEvent: number;
  seedMs: number;
  /** Store appends per run (Threadline's group commit: how many batches a run became). */
  appendsPerRun?: number;
  /** PostgreSQL: statements sent per run (round trips), and by statement. */
  queriesPerRun?: number;
  statements?: StatementCount[];
  profile?: Awaited<ReturnType<typeof stopProfile>>;
}

let measureNo = 0;
const scratch = scratchDir("append");

/** One subject's way of seeding a thread and running one run on it. */
interface Subject {
  seed(threadId: string, runs: number, events: number): Promise<void>;
  /** One run on the thread; resolves when it is complete (committed, or observable done). */
  runOne(threadId: string, runNo: number, events: number): Promise<void>;
  /** Events the thread holds (checked after the timed part, to catch a broken run). */
  eventCount(threadId: string): Promise<number>;
  /** Store appends so far (Threadline subjects). */
  appends?: () => number;
  close(): Promise<void>;
}

/** `memory`, `sqlite`, ...; a `+lean` suffix runs the LeanApplyAgent experiment instead. */
async function threadlineSubject(name: string): Promise<Subject> {
  const [storeName = name, variant] = name.split("+");
  const dir = mkdtempSync(join(scratch, `${storeName}-`));
  if (storeName === "postgres") installPgCensus();
  const store = await openStore(storeName, dir);
  let appends = 0;
  const append = store.threads.append.bind(store.threads);
  store.threads.append = (...args) => {
    appends++;
    return append(...args);
  };
  const agent = variant === "lean" ? new LeanApplyAgent() : new ScriptedAgent();
  const tl: Threadline = createThreadline({ store, agents: { scripted: agent } });
  await tl.ready;
  return {
    seed: (threadId, runs, events) =>
      seedThreadline(store, threadId, { runs, events, compact: true }),
    async runOne(threadId, runNo, events) {
      await tl.startRun({
        threadId,
        agentId: "scripted",
        multitask: "enqueue",
        input: {
          messages: [userMessage(`q-${threadId}-${runNo}`, `question ${runNo}`)],
          forwardedProps: { bench: { events } },
        },
      });
      await tl.coordinator.idle(threadId);
    },
    eventCount: async (threadId) => (await store.threads.get(threadId))?.lastSeq ?? 0,
    appends: () => appends,
    async close() {
      await tl.close({ graceMs: 1000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function copilotkitSubject(): Promise<Subject> {
  const ck = await loadCopilotKit();
  const runner = new ck.InMemoryAgentRunner();
  /** What the client holds per thread: its messages (CopilotKit clients send them all). */
  const held = new Map<string, Message[]>();
  const counted = new Map<string, number>();
  return {
    async seed(threadId, runs, events) {
      held.set(threadId, seedCopilotKit(ck, threadId, { runs, events, compact: true }));
      counted.set(threadId, runs * events);
    },
    async runOne(threadId, runNo, events) {
      const messages = [
        ...(held.get(threadId) ?? []),
        userMessage(`q-${threadId}-${runNo}`, `question ${runNo}`),
      ];
      const n = await runThroughCopilotKit(runner, threadId, `r-${threadId}-${runNo}`, messages, {
        bench: { events },
      });
      counted.set(threadId, (counted.get(threadId) ?? 0) + n);
      held.set(threadId, runner.getThreadMessages(threadId));
    },
    eventCount: async (threadId) => counted.get(threadId) ?? 0,
    async close() {
      runner.clearThreads();
    },
  };
}

const openSubject = (name: string) =>
  name === "copilotkit" ? copilotkitSubject() : threadlineSubject(name);

/**
 * Seeded history kept between repetitions (`reuseHistory`): seeding 10,000 runs into a
 * networked store takes minutes, and the few runs a repetition adds do not change the history.
 */
const kept = new Map<string, { subject: Subject; lanes: string[]; seedMs: number }>();

async function measure(p: AppendParams): Promise<AppendResult> {
  const key = `${p.subject}/${p.history}/${p.threads}/${p.events}`;
  const reuse = p.history > 0 && p.reuseHistory === true;
  const cached = reuse ? kept.get(key) : undefined;
  const subject = cached?.subject ?? (await openSubject(p.subject));
  try {
    const tag = `m${++measureNo}`;
    // A forced full GC drops optimised code and type feedback V8 then rebuilds: before the
    // warm-up, so the measured runs do not pay for it.
    globalThis.gc?.();
    for (let i = 0; i < p.warmupRuns; i++) await subject.runOne(`${tag}-warmup-${i}`, i, p.events);
    const lanes = cached?.lanes ?? Array.from({ length: p.threads }, (_, i) => `${tag}-lane${i}`);
    const seedStart = now();
    if (p.history > 0 && !cached) for (const t of lanes) await subject.seed(t, p.history, p.events);
    const seedMs = cached?.seedMs ?? now() - seedStart;
    if (reuse && !cached) kept.set(key, { subject, lanes, seedMs });
    const threadOf = (lane: string, run: number) => (p.history > 0 ? lane : `${lane}-run${run}`);
    const before = await Promise.all(lanes.map((l) => subject.eventCount(l)));
    const appends0 = subject.appends?.() ?? 0;
    const census0 = p.subject === "postgres" ? pgSnapshot() : undefined;
    if (p.profile) await startProfile();
    const start = now();
    const deadline = start + (p.budgetMs ?? Number.POSITIVE_INFINITY);
    const runsDone = await Promise.all(
      lanes.map(async (lane) => {
        let r = 0;
        while (r < p.runsPerThread && (r < 1 || now() < deadline)) {
          await subject.runOne(threadOf(lane, r), r, p.events);
          r++;
        }
        return r;
      }),
    );
    const ms = now() - start;
    const appendCalls = (subject.appends?.() ?? 0) - appends0;
    const statements = census0 ? pgDelta(census0, pgSnapshot()) : undefined;
    const profile = p.profile ? await stopProfile(p.profile) : undefined;
    let events = 0;
    for (const [i, lane] of lanes.entries()) {
      if (p.history > 0) events += (await subject.eventCount(lane)) - before[i]!;
      else
        for (let r = 0; r < runsDone[i]!; r++)
          events += await subject.eventCount(threadOf(lane, r));
    }
    const runs = runsDone.reduce((a, b) => a + b, 0);
    const expected = runs * p.events;
    if (events !== expected) {
      throw new Error(`${p.subject}: ${events} events committed, expected ${expected}`);
    }
    return {
      events,
      runs,
      ms,
      eventsPerSec: (events / ms) * 1000,
      usPerEvent: (ms * 1000) / events,
      seedMs,
      ...(subject.appends ? { appendsPerRun: appendCalls / runs } : {}),
      ...(statements
        ? {
            queriesPerRun: statements.reduce((n, c) => n + c.calls, 0) / runs,
            statements: statements.slice(0, 16),
          }
        : {}),
      ...(profile ? { profile } : {}),
    };
  } finally {
    if (!reuse) await subject.close();
  }
}

/** Closes the runtimes kept for `reuseHistory` (and with them their stores' data). */
async function release(): Promise<void> {
  const all = [...kept.values()];
  kept.clear();
  for (const k of all) await k.subject.close();
}

/** Scenario 1 commands of the worker process (see worker.ts). */
export const appendCommands = {
  appendMeasure: (p: AppendParams) => measure(p),
  appendRelease: () => release(),
};
