import { afterEach, describe, expect, it } from "vitest";
import { ThreadlineError } from "../../src/core/errors.js";
import { ManualClock } from "../../src/core/scheduler/index.js";
import type { ThreadStore } from "../../src/core/store.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createThreadline, type Threadline, type ThreadlineOptions } from "../../src/threadline.js";
import { collectFrames, countType, eventsOf } from "../helpers/sse.js";
import { fastInput, postHook, runsOf, settledRuns, triggerOf } from "../helpers/triggers.js";
import { verifyWithAgUi } from "../helpers/verify.js";

/**
 * One backing store that several Threadline instances ("processes") open. `open()` returns a
 * new handle on the same data: memory shares `createMemoryData()`, SQLite opens the same file,
 * Postgres/Redis connect to the same database.
 */
export interface TriggerStoreHarness {
  open(): ThreadStore | Promise<ThreadStore>;
  dispose?(): Promise<void>;
}
export type TriggerStoreFactory = () => TriggerStoreHarness | Promise<TriggerStoreHarness>;

/** 2030-01-01T00:00:00.500Z: half a second before a whole-second tick. */
const T0 = Date.parse("2030-01-01T00:00:00.500Z");
const iso = (ms: number) => new Date(ms).toISOString();
const SECRET = "hook-secret";

/** Schedules, heartbeats and webhooks against one store backend. */
export function runTriggerConformance(name: string, factory: TriggerStoreFactory): void {
  describe(`triggers on the ${name} store`, () => {
    const instances: Threadline[] = [];
    let harness: TriggerStoreHarness | undefined;

    afterEach(async () => {
      await Promise.all(instances.splice(0).map((tl) => tl.close({ graceMs: 100 })));
      await harness?.dispose?.();
      harness = undefined;
    });

    async function boot(
      clock: ManualClock,
      extra: Partial<ThreadlineOptions> = {},
    ): Promise<Threadline> {
      harness ??= await factory();
      const tl = createThreadline({
        store: await harness.open(),
        agents: { demo: () => new DemoAgent() },
        clock,
        ...extra,
      });
      instances.push(tl);
      await tl.ready;
      return tl;
    }

    /** Closes an instance like a process that stops (its timers go with it). */
    async function shutdown(tl: Threadline): Promise<void> {
      instances.splice(instances.indexOf(tl), 1);
      await tl.close({ graceMs: 100 });
    }

    it("a follower sees heartbeat and webhook runs arrive, with provenance, in one endless stream", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock, {
        hooks: [
          {
            id: "ci",
            secret: SECRET,
            agentId: "demo",
            thread: "/thread",
            input: { ...fastInput("build {{/status}}") },
          },
        ],
      });
      await tl.app.request("/threads", { method: "POST", body: JSON.stringify({ threadId: "t" }) });
      const stream = await tl.app.request("/threads/t/events?replay=full");
      const frames = collectFrames(stream.body!, (f) => countType(f, "RUN_FINISHED") >= 4);

      const created = await tl.app.request("/schedules", {
        method: "POST",
        body: JSON.stringify({
          id: "beat",
          agentId: "demo",
          threadId: "t",
          everyMs: 1000,
          input: fastInput(),
        }),
      });
      expect(created.status).toBe(201);
      expect((await created.json()).nextFireAt).toBe(iso(T0 + 500));
      for (let i = 1; i <= 3; i++) {
        await clock.advance(1000);
        await settledRuns(tl.store, "t", i);
      }
      const hook = await postHook(
        tl,
        "ci",
        { thread: "t", status: "green" },
        {
          secret: SECRET,
          delivery: "d-1",
        },
      );
      expect(hook.status).toBe(202);
      const { runId, threadId } = await hook.json();
      expect(threadId).toBe("t");

      const events = eventsOf(await frames);
      await verifyWithAgUi(events);
      const started = events.filter((e) => e.type === "RUN_STARTED");
      expect(started.map(triggerOf)).toEqual([
        { kind: "heartbeat", scheduleId: "beat", fireAt: iso(T0 + 500) },
        { kind: "heartbeat", scheduleId: "beat", fireAt: iso(T0 + 1500) },
        { kind: "heartbeat", scheduleId: "beat", fireAt: iso(T0 + 2500) },
        { kind: "webhook", hookId: "ci", deliveryId: "d-1" },
      ]);
      expect((started[3] as { runId?: string }).runId).toBe(runId);
      // Each tick's prompt is a new message, carried to every follower in RUN_STARTED.input.
      const prompts = started.map(
        (e) => (e as { input?: { messages?: { id: string; content: string }[] } }).input?.messages,
      );
      expect(prompts.map((m) => m?.map((x) => x.content))).toEqual([
        ["tick"],
        ["tick"],
        ["tick"],
        ["build green"],
      ]);
      expect(new Set(prompts.map((m) => m?.[0]?.id)).size).toBe(4);

      const listed = await (await tl.app.request("/threads/t/runs")).json();
      const kinds = listed.runs.map((r: { trigger: { kind: string } }) => r.trigger.kind);
      expect(kinds.sort()).toEqual(["heartbeat", "heartbeat", "heartbeat", "webhook"]);
      const schedule = await (await tl.app.request("/schedules/beat")).json();
      expect(schedule).toMatchObject({
        lastFiredAt: iso(T0 + 2500),
        nextFireAt: iso(T0 + 3500),
        lastThreadId: "t",
      });
    });

    it("an every-second schedule over 10 s of clock fires 10 runs, none doubled", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock, {
        schedules: [
          { id: "hb", agentId: "demo", threadId: "hb", everyMs: 1000, input: fastInput() },
          {
            id: "cron",
            agentId: "demo",
            threadId: "cron",
            cron: "*/2 * * * * *",
            timezone: "Asia/Kolkata",
            input: fastInput(),
          },
        ],
      });
      await clock.advance(10_000);
      const beats = await settledRuns(tl.store, "hb", 10);
      const fireAts = beats.map((r) => r.trigger.fireAt);
      expect(new Set(fireAts).size).toBe(beats.length);
      expect(fireAts).toEqual(Array.from({ length: 10 }, (_, i) => iso(T0 + 500 + i * 1000)));
      const crons = await settledRuns(tl.store, "cron", 5);
      expect(crons.every((r) => r.trigger.kind === "schedule" && r.status === "succeeded")).toBe(
        true,
      );
      expect(new Set(crons.map((r) => r.trigger.fireAt)).size).toBe(5);
    });

    it("two instances on one store fire each tick exactly once", async () => {
      const clock = new ManualClock(T0);
      const declared = {
        schedules: [
          { id: "shared", agentId: "demo", threadId: "shared", everyMs: 1000, input: fastInput() },
        ],
        scheduler: { syncMs: 1000 },
      };
      const a = await boot(clock, declared);
      const b = await boot(clock, declared);
      const lost = countLostClaims([a, b]);
      // Created on A only: B learns of it from the store.
      const created = await a.app.request("/schedules", {
        method: "POST",
        body: JSON.stringify({
          id: "api",
          agentId: "demo",
          threadId: "api",
          cron: "* * * * * *",
          input: fastInput(),
        }),
      });
      expect(created.status).toBe(201);
      await clock.advance(6_000);
      const shared = await settledRuns(a.store, "shared", 6);
      expect(new Set(shared.map((r) => r.trigger.fireAt)).size).toBe(6);
      const api = await settledRuns(a.store, "api", 6);
      expect(new Set(api.map((r) => r.trigger.fireAt)).size).toBe(6);
      // Both instances raced for the ticks: the store claim let one of them through each time.
      expect(lost()).toBeGreaterThanOrEqual(6 + 5);

      // A pause made on A stops B's timer too: B re-reads the schedule before firing.
      const paused = await a.app.request("/schedules/shared", {
        method: "PATCH",
        body: JSON.stringify({ paused: true }),
      });
      expect((await paused.json()).nextFireAt).toBeNull();
      await clock.advance(3_000);
      expect(await runsOf(a.store, "shared")).toHaveLength(6);
    });

    it("a restart after downtime skips the missed ticks (catchUp skip)", async () => {
      const clock = new ManualClock(T0);
      const config = {
        schedules: [{ id: "s", agentId: "demo", threadId: "s", everyMs: 1000, input: fastInput() }],
      };
      const first = await boot(clock, config);
      await clock.advance(2_000);
      await settledRuns(first.store, "s", 2);
      await shutdown(first);

      clock.jumpTo(T0 + 60_000);
      const second = await boot(clock, config);
      expect(await runsOf(second.store, "s")).toHaveLength(2);
      const schedule = await second.scheduler.get("s");
      expect(schedule.nextFireAt).toBe(iso(T0 + 60_500));
      await clock.advance(1_000);
      const runs = await settledRuns(second.store, "s", 3);
      expect(runs[2]!.trigger.fireAt).toBe(iso(T0 + 60_500));
    });

    it("a restart after downtime fires once for the missed ticks (catchUp once), even from two processes", async () => {
      const clock = new ManualClock(T0);
      const config = {
        schedules: [
          {
            id: "o",
            agentId: "demo",
            threadId: "o",
            everyMs: 1000,
            catchUp: "once" as const,
            input: fastInput(),
          },
        ],
      };
      const first = await boot(clock, config);
      await clock.advance(2_000);
      await settledRuns(first.store, "o", 2);
      await shutdown(first);

      clock.jumpTo(T0 + 60_000);
      const [b] = await Promise.all([boot(clock, config), boot(clock, config)]);
      const runs = await settledRuns(b!.store, "o", 3);
      expect(runs[2]!.trigger).toEqual({
        kind: "heartbeat",
        scheduleId: "o",
        fireAt: iso(T0 + 2_500),
        source: "catch-up",
      });
      await clock.advance(1_000);
      const after = await settledRuns(b!.store, "o", 4);
      expect(after[3]!.trigger.fireAt).toBe(iso(T0 + 60_500));
    });

    it("pause, resume and delete take effect at once", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock);
      const req = (path: string, method: string, body?: unknown) =>
        tl.app.request(path, { method, ...(body ? { body: JSON.stringify(body) } : {}) });
      await req("/schedules", "POST", {
        id: "p",
        agentId: "demo",
        threadId: "p",
        everyMs: 1000,
        input: fastInput(),
      });
      await clock.advance(1_000);
      await settledRuns(tl.store, "p", 1);

      const paused = await (await req("/schedules/p", "PATCH", { paused: true })).json();
      expect(paused).toMatchObject({ paused: true, nextFireAt: null });
      await clock.advance(5_000);
      expect(await runsOf(tl.store, "p")).toHaveLength(1);

      const resumed = await (await req("/schedules/p", "PATCH", { paused: false })).json();
      expect(resumed.nextFireAt).toBe(iso(T0 + 6_500));
      await clock.advance(1_000);
      await settledRuns(tl.store, "p", 2);

      expect((await req("/schedules/p", "DELETE")).status).toBe(204);
      await clock.advance(5_000);
      expect(await runsOf(tl.store, "p")).toHaveLength(2);
      expect((await req("/schedules/p", "GET")).status).toBe(404);
      expect((await tl.store.records.listSchedules()).map((s) => s.id)).not.toContain("p");
    });

    it("a schedule can start a new thread per tick", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock, {
        schedules: [
          {
            id: "daily",
            agentId: "demo",
            newThreadPerTick: true,
            cron: "0 0 9 * * *",
            timezone: "Europe/Berlin",
            input: fastInput("good morning"),
          },
        ],
        scheduler: { syncMs: 3600_000 },
        // The clock moves two days: lease sweeps (every half lease on the same clock) and the
        // retention sweep each an hour, not every 7.5 s and every minute (23,000 and 2,880
        // passes of store round trips: past the test's deadline on a loaded PostgreSQL).
        leaseMs: 2 * 3600_000,
        retention: { sweepMs: 3600_000 },
      });
      // 09:00 in Berlin (UTC+1 in January) is 08:00 UTC.
      expect((await tl.scheduler.get("daily")).nextFireAt).toBe("2030-01-01T08:00:00.000Z");
      await clock.advance(2 * 24 * 3600_000);
      for (const day of ["2030-01-01", "2030-01-02"]) {
        const threadId = `schedule:daily:${day}T08:00:00.000Z`;
        const [run] = await settledRuns(tl.store, threadId, 1);
        expect(run!.trigger).toMatchObject({ kind: "schedule", scheduleId: "daily" });
        const thread = await tl.store.threads.get(threadId);
        expect(thread?.metadata).toMatchObject({ scheduleId: "daily" });
      }
    });

    it("a replayed webhook delivery is acknowledged without a second run", async () => {
      const clock = new ManualClock(T0);
      const hooks = [{ id: "h", secret: SECRET, agentId: "demo", thread: "w", input: fastInput() }];
      const a = await boot(clock, { hooks });
      const b = await boot(clock, { hooks });
      const first = await postHook(a, "h", { n: 1 }, { secret: SECRET, delivery: "evt-1" });
      expect(first.status).toBe(202);
      // The same delivery again, to the other instance: the store claim remembers it.
      const again = await postHook(b, "h", { n: 1 }, { secret: SECRET, delivery: "evt-1" });
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ duplicate: true, deliveryId: "evt-1" });

      // Without a delivery id, the identical signed request is the replay.
      const signed = { secret: SECRET, timestampSec: Math.floor(T0 / 1000) };
      expect((await postHook(a, "h", { n: 2 }, signed)).status).toBe(202);
      expect((await postHook(b, "h", { n: 2 }, signed)).status).toBe(200);
      const runs = await settledRuns(a.store, "w", 2);
      expect(runs.map((r) => r.trigger)).toEqual([
        { kind: "webhook", hookId: "h", deliveryId: "evt-1" },
        { kind: "webhook", hookId: "h" },
      ]);
    });
  });
}

/**
 * Counts ticks an instance lost to another one: the tick's run id was already taken, so the
 * store refused the second run (that refusal is the exactly-once claim).
 */
function countLostClaims(instances: Threadline[]): () => number {
  let lost = 0;
  for (const tl of instances) {
    const store = tl.store;
    const enqueue = store.runs.enqueue.bind(store.runs);
    store.runs.enqueue = async (run, strategy) => {
      try {
        return await enqueue(run, strategy);
      } catch (error) {
        if (ThreadlineError.is(error, "CONFLICT") && run.runId.startsWith("schedule:")) lost += 1;
        throw error;
      }
    };
  }
  return () => lost;
}
