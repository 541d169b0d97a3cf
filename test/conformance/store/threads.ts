import type { Message } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import {
  activeRun,
  custom,
  newRun,
  nextMillisecond,
  rejectsWith,
  runFinished,
  runStarted,
  type SuiteContext,
  seqs,
  uid,
} from "./fixtures.js";

const msg = (id: string, content: string): Message => ({ id, role: "user", content });

/** A thread's own data: its head, metadata patches, and deletion of everything tied to it. */
export function threadTests(ctx: SuiteContext): void {
  describe("thread head", () => {
    it("is the summary without messages or state, and null for an unknown thread", async () => {
      const store = ctx.store();
      const t = uid("t");
      expect(await store.threads.head(t)).toBeNull();
      await store.threads.ensure(t, { title: "x" });
      const { fence, run } = await activeRun(store, t);
      await store.threads.append(t, fence, [runStarted(t, run.runId), custom(1)], {
        upsertMessages: [msg("m", "hi")],
        state: { value: { big: "y".repeat(1000) } },
      });
      const head = (await store.threads.head(t))!;
      const { messages, state, ...summary } = (await store.threads.get(t))!;
      expect(head).toEqual(summary);
      expect(head).toMatchObject({ threadId: t, lastSeq: 2, activeRunId: run.runId });
      expect(head).not.toHaveProperty("messages");
      expect(head).not.toHaveProperty("state");
      expect(head.interrupts).toEqual([]);
      expect(messages).toHaveLength(1);
      expect(state).toEqual({ big: "y".repeat(1000) });
    });
  });

  describe("threads.update", () => {
    it("merges a metadata patch (RFC 7386), bumps updatedAt and leaves the log alone", async () => {
      const store = ctx.store();
      const t = uid("t");
      const created = await store.threads.ensure(t, {
        name: "old",
        tags: { a: 1, b: 2 },
        keep: true,
      });
      const { fence } = await activeRun(store, t);
      await store.threads.append(t, fence, [custom(1)], { upsertMessages: [msg("m", "hi")] });
      await nextMillisecond();
      const updated = await store.threads.update(t, {
        metadata: { name: "new", archived: true, tags: { b: null, c: [1, 2] }, keep: null },
      });
      const expected = { name: "new", archived: true, tags: { a: 1, c: [1, 2] } };
      expect(updated).toMatchObject({ threadId: t, lastSeq: 1, metadata: expected });
      expect(updated!.createdAt).toBe(created.createdAt);
      expect(updated!.updatedAt).toBeGreaterThan(created.updatedAt);
      const view = (await store.threads.get(t))!;
      expect(view.metadata).toEqual(expected);
      expect(view.messages).toEqual([msg("m", "hi")]);
      expect(seqs(await store.threads.read(t, { after: 0 }))).toEqual([1]);
      expect(await store.threads.head(t)).toEqual(updated);
      // An empty patch changes nothing but the time.
      expect((await store.threads.update(t, {}))!.metadata).toEqual(expected);
    });

    it("moves the thread to the front of listThreads", async () => {
      const store = ctx.store();
      const [a, b] = [uid("ua"), uid("ub")];
      await store.threads.ensure(a);
      await nextMillisecond();
      await store.threads.ensure(b);
      await nextMillisecond();
      await store.threads.update(a, { metadata: { name: "renamed" } });
      const ids = (await store.threads.list({ limit: 1000 })).map((s) => s.threadId);
      expect(ids.filter((id) => id === a || id === b)).toEqual([a, b]);
    });

    it("loses no patch when many race, and returns null for an unknown thread", async () => {
      const store = ctx.store();
      const t = uid("t");
      await store.threads.ensure(t);
      const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
      await Promise.all(keys.map((k, i) => store.threads.update(t, { metadata: { [k]: i } })));
      expect((await store.threads.head(t))!.metadata).toEqual(
        Object.fromEntries(keys.map((k, i) => [k, i])),
      );
      expect(await store.threads.update(uid("none"), { metadata: { x: 1 } })).toBeNull();
      expect(await store.threads.head(uid("none"))).toBeNull();
    });
  });

  describe("threads.delete", () => {
    it("removes the thread, its log, view, runs, queue and lease; nothing of it remains", async () => {
      const store = ctx.store();
      const t = uid("t");
      const other = uid("t");
      await store.threads.ensure(t, { name: "doomed" });
      const done = await activeRun(store, t);
      await store.threads.append(t, done.fence, [runStarted(t, done.run.runId), custom(1)], {
        upsertMessages: [msg("m", "hi")],
        state: { value: { n: 1 } },
      });
      await store.threads.append(t, done.fence, [runFinished(t, done.run.runId)]);
      await store.runs.enqueue(newRun(t), "enqueue");
      const running = (await store.runs.claimNext(t, {
        owner: "owner",
        leaseMs: 100,
        now: 1_000,
      }))!;
      await store.threads.append(t, running.fence, [runStarted(t, running.run.runId)]);
      const queued = newRun(t);
      await store.runs.enqueue(queued, "enqueue");
      const kept = await activeRun(store, other);
      await store.threads.append(other, kept.fence, [custom("kept")]);
      const runIds = [done.run.runId, running.run.runId, queued.runId];

      expect(await store.threads.delete(t)).toBe(true);

      expect(await store.threads.head(t)).toBeNull();
      expect(await store.threads.get(t)).toBeNull();
      expect(await store.threads.read(t, { after: 0 })).toEqual([]);
      expect((await store.threads.list({ limit: 1000 })).map((s) => s.threadId)).not.toContain(t);
      expect(await store.runs.list(t)).toEqual([]);
      for (const runId of runIds) expect(await store.runs.get(t, runId)).toBeNull();
      const stale = await store.runs.listStale(Number.MAX_SAFE_INTEGER, { all: true });
      expect(stale.filter((r) => r.threadId === t)).toEqual([]);
      expect(await store.runs.idleThreadsWithQueue()).not.toContain(t);
      expect(await store.runs.claimNext(t, { owner: "o", leaseMs: 1_000, now: 2_000 })).toBeNull();
      await rejectsWith(store.threads.append(t, running.fence, [custom("late")]), "LEASE_LOST");
      expect((await store.runs.renew(t, running.fence, { leaseMs: 1_000, now: 2_000 })).ok).toBe(
        false,
      );
      expect(
        await store.runs.takeOver(t, running.run.runId, {
          owner: "o",
          leaseMs: 1_000,
          now: 9_999,
          force: true,
        }),
      ).toBeNull();
      expect(await store.runs.requestCancel(t, queued.runId)).toBeNull();
      expect(
        await store.runs.markEnded(t, queued.runId, { status: "cancelled", now: 3_000 }),
      ).toBeNull();
      expect(await store.threads.update(t, { metadata: { x: 1 } })).toBeNull();
      expect(await store.threads.delete(t)).toBe(false);

      // Other threads are untouched.
      expect(seqs(await store.threads.read(other, { after: 0 }))).toEqual([1]);
      expect((await store.threads.get(other))!.activeRunId).toBe(kept.run.runId);
    });

    it("lets the id start over: an empty thread, seqs from 1, run ids free again", async () => {
      const store = ctx.store();
      const t = uid("t");
      const first = await activeRun(store, t);
      await store.threads.append(t, first.fence, [
        runStarted(t, first.run.runId),
        custom(1),
        custom(2),
      ]);
      await store.threads.append(t, first.fence, [runFinished(t, first.run.runId)]);
      expect(await store.threads.delete(t)).toBe(true);
      await nextMillisecond();

      const again = await store.threads.ensure(t, { name: "second life" });
      expect(again).toMatchObject({
        lastSeq: 0,
        activeRunId: null,
        metadata: { name: "second life" },
      });
      expect(await store.threads.get(t)).toMatchObject({ messages: [], state: {} });
      // The old run id (the exactly-once claim of a tick or a delivery) is free again.
      const reused = { ...newRun(t), runId: first.run.runId };
      await store.runs.enqueue(reused, "reject");
      const claimed = (await store.runs.claimNext(t, {
        owner: "o",
        leaseMs: 60_000,
        now: Date.now(),
      }))!;
      expect(claimed.run.runId).toBe(first.run.runId);
      await rejectsWith(store.threads.append(t, first.fence, [custom("old fence")]), "LEASE_LOST");
      expect(
        seqs(await store.threads.append(t, claimed.fence, [runStarted(t, reused.runId)])),
      ).toEqual([1]);
    });
  });
}
