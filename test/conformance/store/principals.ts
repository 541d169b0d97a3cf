import { describe, expect, it } from "vitest";
import type { RunActor } from "../../../src/core/types.js";
import { activeRun, newRun, type SuiteContext, uid } from "./fixtures.js";

const bob: RunActor = { kind: "user", id: "bob" };
const admin: RunActor = { kind: "token", id: "token" };

/**
 * Who started and who cancelled a run (per-user access), and the trace context of the request
 * that asked for it, kept by every backend.
 */
export function principalTests(ctx: SuiteContext): void {
  describe("run principals", () => {
    it("a run keeps who started it; a queued run's cancel records who asked", async () => {
      const store = ctx.store();
      const t = uid("t");
      const run = { ...newRun(t), startedBy: bob };
      await store.runs.enqueue(run, "enqueue");
      expect((await store.runs.get(t, run.runId))?.startedBy).toEqual(bob);
      const cancelled = await store.runs.requestCancel(t, run.runId, admin);
      expect(cancelled).toMatchObject({ status: "cancelled", startedBy: bob, cancelledBy: admin });
      expect((await store.runs.list(t))[0]).toMatchObject({ startedBy: bob, cancelledBy: admin });
      // An ended run keeps its record: a later cancel changes nothing.
      await store.runs.requestCancel(t, run.runId, bob);
      expect((await store.runs.get(t, run.runId))?.cancelledBy).toEqual(admin);
    });

    it("a running run's cancel records the first asker; runs without principals have none", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { run } = await activeRun(store, t);
      expect(run.startedBy).toBeUndefined();
      await store.runs.requestCancel(t, run.runId, bob);
      await store.runs.requestCancel(t, run.runId, admin);
      const after = await store.runs.get(t, run.runId);
      expect(after).toMatchObject({ status: "running", cancelRequested: true, cancelledBy: bob });
      const plain = newRun(t);
      await store.runs.enqueue(plain, "enqueue");
      await store.runs.requestCancel(t, plain.runId);
      const unattributed = await store.runs.get(t, plain.runId);
      expect(unattributed?.cancelledBy).toBeUndefined();
      expect(unattributed?.status).toBe("cancelled");
    });

    it("a run keeps the trace context it was queued with, through its claim", async () => {
      const store = ctx.store();
      const t = uid("t");
      const trace = {
        traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01`,
        tracestate: "v=1",
      };
      const run = { ...newRun(t), trace };
      await store.runs.enqueue(run, "enqueue");
      expect((await store.runs.get(t, run.runId))?.trace).toEqual(trace);
      const claimed = await store.runs.claimNext(t, { owner: "o", leaseMs: 60_000, now: 1 });
      expect(claimed?.run).toMatchObject({ runId: run.runId, trace });
      expect((await store.runs.list(t))[0]?.trace).toEqual(trace);
      const plain = newRun(uid("t"));
      await store.runs.enqueue(plain, "enqueue");
      expect((await store.runs.get(plain.threadId, plain.runId))?.trace).toBeUndefined();
    });
  });
}
