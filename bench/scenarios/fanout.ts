import { type Child, killAllOf, startAll, withCpu } from "../lib/children.js";
import type { ProfileSummary } from "../lib/profile.js";
import { fmt } from "../lib/report.js";
import { median } from "../lib/stats.js";
import type { Context } from "./context.js";

export interface WaitResult {
  connections: number;
  complete: number;
  closed: number;
  frames: number;
  firstDoneAt: number;
  lastDoneAt: number;
  lastFrameAt: number;
  latency?: { count: number; p50: number; p99: number; max: number; negative: number };
}

/** A server under test (Threadline or the ceiling) as the scenarios drive it. */
export interface Target {
  name: "threadline" | "ceiling";
  child: Child;
  url: string;
  pid: number;
}

let threadNo = 0;

/** Starts the Threadline server, the ceiling server and one load generator, in parallel. */
async function startTargets(): Promise<Targets> {
  const [tlChild, ceilingChild, gen] = await startAll([
    ["threadline-server.ts", { nodeArgs: ["--expose-gc"], name: "threadline-server" }],
    ["ceiling-server.ts", { nodeArgs: ["--expose-gc"], name: "ceiling-server" }],
    ["followers.ts", { nodeArgs: ["--max-old-space-size=4096"], name: "load-generator" }],
  ]);
  try {
    const a = await tlChild!.call<{ url: string; pid: number }>("start", { store: "memory" });
    const b = await ceilingChild!.call<{ url: string; pid: number }>("start");
    return {
      tl: { name: "threadline", child: tlChild!, ...a },
      ceiling: { name: "ceiling", child: ceilingChild!, ...b },
      gen: gen!,
    };
  } catch (error) {
    await killAllOf([tlChild, ceilingChild, gen]);
    throw error;
  }
}

export interface Targets {
  tl: Target;
  ceiling: Target;
  gen: Child;
}

/**
 * The processes of a fan-out style scenario (`key`: "fanout" or "idle"): a fresh Threadline
 * server, ceiling server and load generator for each, so the idle-memory numbers start from a
 * clean server. Started up front by run.ts; release them with `ctx.release(key)`.
 */
export function targetsFor(ctx: Context, key: "fanout" | "idle"): Promise<Targets> {
  return ctx.resource(key, startTargets, (t) => killAllOf([t.tl.child, t.ceiling.child, t.gen]));
}

/** Waits (polling with a deadline) until the server counts `n` followers. */
async function serverSees(t: Target, threadId: string, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const seen = await t.child.call<number>("followers", { threadId });
    if (seen === n) return;
    if (Date.now() > deadline) throw new Error(`${t.name} sees ${seen} followers, expected ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Connects `n` followers to a fresh thread of the target; returns the thread id. */
export async function attachFollowers(t: Target, gen: Child, n: number): Promise<string> {
  const threadId = `fan-${t.name}-${++threadNo}`;
  if (t.name === "threadline") await t.child.call("ensureThread", { threadId });
  const path = t.name === "threadline" ? `/threads/${threadId}/events?replay=none` : `/${threadId}`;
  const c = await gen.call<{ connected: number; failed: number; errors: string[] }>(
    "connect",
    { url: t.url, path, count: n, concurrency: 200 },
    120_000,
  );
  if (c.connected !== n) {
    throw new Error(`${t.name}: ${c.connected}/${n} followers connected (${c.errors.join("; ")})`);
  }
  await serverSees(t, threadId, n);
  return threadId;
}

export async function detachFollowers(t: Target, gen: Child): Promise<void> {
  await gen.call("closeAll", {}, 120_000);
  await serverSees(t, "", 0).catch(() => undefined);
}

export function checkComplete(t: Target, w: WaitResult, expect: number): void {
  if (w.complete !== w.connections) {
    throw new Error(
      `${t.name}: only ${w.complete}/${w.connections} followers received all ${expect} frames (${w.frames} frames in all, ${w.closed} connections closed)`,
    );
  }
}

/**
 * Store reads the Threadline server made during `fn`: followers that fell behind the live tail
 * (queue overflow) catch up from the store, re-encoding every event for themselves.
 */
export async function storeReadsDuring<T>(
  t: Target,
  fn: () => Promise<T>,
): Promise<{ result: T; reads: number }> {
  if (t.name !== "threadline") return { result: await fn(), reads: 0 };
  await t.child.call("counters");
  const result = await fn();
  const c = await t.child.call<{ calls: number; records: number }>("counters");
  return { result, reads: c.records };
}

/** One burst: `events` as fast as possible to `n` followers; delivered frames per second. */
async function burst(
  ctx: Context,
  t: Target,
  gen: Child,
  n: number,
  events: number,
  profileTag?: string,
): Promise<{ fps: number; ms: number; cpu: number[]; reads: number; profile?: ProfileSummary }> {
  const threadId = await attachFollowers(t, gen, n);
  try {
    await gen.call("arm", { expect: events });
    if (profileTag) await t.child.call("profileStart");
    const {
      result: {
        result: { t0, w },
        cpu,
      },
      reads,
    } = await storeReadsDuring(t, () =>
      withCpu([t.child, gen], async () => {
        const { t0 } = await t.child.call<{ t0: number }>(
          t.name === "threadline" ? "run" : "burst",
          { threadId, events },
        );
        return { t0, w: await gen.call<WaitResult>("wait", { timeoutMs: 120_000 }, 130_000) };
      }),
    );
    const profile = profileTag
      ? await t.child.call<ProfileSummary>("profileStop", { file: ctx.profileFile(profileTag) })
      : undefined;
    checkComplete(t, w, events);
    const ms = w.lastDoneAt - t0;
    return { fps: (n * events * 1000) / ms, ms, cpu, reads, ...(profile ? { profile } : {}) };
  } finally {
    await detachFollowers(t, gen);
  }
}

interface LatencyResult {
  p50: number;
  p99: number;
  max: number;
  samples: number;
  /** CPU used ÷ wall time of [server, load generator]. */
  cpu: number[];
  /** Events the Threadline server read back from its store for lagging followers. */
  reads: number;
  profile?: ProfileSummary;
}

/** Formats a CPU share (1.0 = one core busy) as a percentage. */
export const pct = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? "—" : `${Math.round(x * 100)}%`;

/** The paced run: p50/p99 from the producer's timestamp to receipt, over every follower. */
async function paced(
  ctx: Context,
  t: Target,
  gen: Child,
  n: number,
  events: number,
  rate: number,
  profileTag?: string,
): Promise<LatencyResult> {
  const threadId = await attachFollowers(t, gen, n);
  try {
    await gen.call("arm", { expect: events, latency: true });
    if (profileTag) await t.child.call("profileStart");
    const {
      result: { result: w, cpu },
      reads,
    } = await storeReadsDuring(t, () =>
      withCpu([t.child, gen], async () => {
        await t.child.call(t.name === "threadline" ? "run" : "paced", { threadId, events, rate });
        return gen.call<WaitResult>("wait", { timeoutMs: 120_000 }, 130_000);
      }),
    );
    const profile = profileTag
      ? await t.child.call<ProfileSummary>("profileStop", { file: ctx.profileFile(profileTag) })
      : undefined;
    checkComplete(t, w, events);
    const l = w.latency!;
    return {
      p50: l.p50,
      p99: l.p99,
      max: l.max,
      samples: l.count,
      cpu,
      reads,
      ...(profile ? { profile } : {}),
    };
  } finally {
    await detachFollowers(t, gen);
  }
}

/** Scenario 2 (fan-out throughput and latency) and scenario 5's first curve (10/100/1,000 followers). */
export async function fanoutScenario(ctx: Context): Promise<void> {
  const sz = ctx.opts.sizes.fanout;
  const reps = ctx.opts.sizes.reps;
  const { tl, ceiling, gen } = await targetsFor(ctx, "fanout");
  ctx.log("fanout: servers and load generator ready");
  try {
    const headline = sz.followers[sz.followers.length - 1]!;
    const tput = new Map<
      string,
      { fps: number[]; ms: number[]; server: number[]; gen: number[]; reads: number[] }
    >();
    for (const n of sz.followers) {
      for (let rep = 0; rep < reps; rep++) {
        for (const t of [ceiling, tl]) {
          const key = `${t.name}:${n}`;
          const prof = ctx.opts.profile && t === tl && n === headline && rep === reps - 1;
          try {
            const r = await burst(
              ctx,
              t,
              gen,
              n,
              sz.events,
              prof ? "fanout-throughput" : undefined,
            );
            ctx.log(`fanout: ${t.name}, ${n} followers: ${fmt(r.fps)} frames/s`);
            const acc = tput.get(key) ?? { fps: [], ms: [], server: [], gen: [], reads: [] };
            acc.reads.push(r.reads);
            acc.fps.push(r.fps);
            acc.ms.push(r.ms);
            acc.server.push(r.cpu[0]!);
            acc.gen.push(r.cpu[1]!);
            tput.set(key, acc);
            ctx.noteProfile(
              `fan-out throughput, Threadline server, ${n} followers × ${fmt(sz.events)} events`,
              r.profile,
            );
          } catch (error) {
            ctx.fail(`fan-out throughput (${t.name}, ${n} followers)`, error);
          }
        }
      }
    }
    const fpsOf = (name: string, n: number) => median(tput.get(`${name}:${n}`)?.fps ?? []);
    const msOf = (name: string, n: number) => median(tput.get(`${name}:${n}`)?.ms ?? []);
    const cpuOf = (name: string, n: number, k: "server" | "gen") =>
      pct(median(tput.get(`${name}:${n}`)?.[k] ?? []));
    ctx.report.section({
      title:
        "2a / 5a. Fan-out throughput: one thread, one run of as-fast-as-possible events, N SSE followers",
      intro:
        `A run of ${fmt(sz.events)} events to N followers over HTTP on loopback; the clock runs from the ` +
        `run's start to the moment the last follower has every frame. Ceiling: a bare node:http server ` +
        `writing the same frames, encoded in advance, in 64 KiB writes with backpressure. ` +
        `Median of ${reps} repetition${reps > 1 ? "s" : ""}.`,
      headers: [
        "followers",
        "ceiling frames/s",
        "ms",
        "CPU server / load-gen",
        "Threadline frames/s",
        "ms",
        "CPU server / load-gen",
        "events re-read from the store",
        "Threadline ÷ ceiling",
      ],
      rows: sz.followers.map((n) => [
        fmt(n),
        fmt(fpsOf("ceiling", n)),
        fmt(msOf("ceiling", n)),
        `${cpuOf("ceiling", n, "server")} / ${cpuOf("ceiling", n, "gen")}`,
        fmt(fpsOf("threadline", n)),
        fmt(msOf("threadline", n)),
        `${cpuOf("threadline", n, "server")} / ${cpuOf("threadline", n, "gen")}`,
        fmt(median(tput.get(`threadline:${n}`)?.reads ?? [])),
        `${fmt((100 * fpsOf("threadline", n)) / fpsOf("ceiling", n))}%`,
      ]),
      notes: [
        "CPU = CPU time used ÷ wall time during the run (100% = one core). A load generator near 100% is itself a bottleneck; the machine has 2 cores shared by server and load generator.",
        "With few followers Threadline's figure is bounded by producing the run (the agent through @ag-ui/client's runAgent, the store), which the ceiling, writing frames encoded in advance, does not pay; the fan-out itself shows at hundreds of followers and more.",
        "Events re-read from the store: followers whose live queue overflowed (they fell more than 1 MiB behind) catch up from the store, and each re-encodes every event it reads; 0 means every frame came from the shared live fan-out.",
      ],
    });
    const share = fpsOf("threadline", headline) / fpsOf("ceiling", headline);
    ctx.report.target({
      scenario: "2",
      text: `fan-out throughput to ${fmt(headline)} followers ≥ 70% of the ceiling`,
      measured: `${fmt(100 * share)}% (${fmt(fpsOf("threadline", headline))} vs ${fmt(fpsOf("ceiling", headline))} frames/s)`,
      met: Number.isFinite(share) ? share >= 0.7 : null,
    });

    const lat = new Map<string, LatencyResult[]>();
    const n = sz.latencyFollowers;
    for (let rep = 0; rep < reps; rep++) {
      for (const t of [ceiling, tl]) {
        const prof = ctx.opts.profile && t === tl && rep === reps - 1;
        try {
          const r = await paced(
            ctx,
            t,
            gen,
            n,
            sz.latencyEvents,
            sz.latencyRate,
            prof ? "fanout-latency" : undefined,
          );
          lat.set(t.name, [...(lat.get(t.name) ?? []), r]);
          ctx.log(`fanout: ${t.name} latency p50 ${fmt(r.p50, 1)} p99 ${fmt(r.p99, 1)} ms`);
          ctx.noteProfile(
            `fan-out latency, Threadline server, ${n} followers at ${sz.latencyRate}/s`,
            r.profile,
          );
        } catch (error) {
          ctx.fail(`fan-out latency (${t.name})`, error);
        }
      }
    }
    const m = (name: string, k: "p50" | "p99" | "max") =>
      median((lat.get(name) ?? []).map((r) => r[k]));
    ctx.report.section({
      title: `2b. Fan-out latency: ${fmt(n)} followers, a run paced at ${fmt(sz.latencyRate)} events/s`,
      intro:
        `${fmt(sz.latencyEvents)} tokens, each stamped by the producer (the agent, or the ceiling's timer) ` +
        `with its wall-clock time; the load generator (another process, same clock) records receipt − stamp ` +
        `for every frame at 100 of the followers, spread evenly (parsing every frame at every follower would ` +
        `make the load generator the bottleneck); every follower must receive every frame. ` +
        `Median of ${reps} repetition${reps > 1 ? "s" : ""}.`,
      headers: [
        "server",
        "p50 ms",
        "p99 ms",
        "max ms",
        "samples",
        "CPU server / load-gen",
        "events re-read from the store",
      ],
      rows: [ceiling, tl].map((t) => [
        t.name === "ceiling" ? "ceiling (node:http)" : "Threadline",
        fmt(m(t.name, "p50"), 2),
        fmt(m(t.name, "p99"), 2),
        fmt(m(t.name, "max"), 1),
        fmt(median((lat.get(t.name) ?? []).map((r) => r.samples))),
        `${pct(median((lat.get(t.name) ?? []).map((r) => r.cpu[0]!)))} / ${pct(median((lat.get(t.name) ?? []).map((r) => r.cpu[1]!)))}`,
        t.name === "ceiling" ? "" : fmt(median((lat.get(t.name) ?? []).map((r) => r.reads))),
      ]),
    });
    const ratio = m("threadline", "p99") / m("ceiling", "p99");
    ctx.report.target({
      scenario: "2",
      text: `fan-out p99 latency at ${fmt(sz.latencyRate)} events/s to ${fmt(n)} followers within 1.5× of the ceiling's`,
      measured: `${fmt(ratio, 2)}× (${fmt(m("threadline", "p99"), 1)} vs ${fmt(m("ceiling", "p99"), 1)} ms)`,
      met: Number.isFinite(ratio) ? ratio <= 1.5 : null,
    });
  } finally {
    await ctx.release("fanout");
  }
}
