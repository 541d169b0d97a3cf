import { describe, expect, it } from "vitest";
import type { FollowItem } from "../../../src/core/follow-item.js";
import {
  activeRun,
  custom,
  listen,
  newRun,
  range,
  rejectsWith,
  type SuiteContext,
  seqs,
  uid,
  waitFor,
} from "./fixtures.js";
import { followRace } from "./live.js";
import { expectGaplessConcurrentAppends } from "./log.js";

/** Two live instances on the same data (two processes on one file / database). */
export function sharedTests(ctx: SuiteContext): void {
  describe("two instances on the same data", () => {
    it("keeps seq gapless when both append concurrently", async () => {
      await expectGaplessConcurrentAppends(ctx, 2);
    });

    it("subscribers see the other instance's appends once each, in order", async () => {
      const a = ctx.store();
      const b = await ctx.peer();
      const t = uid("t");
      const { fence } = await activeRun(a, t);
      const onA: FollowItem[] = [];
      const onB: FollowItem[] = [];
      const offs = [
        await listen(a, t, (r) => onA.push(...r)),
        await listen(b, t, (r) => onB.push(...r)),
      ];
      // Alternating writers: each instance's own commits interleave with the other's.
      for (let i = 1; i <= 30; i++) {
        await (i % 2 ? a : b).threads.append(
          t,
          fence,
          range(1, 1 + (i % 3)).map((j) => custom(`${i}.${j}`)),
        );
      }
      const total = (await a.threads.get(t))!.lastSeq;
      await waitFor(() => onA.length >= total && onB.length >= total, "both subscribers");
      for (const off of offs) off();
      expect(seqs(onA)).toEqual(range(1, total));
      expect(seqs(onB)).toEqual(range(1, total));
      expect(onB.map((r) => r.event)).toEqual(onA.map((r) => r.event));
    });

    it("replay then live tail across instances: no gap, no duplicate", async () => {
      const b = await ctx.peer();
      await followRace([ctx.store(), b], b);
    });

    it("only one instance wins a queued run or a claim key", async () => {
      const a = ctx.store();
      const b = await ctx.peer();
      const threads = range(1, 5).map(() => uid("q"));
      for (const t of threads) {
        await a.runs.enqueue(newRun(t), "enqueue");
        await b.runs.enqueue(newRun(t), "enqueue");
      }
      const claims = await Promise.all(
        threads.flatMap((t) =>
          [a, b, a, b].map((s, i) =>
            s.runs.claimNext(t, { owner: `o${i}`, leaseMs: 1_000, now: 1 }),
          ),
        ),
      );
      expect(claims.filter(Boolean)).toHaveLength(threads.length);
      const key = uid("key");
      const won = await Promise.all(
        range(1, 10).map((i) =>
          (i % 2 ? a : b).records.claim(key, { owner: "o", now: 1, leaseMs: 60_000 }),
        ),
      );
      expect(won.filter(Boolean)).toHaveLength(1);
    });

    it("a takeover on one instance fences the holder on the other", async () => {
      const a = ctx.store();
      const b = await ctx.peer();
      const t = uid("t");
      const held = await activeRun(a, t, { leaseMs: 10, now: 1 });
      const taken = (await b.runs.takeOver(t, held.run.runId, {
        owner: "b",
        leaseMs: 1_000,
        now: 100,
      }))!;
      await rejectsWith(a.threads.append(t, held.fence, [custom(1)]), "LEASE_LOST");
      expect((await a.threads.append(t, taken.fence, [custom(2)]))[0]!.seq).toBe(1);
    });
  });
}
