import { describe, expect, it } from "vitest";
import { FanOut } from "../../../src/core/fanout.js";
import { Follow } from "../../../src/core/follow.js";
import type { FollowItem } from "../../../src/core/follow-item.js";
import type { ThreadStore } from "../../../src/core/store.js";
import {
  activeRun,
  custom,
  listen,
  range,
  runStarted,
  type SuiteContext,
  seqs,
  uid,
  waitFor,
  yieldToLoop,
} from "./fixtures.js";

/** Live subscriptions, and replay + live tail handed over without gap or duplicate. */
export function liveTests(ctx: SuiteContext): void {
  describe("live subscription", () => {
    it("delivers each committed batch once, in order, after it is readable", async () => {
      const store = ctx.store();
      const t = uid("t");
      const other = uid("t");
      const { fence } = await activeRun(store, t);
      const otherRun = await activeRun(store, other);
      const received: FollowItem[] = [];
      const readable: Promise<boolean>[] = [];
      const off = await listen(store, t, (batch) => {
        received.push(...batch);
        const first = batch[0]!.seq;
        readable.push(
          store.threads
            .read(t, { after: first - 1, limit: batch.length })
            .then((r) => r.length === batch.length),
        );
      });
      await store.threads.append(t, fence, [custom(1)]);
      await store.threads.append(other, otherRun.fence, [custom("elsewhere")]);
      await store.threads.append(t, fence, [custom(2), custom(3)]);
      await store.threads.append(t, fence, [custom(4), custom(5), custom(6)]);
      await waitFor(() => received.length >= 6, "six live records");
      expect(seqs(received)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await Promise.all(readable)).toEqual(readable.map(() => true));

      // After unsubscribing, nothing more arrives (a second listener shows the append landed).
      off();
      const later: FollowItem[] = [];
      const offLater = await listen(store, t, (batch) => later.push(...batch));
      await store.threads.append(t, fence, [custom(7)]);
      await waitFor(() => later.length === 1, "the later listener");
      offLater();
      expect(seqs(received)).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it("hands every listener a contiguous stream even when a listener appends", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      const first: number[] = [];
      const second: number[] = [];
      let echoed = false;
      const offs = [
        await listen(store, t, (batch) => {
          first.push(...seqs(batch));
          // A listener that writes from inside the callback must not reorder deliveries.
          if (!echoed) {
            echoed = true;
            void store.threads.append(t, fence, [custom("echo")]);
          }
        }),
        await listen(store, t, (batch) => second.push(...seqs(batch))),
      ];
      await store.threads.append(t, fence, [custom(1), custom(2)]);
      await store.threads.append(t, fence, [custom(3)]);
      await waitFor(() => first.length === 4 && second.length === 4, "four records each");
      for (const off of offs) off();
      expect(first).toEqual([1, 2, 3, 4]);
      expect(second).toEqual([1, 2, 3, 4]);
    });

    it("replay then live tail: no gap, no duplicate while appends race", async () => {
      await followRace([ctx.store()], ctx.store());
    });
  });
}

/**
 * Writers append a run of 400 events in small batches (alternating over `writers`) while
 * followers on `follower` attach at different moments and cursors; each must receive exactly
 * the seqs after its cursor, in order.
 */
export async function followRace(writers: ThreadStore[], follower: ThreadStore): Promise<void> {
  const writer = writers[0]!;
  const t = uid("follow");
  const { fence, run } = await activeRun(writer, t);
  const fanout = new FanOut(follower);
  const total = 400;
  const followers: Array<{ after: number; got: Promise<number[]> }> = [];
  const attach = (after: number) => {
    const follow = new Follow(follower, fanout, t, { after, replay: "full" });
    followers.push({ after, got: collect(follow, total) });
  };
  const pending: Promise<unknown>[] = [writer.threads.append(t, fence, [runStarted(t, run.runId)])];
  let written = 1;
  await pending[0];
  attach(0);
  attach(1);
  for (let batch = 0; written < total; batch++) {
    const n = Math.min(1 + (batch % 5), total - written);
    const values = range(written + 1, written + n);
    written += n;
    // Not awaited: several appends are in flight while followers attach and replay.
    pending.push(writers[batch % writers.length]!.threads.append(t, fence, values.map(custom)));
    if (batch % 40 === 7) {
      await Promise.all(pending);
      attach(0);
      attach(Math.floor(written / 2));
      attach(written);
    }
    if (batch % 3 === 0) await yieldToLoop();
  }
  await Promise.all(pending);
  for (const f of followers) {
    expect(await f.got).toEqual(range(f.after + 1, total));
  }
  expect(fanout.followerCount()).toBe(0);
  fanout.close();
}

/** The seqs of log events a follower receives, until `last`. */
async function collect(follow: Follow, last: number): Promise<number[]> {
  const got: number[] = [];
  try {
    if (follow.position >= last) return got;
    for await (const item of follow) {
      if (item.kind !== "event") continue;
      got.push(item.seq);
      if (item.seq >= last) break;
    }
  } finally {
    follow.close();
  }
  return got;
}
