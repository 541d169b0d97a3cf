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
      await before.threads.append(t, done.fence, [runStarted(t, done.run.runId), custom(1)], {
        upsertMessages: [m],
        state: { value: { turns: 1 } },
      });
      await before.threads.append(t, done.fence, [runFinished(t, done.run.runId)]);
      await before.runs.enqueue(newRun(t), "enqueue");
      const running = (await before.runs.claimNext(t, {
        owner: "x",
        leaseMs: 60_000,
        now: 1_000,
      }))!;
      await before.threads.append(t, running.fence, [runStarted(t, running.run.runId)]);
      const queued = [newRun(t), newRun(t)];
      for (const r of queued) await before.runs.enqueue(r, "enqueue");
      const key = uid("claim");
      expect(await before.records.claim(key, { owner: "x", now: 1, leaseMs: 60_000 })).toBe(true);
      await before.records.putSchedule({ id: "sched", every: 1000 });
      const log = await readAll(before, t);
      const view = await before.threads.get(t);
      const runs = await before.runs.list(t);

      const after = await ctx.restart();
      expect(await readAll(after, t)).toEqual(log);
      expect(await after.threads.get(t)).toEqual(view);
      expect(await after.runs.list(t)).toEqual(runs);
      expect(await after.records.claim(key, { owner: "y", now: 2, leaseMs: 60_000 })).toBe(false);
      expect(await after.records.getSchedule("sched")).toEqual({ id: "sched", every: 1000 });
      expect((await after.runs.listStale(0, { all: true })).map((r) => r.runId)).toContain(
        running.run.runId,
      );
      // The lease and its fence survive: the holder (if alive) can go on writing.
      const more = await after.threads.append(t, running.fence, [custom(2)]);
      expect(seqs(more)).toEqual([log.length + 1]);
      expect(await after.runs.claimNext(t, { owner: "y", leaseMs: 1_000, now: 2_000 })).toBeNull();
      await after.threads.append(t, running.fence, [runFinished(t, running.run.runId)]);
      const order: string[] = [];
      for (const _ of queued) {
        const c = (await after.runs.claimNext(t, { owner: "y", leaseMs: 1_000, now: 2_000 }))!;
        order.push(c.run.runId);
        await after.runs.markEnded(t, c.run.runId, { status: "succeeded", now: 2_001 });
      }
      expect(order).toEqual(queued.map((r) => r.runId));
      expect(seqs(await readAll(after, t))).toEqual(range(1, log.length + 2));
    });
  });
}
