import { type Child, killAllOf } from "../lib/children.js";
import { fmt } from "../lib/report.js";
import type { AppendParams, AppendResult } from "../procs/append-measure.js";
import type { CeilingResult } from "../procs/ceiling-measure.js";
import type { Context } from "./context.js";
import { quickWorker, startWorker } from "./workers.js";

/** Subjects of scenario 1: each store through the coordinator, and CopilotKit's runner. */
interface Subject {
  name: string;
  label: string;
  /** An experiment shown for insight, not a subject with a target. */
  experiment?: boolean;
}

function subjects(ctx: Context): { run: Subject[]; missing: Array<[string, string]> } {
  const run: Subject[] = [];
  const missing: Array<[string, string]> = [];
  for (const store of ctx.opts.stores) {
    const why = ctx.storeUnavailable(store);
    if (why) missing.push([store, why]);
    else run.push({ name: store, label: `Threadline + ${store}` });
  }
  run.push({ name: "copilotkit", label: "CopilotKit InMemoryAgentRunner" });
  run.push({
    name: "memory+lean",
    label: "experiment: Threadline + memory, @ag-ui/client's per-event apply step bypassed",
    experiment: true,
  });
  return { run, missing };
}

/** The bare-driver ceilings in bench/ceilings/: the store they stand beside, and a label. */
const CEILINGS = [
  { name: "sqlite", store: "sqlite", label: "sqlite" },
  { name: "postgres", store: "postgres", label: "postgres" },
  {
    name: "postgres-lean",
    store: "postgres",
    label: "postgres, lean ceiling (one statement per transaction)",
  },
  {
    name: "postgres-lean-no-notify",
    store: "postgres",
    label: "diagnostic: the lean ceiling without its NOTIFYs",
  },
  { name: "redis", store: "redis", label: "redis" },
];

const STEPS = ["head", "enqueue", "claim", "reads", "append", "claim (empty)"];

/** Section 1c: each store's Threadline figure beside its bare-driver ceiling, same run. */
function ceilingReport(
  ctx: Context,
  empty: ReadonlyMap<string, AppendResult>,
  ceilings: ReadonlyMap<string, CeilingResult[]>,
): void {
  const sz = ctx.opts.sizes.append;
  const rows: string[][] = [];
  for (const { name, store, label } of CEILINGS) {
    const cs = ceilings.get(name);
    const t = empty.get(store);
    if (!cs || !t) continue;
    const c = [...cs].sort((a, b) => a.usPerEvent - b.usPerEvent)[Math.floor((cs.length - 1) / 2)]!;
    const rt =
      t.queriesPerRun !== undefined
        ? `${fmt(t.queriesPerRun, 1)} / ${fmt(c.queriesPerRun ?? Number.NaN, 1)}`
        : "";
    rows.push([
      label,
      fmt(t.eventsPerSec),
      fmt(c.eventsPerSec),
      fmt(t.usPerEvent, 1),
      fmt(c.usPerEvent, 1),
      `${fmt(t.usPerEvent / c.usPerEvent, 2)}×`,
      STEPS.map((k) => fmt((c.phases[k] ?? 0) / 1000, 2)).join(" / "),
      t.appendsPerRun !== undefined ? fmt(t.appendsPerRun, 2) : "",
      rt,
    ]);
    if (name === "postgres-lean") {
      const share = t.eventsPerSec / c.eventsPerSec;
      ctx.report.target({
        scenario: "1",
        text: "Threadline + postgres append throughput ≥ 50% of the bare-driver ceiling (lean: same rows, transactions and commits)",
        measured: `${fmt(share * 100)}% (${fmt(t.eventsPerSec)} vs ${fmt(c.eventsPerSec)} events/s)`,
        met: share >= 0.5,
      });
    }
  }
  if (rows.length === 0) return;
  ctx.report.section({
    title: "1c. Store ceilings: the same store work by the bare driver (empty threads)",
    intro:
      `The ceiling is a script in bench/ceilings/ that does, with better-sqlite3 / pg / ioredis ` +
      `alone, the store operations Threadline's store performs for one scenario-1 run — the same ` +
      `statements (Lua scripts on Redis), transactions and rows: read the thread head, enqueue ` +
      `(ensure the thread, insert the run), claim (lease, fencing token, active run), read the view ` +
      `and the run, append the run's ${sz.events} events with its view update and end in one ` +
      `transaction, and the claim that finds the queue empty — with the event JSON encoded before ` +
      `the clock starts and no agent, coordinator or @ag-ui/client. ${sz.emptyRuns} runs on fresh ` +
      `threads, measured right after Threadline's empty-thread figure in the same worker process; ` +
      `median of the repetitions. Threadline ÷ ceiling = Threadline's cost per event over the ` +
      `ceiling's (1.00× = nothing left above the database).`,
    headers: [
      "store",
      "Threadline events/s",
      "ceiling events/s",
      "Threadline µs/event",
      "ceiling µs/event",
      "Threadline ÷ ceiling",
      `ceiling ms per run: ${STEPS.join(" / ")}`,
      "Threadline appends per run",
      "round trips per run: Threadline / ceiling",
    ],
    rows,
    notes: [
      "The sqlite, postgres and redis ceilings replay the statements Threadline sends today (bench/ceilings/<store>-append.ts): they show what is left above the driver for that SQL. The lean PostgreSQL ceiling (bench/ceilings/postgres-lean.ts) writes the same rows in the same four transactions with the same synchronous commits, each transaction one statement (6 round trips per run instead of 25): what the store could reach; the target is stated against it.",
      "Each replica commits a run's events in one append, as Threadline's group commit does for a synchronous run; \"Threadline appends per run\" shows how many batches Threadline actually made (above 1.00 when a run's events straddled a commit in flight).",
    ],
  });
  const pgStatements = empty.get("postgres")?.statements;
  if (pgStatements && rows.length > 0) {
    const t = empty.get("postgres")!;
    const total = pgStatements.reduce((n, c) => n + c.ms, 0);
    ctx.report.section({
      title: "1d. Where Threadline + postgres spends a run: its statements (empty threads)",
      intro:
        `Every statement Threadline's PostgreSQL store sent during the empty-thread measurement ` +
        `(${fmt(t.runs)} runs), counted by a wrapper around \`pg.Client.prototype.query\` in the ` +
        `worker (pg_stat_statements is not preloaded on this server). "ms per run" is send → reply, ` +
        `summed: runs are sequential, so it is wall time the run waited on that statement. The run ` +
        `took ${fmt(t.ms / t.runs, 2)} ms in all.`,
      headers: ["statement", "calls per run", "ms per run", "share of statement time"],
      rows: pgStatements.map((c) => [
        `\`${c.text.replaceAll("|", "\\|")}\``,
        fmt(c.calls / t.runs, 2),
        fmt(c.ms / t.runs, 3),
        `${fmt((c.ms / total) * 100, 1)}%`,
      ]),
    });
  }
}

/** The repetition with the median per-event cost. */
function medianResult(rs: AppendResult[]): AppendResult {
  const sorted = [...rs].sort((a, b) => a.usPerEvent - b.usPerEvent);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/**
 * One worker process per subject (a quick run shares one, to save start-up time), started in
 * parallel with CopilotKit preloaded (it is slow to load); `workers[i]` serves `subjects()[i]`.
 */
export function appendWorkers(ctx: Context): Promise<{ workers: Child[]; started: Child[] }> {
  return ctx.resource(
    "append",
    async () => {
      const { run } = subjects(ctx);
      if (ctx.opts.quick) {
        const w = await quickWorker(ctx);
        return { workers: run.map(() => w), started: [] };
      }
      const settled = await Promise.allSettled(
        run.map((s) => startWorker(s.name, s.name === "copilotkit")),
      );
      const started = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) {
        await killAllOf(started);
        throw (failed as PromiseRejectedResult).reason;
      }
      return { workers: started, started };
    },
    (w) => killAllOf(w.started),
  );
}

/**
 * Scenario 1 — append throughput, empty thread vs a long history — and scenario 5's second
 * curve (1/10/100 concurrent threads). Each subject runs in its own worker process.
 */
export async function appendScenario(ctx: Context): Promise<void> {
  const sz = ctx.opts.sizes.append;
  const { run, missing } = subjects(ctx);
  const empty = new Map<string, AppendResult>();
  const history = new Map<string, AppendResult>();
  const historyFailed = new Set<string>();
  const curve = new Map<string, Map<number, AppendResult>>();
  /** Bare-driver ceilings (bench/ceilings/), by store, every repetition. */
  const ceilings = new Map<string, CeilingResult[]>();
  const timeoutMs = 15 * 60_000;
  const reps = ctx.opts.sizes.reps;

  const { workers } = await appendWorkers(ctx);
  try {
    ctx.log("append: worker processes ready");
    await measureAll();
  } finally {
    await ctx.release("append");
  }

  async function measureAll(): Promise<void> {
    for (const [i, s] of run.entries()) {
      const worker = workers[i]!;
      try {
        const base: AppendParams = {
          subject: s.name,
          history: 0,
          threads: 1,
          runsPerThread: sz.emptyRuns,
          events: sz.events,
          warmupRuns: sz.warmupRuns,
        };
        const prof = (tag: string) =>
          ctx.opts.profile && !s.experiment
            ? { profile: ctx.profileFile(`append-${s.name}-${tag}`) }
            : {};
        // Empty and history alternate, `reps` times each; the median is reported, and only the
        // last repetition is profiled.
        const es: AppendResult[] = [];
        const hs: AppendResult[] = [];
        let slow = false;
        for (let rep = 0; rep < reps; rep++) {
          const last = rep === reps - 1;
          const e = await worker.call<AppendResult>(
            "appendMeasure",
            { ...base, ...(last ? prof("empty") : {}) },
            timeoutMs,
          );
          es.push(e);
          empty.set(s.name, medianResult(es));
          ctx.log(`append: ${s.name}, empty threads: ${fmt(e.eventsPerSec)} events/s`);
          ctx.noteProfile(`append, ${s.label}, empty threads`, e.profile);
          // Right after Threadline's, in the same process: same machine state, same sizes.
          for (const c of CEILINGS.filter((x) => x.store === s.name)) {
            const r = await worker
              .call<CeilingResult>(
                "ceilingAppend",
                { store: c.name, runs: sz.emptyRuns, events: sz.events, warmupRuns: sz.warmupRuns },
                timeoutMs,
              )
              .catch((error: unknown) => {
                ctx.fail(`append ceiling (${c.name})`, error);
                return undefined;
              });
            if (r) {
              ceilings.set(c.name, [...(ceilings.get(c.name) ?? []), r]);
              ctx.log(`append: ${c.name} bare-driver ceiling: ${fmt(r.eventsPerSec)} events/s`);
            }
          }
          // A subject far slower than its budget is measured once: precision is moot there.
          if (slow || historyFailed.has(s.name)) continue;
          const h = await worker
            .call<AppendResult>(
              "appendMeasure",
              {
                ...base,
                history: sz.historyRuns,
                runsPerThread: sz.historyMaxRuns,
                budgetMs: sz.historyBudgetMs,
                // CopilotKit's store is process-global and cleared by every fresh runner; it seeds
                // in a fraction of a second anyway.
                reuseHistory: s.name !== "copilotkit",
                ...(last ? prof("history") : {}),
              },
              timeoutMs,
            )
            .catch((error: unknown) => {
              // The history failing (a store bug, say) must not lose the other measurements.
              historyFailed.add(s.name);
              ctx.fail(`append with ${fmt(sz.historyRuns)} prior runs (${s.label})`, error);
              return undefined;
            });
          if (!h) continue;
          hs.push(h);
          history.set(s.name, medianResult(hs));
          slow = h.ms > 3 * sz.historyBudgetMs;
          ctx.log(
            `append: ${s.name}, history: ${fmt(h.eventsPerSec)} events/s over ${h.runs} runs`,
          );
          ctx.noteProfile(`append, ${s.label}, ${fmt(sz.historyRuns)} prior runs`, h.profile);
        }
        await worker.call("appendRelease", {}, timeoutMs);
        if (s.experiment) continue;
        const points = new Map<number, AppendResult>();
        for (const threads of sz.concurrency) {
          const r = await worker.call<AppendResult>(
            "appendMeasure",
            {
              ...base,
              threads,
              runsPerThread: Math.max(2, Math.ceil(sz.concurrencyRuns / threads)),
            },
            timeoutMs,
          );
          points.set(threads, r);
        }
        curve.set(s.name, points);
      } catch (error) {
        ctx.fail(`append (${s.label})`, error);
      } finally {
        // Kept history runtimes close their stores (and drop their schemas / key prefixes).
        await worker.call("appendRelease", {}, timeoutMs).catch(() => undefined);
        if (!ctx.opts.quick) await worker.kill();
      }
    }
  }

  const rows = run
    .filter((s) => empty.has(s.name))
    .map((s) => {
      const e = empty.get(s.name)!;
      const h = history.get(s.name);
      const ratio = h ? h.usPerEvent / e.usPerEvent : Number.NaN;
      return [
        s.label,
        fmt(e.eventsPerSec),
        fmt(e.usPerEvent, 1),
        h ? fmt(h.eventsPerSec) : historyFailed.has(s.name) ? "failed" : "—",
        h ? fmt(h.usPerEvent, 1) : "—",
        h ? `${fmt(ratio, 2)}×` : "—",
        h ? `${h.runs} run${h.runs > 1 ? "s" : ""}, seeded in ${fmt(h.seedMs / 1000, 1)} s` : "",
      ];
    });
  for (const [store, why] of missing)
    rows.push([`Threadline + ${store}`, "not available", "", "", "", "", why]);
  ctx.report.section({
    title: "1. Append throughput (runs of the scripted agent through the runtime, no followers)",
    intro:
      `Each run: ${sz.events} events (RUN_STARTED, one assistant message streamed as ${sz.events - 4} ` +
      `tokens, RUN_FINISHED), emitted synchronously by an AbstractAgent and driven through ` +
      `\`agent.runAgent\` by each runtime. "Empty": ${sz.emptyRuns} runs, each on a fresh thread. ` +
      `"History": runs on a thread seeded through the store API with ${fmt(sz.historyRuns)} prior runs ` +
      `(each a user message and a ${sz.events - 4}-token reply, stored compacted as 5 events); the ` +
      `CopilotKit client sends all messages it holds, as CopilotKit's client does, and its runner ` +
      `keeps the last 100 runs (its default). History runs stop after ${sz.historyMaxRuns} runs or ` +
      `${fmt(sz.historyBudgetMs / 1000, 1)} s (at least 1; a subject that overruns the budget 3× is measured once). Median of ${reps} repetition${reps > 1 ? "s" : ""}, ` +
      `empty and history alternating, each empty repetition in a fresh runtime and store, the history ` +
      `thread seeded once and kept for its repetitions.`,
    headers: [
      "subject",
      "empty: events/s",
      "µs/event",
      `${fmt(sz.historyRuns)} prior runs: events/s`,
      "µs/event",
      "per-event cost, history ÷ empty",
      "history measured over",
    ],
    rows,
  });

  const ck = empty.get("copilotkit");
  for (const s of run.filter((x) => !x.experiment && x.name !== "copilotkit")) {
    const e = empty.get(s.name);
    const h = history.get(s.name);
    if (!e || !h) {
      ctx.report.target({
        scenario: "1",
        text: `${s.label}: per-event cost flat (within 10%) from 0 to ${fmt(sz.historyRuns)} prior runs`,
        measured: "a measurement failed (see Failed measurements)",
        met: null,
      });
      continue;
    }
    const ratio = h.usPerEvent / e.usPerEvent;
    ctx.report.target({
      scenario: "1",
      text: `${s.label}: per-event cost flat (within 10%) from 0 to ${fmt(sz.historyRuns)} prior runs`,
      measured: `${fmt(ratio, 2)}× (${fmt(e.usPerEvent, 1)} → ${fmt(h.usPerEvent, 1)} µs/event)`,
      met: ratio <= 1.1,
    });
  }
  const sqlite = empty.get("sqlite");
  ctx.report.target({
    scenario: "1",
    text: "Threadline + sqlite at least matches CopilotKit's in-memory runner (empty thread)",
    measured:
      sqlite && ck
        ? `${fmt(sqlite.eventsPerSec)} vs ${fmt(ck.eventsPerSec)} events/s`
        : `not measured: ${ctx.storeUnavailable("sqlite") ?? "sqlite or CopilotKit measurement failed"}`,
    met: sqlite && ck ? sqlite.eventsPerSec >= ck.eventsPerSec : null,
  });

  ceilingReport(ctx, empty, ceilings);

  const conc = sz.concurrency;
  ctx.report.section({
    title: "5b. Scaling: append throughput with concurrent threads (empty threads)",
    intro: `${sz.concurrencyRuns} runs of ${sz.events} events per point, split across the concurrent threads.`,
    headers: [
      "subject",
      ...conc.map((c) => `${c} thread${c > 1 ? "s" : ""}: events/s`),
      "µs/event at the largest",
    ],
    rows: [...curve.entries()].map(([name, points]) => {
      const label = run.find((s) => s.name === name)?.label ?? name;
      const last = points.get(conc[conc.length - 1]!);
      return [
        label,
        ...conc.map((c) => fmt(points.get(c)?.eventsPerSec ?? Number.NaN)),
        last ? fmt(last.usPerEvent, 1) : "—",
      ];
    }),
  });
}
