import type { Message } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import {
  activeRun,
  custom,
  newRun,
  range,
  readAll,
  runFinished,
  runStarted,
  type SuiteContext,
  seqs,
  uid,
} from "./fixtures.js";

/** What a restart keeps: everything committed. */
export function restartTests(ctx: SuiteContext): void {
  describe("restart", () => {
    it("keeps the log, the view, runs, the queue, claims and schedules", async () => {
      const before = ctx.store();
      const t = uid("t");
      const done = await activeRun(before, t);
      const m: Message = { id: "m1", role: "user", content: "hi" };
      await before.append(t, done.fence, [runStarted(t, done.run.runId), custom(1)], {
        upsertMessages: [m],
        state: { value: { turns: 1 } },
      });
      await before.append(t, done.fence, [runFinished(t, done.run.runId)]);
      await before.enqueueRun(newRun(t), "enqueue");
      const running = (await before.claimNextRun(t, "x", 60_000, 1_000))!;
      await before.append(t, running.fence, [runStarted(t, running.run.runId)]);
      const queued = [newRun(t), newRun(t)];
      for (const r of queued) await before.enqueueRun(r, "enqueue");
      const key = uid("claim");
      expect(await before.claim(key, "x", 1)).toBe(true);
      await before.putSchedule({ id: "sched", every: 1000 });
      const log = await readAll(before, t);
      const view = await before.getThread(t);
      const runs = await before.listRuns(t);

      const after = await ctx.restart();
      expect(await readAll(after, t)).toEqual(log);
      expect(await after.getThread(t)).toEqual(view);
      expect(await after.listRuns(t)).toEqual(runs);
      expect(await after.claim(key, "y", 2)).toBe(false);
      expect(await after.getSchedule("sched")).toEqual({ id: "sched", every: 1000 });
      expect((await after.listStaleRuns(0, { all: true })).map((r) => r.runId)).toContain(
        running.run.runId,
      );
      // The lease and its fence survive: the holder (if alive) can go on writing.
      const more = await after.append(t, running.fence, [custom(2)]);
      expect(seqs(more)).toEqual([log.length + 1]);
      expect(await after.claimNextRun(t, "y", 1_000, 2_000)).toBeNull();
      await after.append(t, running.fence, [runFinished(t, running.run.runId)]);
      const order: string[] = [];
      for (const _ of queued) {
        const c = (await after.claimNextRun(t, "y", 1_000, 2_000))!;
        order.push(c.run.runId);
        await after.markRunEnded(t, c.run.runId, "succeeded", 2_001);
      }
      expect(order).toEqual(queued.map((r) => r.runId));
      expect(seqs(await readAll(after, t))).toEqual(range(1, log.length + 2));
    });
  });
}
