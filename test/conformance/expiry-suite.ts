import { AbstractAgent } from "@ag-ui/client";
import { type BaseEvent, EventType, type Interrupt, type RunAgentInput } from "@ag-ui/core";
import { Observable } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/scheduler/index.js";
import type { ThreadStore } from "../../src/core/store.js";
import type { RunRecord } from "../../src/core/types.js";
import { createThreadline, type Threadline, type ThreadlineOptions } from "../../src/threadline.js";
import { interceptStore } from "../helpers/intercept-store.js";
import { runsOf, settledRuns, triggerOf } from "../helpers/triggers.js";
import { verifyWithAgUi } from "../helpers/verify.js";

export interface ExpiryStoreHarness {
  open(): ThreadStore | Promise<ThreadStore>;
  dispose?(): Promise<void>;
}

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();
const MINUTE = 60_000;

/**
 * Asks the interrupts of `forwardedProps.ask` (a run without `resume`), answers a resume with
 * what it was told; counts the runs it executed, so a test sees whether an agent ran at all.
 */
class AskingAgent extends AbstractAgent {
  static executed: RunAgentInput[] = [];
  override run(input: RunAgentInput): Observable<BaseEvent> {
    AskingAgent.executed.push(input);
    const ask = (input.forwardedProps as { ask?: Interrupt[] } | undefined)?.ask;
    const { threadId, runId } = input;
    return new Observable<BaseEvent>((sub) => {
      sub.next({ type: EventType.RUN_STARTED, threadId, runId } as BaseEvent);
      sub.next({
        type: EventType.STATE_SNAPSHOT,
        snapshot: { answered: input.resume ?? null },
      } as BaseEvent);
      sub.next({
        type: EventType.RUN_FINISHED,
        threadId,
        runId,
        ...(ask && !input.resume?.length
          ? { outcome: { type: "interrupt", interrupts: ask } }
          : {}),
      } as BaseEvent);
      sub.complete();
    });
  }
}

/** Interrupt expiry (PROTOCOL.md §3.1.6-8) against one store backend, one to three instances. */
export function runExpiryConformance(
  name: string,
  factory: () => ExpiryStoreHarness | Promise<ExpiryStoreHarness>,
): void {
  describe(`interrupt expiry on the ${name} store`, () => {
    const instances: Threadline[] = [];
    let harness: ExpiryStoreHarness | undefined;

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
        agents: { asker: () => new AskingAgent(), other: () => new AskingAgent() },
        clock,
        copilotkit: false,
        metrics: false,
        tracing: false,
        ...extra,
      });
      instances.push(tl);
      await tl.ready;
      return tl;
    }

    async function shutdown(tl: Threadline): Promise<void> {
      instances.splice(instances.indexOf(tl), 1);
      await tl.close({ graceMs: 100 });
    }

    /** A run that asks `ask`, settled: the thread then waits on them. */
    async function asked(
      tl: Threadline,
      threadId: string,
      ask: Interrupt[],
      agentId = "asker",
    ): Promise<void> {
      await tl.startRun({ threadId, agentId, input: { forwardedProps: { ask } } });
      await settledRuns(tl.store, threadId, 1);
      expect((await tl.store.threads.head(threadId))!.interrupts.map((i) => i.id)).toEqual(
        ask.map((i) => i.id),
      );
    }

    const expiryRuns = async (store: ThreadStore, threadId: string): Promise<RunRecord[]> =>
      (await runsOf(store, threadId)).filter((r) => r.trigger.kind === "system");

    const resolve = (tl: Threadline, threadId: string, interruptId: string, body: unknown) =>
      tl.app.request(`/threads/${threadId}/interrupts/${interruptId}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    it("an unanswered interrupt is cancelled at its expiresAt by one resume run, with provenance (§3.1.6)", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock);
      const due = T0 + 10 * MINUTE;
      await asked(tl, "t", [{ id: "approve", reason: "approval", expiresAt: iso(due) }]);
      const raisedAt = (await tl.store.threads.head("t"))!.lastSeq;
      AskingAgent.executed = [];
      await clock.advanceTo(due - 1);
      expect(await expiryRuns(tl.store, "t")).toEqual([]);
      await clock.advanceTo(due);
      const [, run] = await settledRuns(tl.store, "t", 2);
      // Named by the seq of the RUN_FINISHED that raised it: one per pending generation.
      expect(run!.runId).toBe(`threadline-expiry-${raisedAt}`);
      expect(run!.trigger).toEqual({
        kind: "system",
        source: "interrupt-expiry",
        fireAt: iso(due),
        expiry: "resume",
      });
      expect(run!.status).toBe("succeeded");
      expect(run!.agentId).toBe("asker");
      const resume = [
        {
          interruptId: "approve",
          status: "cancelled",
          metadata: { threadline: { expired: true, expiresAt: iso(due) } },
        },
      ];
      expect(run!.input.resume).toEqual(resume);
      // The agent ran, with the answer; the thread waits on nothing any more.
      expect(AskingAgent.executed.map((i) => i.resume)).toEqual([resume]);
      const thread = (await tl.store.threads.get("t"))!;
      expect(thread.interrupts).toEqual([]);
      expect(thread.state).toEqual({ answered: resume });
      // The run list shows it (GET /threads/:id/runs), and the log carries the provenance.
      const listed = (await (await tl.app.request("/threads/t/runs")).json()) as {
        runs: { runId: string; trigger: unknown }[];
      };
      expect(listed.runs[0]).toMatchObject({ runId: run!.runId, trigger: run!.trigger });
      const filtered = (await (await tl.app.request("/threads/t/runs?trigger=system")).json()) as {
        runs: unknown[];
      };
      expect(filtered.runs.length).toBe(1);
      const events = (await tl.store.threads.read("t", { after: 0 })).map((r) => r.event);
      const started = events.filter((e) => e.type === "RUN_STARTED").at(-1)!;
      expect(triggerOf(started)).toEqual(run!.trigger);
      expect((started as { input?: { resume?: unknown } }).input?.resume).toEqual(resume);
      await verifyWithAgUi(events);
      // Later: nothing more.
      await clock.advance(10 * MINUTE);
      expect((await runsOf(tl.store, "t")).length).toBe(2);
    });

    it("record mode writes the answer without running the agent; per thread and per agent (§3.1.7-8)", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock, {
        interrupts: { onExpiry: "record", agents: { other: "resume" } },
      });
      const due = T0 + MINUTE;
      const ask = (id: string): Interrupt[] => [{ id, reason: "approval", expiresAt: iso(due) }];
      await asked(tl, "server", ask("a"));
      await asked(tl, "agent", ask("b"), "other");
      // The thread's own setting wins over the agent's.
      await tl.store.threads.ensure("thread");
      await tl.updateThread("thread", {
        metadata: { threadline: { onInterruptExpiry: "record" } },
      });
      await asked(tl, "thread", ask("c"), "other");
      AskingAgent.executed = [];
      await clock.advanceTo(due);
      const byThread = new Map<string, RunRecord>();
      for (const t of ["server", "agent", "thread"])
        byThread.set(t, (await settledRuns(tl.store, t, 2))[1]!);
      expect(byThread.get("server")!.trigger.expiry).toBe("record");
      expect(byThread.get("agent")!.trigger.expiry).toBe("resume");
      expect(byThread.get("thread")!.trigger.expiry).toBe("record");
      // Only the `resume` one woke its agent.
      expect(AskingAgent.executed.map((i) => i.threadId)).toEqual(["agent"]);
      for (const t of ["server", "thread"]) {
        const log = await tl.store.threads.read(t, { after: 0 });
        const last = log.filter((r) => r.runId === byThread.get(t)!.runId).map((r) => r.event.type);
        expect(last).toEqual(["RUN_STARTED", "RUN_FINISHED"]);
        const thread = (await tl.store.threads.get(t))!;
        expect(thread.interrupts).toEqual([]);
        // The state is the asking run's: no agent answered.
        expect(thread.state).toEqual({ answered: null });
        await verifyWithAgUi(log.map((r) => r.event));
      }
    });

    it("siblings: the expiry answers once every pending interrupt expired; one without a deadline waits for a person (§3.1.6)", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock);
      const [early, late] = [T0 + MINUTE, T0 + 5 * MINUTE];
      await asked(tl, "pair", [
        { id: "first", reason: "approval", expiresAt: iso(early) },
        { id: "second", reason: "approval", expiresAt: iso(late) },
      ]);
      await asked(tl, "open", [
        { id: "dated", reason: "approval", expiresAt: iso(early) },
        { id: "undated", reason: "input" },
      ]);
      await clock.advanceTo(early);
      expect(await expiryRuns(tl.store, "pair")).toEqual([]);
      // The expired one can no longer be resolved, only cancelled (rule 4).
      const refused = await resolve(tl, "pair", "first", {
        status: "resolved",
        resume: [{ interruptId: "second", status: "resolved" }],
      });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
        "INTERRUPT_EXPIRED",
      );
      await clock.advanceTo(late);
      const [, run] = await settledRuns(tl.store, "pair", 2);
      expect(run!.input.resume!.map((r) => [r.interruptId, r.status])).toEqual([
        ["first", "cancelled"],
        ["second", "cancelled"],
      ]);
      await clock.advance(30 * MINUTE);
      expect(await expiryRuns(tl.store, "open")).toEqual([]);
      expect((await tl.store.threads.head("open"))!.interrupts.length).toBe(2);
    });

    it("a person's answer before the expiry wins; resolving at the expiry is refused, and the expiry answers (§3.1.6)", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock);
      const due = T0 + MINUTE;
      await asked(tl, "before", [{ id: "x", reason: "approval", expiresAt: iso(due) }]);
      await asked(tl, "at", [{ id: "x", reason: "approval", expiresAt: iso(due) }]);
      await clock.advanceTo(due - 1);
      expect((await resolve(tl, "before", "x", { status: "resolved" })).status).toBe(202);
      await settledRuns(tl.store, "before", 2);
      // At the very instant (timers not yet fired): the deadline has passed for a person too.
      clock.jumpTo(due);
      const late = await resolve(tl, "at", "x", { status: "resolved" });
      expect(late.status).toBe(409);
      expect(((await late.json()) as { error: { code: string } }).error.code).toBe(
        "INTERRUPT_EXPIRED",
      );
      await clock.advance(0);
      const atRuns = await settledRuns(tl.store, "at", 2);
      expect(atRuns[1]!.trigger.kind).toBe("system");
      // The thread answered in time has no expiry run.
      expect(await expiryRuns(tl.store, "before")).toEqual([]);
      expect((await runsOf(tl.store, "before")).length).toBe(2);
    });

    it("a run that asks is watched for its expiry without reading the thread again", async () => {
      const clock = new ManualClock(T0);
      harness ??= await factory();
      const heads: string[] = [];
      const store = interceptStore(await harness.open(), (method, call, args) => {
        if (method === "threads.head") heads.push(String(args[0]));
        return call(...args);
      });
      const tl = createThreadline({
        store,
        agents: { asker: () => new AskingAgent() },
        clock,
        copilotkit: false,
        metrics: false,
        tracing: false,
        interrupts: { pollMs: 60 * MINUTE },
      });
      instances.push(tl);
      await tl.ready;
      const due = T0 + 5 * MINUTE;
      const ask = [{ id: "x", reason: "approval", expiresAt: iso(due) }];
      await tl.startRun({ threadId: "h", agentId: "asker", input: { forwardedProps: { ask } } });
      // startRun read the head (the resume check) before it returned; the run and its end none.
      heads.length = 0;
      await tl.coordinator.idle("h");
      expect((await runsOf(tl.store, "h"))[0]!.status).toBe("succeeded");
      expect(heads).toEqual([]);
      // The run's end armed the expiry at its time, not at the next poll an hour later.
      await clock.advanceTo(due);
      await settledRuns(tl.store, "h", 2);
      expect((await expiryRuns(tl.store, "h")).length).toBe(1);
    });

    it("a person cancelling at the expiry races the expiry: exactly one answer wins, the other is refused or a no-op", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock);
      const due = T0 + MINUTE;
      await asked(tl, "race", [{ id: "x", reason: "approval", expiresAt: iso(due) }]);
      clock.jumpTo(due);
      const [person, expired] = await Promise.all([
        resolve(tl, "race", "x", { status: "cancelled" }),
        tl.expiry.check(),
      ]);
      const runs = await settledRuns(tl.store, "race", 2);
      // Who won is told by the thread, not by which pass started the expiry run: a pass the
      // expirer's timer runs may be the one (check() counts only the runs it started itself).
      const expiries = await expiryRuns(tl.store, "race");
      expect(expired).toBeLessThanOrEqual(expiries.length);
      if (person.status === 202) {
        expect(expiries).toEqual([]);
        expect(runs[1]!.trigger.kind).toBe("client");
      } else {
        expect(expiries.map((r) => r.runId)).toEqual([runs[1]!.runId]);
        expect([404, 409]).toContain(person.status);
        const code = ((await person.json()) as { error: { code: string } }).error.code;
        expect(["THREAD_BUSY", "INTERRUPT_NOT_FOUND"]).toContain(code);
      }
      // Either way the thread was answered once and waits on nothing; no later pass adds a run.
      expect((await tl.store.threads.head("race"))!.interrupts).toEqual([]);
      await clock.advance(10 * MINUTE);
      expect((await runsOf(tl.store, "race")).length).toBe(2);
      expect(await expiryRuns(tl.store, "race")).toEqual(expiries);
    });

    it("a schedule tick on a thread waiting on interrupts is refused and recorded as the schedule's lastError (§9)", async () => {
      const clock = new ManualClock(T0);
      const tl = await boot(clock);
      const due = T0 + 90_000;
      await asked(tl, "sched", [{ id: "x", reason: "approval", expiresAt: iso(due) }]);
      const created = await tl.app.request("/schedules", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "tick", agentId: "asker", threadId: "sched", everyMs: 60_000 }),
      });
      expect(created.status).toBe(201);
      await clock.advanceTo(T0 + 60_000);
      const schedule = (await (await tl.app.request("/schedules/tick")).json()) as {
        lastError?: { message: string };
        lastRunId?: string;
      };
      expect(schedule.lastError?.message).toMatch(/interrupt/);
      expect(schedule.lastRunId).toBeUndefined();
      expect((await runsOf(tl.store, "sched")).length).toBe(1);
      // The expiry answers; the next tick runs.
      await clock.advanceTo(due);
      await settledRuns(tl.store, "sched", 2);
      await clock.advanceTo(T0 + 120_000);
      const runs = await settledRuns(tl.store, "sched", 3);
      expect(runs.map((r) => r.trigger.kind)).toEqual(["api", "system", "heartbeat"]);
      const after = (await (await tl.app.request("/schedules/tick")).json()) as {
        lastError?: unknown;
      };
      expect(after.lastError).toBeUndefined();
    });

    it("three instances expire an interrupt exactly once, on time and when they race for it", async () => {
      const clock = new ManualClock(T0);
      const [a, b, c] = [await boot(clock), await boot(clock), await boot(clock)];
      const due = T0 + MINUTE;
      // Raised through A: B and C learn of it from the store's due index.
      await asked(a, "shared", [{ id: "x", reason: "approval", expiresAt: iso(due) }]);
      await asked(b, "raced", [{ id: "x", reason: "approval", expiresAt: iso(due + MINUTE) }]);
      await clock.advanceTo(due);
      const shared = await settledRuns(c.store, "shared", 2);
      expect(shared[1]!.trigger).toMatchObject({ kind: "system", source: "interrupt-expiry" });
      // All three look at once, at the instant it falls due.
      clock.jumpTo(due + MINUTE);
      const started = await Promise.all([a, b, c].map((tl) => tl.expiry.check()));
      expect(started.reduce((x, y) => x + y, 0)).toBe(1);
      await settledRuns(a.store, "raced", 2);
      await clock.advance(10 * MINUTE);
      expect((await expiryRuns(a.store, "shared")).length).toBe(1);
      expect((await expiryRuns(a.store, "raced")).length).toBe(1);
    });

    it("every instance down at the expiry: the three that start later expire it exactly once, as a catch-up", async () => {
      const clock = new ManualClock(T0);
      const first = await boot(clock);
      const due = T0 + MINUTE;
      await asked(first, "down", [{ id: "x", reason: "approval", expiresAt: iso(due) }]);
      await shutdown(first);
      // Nobody runs when it falls due; an hour later three instances start together.
      clock.jumpTo(due + 60 * MINUTE);
      const [a] = await Promise.all([boot(clock), boot(clock), boot(clock)]);
      const runs = await settledRuns(a!.store, "down", 2);
      expect(runs[1]!.trigger).toEqual({
        kind: "system",
        source: "interrupt-expiry",
        fireAt: iso(due),
        expiry: "resume",
        catchUp: true,
      });
      expect((await a!.store.threads.head("down"))!.interrupts).toEqual([]);
      await clock.advance(10 * MINUTE);
      expect((await runsOf(a!.store, "down")).length).toBe(2);
    });
  });
}
