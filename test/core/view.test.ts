import { defaultApplyEvents } from "@ag-ui/client";
import type { BaseEvent, Message, RunAgentInput } from "@ag-ui/core";
import { from, lastValueFrom, toArray } from "rxjs";
import { describe, expect, it } from "vitest";
import { ViewBuilder } from "../../src/core/view.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";

/** What @ag-ui/client makes of the same events: the reference our view must agree with. */
async function clientView(initial: Message[], events: BaseEvent[]) {
  const input: RunAgentInput = {
    threadId: "t",
    runId: "r",
    messages: structuredClone(initial),
    state: {},
    tools: [],
    context: [],
    forwardedProps: {},
  };
  const agent = new DemoAgent({ initialMessages: structuredClone(initial) });
  const mutations = await lastValueFrom(
    defaultApplyEvents(input, from(events), agent, []).pipe(toArray()),
  );
  let messages = initial;
  let state: unknown = {};
  for (const m of mutations) {
    if (m.messages) messages = m.messages;
    if (m.state) state = m.state;
  }
  return { messages, state };
}

const E = (e: Record<string, unknown>) => e as unknown as BaseEvent;

const scenario: BaseEvent[] = [
  E({
    type: "RUN_STARTED",
    threadId: "t",
    runId: "r",
    input: {
      threadId: "t",
      runId: "r",
      state: {},
      tools: [],
      context: [],
      forwardedProps: {},
      messages: [{ id: "u2", role: "user", content: "next" }],
    },
  }),
  E({ type: "TEXT_MESSAGE_START", messageId: "a1", role: "assistant" }),
  E({ type: "TEXT_MESSAGE_CONTENT", messageId: "a1", delta: "Hello " }),
  E({ type: "TEXT_MESSAGE_CONTENT", messageId: "a1", delta: "world" }),
  E({ type: "TEXT_MESSAGE_END", messageId: "a1" }),
  E({ type: "TOOL_CALL_START", toolCallId: "tc1", toolCallName: "search", parentMessageId: "a1" }),
  E({ type: "TOOL_CALL_ARGS", toolCallId: "tc1", delta: '{"q":' }),
  E({ type: "TOOL_CALL_ARGS", toolCallId: "tc1", delta: '"x"}' }),
  E({ type: "TOOL_CALL_END", toolCallId: "tc1" }),
  E({ type: "TOOL_CALL_START", toolCallId: "tc2", toolCallName: "orphan" }),
  E({ type: "TOOL_CALL_END", toolCallId: "tc2" }),
  E({ type: "TOOL_CALL_RESULT", messageId: "r1", toolCallId: "tc1", content: "found" }),
  E({ type: "STATE_SNAPSHOT", snapshot: { a: 1, list: [1] } }),
  E({
    type: "STATE_DELTA",
    delta: [
      { op: "add", path: "/list/-", value: 2 },
      { op: "replace", path: "/a", value: 3 },
    ],
  }),
  E({ type: "STATE_DELTA", delta: [{ op: "test", path: "/a", value: 999 }] }),
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
    activityType: "plan",
    patch: [{ op: "add", path: "/steps/-", value: "b" }],
  }),
  E({ type: "RUN_FINISHED", threadId: "t", runId: "r" }),
];

describe("ViewBuilder agrees with @ag-ui/client's defaultApplyEvents", () => {
  const initial: Message[] = [
    { id: "u1", role: "user", content: "first" },
    { id: "a0", role: "assistant", content: "earlier" },
  ];

  it("on a run touching every kind of message and state event", async () => {
    const view = new ViewBuilder(initial, {});
    for (const e of scenario) view.apply(e);
    const ref = await clientView(initial, scenario);
    expect(view.getMessages()).toEqual(ref.messages);
    expect(view.state).toEqual(ref.state);
  });

  it("on a MESSAGES_SNAPSHOT that drops, replaces and adds messages", async () => {
    const events = [
      E({ type: "RUN_STARTED", threadId: "t", runId: "r" }),
      E({
        type: "MESSAGES_SNAPSHOT",
        messages: [
          { id: "a0", role: "assistant", content: "rewritten" },
          { id: "n1", role: "user", content: "new" },
        ],
      }),
      E({ type: "RUN_FINISHED", threadId: "t", runId: "r" }),
    ];
    const view = new ViewBuilder(initial, {});
    for (const e of events) view.apply(e);
    expect(view.getMessages()).toEqual((await clientView(initial, events)).messages);
  });

  it("reports only touched messages, then nothing once taken", () => {
    const view = new ViewBuilder(initial, {});
    view.apply(E({ type: "TEXT_MESSAGE_START", messageId: "a1", role: "assistant" }));
    view.apply(E({ type: "TEXT_MESSAGE_CONTENT", messageId: "a1", delta: "x" }));
    const update = view.takeUpdate();
    expect(update?.upsertMessages?.map((m) => m.id)).toEqual(["a1"]);
    expect(update?.replaceMessages).toBeUndefined();
    expect(view.takeUpdate()).toBeUndefined();
  });
});

describe("ViewBuilder.agentMessages", () => {
  it("hands out the thread's messages without activity ones, plus new ones, insulated from later edits", () => {
    const view = new ViewBuilder(
      [
        { id: "u1", role: "user", content: "hi" },
        { id: "a1", role: "assistant", content: "x" },
      ],
      {},
    );
    view.apply(
      E({ type: "ACTIVITY_SNAPSHOT", messageId: "act", activityType: "plan", content: { s: 1 } }),
    );
    view.apply(
      E({
        type: "RUN_STARTED",
        threadId: "t",
        runId: "r2",
        input: { messages: [{ id: "u2", role: "user", content: "new" }] },
      }),
    );
    const input = view.agentMessages();
    expect(input.map((m) => m.id)).toEqual(["u1", "a1", "u2"]);
    // The next run appends to an existing message: the array the agent got keeps what it saw.
    view.apply(E({ type: "TEXT_MESSAGE_CONTENT", messageId: "a1", delta: "y" }));
    expect((input[1] as { content: string }).content).toBe("x");
    expect((view.getMessages()[1] as { content: string }).content).toBe("xy");
    const plain = new ViewBuilder([{ id: "u1", role: "user", content: "hi" }], {});
    expect(plain.agentMessages().map((m) => m.id)).toEqual(["u1"]);
  });

  it("brings the array it handed out up to date for the next run, or rebuilds it if its holder changed it", () => {
    const view = new ViewBuilder(
      [
        { id: "u1", role: "user", content: "hi" },
        { id: "a1", role: "assistant", content: "x" },
      ],
      {},
    );
    const first = view.agentMessages();
    const before = first.slice();
    // A run: a new message streams and an existing one is edited; the agent's array holds still.
    view.apply(E({ type: "TEXT_MESSAGE_START", messageId: "a2", role: "assistant" }));
    view.apply(E({ type: "TEXT_MESSAGE_CONTENT", messageId: "a2", delta: "new" }));
    view.apply(E({ type: "TEXT_MESSAGE_CONTENT", messageId: "a1", delta: "y" }));
    expect(first).toEqual(before);

    const second = view.agentMessages();
    expect(second).toBe(first); // reused: no copy of the history per run
    expect(second).toEqual(view.getMessages());
    expect(second.map((m) => (m as { content?: string }).content)).toEqual(["hi", "xy", "new"]);

    // Whoever held it appended to it: the next run gets a correct array, not the tampered one.
    second.push({ id: "junk", role: "user", content: "?" });
    view.apply(E({ type: "TEXT_MESSAGE_START", messageId: "a3", role: "assistant" }));
    const third = view.agentMessages();
    expect(third).not.toBe(second);
    expect(third.map((m) => m.id)).toEqual(["u1", "a1", "a2", "a3"]);
    // Reordered in place (ends swapped): rebuilt as well.
    third.reverse();
    expect(view.agentMessages().map((m) => m.id)).toEqual(["u1", "a1", "a2", "a3"]);
  });

  it("leaves out activity messages however they arrived: loaded, snapshotted or upserted", () => {
    const activity = (id: string) =>
      ({ id, role: "activity", activityType: "plan", content: {} }) as unknown as Message;
    const view = new ViewBuilder(
      [{ id: "u1", role: "user", content: "hi" }, activity("act1")],
      {},
      { owned: true },
    );
    expect(view.agentMessages().map((m) => m.id)).toEqual(["u1"]);
    view.apply(
      E({
        type: "MESSAGES_SNAPSHOT",
        messages: [{ id: "u1", role: "user", content: "hi" }, activity("act2")],
      }),
    );
    expect(view.getMessages().map((m) => m.id)).toEqual(["u1", "act2"]);
    expect(view.agentMessages().map((m) => m.id)).toEqual(["u1"]);
    // A tool result whose id an activity message had takes its place: it is sent again.
    view.apply(E({ type: "TOOL_CALL_RESULT", messageId: "act2", toolCallId: "c1", content: "r" }));
    expect(view.agentMessages().map((m) => m.id)).toEqual(["u1", "act2"]);
  });
});
