import type { Interrupt } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import { expiryDueAt } from "../../../src/core/interrupt-expiry.js";
import { activeRun, runFinished, runStarted, type SuiteContext, uid } from "./fixtures.js";
import { appendRun, interrupted, resumed } from "./interrupts.js";

const at = (iso: string): Interrupt["expiresAt"] => iso;
const T1 = "2030-01-01T00:00:00.000Z";
const T2 = "2030-01-01T01:00:00.000Z";
const T3 = "2030-01-02T00:00:00.000Z";
const ms = (iso: string) => Date.parse(iso);

/**
 * The due index of interrupt expiry (PROTOCOL.md §3.1.6): every store lists the threads whose
 * pending interrupts fall due the same way — the due time core computed with the view update,
 * earliest first, bounded by `until` and `limit` — and forgets a thread when its interrupts are
 * answered, replaced by ones that never expire, or deleted.
 */
export function interruptDueTests(ctx: SuiteContext): void {
  describe("pending interrupts: the due index", () => {
    /** The due entries of this test's threads only (the store may hold other tests' data). */
    const dueOf = async (threads: string[], opts?: { until?: number; limit?: number }) =>
      (await ctx.store().threads.interruptsDue({ limit: 10_000, ...opts })).filter((d) =>
        threads.includes(d.threadId),
      );

    it("lists a thread at the latest expiresAt of its pending interrupts, earliest first", async () => {
      const store = ctx.store();
      const [a, b, c] = [uid("due-a"), uid("due-b"), uid("due-c")];
      await appendRun(store, a, (r) => [
        runStarted(a, r),
        interrupted(a, r, [
          { id: "x", reason: "approve", expiresAt: at(T1) },
          { id: "y", reason: "approve", expiresAt: at(T3) },
        ]),
      ]);
      await appendRun(store, b, (r) => [
        runStarted(b, r),
        interrupted(b, r, [{ id: "x", reason: "approve", expiresAt: at(T2) }]),
      ]);
      // One interrupt without a deadline: the thread waits for a person, never due.
      await appendRun(store, c, (r) => [
        runStarted(c, r),
        interrupted(c, r, [
          { id: "x", reason: "approve", expiresAt: at(T1) },
          { id: "y", reason: "input" },
        ]),
      ]);
      expect(await dueOf([a, b, c])).toEqual([
        { threadId: b, dueAt: ms(T2) },
        { threadId: a, dueAt: ms(T3) },
      ]);
      expect(expiryDueAt((await store.threads.head(a))!.interrupts)).toBe(ms(T3));
    });

    it("`until` keeps those due by then, `limit` the first ones", async () => {
      const store = ctx.store();
      const threads = [uid("due-1"), uid("due-2"), uid("due-3")];
      for (const [i, t] of threads.entries()) {
        await appendRun(store, t, (r) => [
          runStarted(t, r),
          interrupted(t, r, [{ id: "x", reason: "approve", expiresAt: at([T1, T2, T3][i]!) }]),
        ]);
      }
      expect((await dueOf(threads, { until: ms(T2) })).map((d) => d.threadId)).toEqual(
        threads.slice(0, 2),
      );
      expect((await dueOf(threads, { until: ms(T1) - 1 })).length).toBe(0);
      const first = await store.threads.interruptsDue({ limit: 1 });
      expect(first.length).toBe(1);
      expect(first[0]!.dueAt).toBeLessThanOrEqual(ms(T1));
      expect(await store.threads.interruptsDue({ limit: 0 })).toEqual([]);
    });

    it("a thread leaves it when its interrupts are answered, replaced or deleted", async () => {
      const store = ctx.store();
      const [answered, replaced, deleted] = [uid("due-ans"), uid("due-rep"), uid("due-del")];
      for (const t of [answered, replaced, deleted]) {
        await appendRun(store, t, (r) => [
          runStarted(t, r),
          interrupted(t, r, [{ id: "x", reason: "approve", expiresAt: at(T1) }]),
        ]);
      }
      expect((await dueOf([answered, replaced, deleted])).length).toBe(3);
      await appendRun(store, answered, (r) => [
        resumed(answered, r, [{ interruptId: "x", status: "cancelled" }]),
        runFinished(answered, r),
      ]);
      // Answered and asked again with another deadline: due at the new one.
      await appendRun(store, replaced, (r) => [
        resumed(replaced, r, [{ interruptId: "x", status: "resolved" }]),
        interrupted(replaced, r, [{ id: "z", reason: "approve", expiresAt: at(T3) }]),
      ]);
      expect(await store.threads.delete(deleted)).toBe(true);
      expect(await dueOf([answered, replaced, deleted])).toEqual([
        { threadId: replaced, dueAt: ms(T3) },
      ]);
      // Replaced by one without a deadline: never due.
      await appendRun(store, replaced, (r) => [
        resumed(replaced, r, [{ interruptId: "z", status: "cancelled" }]),
        interrupted(replaced, r, [{ id: "w", reason: "approve" }]),
      ]);
      expect(await dueOf([replaced])).toEqual([]);
    });

    it("a refused (fenced) append leaves it unchanged", async () => {
      const store = ctx.store();
      const t = uid("due-fence");
      await appendRun(store, t, (r) => [
        runStarted(t, r),
        interrupted(t, r, [{ id: "x", reason: "approve", expiresAt: at(T1) }]),
      ]);
      const { fence, run } = await activeRun(store, t);
      await store.threads.append(t, fence, [runFinished(t, run.runId)]);
      await expect(
        store.threads.append(t, fence, [runFinished(t, run.runId)], {
          interrupts: { value: [], dueAt: null },
        }),
      ).rejects.toMatchObject({ code: "LEASE_LOST" });
      expect(await dueOf([t])).toEqual([{ threadId: t, dueAt: ms(T1) }]);
    });

    if (ctx.factory.reopen) {
      it("survives a restart", async () => {
        const t = uid("due-restart");
        await appendRun(ctx.store(), t, (r) => [
          runStarted(t, r),
          interrupted(t, r, [{ id: "x", reason: "approve", expiresAt: at(T2) }]),
        ]);
        await ctx.restart();
        expect(await dueOf([t])).toEqual([{ threadId: t, dueAt: ms(T2) }]);
      });
    }
  });
}
