import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, type ScheduleInput } from "../../src/core/scheduler/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { demoHeartbeat } from "../../src/demo/demo-heartbeat.js";
import {
  createMemoryData,
  createMemoryStore,
  type MemoryStoreData,
} from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { fastInput, runsOf, settledRuns } from "../helpers/triggers.js";
import { waitFor } from "../helpers/wait-for.js";

const T0 = Date.parse("2030-01-01T00:00:00.500Z");
const iso = (ms: number) => new Date(ms).toISOString();
const open: Threadline[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((tl) => tl.close({ graceMs: 100 })));
});

async function boot(
  clock: ManualClock,
  schedules: ScheduleInput[] = [],
  data: MemoryStoreData = createMemoryData(),
): Promise<Threadline> {
  const tl = createThreadline({
    store: createMemoryStore({ data }),
    agents: { demo: () => new DemoAgent() },
    clock,
    schedules,
  });
  open.push(tl);
  await tl.ready;
  return tl;
}

describe("scheduler", () => {
  it("stops at endAt and starts at startAt", async () => {
    const clock = new ManualClock(T0);
    const tl = await boot(clock, [
      {
        id: "window",
        agentId: "demo",
        threadId: "w",
        everyMs: 1000,
        startAt: iso(T0 + 2_000),
        endAt: iso(T0 + 5_000),
        input: fastInput(),
      },
    ]);
    await clock.advance(10_000);
    const runs = await settledRuns(tl.store, "w", 3);
    expect(runs.map((r) => r.trigger.fireAt)).toEqual([
      iso(T0 + 2_000),
      iso(T0 + 3_000),
      iso(T0 + 4_000),
    ]);
    expect((await tl.scheduler.get("window")).nextFireAt).toBeNull();
  });

  it("records why a tick could not start its run (multitask reject on a busy thread)", async () => {
    const clock = new ManualClock(T0);
    const tl = await boot(clock, [
      { id: "r", agentId: "demo", threadId: "busy", everyMs: 1000, multitask: "reject" },
    ]);
    // A long client run holds the thread while the tick comes.
    await tl.startRun({
      threadId: "busy",
      agentId: "demo",
      input: { forwardedProps: { demo: { tokens: 1, delayMs: 60_000 } } },
    });
    await clock.advance(1_000);
    const s = await tl.scheduler.get("r");
    expect(s.lastError?.message).toMatch(/already has a run/);
    expect(s.lastFiredAt).toBe(iso(T0 + 500));
    expect(s.nextFireAt).toBe(iso(T0 + 1_500));
    expect(await runsOf(tl.store, "busy")).toHaveLength(1);
  });

  it("re-arms a declared schedule whose config changed, and keeps a pause made via the API", async () => {
    const clock = new ManualClock(T0);
    const data = createMemoryData();
    const first = await boot(clock, [{ id: "c", agentId: "demo", everyMs: 1000 }], data);
    await first.scheduler.update("c", { paused: true });
    await first.close();
    open.splice(0);

    const same = await boot(clock, [{ id: "c", agentId: "demo", everyMs: 1000 }], data);
    expect(await same.scheduler.get("c")).toMatchObject({ paused: true, revision: 2 });
    await same.close();
    open.splice(0);

    const changed = await boot(
      clock,
      [{ id: "c", agentId: "demo", everyMs: 60_000, paused: false, input: fastInput() }],
      data,
    );
    expect(await changed.scheduler.get("c")).toMatchObject({
      paused: false,
      everyMs: 60_000,
      revision: 3,
      nextFireAt: "2030-01-01T00:01:00.000Z",
    });
    await clock.advance(60_000);
    await settledRuns(changed.store, "schedule:c", 1);
  });

  it("refuses invalid declared schedules at creation", () => {
    const make = (schedules: ScheduleInput[]) => () =>
      createThreadline({
        store: createMemoryStore(),
        agents: { demo: new DemoAgent() },
        schedules,
      });
    expect(make([{ agentId: "demo", everyMs: 1000 }])).toThrow(/need an `id`/);
    expect(make([{ id: "x", agentId: "ghost", everyMs: 1000 }])).toThrow(/unknown agent 'ghost'/);
    expect(make([{ id: "x", agentId: "demo", cron: "nope" }])).toThrow(/schedules\[0\].*cron/);
    expect(
      make([
        { id: "x", agentId: "demo", everyMs: 1000 },
        { id: "x", agentId: "demo", everyMs: 2000 },
      ]),
    ).toThrow(/declared twice/);
  });

  it("startRun is the programmatic trigger: kind api by default, or the trigger given", async () => {
    const tl = await boot(new ManualClock(T0));
    const fast = { forwardedProps: { demo: { delayMs: 0, tokens: 1 } } };
    await tl.startRun({ threadId: "p", agentId: "demo", input: fast });
    await tl.startRun({
      threadId: "p",
      agentId: "demo",
      input: fast,
      multitask: "enqueue",
      trigger: { kind: "api", source: "nightly-report" },
    });
    await settledRuns(tl.store, "p", 2);
    const res = await tl.app.request("/threads/p/runs");
    const triggers = (await res.json()).runs.map((r: { trigger: unknown }) => r.trigger);
    expect(triggers).toContainEqual({ kind: "api" });
    expect(triggers).toContainEqual({ kind: "api", source: "nightly-report" });
  });

  it("picks up a schedule another process created, at the next sync", async () => {
    const clock = new ManualClock(T0);
    const data = createMemoryData();
    const a = await boot(clock, [], data);
    const b = createThreadline({
      store: createMemoryStore({ data }),
      agents: { demo: () => new DemoAgent() },
      clock,
      scheduler: { syncMs: 500 },
    });
    open.push(b);
    await b.ready;
    await a.scheduler.create({
      id: "x",
      agentId: "demo",
      threadId: "x",
      everyMs: 1000,
      input: fastInput(),
    });
    await a.close();
    open.splice(open.indexOf(a), 1);
    // A is gone before the first tick: only B can fire it.
    await clock.advance(2_000);
    const runs = await settledRuns(b.store, "x", 2);
    expect(runs.map((r) => r.trigger.fireAt)).toEqual([iso(T0 + 500), iso(T0 + 1_500)]);
    await waitFor(
      async () => (await b.scheduler.get("x")).lastFiredAt === iso(T0 + 1_500),
      "lastFiredAt",
    );
  });
});

describe("demo heartbeat", () => {
  it("makes the demo thread evolve by itself", async () => {
    const clock = new ManualClock(T0);
    const tl = await boot(clock, [{ ...demoHeartbeat({ everyMs: 1000 }), input: fastInput() }]);
    await clock.advance(2_000);
    const runs = await settledRuns(tl.store, "demo", 2);
    expect(runs.every((r) => r.trigger.kind === "heartbeat")).toBe(true);
    expect(demoHeartbeat()).toMatchObject({ threadId: "demo", everyMs: 30_000, agentId: "demo" });
  });
});
