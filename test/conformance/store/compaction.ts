import type { BaseEvent, Message } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import { FanOut } from "../../../src/core/fanout.js";
import { Follow, type FollowItem } from "../../../src/core/follow.js";
import { RetentionSweeper } from "../../../src/core/retention-sweep.js";
import type { ThreadStore } from "../../../src/core/store.js";
import { CUSTOM_EVENT_RESET } from "../../../src/protocol.js";
import { verifyWithAgUi } from "../../helpers/verify.js";
import {
  activeRun,
  custom,
  newRun,
  nextMillisecond,
  range,
  readAll,
  runFinished,
  runStarted,
  type SuiteContext,
  seqs,
  uid,
} from "./fixtures.js";

const msg = (id: string, content: string): Message => ({ id, role: "user", content });

/**
 * Appends `count` complete runs (RUN_STARTED, a message, CUSTOM, RUN_FINISHED: 3 events each)
 * and returns their run ids and the seq of each run's terminal event.
 */
async function completeRuns(store: ThreadStore, t: string, count: number, tag = "r") {
  const runs: { runId: string; endSeq: number }[] = [];
  for (let i = 0; i < count; i++) {
    const { fence, run } = await activeRun(store, t);
    await store.threads.append(t, fence, [runStarted(t, run.runId), custom(`${tag}${i}`)], {
      upsertMessages: [msg(`${tag}${i}`, `message of run ${i}`)],
    });
    const [end] = await store.threads.append(t, fence, [runFinished(t, run.runId)]);
    runs.push({ runId: run.runId, endSeq: end!.seq });
  }
  return runs;
}

/** Follows until `done` says the items so far are enough (or the stream ends). */
async function collect(
  store: ThreadStore,
  t: string,
  opts: ConstructorParameters<typeof Follow>[3],
  done: (items: FollowItem[]) => boolean,
): Promise<{ follow: Follow; items: FollowItem[] }> {
  const follow = new Follow(store, new FanOut(store), t, opts);
  const items: FollowItem[] = [];
  for await (const item of follow) {
    items.push(item);
    if (done(items)) break;
  }
  follow.close();
  return { follow, items };
}

/** Compaction: the horizon, what goes with it, and what a follower behind it gets. */
export function compactionTests(ctx: SuiteContext): void {
  describe("threads.compact", () => {
    it("removes events, messages and ended runs up to the horizon; the rest stays", async () => {
      const store = ctx.store();
      const t = uid("t");
      const runs = await completeRuns(store, t, 3);
      const queued = newRun(t);
      await store.runs.enqueue(queued, "enqueue");
      const before = (await store.threads.head(t))!;
      expect(before.horizon).toBe(0);
      await nextMillisecond();

      const result = await store.threads.compact(t, {
        horizon: runs[1]!.endSeq,
        endedBefore: 0,
      });
      expect(result).toEqual({ horizon: 6, events: 6, messages: 2, runs: 2 });

      const head = (await store.threads.head(t))!;
      expect(head).toMatchObject({ horizon: 6, lastSeq: 9 });
      // Compaction is not activity: idle-thread retention reads updatedAt.
      expect(head.updatedAt).toBe(before.updatedAt);
      expect((await store.threads.get(t))!.messages).toEqual([msg("r2", "message of run 2")]);
      expect(seqs(await readAll(store, t))).toEqual([7, 8, 9]);
      expect(seqs(await store.threads.read(t, { after: 2, limit: 2 }))).toEqual([7, 8]);
      expect(seqs(await store.threads.read(t, { after: 7 }))).toEqual([8, 9]);
      expect(await store.runs.get(t, runs[0]!.runId)).toBeNull();
      expect(await store.runs.get(t, runs[1]!.runId)).toBeNull();
      expect((await store.runs.get(t, runs[2]!.runId))!.status).toBe("succeeded");
      expect((await store.runs.get(t, queued.runId))!.status).toBe("queued");
      expect((await store.runs.list(t)).map((r) => r.runId)).toEqual([
        queued.runId,
        runs[2]!.runId,
      ]);
      const listed = (await store.threads.list({ limit: 1000 })).find((s) => s.threadId === t);
      expect(listed?.horizon).toBe(6);
    });

    it("retention keeps the newest N runs by start, not by creation (an interrupting run starts first)", async () => {
      const store = ctx.store();
      const t = uid("t");
      const a = await activeRun(store, t);
      await store.threads.append(t, a.fence, [runStarted(t, a.run.runId)]);
      const b = newRun(t);
      await store.runs.enqueue(b, "enqueue");
      // Created after b, started before it.
      const c = newRun(t);
      await store.runs.enqueue(c, "interrupt");
      await store.threads.append(t, a.fence, [runFinished(t, a.run.runId)]);
      for (const next of [c, b]) {
        const claimed = await store.runs.claimNext(t, { owner: "o", leaseMs: 60_000, now: 0 });
        expect(claimed?.run.runId).toBe(next.runId);
        await store.threads.append(t, claimed!.fence, [
          runStarted(t, next.runId),
          runFinished(t, next.runId),
        ]);
      }
      const start = async (runId: string) => (await store.runs.get(t, runId))!.startSeq;
      const starts = [await start(b.runId), await start(c.runId), await start(a.run.runId)];
      expect(starts).toEqual([5, 3, 1]);
      // The store's own query, where it has one (the sweep reads the runs otherwise).
      if (store.runs.nthNewestStartSeq) {
        for (const [n, seq] of [
          [1, 5],
          [2, 3],
          [3, 1],
          [4, null],
          [0, null],
        ] as const) {
          expect(await store.runs.nthNewestStartSeq(t, n)).toBe(seq);
        }
        expect(await store.runs.nthNewestStartSeq(uid("none"), 1)).toBeNull();
      }
      const sweeper = new RetentionSweeper({
        store,
        defaults: { keepRuns: 2 },
        instanceId: "conformance",
        deleteThread: async () => undefined,
        intervalMs: 0,
      });
      expect(await sweeper.sweep()).toMatchObject({ runs: 1 });
      const kept = (await store.runs.list(t)).map((r) => r.runId);
      expect(kept.sort()).toEqual([b.runId, c.runId].sort());
      expect((await store.threads.head(t))!.horizon).toBe(2);
    });

    it("never reuses a seq, never lowers the horizon, clamps it to the log", async () => {
      const store = ctx.store();
      const t = uid("t");
      const runs = await completeRuns(store, t, 2);
      await store.threads.compact(t, { horizon: runs[1]!.endSeq, endedBefore: 0 });
      expect(await readAll(store, t)).toEqual([]);
      // Lower or equal: nothing happens.
      expect(await store.threads.compact(t, { horizon: 3, endedBefore: 0 })).toEqual({
        horizon: 6,
        events: 0,
        messages: 0,
        runs: 0,
      });
      // Beyond the log: clamped to the last seq.
      const more = await completeRuns(store, t, 1, "late");
      expect(seqs(await readAll(store, t))).toEqual([7, 8, 9]);
      expect((await store.threads.get(t))!.messages.map((m) => m.id)).toEqual(["late0"]);
      const clamped = await store.threads.compact(t, { horizon: 1_000, endedBefore: 0 });
      expect(clamped).toMatchObject({ horizon: 9, events: 3, runs: 1 });
      expect(await store.runs.get(t, more[0]!.runId)).toBeNull();
      const next = await activeRun(store, t);
      const [first] = await store.threads.append(t, next.fence, [runStarted(t, next.run.runId)]);
      expect(first!.seq).toBe(10);
      expect(seqs(await store.threads.read(t, { after: 0 }))).toEqual([10]);
      expect(await store.threads.compact(uid("none"), { horizon: 1, endedBefore: 0 })).toBeNull();
    });

    it("removes runs that ended without starting only when they ended before endedBefore", async () => {
      const store = ctx.store();
      const t = uid("t");
      await completeRuns(store, t, 1);
      const early = newRun(t);
      await store.runs.enqueue(early, "enqueue");
      await store.runs.markEnded(t, early.runId, { status: "cancelled", now: 1_000 });
      const late = newRun(t);
      await store.runs.enqueue(late, "enqueue");
      await store.runs.markEnded(t, late.runId, { status: "cancelled", now: 5_000 });
      const result = await store.threads.compact(t, { horizon: 3, endedBefore: 2_000 });
      expect(result).toMatchObject({ horizon: 3, runs: 2 });
      expect(await store.runs.get(t, early.runId)).toBeNull();
      expect((await store.runs.get(t, late.runId))!.status).toBe("cancelled");
    });

    it("keeps a message a later run updates with the run that first wrote it", async () => {
      const store = ctx.store();
      const t = uid("t");
      const one = await activeRun(store, t);
      await store.threads.append(t, one.fence, [runStarted(t, one.run.runId)], {
        upsertMessages: [msg("a", "v1"), msg("b", "v1")],
      });
      await store.threads.append(t, one.fence, [runFinished(t, one.run.runId)]);
      const two = await activeRun(store, t);
      await store.threads.append(t, two.fence, [runStarted(t, two.run.runId)], {
        upsertMessages: [msg("a", "v2"), msg("c", "v1")],
      });
      await store.threads.append(t, two.fence, [runFinished(t, two.run.runId)]);
      await store.threads.compact(t, { horizon: 2, endedBefore: 0 });
      expect((await store.threads.get(t))!.messages).toEqual([msg("c", "v1")]);
      // A later MESSAGES_SNAPSHOT-style replacement writes its messages anew.
      const three = await activeRun(store, t);
      await store.threads.append(t, three.fence, [runStarted(t, three.run.runId)], {
        replaceMessages: [msg("c", "v1"), msg("d", "v1")],
      });
      await store.threads.append(t, three.fence, [runFinished(t, three.run.runId)]);
      await store.threads.compact(t, { horizon: 4, endedBefore: 0 });
      expect((await store.threads.get(t))!.messages.map((m) => m.id)).toEqual(["c", "d"]);
    });
  });

  describe("a follower behind the horizon (PROTOCOL.md §2.9)", () => {
    const isEnd = (items: FollowItem[]) => items.at(-1)?.event.type === "RUN_FINISHED";

    it("gets a reset snapshot at the thread's last seq, then every later event, valid AG-UI", async () => {
      const store = ctx.store();
      const t = uid("t");
      const runs = await completeRuns(store, t, 3);
      await store.threads.compact(t, { horizon: runs[1]!.endSeq, endedBefore: 0 });
      for (const opts of [
        { after: 2, replay: "full" as const },
        { after: 0, replay: "full" as const },
      ]) {
        const { follow, items } = await collect(store, t, { ...opts, live: false }, () => false);
        expect(follow.reset).toEqual({ after: opts.after, horizon: 6, seq: 9 });
        expect(items.map((i) => i.kind)).toEqual([
          "snapshot",
          "snapshot",
          "snapshot",
          "snapshot",
          "snapshot",
        ]);
        const reset = items[1]!.event as BaseEvent & { name?: string; value?: unknown };
        expect(reset).toMatchObject({
          type: "CUSTOM",
          name: CUSTOM_EVENT_RESET,
          value: { after: opts.after, horizon: 6, seq: 9 },
        });
        const messages = items[2]!.event as BaseEvent & { messages?: Message[] };
        expect(messages.messages?.map((m) => m.id)).toEqual(["r2"]);
        expect(items.at(-1)!.seq).toBe(9);
        await verifyWithAgUi(items.map((i) => i.event));
      }

      // Live: the reset, then the next run's events, in order, without a gap.
      const follow = new Follow(store, new FanOut(store), t, { after: 1, replay: "full" });
      // Opened before the next run is appended: a snapshot taken after it would stand for it.
      await follow.open();
      const got: FollowItem[] = [];
      const reading = (async () => {
        for await (const item of follow) {
          got.push(item);
          if (item.kind === "event" && isEnd(got)) return;
        }
      })();
      const next = await activeRun(store, t);
      await store.threads.append(t, next.fence, [runStarted(t, next.run.runId), custom("new")]);
      await store.threads.append(t, next.fence, [runFinished(t, next.run.runId)]);
      await reading;
      follow.close();
      expect(got.filter((i) => i.kind === "event").map((i) => i.seq)).toEqual(range(10, 12));
      await verifyWithAgUi(got.map((i) => i.event));
    });

    it("resumes normally from a cursor at or after the horizon, and from 0 compact", async () => {
      const store = ctx.store();
      const t = uid("t");
      const runs = await completeRuns(store, t, 3);
      await store.threads.compact(t, { horizon: runs[1]!.endSeq, endedBefore: 0 });
      const atHorizon = await collect(store, t, { after: 6, live: false }, () => false);
      expect(atHorizon.follow.reset).toBeUndefined();
      expect(atHorizon.items.map((i) => [i.kind, i.seq])).toEqual([
        ["event", 7],
        ["event", 8],
        ["event", 9],
      ]);
      const fresh = await collect(store, t, { after: 0, live: false }, () => false);
      expect(fresh.follow.reset).toBeUndefined();
      expect(fresh.items.every((i) => i.kind === "snapshot")).toBe(true);
    });

    it("re-opens a run in progress after a reset snapshot", async () => {
      const store = ctx.store();
      const t = uid("t");
      const runs = await completeRuns(store, t, 2);
      await store.threads.compact(t, { horizon: runs[1]!.endSeq, endedBefore: 0 });
      const busy = await activeRun(store, t);
      await store.threads.append(t, busy.fence, [
        runStarted(t, busy.run.runId),
        { type: "TEXT_MESSAGE_START", messageId: "m", role: "assistant" } as BaseEvent,
        { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "hi" } as BaseEvent,
      ]);
      const { follow, items } = await collect(
        store,
        t,
        { after: 3, replay: "full", live: false },
        () => false,
      );
      expect(follow.reset).toMatchObject({ after: 3, horizon: 6, seq: 9 });
      expect(items.map((i) => i.kind)).toEqual([...Array(5).fill("snapshot"), "reopen", "reopen"]);
      expect(items.at(-1)!.seq).toBe(9);
      await verifyWithAgUi([
        ...items.map((i) => i.event),
        { type: "TEXT_MESSAGE_END", messageId: "m" } as BaseEvent,
        runFinished(t, busy.run.runId),
      ]);
    });

    it("ends a follower whose next events are compacted away while it reads", async () => {
      const store = ctx.store();
      const t = uid("t");
      const runs = await completeRuns(store, t, 4);
      const follow = new Follow(store, new FanOut(store), t, { after: 3, replay: "full" });
      await follow.open();
      expect(follow.reset).toBeUndefined();
      await store.threads.compact(t, { horizon: runs[2]!.endSeq, endedBefore: 0 });
      const items: FollowItem[] = [];
      for await (const item of follow) items.push(item);
      expect(items).toEqual([]);
      expect(follow.compacted).toBe(true);
    });
  });
}
