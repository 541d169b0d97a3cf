import type { ProfileSummary } from "../lib/profile.js";
import { fmt } from "../lib/report.js";
import {
  cpuBetween,
  machineCpuMs,
  redisCommandsProcessed,
  schedMs,
  waitBetween,
} from "../lib/server-cpu.js";
import type { Census, ManyResult } from "../procs/scale-commands.js";
import type { Context } from "./context.js";
import { pct } from "./fanout.js";
import { clockSkew, crossInstanceLatency, type LatencyRow, ms } from "./scaleout-latency.js";
import {
  type Config,
  dropStaleNamespaces,
  instanceName,
  type ScaleProcesses,
  SHARED_STORES,
  scaleoutProcesses,
  startConfig,
} from "./scaleout-procs.js";
import { type Burst, counts, report } from "./scaleout-report.js";

let bursts = 0;

/**
 * Starts `threads` new threads' runs spread over the configuration's instances (thread i on
 * instance i mod n: a run executes where it was started) and waits for all of them to end.
 */
async function burst(ctx: Context, cfg: Config, threads: number): Promise<Burst> {
  const sz = ctx.opts.sizes.scaleout;
  const n = cfg.servers.length;
  const tag = `b${++bursts}`;
  const parts = cfg.servers.map((_, k) =>
    Array.from({ length: threads }, (_, i) => i)
      .filter((i) => i % n === k)
      .map((i) => `${tag}-t${i}`),
  );
  const all = (cmd: string) => Promise.all(cfg.servers.map((s) => s.call<number>(cmd)));
  const census = () => Promise.all(cfg.servers.map((s) => s.call<Census>("counted")));
  const waits = async () => {
    let ms = 0;
    for (const s of cfg.servers) ms += (await schedMs(s.pid))?.wait ?? 0;
    return ms;
  };
  const redis0 = cfg.store === "redis" ? await redisCommandsProcessed() : 0;
  const readings = () =>
    Promise.all([waits(), all("cpu"), census(), cfg.dbCpu.read(), machineCpuMs()] as const);
  const [q0, cpu0, rt0, db0, m0] = await readings();
  const stopSampling = cfg.dbCpu.sampleStates?.(20);
  const w0 = performance.now();
  const results = await Promise.all(
    cfg.servers.map((s, k) =>
      s.call<ManyResult>(
        "startMany",
        { threadIds: parts[k], runs: sz.runs, events: sz.events },
        10 * 60_000,
      ),
    ),
  );
  const wallMs = performance.now() - w0;
  const states = await stopSampling?.();
  const [q1, cpu1, rt1, db1, m1] = await readings();
  const redis1 = cfg.store === "redis" ? await redisCommandsProcessed() : 0;
  const committed = await Promise.all(
    cfg.servers.map((s, k) =>
      s.call<number>("checkMany", { threadIds: parts[k], expect: sz.runs * sz.events }, 5 * 60_000),
    ),
  );
  const events = committed.reduce((x, y) => x + y, 0);
  const windowMs = Math.max(...results.map((r) => r.t1)) - Math.min(...results.map((r) => r.t0));
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  return {
    events,
    windowMs,
    eps: (events * 1000) / windowMs,
    tlCpu: sum(cpu1.map((c, i) => c - cpu0[i]!)),
    dbCpu: cpuBetween(db0, db1),
    tlWait: q1 - q0,
    dbWait: waitBetween(db0, db1),
    machineBusy: m1.busy - m0.busy,
    machineTotal: m1.total - m0.total,
    wallMs,
    roundTrips: sum(rt1.map((r, i) => r.roundTrips - rt0[i]!.roundTrips)),
    commands: sum(rt1.map((r, i) => r.commands - rt0[i]!.commands)),
    ...(cfg.store === "redis" ? { redisAll: redis1 - redis0 } : {}),
    ...(states ? { states } : {}),
  };
}

/**
 * Profiles instance A (and, for comparison, every other one) during one extra burst; only A's
 * summary goes into the report.
 */
async function profiledBurst(ctx: Context, cfg: Config): Promise<ProfileSummary | undefined> {
  await Promise.all(cfg.servers.map((s) => s.call("profileStart")));
  let summaries: ProfileSummary[] = [];
  try {
    await burst(ctx, cfg, ctx.opts.sizes.scaleout.threads);
  } finally {
    summaries = await Promise.all(
      cfg.servers.map((s, i) =>
        s.call<ProfileSummary>("profileStop", {
          file: ctx.profileFile(`scaleout-${cfg.store}-${cfg.servers.length}-${instanceName(i)}`),
        }),
      ),
    );
  }
  return summaries[0];
}

/** Runs `fn` on a fresh configuration, closing it (namespace dropped) whatever happens. */
async function withConfig<T>(
  procs: ScaleProcesses,
  store: string,
  n: number,
  fn: (cfg: Config) => Promise<T>,
): Promise<T> {
  const cfg = await startConfig(procs, store, n);
  try {
    return await fn(cfg);
  } finally {
    await cfg.close();
  }
}

/**
 * Scenario 9 (issue 18, item 4): 1, 2, 3 Threadline instances (separate processes) on one
 * PostgreSQL schema / one Redis key prefix. Aggregate events/s of concurrent runs on `threads`
 * threads started across the instances, the scaling ratio against one instance, where the CPU
 * went; and a follower on A of a run on B against the same-instance case (p50/p99).
 */
export async function scaleoutScenario(ctx: Context): Promise<void> {
  const sz = ctx.opts.sizes.scaleout;
  const started = Date.now();
  const stores = SHARED_STORES.filter((s) => ctx.opts.stores.includes(s));
  const unavailable = stores.filter((s) => ctx.storeUnavailable(s));
  for (const s of unavailable) ctx.log(`scaleout: ${s} not available: ${ctx.storeUnavailable(s)}`);
  const usable = stores.filter((s) => !ctx.storeUnavailable(s));
  const notes: string[] = unavailable.map(
    (s) => `${s}: not available (${ctx.storeUnavailable(s)})`,
  );
  if (usable.length === 0) {
    ctx.report.section({
      title: "9. Scale-out: several instances on one store",
      headers: ["store", "result"],
      rows: stores.map((s) => [s, `not available: ${ctx.storeUnavailable(s) ?? "not selected"}`]),
    });
    return;
  }
  const procs = await scaleoutProcesses(ctx);
  try {
    for (const s of usable) {
      const stale = await dropStaleNamespaces(s).catch((e: unknown) => {
        ctx.log(`scaleout: ${s}: could not look for stale namespaces: ${String(e)}`);
        return [];
      });
      if (stale.length > 0) ctx.log(`scaleout: ${s}: dropped ${stale.length} stale namespace(s)`);
    }
    const latency = new Map<string, LatencyRow[]>();
    let skew = { skew: 0, uncertainty: 0 };
    for (const store of usable) {
      try {
        const rows = await withConfig(procs, store, 2, async (cfg) => {
          skew = await clockSkew(cfg.servers, procs.followers);
          return crossInstanceLatency(
            procs,
            cfg,
            sz.latencyEvents,
            sz.latencyRate,
            Math.max(1, ctx.opts.sizes.reps),
          );
        });
        latency.set(store, rows);
        for (const r of rows)
          ctx.log(
            `scaleout: ${store}: follower on ${r.follower}, run on ${r.runOn}: p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms`,
          );
      } catch (error) {
        ctx.fail(`scaleout latency (${store})`, error);
      }
    }
    // Every instance runs a full-size burst first, on every store: instance C would otherwise be
    // measured with colder code than A and B (they ran the latency probe).
    for (const store of usable) {
      await withConfig(procs, store, sz.instances, (cfg) => burst(ctx, cfg, sz.threads)).catch(
        (error: unknown) => ctx.fail(`scaleout warm-up (${store})`, error),
      );
    }
    // Rounds: every (store, instance count) once per round, so load drift on the shared machine
    // spreads over all of them; per-round ratios against the same round's one instance.
    const results = new Map<string, Burst[]>();
    const key = (store: string, n: number) => `${store}:${n}`;
    const failed = new Set<string>();
    const rounds = Math.max(1, ctx.opts.sizes.reps);
    let done = 0;
    let roundMs = 0;
    for (let round = 0; round < rounds; round++) {
      const elapsed = Date.now() - started;
      if (round > 0 && elapsed + roundMs > sz.budgetMs) {
        notes.push(
          `budget (${fmt(sz.budgetMs / 1000)} s) reached after ${done} of ${rounds} rounds`,
        );
        break;
      }
      const t = Date.now();
      for (const store of usable) {
        if (failed.has(store)) continue;
        for (const n of counts(sz.instances)) {
          try {
            const b = await withConfig(procs, store, n, async (cfg) => {
              // Warm-up: the pools open their connections, the code is optimised.
              await burst(ctx, cfg, sz.warmupThreads);
              return burst(ctx, cfg, sz.threads);
            });
            const list = results.get(key(store, n)) ?? [];
            list.push(b);
            results.set(key(store, n), list);
            ctx.log(
              `scaleout: round ${round + 1}: ${store}, ${n} instance(s): ${fmt(b.eps)} events/s, Threadline CPU ${pct(b.tlCpu / b.wallMs)} (waiting for a core ${pct(b.tlWait / b.wallMs)}), database ${pct(b.dbCpu / b.wallMs)} (${pct(b.dbWait / b.wallMs)}), machine ${pct(b.machineBusy / b.machineTotal)} busy`,
            );
          } catch (error) {
            ctx.fail(`scaleout (${store}, ${n} instances)`, error);
            failed.add(store);
            break;
          }
        }
      }
      done++;
      roundMs = Date.now() - t;
    }
    if (ctx.opts.profile) {
      for (const store of usable) {
        for (const n of [1, sz.instances]) {
          try {
            const p = await withConfig(procs, store, n, async (cfg) => {
              await burst(ctx, cfg, sz.warmupThreads);
              return profiledBurst(ctx, cfg);
            });
            ctx.noteProfile(`scale-out, ${store}, ${n} instance(s): instance A`, p);
          } catch (error) {
            ctx.fail(`scaleout profile (${store}, ${n})`, error);
          }
        }
      }
    }
    report(ctx, usable, results, latency, skew, notes, done);
  } finally {
    await ctx.release("scaleout");
  }
}
