import type { Child } from "../lib/children.js";
import { fmt } from "../lib/report.js";
import { now } from "../lib/script.js";
import { median } from "../lib/stats.js";
import type { Census } from "../procs/scale-commands.js";
import type { WaitResult } from "./fanout.js";
import { type Config, instanceName, type ScaleProcesses } from "./scaleout-procs.js";

/**
 * How far a child's `now()` (performance.timeOrigin + performance.now()) is from this process's:
 * the reading with the shortest round trip of `samples`, taken as read at its midpoint. Latency
 * subtracts a timestamp one process wrote from a receipt time another read, so the bench checks
 * that the two clocks agree rather than assuming it.
 */
async function offsetOf(child: Child, samples = 15): Promise<{ offset: number; rtt: number }> {
  let best = { offset: 0, rtt: Number.POSITIVE_INFINITY };
  for (let i = 0; i < samples; i++) {
    const t0 = now();
    const c = await child.call<number>("clock");
    const t1 = now();
    if (t1 - t0 < best.rtt) best = { offset: c - (t0 + t1) / 2, rtt: t1 - t0 };
  }
  return best;
}

/** The largest offset between an emitting instance's clock and a follower's, ± its uncertainty. */
export async function clockSkew(
  emitters: Child[],
  followers: Child[],
): Promise<{ skew: number; uncertainty: number }> {
  const e = await Promise.all(emitters.map((c) => offsetOf(c)));
  const f: Array<{ offset: number; rtt: number }> = [];
  for (const c of followers) f.push(await offsetOf(c));
  let out = { skew: 0, uncertainty: 0 };
  for (const a of e) {
    for (const b of f) {
      const skew = a.offset - b.offset;
      if (Math.abs(skew) >= Math.abs(out.skew)) out = { skew, uncertainty: (a.rtt + b.rtt) / 2 };
    }
  }
  return out;
}

export interface LatencyRow {
  follower: string;
  runOn: string;
  cross: boolean;
  p50: number;
  p99: number;
  max: number;
  samples: number;
  /** Store reads the follower's instance made for the run (its live tail filling from the store). */
  reads: number;
  /** PostgreSQL: mean COMMIT round trip (ms) on the run's instance during the run. */
  commitMs?: number;
}

/** Polls (with a deadline) until an instance counts `n` followers of the thread. */
async function sees(server: Child, threadId: string, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const seen = await server.call<number>("followers", { threadId });
    if (seen === n) return;
    if (Date.now() > deadline) throw new Error(`instance sees ${seen} followers, expected ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The cross-instance probe on a two-instance configuration: one follower on A and one on B
 * (each its own load-generator process, raw node:http) follow one thread; a paced run executes
 * on B, then one on A. Each token carries the agent's `now()`; each follower records receipt −
 * timestamp. So every follower measures one run from the other instance (the commit reaches its
 * instance through the store's channel, and its live tail reads the records back) and one from
 * its own (the records handed over in process), on the same thread, with the same clocks.
 */
export async function crossInstanceLatency(
  procs: ScaleProcesses,
  cfg: Config,
  events: number,
  rate: number,
  rounds: number,
): Promise<LatencyRow[]> {
  const threadId = `latency-${cfg.id}`;
  const [a, b] = cfg.servers;
  if (!a || !b) throw new Error("the latency probe needs two instances");
  await a.call("ensureThread", { threadId });
  const path = `/threads/${threadId}/events?replay=none`;
  const rows: LatencyRow[] = [];
  const seen = new Map<string, LatencyRow[]>();
  try {
    for (const [i, gen] of procs.followers.entries()) {
      const c = await gen.call<{ connected: number; errors: string[] }>("connect", {
        url: cfg.urls[i],
        path,
        count: 1,
      });
      if (c.connected !== 1)
        throw new Error(`follower on ${instanceName(i)}: ${c.errors.join("; ")}`);
    }
    await sees(a, threadId, 1);
    await sees(b, threadId, 1);
    for (const runOn of Array.from({ length: rounds }, () => [1, 0]).flat()) {
      for (const gen of procs.followers) await gen.call("arm", { expect: events, latency: true });
      for (const s of cfg.servers) await s.call("counters");
      const census0 = await cfg.servers[runOn]!.call<Census>("counted");
      await cfg.servers[runOn]!.call("run", { threadId, events, rate });
      const timeoutMs = (events / rate) * 1000 + 60_000;
      const waits = await Promise.all(
        procs.followers.map((g) => g.call<WaitResult>("wait", { timeoutMs }, timeoutMs + 10_000)),
      );
      const census1 = await cfg.servers[runOn]!.call<Census>("counted");
      const reads = await Promise.all(
        cfg.servers.map((s) => s.call<{ calls: number; records: number }>("counters")),
      );
      const c0 = census0.commits;
      const c1 = census1.commits;
      const commitMs =
        c0 && c1 && c1.calls > c0.calls ? (c1.ms - c0.ms) / (c1.calls - c0.calls) : undefined;
      for (const [i, w] of waits.entries()) {
        if (w.complete !== 1 || !w.latency) {
          throw new Error(
            `follower on ${instanceName(i)} got ${w.frames}/${events} frames of the run on ${instanceName(runOn)}`,
          );
        }
        const k = `${i}:${runOn}`;
        seen.set(k, seen.get(k) ?? []);
        seen.get(k)!.push({
          follower: instanceName(i),
          runOn: instanceName(runOn),
          cross: i !== runOn,
          p50: w.latency.p50,
          p99: w.latency.p99,
          max: w.latency.max,
          samples: w.latency.count,
          reads: reads[i]!.calls,
          ...(commitMs === undefined ? {} : { commitMs }),
        });
      }
      // The next run starts only after this one ended on its instance.
      await cfg.servers[runOn]!.call("idle", { threadId });
    }
  } finally {
    for (const gen of procs.followers) await gen.call("closeAll").catch(() => undefined);
  }
  // Per case: the median round's percentiles, the worst maximum, every sample.
  for (const rs of seen.values()) {
    rows.push({
      ...rs[0]!,
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      max: Math.max(...rs.map((r) => r.max)),
      samples: rs.reduce((x, r) => x + r.samples, 0),
      reads: median(rs.map((r) => r.reads)),
      ...(rs[0]!.commitMs === undefined
        ? {}
        : { commitMs: median(rs.map((r) => r.commitMs ?? 0)) }),
    });
  }
  return rows;
}

export const ms = (x: number): string => fmt(x, x < 10 ? 2 : 1);
