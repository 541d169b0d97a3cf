import { rssOf, withCpu } from "../lib/children.js";
import { heapCensus, perUnit } from "../lib/heap.js";
import type { ProfileSummary } from "../lib/profile.js";
import { fmt, type Section } from "../lib/report.js";
import type { Context } from "./context.js";
import {
  attachFollowers,
  checkComplete,
  detachFollowers,
  pct,
  storeReadsDuring,
  type Target,
  targetsFor,
  type WaitResult,
} from "./fanout.js";

interface IdleResult {
  rssBefore: number;
  rssAfter: number;
  perConn: number;
  deliverMs: number;
  firstMs: number;
  cpu: number[];
  reads: number;
  profile?: ProfileSummary;
}

/** Waits for the server's memory to settle after connections (GC, then a short pause). */
async function settledRss(t: Target): Promise<number> {
  await t.child.call("gc");
  await new Promise((r) => setTimeout(r, 300));
  await t.child.call("gc");
  return rssOf(t.pid);
}

async function measure(
  ctx: Context,
  t: Target,
  gen: Target["child"],
  n: number,
  events: number,
): Promise<IdleResult> {
  const rssBefore = await settledRss(t);
  const threadId = await attachFollowers(t, gen, n);
  ctx.log(`idle: ${t.name}: ${fmt(n)} followers connected`);
  try {
    const rssAfter = await settledRss(t);
    await gen.call("arm", { expect: events });
    const prof = ctx.opts.profile && t.name === "threadline";
    if (prof) await t.child.call("profileStart");
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
    const profile = prof
      ? await t.child.call<ProfileSummary>("profileStop", {
          file: ctx.profileFile("idle-delivery"),
        })
      : undefined;
    checkComplete(t, w, events);
    return {
      rssBefore,
      rssAfter,
      perConn: (rssAfter - rssBefore) / n,
      deliverMs: w.lastDoneAt - t0,
      firstMs: w.firstDoneAt - t0,
      cpu,
      reads,
      ...(profile ? { profile } : {}),
    };
  } finally {
    await detachFollowers(t, gen);
  }
}

/** JS heap held per idle follower, by object kind (two heap snapshots around N connections). */
async function heapPerFollower(ctx: Context, t: Target, gen: Target["child"], n: number) {
  const f0 = ctx.profilePath(`heap-${t.name}-0.heapsnapshot`);
  const f1 = ctx.profilePath(`heap-${t.name}-1.heapsnapshot`);
  await t.child.call("heapSnapshot", { file: f0 }, 120_000);
  await attachFollowers(t, gen, n);
  try {
    await t.child.call("heapSnapshot", { file: f1 }, 120_000);
  } finally {
    await detachFollowers(t, gen);
  }
  return perUnit(await heapCensus(f0), await heapCensus(f1), n);
}

async function heapSection(
  ctx: Context,
  targets: Target[],
  gen: Target["child"],
): Promise<Section | undefined> {
  const n = Math.min(1000, ctx.opts.sizes.idle.followers);
  try {
    const c = await heapPerFollower(ctx, targets[0]!, gen, n);
    const a = await heapPerFollower(ctx, targets[1]!, gen, n);
    return {
      title: "3b. Where an idle follower's memory goes (JS heap, by object kind)",
      intro:
        `Two heap snapshots of each server (after GC), before and with ${fmt(n)} idle followers: ` +
        `JS heap per follower ${fmt(a.total)} B for Threadline, ${fmt(c.total)} B for the ` +
        `ceiling. RSS also holds native memory (sockets' user-space buffers, llhttp parsers) that ` +
        `heap snapshots do not show. Threadline's largest kinds:`,
      headers: ["object kind", "per follower: count", "bytes"],
      rows: a.rows.slice(0, 20).map((r) => [r.kind, fmt(r.count, 1), fmt(r.bytes)]),
    };
  } catch (error) {
    ctx.fail("idle followers: heap census", error);
    return undefined;
  }
}

/**
 * Scenario 3: many idle followers on one process. Memory is the server process's resident set
 * (VmRSS from /proc) after GC, before and after the connections; then one scheduled run's
 * events go to all of them.
 */
export async function idleScenario(ctx: Context): Promise<void> {
  const sz = ctx.opts.sizes.idle;
  const { tl, ceiling, gen } = await targetsFor(ctx, "idle");
  ctx.log("idle: servers and load generator ready");
  const results = new Map<string, IdleResult>();
  let heap: Section | undefined;
  try {
    for (const t of [ceiling, tl]) {
      try {
        const r = await measure(ctx, t, gen, sz.followers, sz.events);
        results.set(t.name, r);
        ctx.log(`idle: ${t.name}: delivered in ${fmt(r.deliverMs)} ms`);
        ctx.noteProfile(
          `idle followers: delivering one run to ${fmt(sz.followers)} followers, Threadline server`,
          r.profile,
        );
      } catch (error) {
        ctx.fail(`idle followers (${t.name})`, error);
      }
    }
    if (ctx.opts.profile) heap = await heapSection(ctx, [ceiling, tl], gen);
  } finally {
    await ctx.release("idle");
  }
  const kib = (b: number) => fmt(b / 1024, 1);
  ctx.report.section({
    title: `3. Idle followers: ${fmt(sz.followers)} SSE connections on one server process`,
    intro:
      `Resident memory of the server process (VmRSS, /proc/<pid>/status) after GC with no followers ` +
      `and with all ${fmt(sz.followers)} connected and idle; then one run of ${sz.events} events ` +
      `(started like a schedule tick) delivered to all of them.`,
    headers: [
      "server",
      "RSS before MiB",
      "RSS after MiB",
      "KiB per connection",
      "first follower done ms",
      "all followers done ms",
      "CPU server / load-gen",
      "events re-read from the store",
    ],
    rows: [ceiling, tl].map((t) => {
      const r = results.get(t.name);
      return [
        t.name === "ceiling" ? "ceiling (node:http)" : "Threadline",
        r ? fmt(r.rssBefore / 2 ** 20, 1) : "failed",
        r ? fmt(r.rssAfter / 2 ** 20, 1) : "",
        r ? kib(r.perConn) : "",
        r ? fmt(r.firstMs, 1) : "",
        r ? fmt(r.deliverMs, 1) : "",
        r ? `${pct(r.cpu[0])} / ${pct(r.cpu[1])}` : "",
        r && t.name === "threadline" ? fmt(r.reads) : "",
      ];
    }),
  });
  if (heap) ctx.report.section(heap);
  const a = results.get("threadline");
  const c = results.get("ceiling");
  ctx.report.target({
    scenario: "3",
    text: "under 20 KB of server memory per idle follower",
    measured: a ? `${kib(a.perConn)} KiB per connection` : "failed",
    met: a ? a.perConn < 20 * 1024 : null,
  });
  ctx.report.target({
    scenario: "3",
    text: `one run delivered to all ${fmt(sz.followers)} followers within 2× of the ceiling's time`,
    measured:
      a && c
        ? `${fmt(a.deliverMs / c.deliverMs, 2)}× (${fmt(a.deliverMs)} vs ${fmt(c.deliverMs)} ms)`
        : "failed",
    met: a && c ? a.deliverMs <= 2 * c.deliverMs : null,
  });
}
