/** The scale-out scenario's tables (9a-c) from its measurements. */
import { fmt } from "../lib/report.js";
import { median } from "../lib/stats.js";
import type { Context } from "./context.js";
import { pct } from "./fanout.js";
import { type LatencyRow, ms } from "./scaleout-latency.js";

/** One measured burst on one configuration. */
export interface Burst {
  events: number;
  /** First run started to last run ended, across the instances (ms). */
  windowMs: number;
  eps: number;
  /** CPU ms in the window: the instances (summed), the database's part, the whole machine. */
  tlCpu: number;
  dbCpu: number;
  /** Run-queue wait ms in the window (runnable, no core free): the instances, the database. */
  tlWait: number;
  dbWait: number;
  machineBusy: number;
  machineTotal: number;
  /** The orchestrator's wall time around it (the CPU shares are of this). */
  wallMs: number;
  roundTrips: number;
  commands: number;
  /** Redis: commands the server processed in the window, every client's (to spot others). */
  redisAll?: number;
  /** PostgreSQL: what the pools' backends were doing, sampled every 20 ms. */
  states?: Map<string, number>;
}

/** 1, 2, ..., max: the instance counts measured. */
export const counts = (max: number) => Array.from({ length: max }, (_, i) => i + 1);

export function report(
  ctx: Context,
  stores: string[],
  results: Map<string, Burst[]>,
  latency: Map<string, LatencyRow[]>,
  skew: { skew: number; uncertainty: number },
  notes: string[],
  rounds: number,
): void {
  const sz = ctx.opts.sizes.scaleout;
  const rows: string[][] = [];
  for (const store of stores) {
    const one = results.get(`${store}:1`) ?? [];
    for (const n of counts(sz.instances)) {
      const bs = results.get(`${store}:${n}`) ?? [];
      if (bs.length === 0) {
        rows.push([store, String(n), "not measured", "", "", "", "", "", "", "", ""]);
        continue;
      }
      const eps = median(bs.map((b) => b.eps));
      // Per round against the same round's one instance: the machine's load drifts between rounds.
      const ratios = bs.flatMap((b, i) => (one[i] ? [b.eps / one[i]!.eps] : []));
      const perK = (f: (b: Burst) => number) => median(bs.map((b) => (f(b) * 1000) / b.events));
      const share = (f: (b: Burst) => number) => median(bs.map((b) => f(b) / b.wallMs));
      rows.push([
        store,
        String(n),
        `${fmt(eps)} (${fmt(Math.min(...bs.map((b) => b.eps)))}–${fmt(Math.max(...bs.map((b) => b.eps)))})`,
        ratios.length > 0 ? `${fmt(median(ratios), 2)}×` : "—",
        `${pct(share((b) => b.tlCpu))} / ${pct(share((b) => b.tlWait))}`,
        `${pct(share((b) => b.dbCpu))} / ${pct(share((b) => b.dbWait))}`,
        `${pct(median(bs.map((b) => b.machineBusy / b.machineTotal)))} of ${pct(median(bs.map((b) => b.machineTotal / b.wallMs)))}`,
        pct(share((b) => Math.max(0, b.machineBusy - b.tlCpu - b.dbCpu))),
        fmt(perK((b) => b.tlCpu)),
        fmt(perK((b) => b.dbCpu)),
        `${fmt(perK((b) => b.roundTrips))}${store === "redis" ? ` (${fmt(perK((b) => b.commands))} cmds; all clients ${fmt(perK((b) => b.redisAll ?? 0))})` : ""}`,
      ]);
    }
  }
  ctx.report.section({
    title: `9a. Scale-out: ${fmt(sz.threads)} threads of concurrent runs across 1–${sz.instances} instances on one store`,
    intro:
      `Each instance is a Threadline server process (\`procs/threadline-server.ts\`) on one shared ` +
      `schema / key prefix (fresh for every configuration, dropped after it). ${fmt(sz.threads)} new ` +
      `threads, ${sz.runs} run(s) of ${sz.events} events each (the scripted agent, as fast as ` +
      `possible), thread i's runs started on instance i mod n (a run executes where it is started), ` +
      `all at once; events/s = events committed (checked: every thread's lastSeq) ÷ first start to ` +
      `last end. Before the first round every instance runs one unmeasured full-size burst per store; ` +
      `every configuration then warms up with ${sz.warmupThreads} threads (its pools open their connections). Median ` +
      `(min–max) of ${rounds} round(s), every configuration once per round; the ratio is per round ` +
      `against that round's one instance. CPU shares are CPU time ÷ wall time (100% = one core).`,
    headers: [
      "store",
      "instances",
      "events/s",
      "× 1 instance",
      "Threadline CPU / waiting for a core (all instances)",
      "database CPU / waiting for a core",
      "machine busy (of all cores)",
      "other processes' CPU",
      "Threadline CPU ms / 1k events",
      "database CPU ms / 1k events",
      "round trips / 1k events",
    ],
    rows,
    notes: [
      "database CPU: PostgreSQL: the backends of the instances' own connections (pool and LISTEN, found by application_name in pg_stat_activity, CPU from /proc/<pid>/stat); Redis: the whole redis-server process (INFO cpu), which also serves other clients — 'all clients' counts every command it processed in the window, beside the instances' own.",
      "waiting for a core: time the processes were runnable but no core was free (the scheduler's run queue, /proc/<pid>/task/*/schedstat), ÷ wall time: what the shared machine took from them.",
      "other processes' CPU: machine busy time minus the instances and the database figure: other helpers' work on the shared machine, the bench's own processes, PostgreSQL's background writers.",
      "round trips: PostgreSQL: statements sent by the instances (each its own round trip; pg does not pipeline); Redis: commands sent on their own plus MULTI/pipeline writes.",
      ...notes,
    ],
  });
  const lrows: string[][] = [];
  for (const store of stores) {
    const rs = latency.get(store) ?? [];
    for (const runOn of [...new Set(rs.map((r) => r.runOn))]) {
      const same = rs.find((r) => r.runOn === runOn && !r.cross);
      const other = rs.find((r) => r.runOn === runOn && r.cross);
      if (!same || !other) continue;
      lrows.push([
        store,
        runOn,
        `${ms(same.p50)} / ${ms(same.p99)} / ${ms(same.max)}`,
        `${ms(other.p50)} / ${ms(other.p99)} / ${ms(other.max)} (on ${other.follower})`,
        `${fmt(other.p50 / same.p50, 2)}× / ${fmt(other.p99 / same.p99, 2)}×`,
        `${fmt(same.samples)} / ${fmt(other.samples)}`,
        `${fmt(same.reads)} / ${fmt(other.reads)}`,
        same.commitMs === undefined ? "—" : ms(same.commitMs),
      ]);
    }
  }
  if (lrows.length > 0) {
    ctx.report.section({
      title: "9b. Scale-out: delivery latency to a follower on another instance",
      intro:
        `Two instances, one thread, one follower on A and one on B (each in its own load-generator ` +
        `process, raw node:http, \`?replay=none\`). A run of ${fmt(sz.latencyEvents)} events paced at ` +
        `${fmt(sz.latencyRate)} tokens/s executes on B, then one on A; each token carries the agent's ` +
        `\`performance.timeOrigin + performance.now()\`, each follower records receipt − timestamp ` +
        `(0.05 ms buckets). So each run has a follower on its own instance and one on the other, receiving the same events at the same time: the ratio compares the two paths under the same conditions; ` +
        `${Math.max(1, ctx.opts.sizes.reps)} round(s) of both, the median round's p50 and p99, the worst max.`,
      headers: [
        "store",
        "run on",
        "same-instance follower: p50 / p99 / max ms",
        "other-instance follower: p50 / p99 / max ms",
        "other ÷ same (p50 / p99)",
        "samples: same / other",
        "store reads by the follower's instance: same / other",
        "COMMIT ms on the run's instance",
      ],
      rows: lrows,
      notes: [
        "store reads: `threads.read` calls the follower's instance made during the run (median round): a commit on the other instance reaches it as an announcement only (NOTIFY / PUBLISH), and its live tail reads the records back; its own commits come with their records, but when the store's echo of its own commit (the same announcement every instance hears) arrives before the commit's reply, its live tail reads as well (bench/RESULTS.md, scale-out analysis). COMMIT ms: the mean time from sending a COMMIT to its reply on the run's instance (the driver's census), durability included (synchronous_commit on).",
        `Clocks: the largest offset between an emitting instance's and a follower's clock, measured over IPC (shortest of 15 round trips, read at its midpoint): ${ms(skew.skew)} ms ± ${ms(skew.uncertainty)} ms; latencies are not corrected by it.`,
      ],
    });
  }
  const srows: string[][] = [];
  for (const store of stores) {
    for (const n of counts(sz.instances)) {
      const merged = new Map<string, number>();
      for (const b of results.get(`${store}:${n}`) ?? []) {
        for (const [k, v] of b.states ?? []) merged.set(k, (merged.get(k) ?? 0) + v);
      }
      const total = [...merged.values()].reduce((x, y) => x + y, 0);
      if (total === 0) continue;
      const top = [...merged].sort((x, y) => y[1] - x[1]).slice(0, 6);
      srows.push([
        store,
        String(n),
        fmt(total),
        top.map(([k, v]) => `${k} ${pct(v / total)}`).join("; "),
      ]);
    }
  }
  if (srows.length > 0) {
    ctx.report.section({
      title: "9c. Scale-out on PostgreSQL: what the instances' backends were doing",
      intro:
        "pg_stat_activity of the instances' pool connections (10 per instance), sampled every 20 ms " +
        "during the measured bursts of 9a (every round): the share of backend samples in each state.",
      headers: ["store", "instances", "backend samples", "states (share of samples)"],
      rows: srows,
      notes: [
        "'Lock:object' is the lock a transaction that NOTIFYs takes at commit (PostgreSQL serialises notifying commits, the WAL flush included); 'IO:WALSync' / 'LWLock:WALWrite' the commit's flush; 'in a transaction, waiting for the instance' and 'idle' mean the database waits for Threadline (or for a core).",
      ],
    });
  }
}
