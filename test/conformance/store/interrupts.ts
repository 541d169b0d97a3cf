import type { BaseEvent, Interrupt, Message } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import { FanOut } from "../../../src/core/fanout.js";
import { Follow, type FollowItem } from "../../../src/core/follow.js";
import type { ThreadStore } from "../../../src/core/store.js";
import { ViewBuilder } from "../../../src/core/view.js";
import { verifyWithAgUi } from "../../helpers/verify.js";
import {
  activeRun,
  newRun,
  rejectsWith,
  runFinished,
  runStarted,
  type SuiteContext,
  uid,
} from "./fixtures.js";

const approval: Interrupt = {
  id: "int-1",
  reason: "tool_call",
  message: "Send the email to the customer?",
  toolCallId: "call-1",
  responseSchema: { type: "object", properties: { approved: { type: "boolean" } } },
  expiresAt: "2030-01-01T00:00:00.000Z",
  metadata: { channel: "email" },
};
const detail: Interrupt = { id: "int-2", reason: "input_required" };

export const interrupted = (threadId: string, runId: string, interrupts: Interrupt[]): BaseEvent =>
  ({
    type: "RUN_FINISHED",
    threadId,
    runId,
    outcome: { type: "interrupt", interrupts },
  }) as BaseEvent;

export const resumed = (threadId: string, runId: string, resume: unknown[]): BaseEvent =>
  ({
    type: "RUN_STARTED",
    threadId,
    runId,
    input: { threadId, runId, messages: [], state: {}, tools: [], context: [], resume },
  }) as BaseEvent;

/**
 * Appends `events` as one run the way a writer does: each folded into the thread's view (the
 * rule is core's, `interrupts.ts`), the view update committed with the batch.
 */
export async function appendRun(
  store: ThreadStore,
  t: string,
  events: (runId: string) => BaseEvent[],
): Promise<string> {
  const { fence, run } = await activeRun(store, t);
  const thread = await store.threads.get(t);
  const view = new ViewBuilder(thread?.messages ?? [], thread?.state ?? {}, {
    interrupts: thread?.interrupts ?? [],
  });
  const batch = events(run.runId);
  for (const e of batch) view.apply(e);
  await store.threads.append(t, fence, batch, view.takeUpdate());
  return run.runId;
}

async function replay(
  store: ThreadStore,
  t: string,
  replayMode: "compact" | "full",
): Promise<FollowItem[]> {
  const follow = new Follow(store, new FanOut(store), t, {
    after: 0,
    replay: replayMode,
    live: false,
  });
  const items: FollowItem[] = [];
  for await (const item of follow) items.push(item);
  follow.close();
  return items;
}

/** Pending interrupts are thread state, persisted with the append (PROTOCOL.md §3.1). */
export function interruptTests(ctx: SuiteContext): void {
  describe("pending interrupts", () => {
    it("a new thread has none; a run ending with an interrupt outcome leaves them pending", async () => {
      const store = ctx.store();
      const t = uid("t");
      await store.threads.ensure(t);
      expect((await store.threads.get(t))!.interrupts).toEqual([]);
      await appendRun(store, t, (r) => [runStarted(t, r), interrupted(t, r, [approval, detail])]);
      const view = (await store.threads.get(t))!;
      expect(view.interrupts).toEqual([approval, detail]);
      expect(view.activeRunId).toBeNull();
      // In the summary too: a run's start checks its resume without loading the messages.
      expect((await store.threads.head(t))!.interrupts).toEqual([approval, detail]);
      const listed = (await store.threads.list({ limit: 1000 })).find((s) => s.threadId === t);
      expect(listed?.interrupts).toEqual([approval, detail]);
    });

    it("an enqueue checked against no interrupts is refused atomically while any is pending", async () => {
      const store = ctx.store();
      // A new thread: accepted (the enqueue creates it).
      const t = uid("t");
      const first = newRun(t);
      await store.runs.enqueue(first, "enqueue", { interrupts: [] });
      expect((await store.runs.get(t, first.runId))!.status).toBe("queued");
      // A reused run id is CONFLICT before the interrupts are looked at (decideEnqueue's order).
      await rejectsWith(store.runs.enqueue(first, "enqueue", { interrupts: [] }), "CONFLICT");

      const u = uid("t");
      await appendRun(store, u, (r) => [runStarted(u, r), interrupted(u, r, [approval])]);
      const refused = newRun(u);
      for (const strategy of ["enqueue", "interrupt", "reject"] as const) {
        await rejectsWith(
          store.runs.enqueue(refused, strategy, { interrupts: [] }),
          "INTERRUPTS_PENDING",
        );
      }
      // Nothing of it was stored.
      expect(await store.runs.get(u, refused.runId)).toBeNull();
      const lease = { owner: "me", now: Date.now(), leaseMs: 60_000 };
      expect(await store.runs.claimNext(u, lease)).toBeNull();
      // Answered by a resume run: accepted again.
      await appendRun(store, u, (r) => [
        resumed(u, r, [{ interruptId: approval.id, status: "resolved" }]),
        runFinished(u, r),
      ]);
      await store.runs.enqueue(refused, "enqueue", { interrupts: [] });
      expect((await store.runs.get(u, refused.runId))!.status).toBe("queued");
    });

    it("an enqueue checked against the pending ones is accepted; against others refused; unchecked, not looked at", async () => {
      const store = ctx.store();
      const u = uid("t");
      await appendRun(store, u, (r) => [runStarted(u, r), interrupted(u, r, [approval, detail])]);
      const other = newRun(u);
      // Two answers racing: the one checked against what is no longer pending is refused.
      for (const ids of [[approval.id], [detail.id, approval.id], [approval.id, detail.id, "x"]]) {
        await rejectsWith(
          store.runs.enqueue(other, "reject", { interrupts: ids }),
          "INTERRUPTS_PENDING",
        );
      }
      expect(await store.runs.get(u, other.runId)).toBeNull();
      await store.runs.enqueue(other, "reject", { interrupts: [approval.id, detail.id] });
      expect((await store.runs.get(u, other.runId))!.status).toBe("queued");
      // Without `interrupts` the store does not look (the caller checked nothing against it).
      const run = newRun(u);
      await store.runs.enqueue(run, "enqueue");
      expect((await store.runs.get(u, run.runId))!.status).toBe("queued");
    });

    it("stay pending across runs until a run's resume answers them, one or all", async () => {
      const store = ctx.store();
      const t = uid("t");
      await appendRun(store, t, (r) => [runStarted(t, r), interrupted(t, r, [approval, detail])]);
      // A run that answers one of them: the other stays.
      await appendRun(store, t, (r) => [
        resumed(t, r, [{ interruptId: approval.id, status: "resolved", payload: { ok: true } }]),
        runFinished(t, r),
      ]);
      expect((await store.threads.get(t))!.interrupts).toEqual([detail]);
      await appendRun(store, t, (r) => [
        resumed(t, r, [{ interruptId: detail.id, status: "cancelled" }]),
        runFinished(t, r),
      ]);
      expect((await store.threads.get(t))!.interrupts).toEqual([]);
    });

    it("a later interrupt outcome replaces them, in the same append as its events", async () => {
      const store = ctx.store();
      const t = uid("t");
      await appendRun(store, t, (r) => [runStarted(t, r), interrupted(t, r, [approval])]);
      const runId = await appendRun(store, t, (r) => [
        resumed(t, r, [{ interruptId: approval.id, status: "resolved" }]),
        interrupted(t, r, [detail]),
      ]);
      const view = (await store.threads.get(t))!;
      expect(view.interrupts).toEqual([detail]);
      expect((await store.runs.get(t, runId))!.status).toBe("succeeded");
    });

    it("a refused (fenced) append changes none of them", async () => {
      const store = ctx.store();
      const t = uid("t");
      await appendRun(store, t, (r) => [runStarted(t, r), interrupted(t, r, [approval])]);
      const { fence, run } = await activeRun(store, t);
      await store.threads.append(t, fence, [runFinished(t, run.runId)]);
      await rejectsWith(
        store.threads.append(t, fence, [runFinished(t, run.runId)], {
          interrupts: { value: [] },
        }),
        "LEASE_LOST",
      );
      expect((await store.threads.get(t))!.interrupts).toEqual([approval]);
    });

    it("go with the thread when it is deleted", async () => {
      const store = ctx.store();
      const t = uid("t");
      await appendRun(store, t, (r) => [runStarted(t, r), interrupted(t, r, [approval])]);
      expect(await store.threads.delete(t)).toBe(true);
      await store.threads.ensure(t);
      expect((await store.threads.get(t))!.interrupts).toEqual([]);
    });

    it("a compact replay ends its snapshot run with them, a full one has the original end; both verify", async () => {
      const store = ctx.store();
      const t = uid("t");
      const user: Message = { id: "m1", role: "user", content: "email the customer" };
      await appendRun(store, t, (r) => [
        { ...runStarted(t, r), input: { messages: [user] } } as BaseEvent,
        interrupted(t, r, [approval]),
      ]);
      const compact = (await replay(store, t, "compact")).map((i) => i.event);
      expect(compact.at(-1)).toMatchObject({
        type: "RUN_FINISHED",
        outcome: { type: "interrupt", interrupts: [approval] },
      });
      await verifyWithAgUi(compact);
      const full = (await replay(store, t, "full")).map((i) => i.event);
      expect(full.at(-1)).toEqual(interrupted(t, full[0]!.runId as string, [approval]));
      await verifyWithAgUi(full);
      // Once answered, the snapshot run ends plainly again.
      await appendRun(store, t, (r) => [
        resumed(t, r, [{ interruptId: approval.id, status: "cancelled" }]),
        runFinished(t, r),
      ]);
      const after = (await replay(store, t, "compact")).map((i) => i.event);
      expect(after.at(-1)).not.toHaveProperty("outcome");
      await verifyWithAgUi(after);
    });

    if (ctx.factory.reopen) {
      it("survive a restart", async () => {
        const t = uid("t");
        await appendRun(ctx.store(), t, (r) => [
          runStarted(t, r),
          interrupted(t, r, [approval, detail]),
        ]);
        const after = await ctx.restart();
        expect((await after.threads.get(t))!.interrupts).toEqual([approval, detail]);
      });
    }
  });
}
