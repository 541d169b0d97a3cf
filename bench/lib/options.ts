import { parseArgs } from "node:util";

/** Sizes of one bench run: the full sizes the targets are stated at, or a quick smoke run. */
export interface Sizes {
  append: {
    events: number;
    warmupRuns: number;
    /** Runs on fresh (empty) threads. */
    emptyRuns: number;
    /** Prior runs of the history thread. */
    historyRuns: number;
    /**
     * At most this many runs (and at most budgetMs, after 1) on the history thread. As many as
     * `emptyRuns`, so both sides spread a measurement's fixed costs (the forced GC before it, the
     * code V8 re-optimises after it) over the same number of events.
     */
    historyMaxRuns: number;
    historyBudgetMs: number;
    concurrency: number[];
    /** Total runs per concurrency point, split across its threads. */
    concurrencyRuns: number;
  };
  fanout: {
    followers: number[];
    events: number;
    latencyFollowers: number;
    latencyRate: number;
    latencyEvents: number;
  };
  idle: { followers: number; events: number };
  attach: { runs: number; events: number };
  /** Server runs posted while a stock CopilotKit chat is open (after 2 warm-up runs). */
  wake: { runs: number };
  /** The long-lived heartbeat thread: runs appended, retention, sweep period, time budget. */
  heartbeat: {
    runs: number;
    keepRuns: number;
    sweepEvery: number;
    budgetMs: number;
    /** The sweep's `reclaimAfterRows` (PostgreSQL's VACUUM threshold); undefined: its default. */
    reclaimAfterRows?: number;
  };
  /** Tracing overhead: interleaved rounds of `runs` runs of `events` events to `followers`. */
  tracing: { runs: number; events: number; followers: number; rounds: number; warmup: number };
  /**
   * Scale-out (issue 18): 1..`instances` Threadline processes on one schema / key prefix;
   * `threads` threads with `runs` runs of `events` each started across them, in rounds (a
   * warm-up of `warmupThreads` threads first); the cross-instance latency probe's paced run;
   * the time budget of the whole scenario.
   */
  scaleout: {
    instances: number;
    threads: number;
    runs: number;
    events: number;
    warmupThreads: number;
    latencyEvents: number;
    latencyRate: number;
    budgetMs: number;
  };
  /** Repetitions of each fan-out / attach measurement (the median is reported). */
  reps: number;
}

const FULL: Sizes = {
  append: {
    events: 200,
    warmupRuns: 50,
    emptyRuns: 500,
    historyRuns: 10_000,
    historyMaxRuns: 500,
    historyBudgetMs: 15_000,
    concurrency: [1, 10, 100],
    concurrencyRuns: 500,
  },
  fanout: {
    followers: [10, 100, 1000],
    events: 10_000,
    latencyFollowers: 1000,
    latencyRate: 1000,
    latencyEvents: 3000,
  },
  idle: { followers: 10_000, events: 200 },
  attach: { runs: 500, events: 200 },
  wake: { runs: 20 },
  heartbeat: { runs: 100_000, keepRuns: 1_000, sweepEvery: 100, budgetMs: 240_000 },
  tracing: { runs: 10, events: 200, followers: 10, rounds: 40, warmup: 3 },
  scaleout: {
    instances: 3,
    threads: 300,
    runs: 1,
    events: 200,
    warmupThreads: 30,
    latencyEvents: 600,
    latencyRate: 200,
    budgetMs: 360_000,
  },
  reps: 3,
};

const QUICK: Sizes = {
  append: {
    events: 200,
    warmupRuns: 30,
    emptyRuns: 100,
    historyRuns: 1000,
    historyMaxRuns: 100,
    historyBudgetMs: 1000,
    concurrency: [1, 10],
    concurrencyRuns: 40,
  },
  fanout: {
    followers: [10, 100, 200],
    events: 2000,
    latencyFollowers: 200,
    latencyRate: 1000,
    latencyEvents: 500,
  },
  idle: { followers: 1000, events: 200 },
  attach: { runs: 50, events: 200 },
  wake: { runs: 5 },
  heartbeat: { runs: 5_000, keepRuns: 1_000, sweepEvery: 100, budgetMs: 30_000 },
  tracing: { runs: 10, events: 200, followers: 5, rounds: 8, warmup: 1 },
  scaleout: {
    instances: 3,
    threads: 60,
    runs: 1,
    events: 100,
    warmupThreads: 10,
    latencyEvents: 300,
    latencyRate: 200,
    budgetMs: 90_000,
  },
  reps: 1,
};

export const SCENARIOS = [
  "append",
  "fanout",
  "idle",
  "attach",
  "replay",
  "wake",
  "heartbeat",
  "tracing",
  "scaleout",
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Options {
  quick: boolean;
  sizes: Sizes;
  scenarios: ScenarioName[];
  /** Stores to measure (those not available in this checkout are reported as such). */
  stores: string[];
  /** Profile the server/worker during the headline measurements. */
  profile: boolean;
  out: string;
  argv: string[];
}

const HELP = `npm run bench [-- options]
  --quick            smoke run with reduced sizes (< 1 minute)
  --only a,b         scenarios to run: ${SCENARIOS.join(", ")} (default: all; the scaling
                     curve is part of append and fanout)
  --stores a,b       stores for the append scenario (default: memory,sqlite,postgres,redis;
                     missing ones are reported as not available); scaleout uses the
                     shared ones (postgres, redis) among them
  --reps n           repetitions of the append, fan-out and attach measurements (median
                     reported; default 3, quick 1)
  --profile          CPU-profile the server (fan-out, idle) and worker (append) while measuring,
                     and take a heap census of idle followers; writes bench/profiles/ and
                     summarises the top frames in the report
  --heartbeat-runs n runs of the long-lived heartbeat thread (default 100000, quick 5000; the
                     issue's figure is 1000000: it takes hours on 2 cores)
  --heartbeat-budget-s s
                     time budget per store for them (default 240, quick 30)
  --heartbeat-reclaim-rows n
                     the retention sweep's reclaimAfterRows for them (default: the server's,
                     2000): how many removed rows PostgreSQL's VACUUM waits for
  --scaleout-budget-s s
                     time budget of the scale-out scenario (default 360, quick 90): rounds
                     (every instance count once each) stop when the next would not fit
  --out file         where to write the report (default bench/RESULTS.md)`;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      stores: { type: "string" },
      reps: { type: "string" },
      profile: { type: "boolean", default: false },
      "heartbeat-runs": { type: "string" },
      "heartbeat-budget-s": { type: "string" },
      "heartbeat-reclaim-rows": { type: "string" },
      "scaleout-budget-s": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
}

export function parseOptions(argv: string[]): Options {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${HELP}`);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const sizes = structuredClone(values.quick ? QUICK : FULL);
  if (values.reps) sizes.reps = Math.max(1, Number.parseInt(values.reps, 10) || 1);
  const heartbeatRuns = values["heartbeat-runs"];
  if (heartbeatRuns !== undefined) {
    const n = Number(heartbeatRuns);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--heartbeat-runs must be a positive integer\n${HELP}`);
    sizes.heartbeat.runs = n;
  }
  const reclaimRows = values["heartbeat-reclaim-rows"];
  if (reclaimRows !== undefined) {
    const n = Number(reclaimRows);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`--heartbeat-reclaim-rows must be a non-negative integer\n${HELP}`);
    sizes.heartbeat.reclaimAfterRows = n;
  }
  /** A `--…-budget-s` option in ms, or undefined when absent. */
  const budgetMs = (name: "heartbeat-budget-s" | "scaleout-budget-s"): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const s = Number(v);
    if (!Number.isFinite(s) || s <= 0) throw new Error(`--${name} must be positive\n${HELP}`);
    return s * 1000;
  };
  sizes.heartbeat.budgetMs = budgetMs("heartbeat-budget-s") ?? sizes.heartbeat.budgetMs;
  sizes.scaleout.budgetMs = budgetMs("scaleout-budget-s") ?? sizes.scaleout.budgetMs;
  const scenarios = values.only
    ? values.only.split(",").map((s) => s.trim() as ScenarioName)
    : [...SCENARIOS];
  for (const s of scenarios) {
    if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario '${s}'\n${HELP}`);
  }
  return {
    quick: values.quick ?? false,
    sizes,
    scenarios,
    stores: values.stores?.split(",").map((s) => s.trim()) ?? [
      "memory",
      "sqlite",
      "postgres",
      "redis",
    ],
    profile: values.profile ?? false,
    out: values.out ?? new URL("../RESULTS.md", import.meta.url).pathname,
    argv,
  };
}
