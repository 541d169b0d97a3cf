import { describe, expect, it } from "vitest";
import type { RunActor } from "../../../src/core/types.js";
import { activeRun, newRun, type SuiteContext, uid } from "./fixtures.js";

const bob: RunActor = { kind: "user", id: "bob" };
const admin: RunActor = { kind: "token", id: "token" };

/** Who started and who cancelled a run (per-user access), kept by every backend. */
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
  });
}
