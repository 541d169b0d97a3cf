import type { BaseEvent, Message } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import { ViewBuilder } from "../../src/core/view.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { type ChatMessage, Conversation, textOf } from "../../src/inspector/conversation.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline } from "../../src/threadline.js";
import { waitFor } from "../helpers/wait-for.js";

const E = (e: Record<string, unknown>) => e as unknown as BaseEvent;

/** Both folds reduced to what the page shows: who said what, tool calls, tool results. */
function shown(messages: (Message | ChatMessage)[]) {
  return messages.map((m) => {
    const { id, role } = m as { id: string; role: string };
    const calls = (m as { toolCalls?: unknown[] }).toolCalls ?? [];
    const content = (m as { content?: unknown }).content;
    return {
      id,
      role,
      content:
        role === "activity" && typeof content !== "string"
          ? JSON.stringify(content)
          : textOf(content),
      toolCalls: calls.map((c) =>
        "function" in (c as object)
          ? {
              id: (c as { id: string }).id,
              name: (c as { function: { name: string } }).function.name,
              args: (c as { function: { arguments: string } }).function.arguments,
            }
          : c,
      ),
    };
  });
}

const scenario: BaseEvent[] = [
  E({
    type: "RUN_STARTED",
    threadId: "t",
    runId: "r",
    input: { messages: [{ id: "u1", role: "user", content: "hi" }] },
  }),
  E({ type: "TEXT_MESSAGE_START", messageId: "a1", role: "assistant" }),
  E({ type: "TEXT_MESSAGE_CONTENT", messageId: "a1", delta: "Hello " }),
  E({ type: "TEXT_MESSAGE_CONTENT", messageId: "a1", delta: "<b>world</b>" }),
  E({ type: "TEXT_MESSAGE_END", messageId: "a1" }),
  E({ type: "TOOL_CALL_START", toolCallId: "tc1", toolCallName: "search", parentMessageId: "a1" }),
  E({ type: "TOOL_CALL_ARGS", toolCallId: "tc1", delta: '{"q":"x"}' }),
  E({ type: "TOOL_CALL_END", toolCallId: "tc1" }),
  E({ type: "TOOL_CALL_START", toolCallId: "tc2", toolCallName: "orphan" }),
  E({ type: "TOOL_CALL_END", toolCallId: "tc2" }),
  E({ type: "TOOL_CALL_RESULT", messageId: "r1", toolCallId: "tc1", content: "found" }),
  E({ type: "REASONING_MESSAGE_START", messageId: "rs1", role: "reasoning" }),
  E({ type: "REASONING_MESSAGE_CONTENT", messageId: "rs1", delta: "thinking" }),
  E({ type: "REASONING_MESSAGE_END", messageId: "rs1" }),
  E({
    type: "ACTIVITY_SNAPSHOT",
    messageId: "act1",
    activityType: "plan",
    content: { steps: ["a"] },
  }),
  E({
    type: "ACTIVITY_DELTA",
    messageId: "act1",
    patch: [{ op: "add", path: "/steps/-", value: "b" }],
  }),
  E({ type: "STATE_SNAPSHOT", snapshot: { a: 1, list: [1] } }),
  E({ type: "STATE_DELTA", delta: [{ op: "add", path: "/list/-", value: 2 }] }),
  E({ type: "STATE_DELTA", delta: [{ op: "test", path: "/a", value: 999 }] }),
  E({ type: "RUN_FINISHED", threadId: "t", runId: "r" }),
];

describe("the inspector's Conversation", () => {
  it("folds events as the server's materialized view does", () => {
    const view = new ViewBuilder([], {});
    const conversation = new Conversation();
    for (const e of scenario) {
      view.apply(e);
      conversation.apply(e);
      expect(shown(conversation.messages)).toEqual(shown(view.getMessages()));
    }
    expect(conversation.state).toEqual(view.state);
    expect(conversation.messages.some((m) => m.streaming)).toBe(false);
  });

  it("reports what changed, and marks a message streaming until its end", () => {
    const c = new Conversation();
    c.apply(scenario[0]!);
    c.apply(scenario[1]!);
    c.apply(scenario[2]!);
    expect(c.takeChanges()).toEqual({
      messages: new Set(["u1", "a1"]),
      state: false,
      marks: false,
      interrupts: false,
    });
    expect(c.messages[1]).toMatchObject({ content: "Hello ", streaming: true });
    c.apply(E({ type: "MESSAGES_SNAPSHOT", messages: [{ id: "u1", role: "user", content: "x" }] }));
    expect(c.takeChanges().messages).toBe("all");
  });

  it("attributes messages to their runs and marks runs that did not succeed", () => {
    const c = new Conversation();
    const log: { seq: number; event: BaseEvent }[] = [
      E({
        type: "RUN_STARTED",
        runId: "r1",
        input: { messages: [{ id: "u1", role: "user", content: "a" }] },
      }),
      E({ type: "TEXT_MESSAGE_START", messageId: "a1", role: "assistant" }),
      E({ type: "TEXT_MESSAGE_CONTENT", messageId: "a1", delta: "par" }),
      E({ type: "RUN_ERROR", code: "AGENT_ERROR", message: "boom" }),
      E({ type: "RUN_STARTED", runId: "r2" }),
      E({ type: "TEXT_MESSAGE_CHUNK", messageId: "a2", role: "assistant", delta: "x" }),
      E({
        type: "RUN_FINISHED",
        runId: "r2",
        metadata: { threadline: { outcome: "cancelled", reason: "interrupted by a newer run" } },
      }),
      E({ type: "RUN_STARTED", runId: "r3" }),
      E({ type: "RUN_FINISHED", runId: "r3" }),
    ].map((event, i) => ({ seq: i + 1, event }));
    for (const r of log) c.apply(r.event, { seq: r.seq, kind: "event" });
    expect(c.messages.map((m) => [m.id, m.runId, m.seq])).toEqual([
      ["u1", "r1", 1],
      ["a1", "r1", 2],
      ["a2", "r2", 6],
    ]);
    expect(c.marks).toEqual([
      { runId: "r1", seq: 4, status: "failed", detail: "AGENT_ERROR: boom" },
      { runId: "r2", seq: 7, status: "cancelled", detail: "interrupted by a newer run" },
    ]);
    expect(c.takeChanges().marks).toBe(true);
    expect(c.markOf("r3")).toBeUndefined();

    // The same thread from a compact snapshot: no run is known until the stored log tells.
    const compact = new Conversation();
    const snapshot = [
      E({ type: "RUN_STARTED", runId: "threadline-snapshot-9" }),
      E({
        type: "MESSAGES_SNAPSHOT",
        messages: c.messages.map((m) => ({ id: m.id, role: m.role, content: m.content })),
      }),
      E({ type: "RUN_FINISHED", runId: "threadline-snapshot-9" }),
    ];
    for (const event of snapshot) compact.apply(event, { seq: 9, kind: "snapshot" });
    expect(compact.messages.map((m) => m.runId)).toEqual([undefined, undefined, undefined]);
    expect(compact.marks).toEqual([]);
    // Only the log's tail is read: the first run is cut off, its messages stay unattributed.
    compact.attribute(log.slice(2));
    expect(compact.messages.map((m) => [m.id, m.runId, m.seq])).toEqual([
      ["u1", undefined, undefined],
      ["a1", undefined, undefined],
      ["a2", "r2", 6],
    ]);
    compact.attribute(log);
    expect(compact.messages.map((m) => [m.id, m.runId, m.seq])).toEqual(
      c.messages.map((m) => [m.id, m.runId, m.seq]),
    );
    expect(compact.marks).toEqual(c.marks);
    expect(compact.takeChanges()).toMatchObject({ messages: "all", marks: true });
  });

  it("shows the same thread from a compact replay as from the full log", async () => {
    const tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    try {
      for (const content of ["one", "two"]) {
        await tl.startRun({
          threadId: "t",
          agentId: "demo",
          multitask: "enqueue",
          input: {
            messages: [{ id: content, role: "user", content }],
            forwardedProps: { demo: { delayMs: 0 } },
          },
        });
      }
      await waitFor(
        async () =>
          (await tl.store.threads.get("t"))?.activeRunId === null &&
          (await tl.store.runs.list("t", {})).length === 2,
        "both runs",
      );
      const full = new Conversation();
      for (const r of await tl.store.threads.read("t", { after: 0 })) full.apply(r.event);
      const compact = new Conversation();
      for await (const item of tl.follow("t", { after: 0, replay: "compact", live: false })) {
        compact.apply(item.event);
      }
      const thread = await tl.store.threads.get("t");
      expect(shown(full.messages)).toEqual(shown(thread!.messages));
      expect(shown(compact.messages)).toEqual(shown(thread!.messages));
      expect(compact.state).toEqual(thread!.state);
      expect(full.messages.map((m) => m.content)).toEqual([
        "one",
        "You said: one",
        "two",
        "You said: two",
      ]);
    } finally {
      await tl.close({ graceMs: 0 });
    }
  });
});
