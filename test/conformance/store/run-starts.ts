import { describe, expect, it } from "vitest";
import type { RunStartNotice } from "../../../src/core/store.js";
import {
  activeRun,
  custom,
  runFinished,
  runStarted,
  type SuiteContext,
  uid,
  waitFor,
} from "./fixtures.js";

const sorted = (notices: RunStartNotice[]) =>
  [...notices].sort((a, b) => (a.runId < b.runId ? -1 : 1));

/** The store-wide run-start signal (`subscribeRunStarts`), which the CopilotKit wake uses. */
export function runStartTests(ctx: SuiteContext): void {
  describe("run-start signal", () => {
    it("announces each run start of any thread once, after it committed", async () => {
      const store = ctx.store();
      const seen: RunStartNotice[] = [];
      const readable: Promise<boolean>[] = [];
      const off = store.threads.subscribeRunStarts((n) => {
        seen.push(n);
        readable.push(
          store.threads.read(n.threadId, { after: n.seq - 1, limit: 1 }).then((r) => {
            return r[0]?.event.type === "RUN_STARTED" && r[0].runId === n.runId;
          }),
        );
      });
      const expected: RunStartNotice[] = [];
      for (const t of [uid("a"), uid("b"), uid("c")]) {
        const { run, fence } = await activeRun(store, t);
        // Other events, before and after, are not run starts.
        await store.threads.append(t, fence, [custom("before")], undefined);
        await store.threads.append(t, fence, [runStarted(t, run.runId), custom("x")]);
        await store.threads.append(t, fence, [custom("y"), runFinished(t, run.runId)]);
        expected.push({ threadId: t, runId: run.runId, seq: 2 });
      }
      await waitFor(() => seen.length >= 3, "three run starts");
      off();
      expect(sorted(seen)).toEqual(sorted(expected));
      expect(await Promise.all(readable)).toEqual([true, true, true]);

      // Unsubscribed: a later run start is not delivered (a second listener shows it happened).
      const later: RunStartNotice[] = [];
      const offLater = store.threads.subscribeRunStarts((n) => later.push(n));
      const t = uid("d");
      const { run, fence } = await activeRun(store, t);
      await store.threads.append(t, fence, [runStarted(t, run.runId)]);
      await waitFor(() => later.length === 1, "the later listener");
      offLater();
      expect(seen).toHaveLength(3);
    });

    it("a throwing listener does not fail the append or starve another listener", async () => {
      const store = ctx.store();
      const seen: string[] = [];
      const offs = [
        store.threads.subscribeRunStarts(() => {
          throw new Error("listener bug");
        }),
        store.threads.subscribeRunStarts((n) => seen.push(n.runId)),
      ];
      const t = uid("t");
      const { run, fence } = await activeRun(store, t);
      const records = await store.threads.append(t, fence, [runStarted(t, run.runId)]);
      expect(records.map((r) => r.seq)).toEqual([1]);
      await waitFor(() => seen.length === 1, "the healthy listener");
      for (const off of offs) off();
      expect(seen).toEqual([run.runId]);
    });
  });
}

/** Run starts of another instance on the same data reach this instance's listeners. */
export function sharedRunStartTests(ctx: SuiteContext): void {
  it("announces the run starts of another instance on the same data", async () => {
    const a = ctx.store();
    const b = await ctx.peer();
    const onA: RunStartNotice[] = [];
    const onB: RunStartNotice[] = [];
    const offs = [
      a.threads.subscribeRunStarts((n) => onA.push(n)),
      b.threads.subscribeRunStarts((n) => onB.push(n)),
    ];
    const expected: RunStartNotice[] = [];
    for (const [i, writer] of [a, b, a, b].entries()) {
      const t = uid(`s${i}`);
      const { run, fence } = await activeRun(writer, t);
      await writer.threads.append(t, fence, [runStarted(t, run.runId), custom(i)]);
      expected.push({ threadId: t, runId: run.runId, seq: 1 });
      // Each run lasts a moment, as real runs do (a poll-based store must see it running).
      await waitFor(() => onA.length > i && onB.length > i, `run start ${i} on both`);
      await writer.threads.append(t, fence, [runFinished(t, run.runId)]);
    }
    for (const off of offs) off();
    expect(sorted(onA)).toEqual(sorted(expected));
    expect(sorted(onB)).toEqual(sorted(expected));
  });
}
