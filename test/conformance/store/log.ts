import type { Message } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import type { EventRecord, ThreadView } from "../../../src/core/types.js";
import {
  activeRun,
  custom,
  customValue,
  nextMillisecond,
  range,
  readAll,
  runStarted,
  type SuiteContext,
  seqs,
  uid,
} from "./fixtures.js";

const msg = (id: string, content: string): Message => ({ id, role: "user", content });

/** Appends, ordering, reads and the materialized view. */
export function logTests(ctx: SuiteContext): void {
  describe("threads and the log", () => {
    it("creates threads once and keeps their metadata", async () => {
      const store = ctx.store();
      const t = uid("t");
      const first = await store.threads.ensure(t, { title: "hello" });
      expect(first).toMatchObject({ threadId: t, lastSeq: 0, activeRunId: null });
      expect(first.metadata).toEqual({ title: "hello" });
      const again = await store.threads.ensure(t, { title: "ignored" });
      expect(again.metadata).toEqual({ title: "hello" });
      expect(again.createdAt).toBe(first.createdAt);
      expect(await store.threads.get(t)).toMatchObject({ threadId: t, messages: [], lastSeq: 0 });
      expect(await store.threads.get(uid("missing"))).toBeNull();
      expect(await store.threads.read(uid("missing"), { after: 0 })).toEqual([]);
    });

    it("numbers events 1, 2, 3, ... in append order, across batches and runs", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence, run } = await activeRun(store, t);
      const a = await store.threads.append(t, fence, [runStarted(t, run.runId), custom(1)]);
      const b = await store.threads.append(t, fence, [custom(2), custom(3), custom(4)]);
      expect(seqs(a)).toEqual([1, 2]);
      expect(seqs(b)).toEqual([3, 4, 5]);
      expect(a.every((r) => r.runId === run.runId && typeof r.at === "number")).toBe(true);
      const all = await store.threads.read(t, { after: 0 });
      expect(seqs(all)).toEqual([1, 2, 3, 4, 5]);
      expect(all.slice(1).map(customValue)).toEqual([1, 2, 3, 4]);
      expect(all[0]!.event).toEqual(runStarted(t, run.runId));
      expect((await store.threads.get(t))!.lastSeq).toBe(5);
    });

    it("keeps seq gapless under many interleaved concurrent appends", async () => {
      await expectGaplessConcurrentAppends(ctx, 1);
    });

    it("reads after a cursor, pages with a limit and defaults to 1000 records", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      for (let i = 0; i < 5; i++) {
        await store.threads.append(
          t,
          fence,
          range(1, 500).map((j) => custom(i * 500 + j)),
        );
      }
      expect(seqs(await store.threads.read(t, { after: 0 }))).toEqual(range(1, 1000));
      expect(seqs(await store.threads.read(t, { after: 1200 }))).toEqual(range(1201, 2200));
      expect(seqs(await store.threads.read(t, { after: 2400 }))).toEqual(range(2401, 2500));
      expect(seqs(await store.threads.read(t, { after: 17, limit: 3 }))).toEqual([18, 19, 20]);
      expect(await store.threads.read(t, { after: 2500 })).toEqual([]);
      expect(await store.threads.read(t, { after: 9999 })).toEqual([]);
      const paged: EventRecord[] = [];
      for (let after = 0; ; ) {
        const page = await store.threads.read(t, { after, limit: 333 });
        if (page.length === 0) break;
        paged.push(...page);
        after = page[page.length - 1]!.seq;
      }
      expect(seqs(paged)).toEqual(range(1, 2500));
      expect(paged.map(customValue)).toEqual(range(1, 2500));
    });

    it("lists threads most recently updated first, with limit and offset", async () => {
      const store = ctx.store();
      const [a, b, c] = [uid("la"), uid("lb"), uid("lc")];
      for (const t of [a, b, c]) {
        await store.threads.ensure(t);
        await nextMillisecond();
      }
      const { fence } = await activeRun(store, a);
      await store.threads.append(a, fence, [custom(1)]);
      const ids = (await store.threads.list({ limit: 1000 })).map((s) => s.threadId);
      const ours = ids.filter((id) => [a, b, c].includes(id));
      expect(ours).toEqual([a, c, b]);
      const top2 = await store.threads.list({ limit: 2 });
      expect(top2.map((s) => s.threadId)).toEqual(ids.slice(0, 2));
      const next = await store.threads.list({ limit: 2, offset: 1 });
      expect(next.map((s) => s.threadId)).toEqual(ids.slice(1, 3));
    });

    it("walks every thread once along its ids (listAfter), however they are updated meanwhile", async () => {
      const store = ctx.store();
      const listAfter = store.threads.listAfter?.bind(store.threads);
      // Redis keeps no index of thread ids to walk: its sweep pages `list` instead.
      if (!listAfter) {
        expect(store.kind).toBe("redis");
        return;
      }
      const tag = uid("walk");
      const ids = range(1, 7).map((i) => `${tag}-${i}`);
      for (const t of ids) await store.threads.ensure(t);
      const seen: string[] = [];
      for (let cursor = ""; ; ) {
        const page = await listAfter(cursor, 2);
        expect(page.length).toBeLessThanOrEqual(2);
        seen.push(...page.map((s) => s.threadId));
        if (page.length < 2) break;
        cursor = page[page.length - 1]!.threadId;
        // An update moves a thread to the front of `list`; the walk does not care.
        const { fence } = await activeRun(store, ids[seen.length % ids.length]!);
        await store.threads.append(ids[seen.length % ids.length]!, fence, [custom(1)]);
      }
      const ours = seen.filter((id) => id.startsWith(`${tag}-`));
      expect(ours.sort()).toEqual([...ids].sort());
      expect(new Set(seen).size).toBe(seen.length);
      expect(await listAfter(seen[seen.length - 1]!, 10)).toEqual([]);
      expect((await listAfter("", 1))[0]?.threadId).toBe(seen[0]);
    });
  });

  describe("materialized view", () => {
    it("upserts messages in place and adds new ones at the end", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      await store.threads.append(t, fence, [custom(1)], {
        upsertMessages: [msg("m1", "one"), msg("m2", "two")],
      });
      await store.threads.append(t, fence, [custom(2)], {
        upsertMessages: [msg("m3", "three"), msg("m1", "ONE")],
      });
      const view = (await store.threads.get(t))!;
      expect(view.messages).toEqual([msg("m1", "ONE"), msg("m2", "two"), msg("m3", "three")]);
      expect(view.lastSeq).toBe(2);
    });

    it("keeps a long thread whole: 12,000 messages come back in order", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      const all = Array.from({ length: 12_000 }, (_, i) => msg(`m${i}`, `text ${i}`));
      for (let i = 0; i < all.length; i += 3_000) {
        await store.threads.append(t, fence, [custom(i)], {
          upsertMessages: all.slice(i, i + 3_000),
        });
      }
      const view = (await store.threads.get(t))!;
      expect(view.messages.length).toBe(12_000);
      expect(view.messages[0]).toEqual(all[0]);
      expect(view.messages[11_999]).toEqual(all[11_999]);
    });

    it("replaces the whole list, then applies upserts of the same update", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      await store.threads.append(t, fence, [custom(1)], {
        upsertMessages: [msg("a", "a"), msg("b", "b"), msg("c", "c")],
      });
      await store.threads.append(t, fence, [custom(2)], {
        replaceMessages: [msg("c", "c2"), msg("a", "a")],
        upsertMessages: [msg("d", "d"), msg("c", "c3")],
      });
      expect((await store.threads.get(t))!.messages).toEqual([
        msg("c", "c3"),
        msg("a", "a"),
        msg("d", "d"),
      ]);
      await store.threads.append(t, fence, [custom(3)], { upsertMessages: [msg("b", "back")] });
      expect((await store.threads.get(t))!.messages.map((m) => m.id)).toEqual(["c", "a", "d", "b"]);
      await store.threads.append(t, fence, [custom(4)], { replaceMessages: [] });
      expect((await store.threads.get(t))!.messages).toEqual([]);
    });

    it("stores the state and leaves it alone when an update does not carry it", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      expect((await store.threads.get(t))!.state).toEqual({});
      await store.threads.append(t, fence, [custom(1)], {
        state: { value: { turns: 1, deep: [1, 2] } },
      });
      await store.threads.append(t, fence, [custom(2)], { upsertMessages: [msg("m", "x")] });
      await store.threads.append(t, fence, [custom(3)]);
      const view = (await store.threads.get(t))!;
      expect(view.state).toEqual({ turns: 1, deep: [1, 2] });
      expect(view.lastSeq).toBe(3);
    });

    it("threads.get is consistent with lastSeq while appends race", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      // Each append adds one event, one message and sets the state to its own seq.
      const appends: Promise<EventRecord[]>[] = [];
      const views: Promise<ThreadView | null>[] = [];
      for (const i of range(1, 60)) {
        appends.push(
          store.threads.append(t, fence, [custom(i)], {
            upsertMessages: [msg(`m${i}`, String(i))],
            state: { value: { n: i } },
          }),
        );
        views.push(store.threads.get(t));
      }
      const results = await Promise.all(appends);
      for (const view of await Promise.all(views)) {
        expect(view!.messages).toHaveLength(view!.lastSeq);
        if (view!.lastSeq > 0) {
          // The state written with the append that produced lastSeq.
          const last = results.find((r) => r[0]!.seq === view!.lastSeq)!;
          expect(view!.state).toEqual({ n: customValue(last[0]!) });
        }
      }
      expect((await store.threads.get(t))!.messages).toHaveLength(60);
    });

    it("does not let a caller's later mutation of its events change the log", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence } = await activeRun(store, t);
      const event = custom({ x: 1 });
      await store.threads.append(t, fence, [event]);
      (event as unknown as { value: { x: number } }).value.x = 2;
      expect(customValue((await store.threads.read(t, { after: 0 }))[0]!)).toEqual({ x: 1 });
    });
  });
}

/**
 * Many appends in flight at once on several threads (and through several instances when
 * `instances` > 1): every thread's log is 1..N, and each append got a contiguous block.
 */
export async function expectGaplessConcurrentAppends(
  ctx: SuiteContext,
  instances: number,
): Promise<void> {
  const stores = [ctx.store()];
  for (let i = 1; i < instances; i++) stores.push(await ctx.peer());
  const threads = [uid("c"), uid("c"), uid("c")];
  const claimed = await Promise.all(threads.map((t) => activeRun(ctx.store(), t)));
  const calls: Array<{ thread: string; values: string[]; done: Promise<EventRecord[]> }> = [];
  for (let i = 0; i < 40; i++) {
    threads.forEach((t, k) => {
      const values = range(1, 1 + ((i + k) % 3)).map((j) => `${t}/${i}/${j}`);
      const store = stores[(i + k) % stores.length]!;
      const done = store.threads.append(t, claimed[k]!.fence, values.map(custom));
      calls.push({ thread: t, values, done });
    });
  }
  const results = await Promise.all(calls.map((c) => c.done));
  for (const t of threads) {
    const log = await readAll(ctx.store(), t);
    expect(seqs(log)).toEqual(range(1, log.length));
    const mine = calls
      .map((c, i) => ({ ...c, records: results[i]! }))
      .filter((c) => c.thread === t);
    expect(log.length).toBe(mine.reduce((n, c) => n + c.values.length, 0));
    for (const c of mine) {
      const first = c.records[0]!.seq;
      expect(seqs(c.records)).toEqual(range(first, first + c.values.length - 1));
      expect(log.slice(first - 1, first - 1 + c.values.length).map(customValue)).toEqual(c.values);
    }
  }
}
