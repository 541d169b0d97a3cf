import type { BaseEvent, Message } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import type { FollowItem } from "../../../src/core/follow-item.js";
import type { CommitNotice, ThreadStore } from "../../../src/core/store.js";
import {
  activeRun,
  custom,
  listen,
  newRun,
  range,
  rejectsWith,
  runFinished,
  runStarted,
  type SuiteContext,
  seqs,
  uid,
  waitFor,
} from "./fixtures.js";

/** Events JSON cannot hold; each fails a whole batch wherever it stands in it. */
function unstorable(): Array<[string, BaseEvent]> {
  const cycle: Record<string, unknown> = { type: "CUSTOM", name: "cycle" };
  cycle.value = cycle;
  return [
    ["a BigInt", custom({ n: 10n })],
    ["a cycle", cycle as unknown as BaseEvent],
    ["not an object", null as unknown as BaseEvent],
    ["no type", { name: "x" } as unknown as BaseEvent],
  ];
}

/** An event whose JSON round trip differs from it in every way JSON can differ. */
const lossy = (): BaseEvent =>
  custom({
    date: new Date(0),
    missing: undefined,
    nan: Number.NaN,
    list: [1, undefined, "x"],
    fn: () => 1,
    nested: { at: new Date(1_000), keep: "yes" },
  });

/** The guarantees of `ThreadStore` that hold whatever a caller or a listener does. */
export function guaranteeTests(ctx: SuiteContext): void {
  describe("append is atomic on any failure", () => {
    for (const [what, bad] of unstorable()) {
      it(`a batch with ${what} as its third event changes nothing and tells no listener`, async () => {
        const store = ctx.store();
        const t = uid("t");
        const { run, fence } = await activeRun(store, t);
        const seen: FollowItem[] = [];
        const notices: CommitNotice[] = [];
        const offNotices = store.threads.subscribe(t, (n) => notices.push(n));
        const off = await listen(store, t, (batch) => seen.push(...batch));
        await store.threads.append(t, fence, [runStarted(t, run.runId), custom(1)]);
        const msg: Message = { id: "m", role: "user", content: "lost" };
        // The terminal event before the bad one must not end the run either.
        await rejectsWith(
          store.threads.append(t, fence, [custom(2), runFinished(t, run.runId), bad], {
            upsertMessages: [msg],
            state: { value: { lost: true } },
          }),
          "VALIDATION_FAILED",
        );
        const view = (await store.threads.get(t))!;
        expect(view).toMatchObject({ lastSeq: 2, activeRunId: run.runId, messages: [], state: {} });
        expect(seqs(await store.threads.read(t, { after: 0 }))).toEqual([1, 2]);
        expect(await store.runs.get(t, run.runId)).toMatchObject({
          status: "running",
          startSeq: 1,
        });
        // The run still holds the thread and writes on at seq 3; the listener saw 1..3 only.
        expect(seqs(await store.threads.append(t, fence, [custom(3)]))).toEqual([3]);
        await waitFor(() => seen.length >= 3, "the listener");
        off();
        offNotices();
        expect(seqs(seen)).toEqual([1, 2, 3]);
        // The store never announced the failed batch (it would have ended at seq 5).
        expect(notices.every((n) => n.lastSeq <= 3)).toBe(true);
      });
    }
  });

  describe("event fidelity", () => {
    it("the caller's result, a live listener and a replay get the same event: its JSON round trip", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      const event = lossy();
      const expected = JSON.parse(JSON.stringify(event)) as BaseEvent;
      const live: FollowItem[] = [];
      const listeners = [store];
      if (ctx.factory.peer) listeners.push(await ctx.peer());
      const got = listeners.map(() => [] as FollowItem[]);
      const offs = await Promise.all(
        listeners.map((s, i) => listen(s, t, (b) => got[i]!.push(...b))),
      );
      const returned = await store.threads.append(t, fence, [event]);
      await waitFor(() => got.every((g) => g.length === 1), "every listener");
      for (const off of offs) off();
      live.push(...got.flat());
      const replayed = await store.threads.read(t, { after: 0 });
      // toStrictEqual: a Date is not its string, an undefined property is not an absent one.
      for (const r of [...returned, ...live, ...replayed]) expect(r.event).toStrictEqual(expected);
    });
  });

  describe("listeners", () => {
    it("a throwing listener starves no one, itself included", async () => {
      const store = ctx.store();
      const others = ctx.factory.peer ? [await ctx.peer()] : [];
      const t = uid("t");
      const { run, fence } = await activeRun(store, t);
      const watchers = await Promise.all(
        [store, ...others].map(async (s) => {
          const w = { thrower: [] as number[], seen: [] as number[], starts: 0 };
          const offs = [
            // A store listener that throws, first: the live tails after it still hear every commit.
            s.threads.subscribe(t, () => {
              throw new Error("listener bug");
            }),
            await listen(s, t, (b) => {
              w.thrower.push(...seqs(b));
              throw new Error("listener bug");
            }),
            await listen(s, t, (b) => w.seen.push(...seqs(b))),
            s.threads.subscribeRunStarts(() => {
              throw new Error("listener bug");
            }),
            s.threads.subscribeRunStarts((n) => {
              if (n.threadId === t) w.starts++;
            }),
          ];
          return { w, offs };
        }),
      );
      await store.threads.append(t, fence, [runStarted(t, run.runId)]);
      for (const i of range(1, 4)) await store.threads.append(t, fence, [custom(i), custom(-i)]);
      await waitFor(
        () =>
          watchers.every(({ w }) => w.seen.length >= 9 && w.thrower.length >= 9 && w.starts >= 1),
        "every watcher",
      );
      for (const { w, offs } of watchers) {
        for (const off of offs) off();
        expect(w.seen).toEqual(range(1, 9));
        expect(w.thrower).toEqual(range(1, 9));
        expect(w.starts).toBe(1);
      }
    });
  });

  describe("multitask reject", () => {
    it("racing reject enqueues on an idle thread: exactly one wins", async () => {
      const stores: ThreadStore[] = [ctx.store()];
      if (ctx.factory.peer) stores.push(await ctx.peer());
      for (const ensured of [false, true]) {
        const t = uid("race");
        if (ensured) await stores[0]!.threads.ensure(t);
        const results = await Promise.allSettled(
          range(1, 6).map((i) => stores[i % stores.length]!.runs.enqueue(newRun(t), "reject")),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        expect(won).toHaveLength(1);
        for (const r of results) {
          if (r.status === "rejected")
            expect((r.reason as { code?: string }).code).toBe("THREAD_BUSY");
        }
        const runs = await stores[0]!.runs.list(t);
        expect(runs.map((r) => r.runId)).toEqual([
          (won[0] as PromiseFulfilledResult<{ run: { runId: string } }>).value.run.runId,
        ]);
      }
    });
  });
}
