import type { BaseEvent } from "@ag-ui/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FollowItem } from "../../src/core/follow.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { verifyWithAgUi } from "../helpers/verify.js";

let tl: Threadline;
beforeEach(() => {
  GateAgent.reset();
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { gate: new GateAgent(), demo: new DemoAgent() },
  });
});
afterEach(async () => {
  await tl.close({ graceMs: 50 });
});

async function drain(
  threadId: string,
  opts: Parameters<Threadline["follow"]>[1],
): Promise<FollowItem[]> {
  const items: FollowItem[] = [];
  for await (const item of tl.follow(threadId, { ...opts, live: false })) items.push(item);
  return items;
}

/** A thread with two finished runs and a third one in progress with open text, tool call and step. */
async function busyThread(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    await tl.startRun({
      threadId: "t",
      agentId: "demo",
      multitask: "enqueue",
      input: {
        messages: [{ id: `u${i}`, role: "user", content: `q${i}` }],
        forwardedProps: { demo: { delayMs: 0, tokens: 5 } },
      },
    });
  }
  await tl.startRun({ threadId: "t", agentId: "gate", multitask: "enqueue" });
  const run = await GateAgent.nth(0);
  run.started();
  run.emit({ type: "STEP_STARTED", stepName: "think" } as BaseEvent);
  run.text("m-live", "partial ", "answer");
  run.emit(
    {
      type: "TOOL_CALL_START",
      toolCallId: "tc1",
      toolCallName: "search",
      parentMessageId: "m-live",
    } as BaseEvent,
    { type: "TOOL_CALL_ARGS", toolCallId: "tc1", delta: '{"q":' } as BaseEvent,
  );
  await waitFor(async () => {
    const last = (await tl.store.threads.read("t", { after: 0, limit: 10_000 })).at(-1);
    return last?.event.type === "TOOL_CALL_ARGS";
  }, "live run committed");
}

describe("follow", () => {
  it("every stream, from every cursor, in every replay mode, passes the AG-UI verifiers", async () => {
    await busyThread();
    const lastSeq = (await tl.store.threads.get("t"))!.lastSeq;
    for (let after = 0; after <= lastSeq; after++) {
      const items = await drain("t", { after, replay: "full" });
      await verifyWithAgUi(items.map((i) => i.event));
      // Log events are exactly after+1..lastSeq, in order.
      expect(items.filter((i) => i.kind === "event").map((i) => i.seq)).toEqual(
        Array.from({ length: lastSeq - after }, (_, k) => after + k + 1),
      );
    }
    for (const replay of ["compact", "none"] as const) {
      const items = await drain("t", { after: 0, replay });
      await verifyWithAgUi(items.map((i) => i.event));
    }
  });

  it("compact replay mid-run re-opens the live run; later deltas complete the partial message", async () => {
    await busyThread();
    const f = tl.follow("t", { replay: "compact" });
    const prefix = (await f.nextBatch())!;
    expect(prefix.map((i) => `${i.kind}:${i.event.type}`)).toEqual([
      "snapshot:RUN_STARTED",
      "snapshot:MESSAGES_SNAPSHOT",
      "snapshot:STATE_SNAPSHOT",
      "snapshot:RUN_FINISHED",
      "reopen:RUN_STARTED",
      "reopen:STEP_STARTED",
      "reopen:TEXT_MESSAGE_START",
      "reopen:TOOL_CALL_START",
    ]);
    const snapshot = prefix[1]!.event as BaseEvent & {
      messages: Array<{ id: string; content?: string }>;
    };
    expect(snapshot.messages.find((m) => m.id === "m-live")?.content).toBe("partial answer");
    const run = GateAgent.runs[0]!;
    run.emit({ type: "TOOL_CALL_ARGS", toolCallId: "tc1", delta: '"x"}' } as BaseEvent);
    run.emit({ type: "TOOL_CALL_END", toolCallId: "tc1" } as BaseEvent);
    run.emit({ type: "TEXT_MESSAGE_END", messageId: "m-live" } as BaseEvent);
    run.emit({ type: "STEP_FINISHED", stepName: "think" } as BaseEvent);
    run.finish();
    const rest: FollowItem[] = [];
    while (!rest.some((i) => i.event.type === "RUN_FINISHED"))
      rest.push(...((await f.nextBatch()) ?? []));
    f.close();
    await verifyWithAgUi([...prefix, ...rest].map((i) => i.event));
    expect(rest[0]!.seq).toBe(prefix[0]!.seq + 1);
  });

  it("a follower too slow for the live tail falls back to the store and misses nothing", async () => {
    await tl.store.threads.ensure("t");
    const f = tl.follow("t", { replay: "full", maxQueueBytes: 2_000 });
    await f.open();
    await tl.startRun({
      threadId: "t",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, tokens: 3000 } } },
    });
    await waitFor(
      async () =>
        (await tl.store.threads.get("t"))?.activeRunId === null &&
        (await tl.store.threads.get("t"))!.lastSeq > 3000,
      "run done",
    );
    const seqs: number[] = [];
    while (!seqs.length || seqs[seqs.length - 1]! < (await tl.store.threads.get("t"))!.lastSeq) {
      for (const item of (await f.nextBatch()) ?? []) seqs.push(item.seq);
    }
    f.close();
    expect(f.overflows).toBeGreaterThan(0);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });

  it("an unknown thread and a cursor beyond the log are errors", async () => {
    await expect(tl.follow("nope").open()).rejects.toMatchObject({
      code: "THREAD_NOT_FOUND",
      status: 404,
    });
    await tl.store.threads.ensure("t");
    await expect(tl.follow("t", { after: 5 }).open()).rejects.toMatchObject({
      code: "BAD_REQUEST",
      status: 400,
    });
  });
});
