import type { BaseEvent } from "@ag-ui/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { createMemoryData, createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { interceptStore } from "../helpers/intercept-store.js";
import { verifyWithAgUi } from "../helpers/verify.js";

const open: Threadline[] = [];
beforeEach(() => GateAgent.reset());
afterEach(async () => {
  for (const tl of open.splice(0)) await tl.close({ graceMs: 50 });
});

function instance(data = createMemoryData()): Threadline {
  const tl = createThreadline({
    store: createMemoryStore({ data }),
    agents: { gate: new GateAgent() },
  });
  open.push(tl);
  return tl;
}

const logOf = async (tl: Threadline, threadId: string): Promise<BaseEvent[]> =>
  (await tl.store.threads.read(threadId, { after: 0, limit: 10_000 })).map((r) => r.event);

describe("deleteThread", () => {
  it("stops a run this process executes, then ends its followers after the run's end", async () => {
    const tl = instance();
    const { runId } = await tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m", "half");
    await waitFor(async () => (await logOf(tl, "t")).length >= 3, "the run's first events");
    const follow = tl.follow("t", { replay: "full" });
    const items: BaseEvent[] = [];
    const done = (async () => {
      for await (const item of follow) items.push(item.event);
    })();
    expect(await tl.deleteThread("t")).toEqual({
      threadId: "t",
      deleted: true,
      cancelledRunId: runId,
    });
    await done;
    expect(follow.deleted).toBe(true);
    await verifyWithAgUi(items);
    expect(items.at(-1)).toMatchObject({
      type: "RUN_FINISHED",
      metadata: { threadline: { outcome: "cancelled" } },
    });
    expect(run.unsubscribed).toBe(true);
    expect(await tl.store.threads.head("t")).toBeNull();
  });

  it("takes over and closes a run another instance holds, fencing that instance out", async () => {
    const data = createMemoryData();
    const runner = instance(data);
    const admin = instance(data);
    const { runId } = await runner.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m", "half");
    await waitFor(async () => (await logOf(runner, "t")).length >= 3, "the run's first events");
    // The runner's own follower sees the closing events the other instance writes.
    const follow = runner.follow("t", { replay: "full" });
    const seen: BaseEvent[] = [];
    const closed = (async () => {
      for await (const item of follow) {
        seen.push(item.event);
        if (item.event.type === "RUN_FINISHED") return;
      }
    })();
    const result = await admin.deleteThread("t");
    expect(result.cancelledRunId).toBe(runId);
    await closed;
    follow.close();
    await verifyWithAgUi(seen);
    expect(seen.at(-1)).toMatchObject({
      metadata: { threadline: { outcome: "cancelled", reason: "the thread was deleted" } },
    });
    // The holder's next write is refused (the thread is gone); its agent is stopped.
    run.text("m", " more");
    await waitFor(() => run.unsubscribed, "the runner to stop its agent");
    expect(await runner.store.threads.get("t")).toBeNull();
  });

  it("takes the other instance's run over at the time of the runtime's clock", async () => {
    const data = createMemoryData();
    const runner = instance(data);
    const clock = new ManualClock(Date.now() + 3_600_000);
    const takeOvers: unknown[] = [];
    const admin = createThreadline({
      store: interceptStore(createMemoryStore({ data }), (method, call, args) => {
        if (method === "runs.takeOver") takeOvers.push(args[2]);
        return call(...args);
      }),
      agents: { gate: new GateAgent() },
      clock,
    });
    open.push(admin);
    await admin.ready;
    await runner.startRun({ threadId: "t", agentId: "gate" });
    (await GateAgent.nth(0)).started();
    await waitFor(async () => (await logOf(runner, "t")).length >= 1, "the run's start");
    await admin.deleteThread("t");
    expect(takeOvers).toEqual([expect.objectContaining({ now: clock.now(), force: true })]);
  });

  it("a follower on another instance of a shared store ends with the deleted marker too", async () => {
    const data = createMemoryData();
    const clock = new ManualClock(Date.now());
    const make = () =>
      createThreadline({
        store: createMemoryStore({ data }),
        agents: { gate: new GateAgent() },
        clock,
      });
    const [a, b] = [make(), make()];
    open.push(a, b);
    await Promise.all([a.ready, b.ready]);
    await a.store.threads.ensure("t");
    const follow = b.follow("t", { replay: "none" });
    await follow.open();
    const done = (async () => {
      for await (const _ of follow) {
        // nothing: the thread is idle
      }
    })();
    await a.deleteThread("t");
    expect(follow.closed).toBe(false);
    // B looks its followed threads up on the clock's timer.
    await clock.advance(10_000);
    await done;
    expect(follow.deleted).toBe(true);
  });

  it("throws THREAD_NOT_FOUND for an unknown thread, and a recreated thread starts clean", async () => {
    const tl = instance();
    await expect(tl.deleteThread("nope")).rejects.toMatchObject({ code: "THREAD_NOT_FOUND" });
    await expect(tl.updateThread("nope", { metadata: { a: 1 } })).rejects.toMatchObject({
      code: "THREAD_NOT_FOUND",
    });
    const first = await tl.startRun({
      threadId: "t",
      agentId: "gate",
      input: { messages: [{ id: "old", role: "user", content: "before" }] },
    });
    const one = await GateAgent.nth(0);
    one.started();
    one.finish();
    await waitFor(
      async () => (await tl.store.runs.get("t", first.runId))?.status === "succeeded",
      "run 1",
    );
    await tl.deleteThread("t");
    await tl.startRun({
      threadId: "t",
      agentId: "gate",
      input: { messages: [{ id: "new", role: "user", content: "after" }] },
    });
    const two = await GateAgent.nth(1);
    // The cached view of the deleted thread is not the new thread's history.
    expect(two.input.messages.map((m) => m.id)).toEqual(["new"]);
    two.started();
    two.finish();
  });
});
