import { describe, expect, it } from "vitest";
import {
  activeRun,
  custom,
  newRun,
  rejectsWith,
  runError,
  runFinished,
  runStarted,
  type SuiteContext,
  uid,
} from "./fixtures.js";

/** Fencing, run lifecycle, multitask strategies, the FIFO queue, leases and recovery. */
export function runTests(ctx: SuiteContext): void {
  describe("fenced appends", () => {
    it("only the active run with the current token may append", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      await rejectsWith(
        store.threads.append(t, { ...fence, token: fence.token + 1 }, [custom(1)]),
        "LEASE_LOST",
      );
      await rejectsWith(
        store.threads.append(t, { ...fence, token: fence.token - 1 }, [custom(1)]),
        "LEASE_LOST",
      );
      await rejectsWith(store.threads.append(uid("none"), fence, [custom(1)]), "LEASE_LOST");
      // A queued (not active) run cannot write, even with the thread's current token.
      const queued = newRun(t);
      await store.runs.enqueue(queued, "enqueue");
      await rejectsWith(
        store.threads.append(t, { runId: queued.runId, token: fence.token }, [custom(1)]),
        "LEASE_LOST",
      );
      expect(await store.threads.read(t, { after: 0 })).toEqual([]);
      expect((await store.threads.append(t, fence, [custom(1)]))[0]!.seq).toBe(1);
    });

    it("a stale token cannot write after runs.takeOver; the new holder can", async () => {
      const store = ctx.store();
      const t = uid("t");
      const old = await activeRun(store, t, { owner: "a", leaseMs: 100, now: 1_000 });
      await store.threads.append(t, old.fence, [runStarted(t, old.run.runId)]);
      const taken = await store.runs.takeOver(t, old.run.runId, {
        owner: "b",
        leaseMs: 100,
        now: 2_000,
      });
      expect(taken).not.toBeNull();
      expect(taken!.fence.runId).toBe(old.run.runId);
      expect(taken!.fence.token).toBeGreaterThan(old.fence.token);
      expect(taken!.run.lease).toMatchObject({ owner: "b", token: taken!.fence.token });
      await rejectsWith(store.threads.append(t, old.fence, [custom("late")]), "LEASE_LOST");
      expect((await store.runs.renew(t, old.fence, { leaseMs: 100, now: 2_000 })).ok).toBe(false);
      const records = await store.threads.append(t, taken!.fence, [
        runError("gone", "INTERRUPTED"),
      ]);
      expect(records[0]!.seq).toBe(2);
      expect((await store.threads.read(t, { after: 0 })).map((r) => r.event.type)).toEqual([
        "RUN_STARTED",
        "RUN_ERROR",
      ]);
    });

    it("a rejected append changes neither the log nor the view", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      await store.threads.append(t, fence, [custom(1)], { state: { value: { a: 1 } } });
      await rejectsWith(
        store.threads.append(t, { ...fence, token: 999 }, [custom(2)], {
          state: { value: { a: 2 } },
        }),
        "LEASE_LOST",
      );
      const view = (await store.threads.get(t))!;
      expect(view.lastSeq).toBe(1);
      expect(view.state).toEqual({ a: 1 });
    });
  });

  describe("terminal events end runs", () => {
    const cases = [
      ["RUN_FINISHED", (t: string, r: string) => runFinished(t, r), "succeeded", undefined],
      [
        "RUN_FINISHED cancelled",
        (t: string, r: string) => runFinished(t, r, "cancelled"),
        "cancelled",
        undefined,
      ],
      ["RUN_ERROR", () => runError("boom", "AGENT_ERROR"), "failed", { code: "AGENT_ERROR" }],
      [
        "RUN_ERROR INTERRUPTED",
        () => runError("died", "INTERRUPTED"),
        "interrupted",
        { code: "INTERRUPTED", message: "died" },
      ],
    ] as const;
    for (const [label, terminal, status, error] of cases) {
      it(`${label} → ${status}, frees the thread and records startSeq`, async () => {
        const store = ctx.store();
        const t = uid("t");
        const { run, fence } = await activeRun(store, t);
        const next = newRun(t);
        await store.runs.enqueue(next, "enqueue");
        await store.threads.append(t, fence, [custom(0)]);
        await store.threads.append(t, fence, [runStarted(t, run.runId), custom(1)]);
        expect((await store.runs.get(t, run.runId))!.startSeq).toBe(2);
        await store.threads.append(t, fence, [custom(2), terminal(t, run.runId)]);
        const ended = (await store.runs.get(t, run.runId))!;
        expect(ended.status).toBe(status);
        expect(ended.startSeq).toBe(2);
        expect(ended.endedAt).toEqual(expect.any(Number));
        expect(ended.lease).toBeUndefined();
        if (error) expect(ended.error).toMatchObject(error);
        else expect(ended.error).toBeUndefined();
        expect((await store.threads.get(t))!.activeRunId).toBeNull();
        await rejectsWith(store.threads.append(t, fence, [custom(3)]), "LEASE_LOST");
        const claimed = await store.runs.claimNext(t, {
          owner: "owner",
          leaseMs: 1_000,
          now: Date.now(),
        });
        expect(claimed?.run.runId).toBe(next.runId);
        expect(claimed!.fence.token).toBeGreaterThan(fence.token);
      });
    }
  });

  describe("multitask strategies", () => {
    it("reject fails with THREAD_BUSY while a run is active or queued", async () => {
      const store = ctx.store();
      const t = uid("t");
      const first = newRun(t);
      expect((await store.runs.enqueue(first, "reject")).run.status).toBe("queued");
      await rejectsWith(store.runs.enqueue(newRun(t), "reject"), "THREAD_BUSY");
      await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: Date.now() });
      const rejected = newRun(t);
      await rejectsWith(store.runs.enqueue(rejected, "reject"), "THREAD_BUSY");
      expect(await store.runs.get(t, rejected.runId)).toBeNull();
      expect((await store.runs.list(t)).map((r) => r.runId)).toEqual([first.runId]);
    });

    it("enqueue keeps FIFO order", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence, run } = await activeRun(store, t);
      const queued = [newRun(t), newRun(t), newRun(t)];
      for (const r of queued) {
        const res = await store.runs.enqueue(r, "enqueue");
        expect(res).toEqual({ run: expect.objectContaining({ runId: r.runId, status: "queued" }) });
      }
      await store.threads.append(t, fence, [runStarted(t, run.runId), runFinished(t, run.runId)]);
      const order: string[] = [];
      for (let i = 0; i < queued.length; i++) {
        const c = (await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: Date.now() }))!;
        order.push(c.run.runId);
        expect(
          await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: Date.now() }),
        ).toBeNull();
        await store.runs.markEnded(t, c.run.runId, { status: "succeeded", now: Date.now() });
      }
      expect(order).toEqual(queued.map((r) => r.runId));
      expect(
        await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: Date.now() }),
      ).toBeNull();
    });

    it("interrupt asks the active run to stop and goes first in the queue", async () => {
      const store = ctx.store();
      const t = uid("t");
      const active = await activeRun(store, t);
      const waiting = newRun(t);
      await store.runs.enqueue(waiting, "enqueue");
      const urgent = newRun(t);
      const res = await store.runs.enqueue(urgent, "interrupt");
      expect(res.interrupted).toBe(active.run.runId);
      expect(res.run).toMatchObject({ runId: urgent.runId, status: "queued" });
      expect((await store.runs.get(t, active.run.runId))!.cancelRequested).toBe(true);
      expect(await store.runs.renew(t, active.fence, { leaseMs: 1_000, now: Date.now() })).toEqual({
        ok: true,
        cancelRequested: true,
      });
      await store.threads.append(t, active.fence, [runFinished(t, active.run.runId, "cancelled")]);
      const next = await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: Date.now() });
      expect(next!.run.runId).toBe(urgent.runId);
      await store.runs.markEnded(t, urgent.runId, { status: "succeeded", now: Date.now() });
      expect(
        (await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: Date.now() }))!.run.runId,
      ).toBe(waiting.runId);
    });

    it("interrupt on an idle thread just queues the run", async () => {
      const store = ctx.store();
      const t = uid("t");
      const res = await store.runs.enqueue(newRun(t), "interrupt");
      expect(res.interrupted).toBeUndefined();
      expect(
        (await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: Date.now() }))!.run.runId,
      ).toBe(res.run.runId);
    });

    it("refuses a run id the thread already has", async () => {
      const store = ctx.store();
      const t = uid("t");
      const run = newRun(t);
      await store.runs.enqueue(run, "enqueue");
      await rejectsWith(store.runs.enqueue({ ...run }, "enqueue"), "CONFLICT");
      expect(await store.runs.list(t)).toHaveLength(1);
    });
  });

  describe("run queue and lifecycle", () => {
    it("stores the run as given and lists runs newest first", async () => {
      const store = ctx.store();
      const t = uid("t");
      const runs = [newRun(t), newRun(t), newRun(t)];
      runs[1]!.trigger = { kind: "schedule", scheduleId: "s1", fireAt: "2024-01-01T00:00:00Z" };
      runs[1]!.input = { messages: [{ id: "u", role: "user", content: "hi" }], state: { a: 1 } };
      for (const r of runs) await store.runs.enqueue(r, "enqueue");
      expect(await store.runs.get(t, runs[1]!.runId)).toEqual(runs[1]);
      expect((await store.runs.list(t)).map((r) => r.runId)).toEqual(
        runs.map((r) => r.runId).reverse(),
      );
      expect(await store.runs.list(t, { limit: 1 })).toEqual([runs[2]]);
      expect(await store.runs.list(t, { limit: 1, offset: 1 })).toEqual([runs[1]]);
      expect((await store.runs.list(t, { offset: 2 })).map((r) => r.runId)).toEqual([
        runs[0]!.runId,
      ]);
      expect(await store.runs.list(t, { offset: 3 })).toEqual([]);
      expect(await store.runs.get(t, uid("none"))).toBeNull();
      expect(await store.runs.list(uid("none"))).toEqual([]);
    });

    it("runs.claimNext starts the head under a new lease", async () => {
      const store = ctx.store();
      const t = uid("t");
      expect(
        await store.runs.claimNext(uid("none"), { owner: "o", leaseMs: 1_000, now: 5 }),
      ).toBeNull();
      const run = newRun(t);
      await store.runs.enqueue(run, "enqueue");
      const c = (await store.runs.claimNext(t, { owner: "me", leaseMs: 1_000, now: 5_000 }))!;
      expect(c.run).toMatchObject({
        runId: run.runId,
        status: "running",
        startedAt: 5_000,
        lease: { owner: "me", token: c.fence.token, expiresAt: 6_000 },
      });
      expect(c.fence).toEqual({ runId: run.runId, token: c.fence.token });
      expect((await store.threads.get(t))!.activeRunId).toBe(run.runId);
      expect(await store.runs.renew(t, c.fence, { leaseMs: 1_000, now: 7_000 })).toEqual({
        ok: true,
        cancelRequested: false,
      });
      expect((await store.runs.get(t, run.runId))!.lease!.expiresAt).toBe(8_000);
    });

    it("runs.requestCancel ends a queued run at once and flags a running one", async () => {
      const store = ctx.store();
      const t = uid("t");
      const active = await activeRun(store, t);
      const queued = newRun(t);
      await store.runs.enqueue(queued, "enqueue");
      const cancelled = await store.runs.requestCancel(t, queued.runId);
      expect(cancelled).toMatchObject({ status: "cancelled", endedAt: expect.any(Number) });
      const flagged = await store.runs.requestCancel(t, active.run.runId);
      expect(flagged).toMatchObject({ status: "running", cancelRequested: true });
      expect(await store.runs.requestCancel(t, uid("none"))).toBeNull();
      await store.threads.append(t, active.fence, [runFinished(t, active.run.runId, "cancelled")]);
      // The cancelled run left the queue.
      expect(
        await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: Date.now() }),
      ).toBeNull();
      expect(await store.runs.idleThreadsWithQueue()).not.toContain(t);
    });

    it("runs.markEnded frees the thread and takes a run out of the queue", async () => {
      const store = ctx.store();
      const t = uid("t");
      const active = await activeRun(store, t);
      const queued = newRun(t);
      await store.runs.enqueue(queued, "enqueue");
      const err = { code: "INTERRUPTED", message: "never started" };
      const ended = await store.runs.markEnded(t, active.run.runId, {
        status: "interrupted",
        now: 42,
        error: err,
      });
      expect(ended).toMatchObject({ status: "interrupted", endedAt: 42, error: err });
      expect(ended!.lease).toBeUndefined();
      expect((await store.threads.get(t))!.activeRunId).toBeNull();
      await rejectsWith(store.threads.append(t, active.fence, [custom(1)]), "LEASE_LOST");
      expect(await store.runs.idleThreadsWithQueue()).toContain(t);
      await store.runs.markEnded(t, queued.runId, { status: "cancelled", now: 43 });
      expect(
        await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: Date.now() }),
      ).toBeNull();
      expect(await store.runs.markEnded(t, uid("none"), { status: "failed", now: 44 })).toBeNull();
    });

    it("lists threads with a queue but no active run", async () => {
      const store = ctx.store();
      const [busy, idle, empty] = [uid("busy"), uid("idle"), uid("empty")];
      const active = await activeRun(store, busy);
      await store.runs.enqueue(newRun(busy), "enqueue");
      await store.runs.enqueue(newRun(idle), "enqueue");
      await store.threads.ensure(empty);
      let listed = await store.runs.idleThreadsWithQueue();
      expect(listed).toContain(idle);
      expect(listed).not.toContain(busy);
      expect(listed).not.toContain(empty);
      await store.threads.append(busy, active.fence, [runFinished(busy, active.run.runId)]);
      listed = await store.runs.idleThreadsWithQueue();
      expect(listed).toContain(busy);
    });
  });

  describe("leases and recovery", () => {
    it("runs.listStale finds expired leases (or every running run)", async () => {
      const store = ctx.store();
      const [a, b] = [uid("t"), uid("t")];
      const ra = await activeRun(store, a, { leaseMs: 100, now: 1_000 });
      const rb = await activeRun(store, b, { leaseMs: 500, now: 1_000 });
      await store.runs.enqueue(newRun(a), "enqueue");
      const ids = async (now: number, all?: boolean) =>
        (await store.runs.listStale(now, { all }))
          .map((r) => r.runId)
          .filter((id) => [ra.run.runId, rb.run.runId].includes(id));
      expect(await ids(1_050)).toEqual([]);
      expect(await ids(1_100)).toEqual([ra.run.runId]);
      expect((await ids(2_000)).sort()).toEqual([ra.run.runId, rb.run.runId].sort());
      expect((await ids(0, true)).sort()).toEqual([ra.run.runId, rb.run.runId].sort());
      await store.threads.append(a, ra.fence, [runFinished(a, ra.run.runId)]);
      expect(await ids(2_000)).toEqual([rb.run.runId]);
    });

    it("runs.takeOver only takes an expired lease unless forced, and only a running run", async () => {
      const store = ctx.store();
      const t = uid("t");
      const held = await activeRun(store, t, { owner: "a", leaseMs: 100, now: 1_000 });
      expect(
        await store.runs.takeOver(t, held.run.runId, { owner: "b", leaseMs: 100, now: 1_050 }),
      ).toBeNull();
      const forced = await store.runs.takeOver(t, held.run.runId, {
        owner: "b",
        leaseMs: 100,
        now: 1_050,
        force: true,
      });
      expect(forced!.fence.token).toBeGreaterThan(held.fence.token);
      // The takeover renewed the lease: a second non-forced takeover at once fails.
      expect(
        await store.runs.takeOver(t, held.run.runId, { owner: "c", leaseMs: 100, now: 1_100 }),
      ).toBeNull();
      const later = await store.runs.takeOver(t, held.run.runId, {
        owner: "c",
        leaseMs: 100,
        now: 1_200,
      });
      expect(later!.fence.token).toBeGreaterThan(forced!.fence.token);
      await rejectsWith(store.threads.append(t, forced!.fence, [custom(1)]), "LEASE_LOST");
      const queued = newRun(t);
      await store.runs.enqueue(queued, "enqueue");
      expect(
        await store.runs.takeOver(t, queued.runId, {
          owner: "d",
          leaseMs: 100,
          now: 9_999,
          force: true,
        }),
      ).toBeNull();
      expect(
        await store.runs.takeOver(t, uid("none"), {
          owner: "d",
          leaseMs: 100,
          now: 9_999,
          force: true,
        }),
      ).toBeNull();
      await store.threads.append(t, later!.fence, [runError("x", "INTERRUPTED")]);
      expect(
        await store.runs.takeOver(t, held.run.runId, {
          owner: "d",
          leaseMs: 100,
          now: 9_999,
          force: true,
        }),
      ).toBeNull();
    });
  });
}
