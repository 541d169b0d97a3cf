import type { BaseEvent } from "@ag-ui/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import {
  effectivePolicy,
  keptRunsBoundary,
  nextCompactionStep,
  nthNewestStartSeq,
  parseRetentionPolicy,
} from "../../src/core/retention.js";
import { RetentionSweeper } from "../../src/core/retention-sweep.js";
import { ManualClock } from "../../src/core/scheduler/index.js";
import type { EventRecord, RunRecord } from "../../src/core/types.js";
import { createMemoryData, createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { verifyWithAgUi } from "../helpers/verify.js";

const DAY = 86_400_000;
const open: Threadline[] = [];
beforeEach(() => GateAgent.reset());
afterEach(async () => {
  for (const tl of open.splice(0)) await tl.close({ graceMs: 50 });
});

/** An instance with the demo agent and a manual clock; its sweep runs only when told to. */
async function instance(
  opts: {
    clock?: ManualClock;
    data?: ReturnType<typeof createMemoryData>;
    retention?: Parameters<typeof createThreadline>[0]["retention"];
  } = {},
) {
  const clock = opts.clock ?? new ManualClock(Date.now());
  const { DemoAgent } = await import("../../src/demo/demo-agent.js");
  const tl = createThreadline({
    store: createMemoryStore({ data: opts.data ?? createMemoryData() }),
    agents: { demo: new DemoAgent(), gate: new GateAgent() },
    clock,
    retention: { sweepMs: 0, ...opts.retention },
  });
  open.push(tl);
  await tl.ready;
  return { tl, clock };
}

async function turns(tl: Threadline, threadId: string, n: number, from = 0) {
  for (let i = from; i < from + n; i++) {
    await tl.startRun({
      threadId,
      agentId: "demo",
      multitask: "enqueue",
      input: {
        messages: [{ id: `u${i}`, role: "user", content: `hello ${i}` }],
        forwardedProps: { demo: { delayMs: 0, tokens: 3 } },
      },
    });
  }
  await tl.coordinator.idle(threadId);
}

const record = (seq: number, type: string, at: number): EventRecord => ({
  seq,
  runId: "r",
  at,
  event: { type } as BaseEvent,
});

describe("retention rules", () => {
  it("layers thread over schedule over server default, false lifting a limit", () => {
    const metadata = {
      threadline: {
        scheduleRetention: { keepRuns: 10, maxAgeMs: 5 },
        retention: { maxAgeMs: false },
      },
    };
    expect(effectivePolicy({ keepRuns: 100, deleteIdleAfterMs: 7 }, metadata)).toEqual({
      policy: { keepRuns: 10, deleteIdleAfterMs: 7 },
    });
    expect(
      effectivePolicy({ keepRuns: 3 }, { threadline: { retention: { keepRuns: "x" } } }),
    ).toEqual({
      policy: { keepRuns: 3 },
      invalid: "metadata.threadline.retention",
    });
    expect(() => parseRetentionPolicy({ keepRuns: -1 }, "retention")).toThrow(/invalid retention/);
    expect(() => parseRetentionPolicy({ keepRun: 1 }, "retention")).toThrow(/invalid retention/);
  });

  it("finds the keepRuns boundary among started runs, newest start first", () => {
    const run = (startSeq?: number) => ({ startSeq }) as RunRecord;
    // Creation order is not start order (an interrupting run starts before older queued ones).
    const runs = [run(), run(20), run(30), run(10)];
    expect(nthNewestStartSeq(runs, 1)).toBe(30);
    expect(nthNewestStartSeq(runs, 2)).toBe(20);
    expect(nthNewestStartSeq(runs, 4)).toBeNull();
    expect(nthNewestStartSeq(runs, 0)).toBeNull();
    expect(keptRunsBoundary(2, nthNewestStartSeq(runs, 2))).toBe(19);
    expect(keptRunsBoundary(4, null)).toBe(0);
    expect(keptRunsBoundary(0, null)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("steps to the last removable terminal event, never into a run still going", () => {
    const events = [
      record(4, "RUN_STARTED", 10),
      record(5, "RUN_FINISHED", 11),
      record(6, "RUN_STARTED", 20),
      record(7, "RUN_ERROR", 21),
      record(8, "RUN_STARTED", 30),
      record(9, "CUSTOM", 31),
    ];
    expect(nextCompactionStep(events, { runsBoundary: 7 })).toEqual({
      horizon: 7,
      endedBefore: 21,
    });
    expect(nextCompactionStep(events, { cutoff: 15 })).toEqual({ horizon: 5, endedBefore: 11 });
    expect(nextCompactionStep(events, { runsBoundary: 5, cutoff: 25 })).toMatchObject({
      horizon: 7,
    });
    expect(nextCompactionStep(events, { runsBoundary: 100, cutoff: 100 })).toMatchObject({
      horizon: 7,
    });
    expect(nextCompactionStep(events, { runsBoundary: 3 })).toBeNull();
  });
});

describe("the retention sweep", () => {
  it("keeps the newest N runs, their messages, and resets a follower from before", async () => {
    const { tl } = await instance({ retention: { keepRuns: 2 } });
    await turns(tl, "t", 5);
    const before = (await tl.store.threads.get("t"))!;
    const report = await tl.retention.sweep();
    expect(report).toMatchObject({ swept: true, compacted: 1, deleted: 0, runs: 3 });
    const runs = await tl.store.runs.list("t");
    expect(runs).toHaveLength(2);
    const head = (await tl.store.threads.get("t"))!;
    expect(head.horizon).toBe(runs[1]!.startSeq! - 1);
    expect(head.lastSeq).toBe(before.lastSeq);
    expect(head.state).toEqual(before.state);
    // Messages go with their runs: the last two turns' question and answer remain.
    expect(head.messages.map((m) => m.id)).toEqual(before.messages.slice(-4).map((m) => m.id));
    // Idempotent: nothing more to do.
    expect(await tl.retention.sweep()).toMatchObject({ compacted: 0, runs: 0 });

    const follow = tl.follow("t", { after: 1, replay: "full", live: false });
    const items = [];
    for await (const item of follow) items.push(item.event);
    expect(follow.reset).toMatchObject({ after: 1, horizon: head.horizon });
    await verifyWithAgUi(items);
  });

  it("compacts runs that ended more than maxAgeMs ago (on the scheduler's clock), in bounded steps", async () => {
    const { tl, clock } = await instance({ retention: { maxAgeMs: DAY, batchEvents: 4 } });
    await turns(tl, "t", 3);
    expect(await tl.retention.sweep()).toMatchObject({ compacted: 0 });
    await clock.advance(2 * DAY);
    const report = await tl.retention.sweep();
    expect(report).toMatchObject({ compacted: 1, runs: 3 });
    expect(await tl.store.runs.list("t")).toEqual([]);
    const view = (await tl.store.threads.get("t"))!;
    expect(view.horizon).toBe(view.lastSeq);
    expect(view.messages).toEqual([]);
    // A new run after the horizon: seqs continue, the view starts over from it.
    await turns(tl, "t", 1, 10);
    expect((await tl.store.threads.read("t", { after: 0 }))[0]!.seq).toBe(view.lastSeq + 1);
  });

  it("a thread's own policy (metadata) beats the server default; false lifts it", async () => {
    const { tl } = await instance({ retention: { keepRuns: 1 } });
    await turns(tl, "keep-all", 3);
    await turns(tl, "three", 4);
    await turns(tl, "default", 3);
    await tl.updateThread("keep-all", {
      metadata: { threadline: { retention: { keepRuns: false } } },
    });
    await tl.updateThread("three", { metadata: { threadline: { retention: { keepRuns: 3 } } } });
    await tl.retention.sweep();
    expect(await tl.store.runs.list("keep-all")).toHaveLength(3);
    expect(await tl.store.runs.list("three")).toHaveLength(3);
    expect(await tl.store.runs.list("default")).toHaveLength(1);
    await expect(
      tl.updateThread("three", { metadata: { threadline: { retention: { keepRuns: -2 } } } }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  it("deletes threads idle longer than deleteIdleAfterMs, never one with a run, and ends their followers", async () => {
    const { tl, clock } = await instance({ retention: { deleteIdleAfterMs: 7 * DAY } });
    await turns(tl, "idle", 1);
    await tl.startRun({ threadId: "busy", agentId: "gate" });
    const gate = await GateAgent.nth(0);
    gate.started();
    const follow = tl.follow("idle", { replay: "none" });
    const ended = (async () => {
      for await (const _ of follow) {
        // nothing arrives: the thread is idle
      }
    })();
    await clock.advance(8 * DAY);
    const report = await tl.retention.sweep();
    expect(report).toMatchObject({ deleted: 1 });
    await ended;
    expect(follow.deleted).toBe(true);
    expect(await tl.store.threads.head("idle")).toBeNull();
    expect(await tl.store.threads.head("busy")).not.toBeNull();
    gate.finish();
  });

  it("never deletes a thread that waits for a person; once answered, its idle time counts again", async () => {
    const { tl, clock } = await instance({ retention: { deleteIdleAfterMs: 7 * DAY } });
    const { runId } = await tl.startRun({
      threadId: "asks",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, interrupt: true } } },
    });
    await tl.coordinator.idle("asks");
    const [asked] = (await tl.store.threads.head("asks"))!.interrupts;
    expect(asked?.id).toBe(`approve-${runId}`);
    await clock.advance(30 * DAY);
    expect(await tl.retention.sweep()).toMatchObject({ deleted: 0 });
    expect((await tl.store.threads.head("asks"))!.interrupts).toHaveLength(1);

    await tl.startRun({
      threadId: "asks",
      agentId: "demo",
      input: {
        resume: [{ interruptId: asked!.id, status: "resolved", payload: { approved: true } }],
      },
    });
    await tl.coordinator.idle("asks");
    expect((await tl.store.threads.head("asks"))!.interrupts).toEqual([]);
    await clock.advance(8 * DAY);
    expect(await tl.retention.sweep()).toMatchObject({ deleted: 1 });
    expect(await tl.store.threads.head("asks")).toBeNull();
  });

  it("runs on the clock's timer, and one instance sweeps a shared store at a time", async () => {
    const data = createMemoryData();
    const clock = new ManualClock(Date.now());
    const a = await instance({ data, clock, retention: { keepRuns: 1 } });
    const b = await instance({ data, clock, retention: { keepRuns: 1 } });
    await turns(a.tl, "t", 3);
    const reports = await Promise.all([a.tl.retention.sweep(), b.tl.retention.sweep()]);
    expect(reports.map((r) => r.swept).sort()).toEqual([false, true]);
    expect(await a.tl.store.runs.list("t")).toHaveLength(1);

    // A periodic sweeper on the same clock: it fires when the clock says so.
    const sweeper = new RetentionSweeper({
      store: a.tl.store,
      defaults: { keepRuns: 1 },
      instanceId: a.tl.coordinator.instanceId,
      deleteThread: (id) => a.tl.deleteThread(id),
      clock,
      intervalMs: 60_000,
    });
    sweeper.start();
    await turns(a.tl, "t", 2, 10);
    expect(await a.tl.store.runs.list("t")).toHaveLength(3);
    await clock.advance(60_000);
    await waitFor(async () => (await a.tl.store.runs.list("t")).length === 1, "the timed sweep");
    await sweeper.stop();
  });

  it("asks a store that does not reuse freed space by itself to reclaim it, once enough rows went", async () => {
    const { tl } = await instance();
    await turns(tl, "t", 6);
    // A store with `reclaim` (PostgreSQL's VACUUM); this one fails the second time.
    const calls: string[] = [];
    const warnings: string[] = [];
    const store = {
      ...tl.store,
      threads: Object.assign(Object.create(tl.store.threads) as typeof tl.store.threads, {
        reclaim: async () => {
          calls.push("reclaim");
          if (calls.length === 2) throw new Error("must be owner of table events");
        },
      }),
    };
    const sweeper = (keepRuns: number, reclaimAfterRows: number) =>
      new RetentionSweeper({
        store,
        defaults: { keepRuns },
        instanceId: tl.coordinator.instanceId,
        deleteThread: async () => undefined,
        logger: { ...silentLogger, warn: (_obj, msg) => warnings.push(msg ?? "") },
        reclaimAfterRows,
      });
    // Off with 0, whatever was removed.
    expect(await sweeper(5, 0).sweep()).toMatchObject({ runs: 1, reclaimed: false });
    // Rows count across sweeps: one run's worth is not enough for 12 rows, two are.
    const counting = sweeper(4, 12);
    const first = await counting.sweep();
    expect(first.events + first.runs + first.messages).toBeLessThan(12);
    expect(first.reclaimed).toBe(false);
    await turns(tl, "t", 1, 20);
    expect(await counting.sweep()).toMatchObject({ runs: 1, reclaimed: true });
    expect(calls).toEqual(["reclaim"]);
    // A failing reclaim is logged; the sweep's own work stands.
    await turns(tl, "t", 2, 30);
    const failed = await counting.sweep();
    expect(failed).toMatchObject({ runs: 2, reclaimed: false });
    expect(calls).toHaveLength(2);
    expect(warnings).toEqual(["retention sweep: reclaiming removed rows' space failed"]);
  });
});
