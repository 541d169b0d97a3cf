import type { Message, RunAgentInput } from "@ag-ui/core";
import type { Observable } from "rxjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentHistory } from "../../src/core/history-window.js";
import { lastMessagesOf } from "../../src/core/history-window.js";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { waitFor } from "../helpers/agents.js";

/** The demo agent, recording what each run was given. */
class Recorder extends DemoAgent {
  static inputs: RunAgentInput[] = [];
  override run(input: RunAgentInput): Observable<never> {
    Recorder.inputs.push(structuredClone(input));
    return super.run(input) as Observable<never>;
  }
}

const open: Threadline[] = [];
beforeEach(() => {
  Recorder.inputs = [];
});
afterEach(async () => {
  for (const tl of open.splice(0)) await tl.close({ graceMs: 50 });
});

function instance(history?: Record<string, AgentHistory>, clock?: ManualClock) {
  const tl = createThreadline({
    store: createMemoryStore(),
    agents: { rec: new Recorder(), other: new Recorder() },
    ...(history ? { history } : {}),
    ...(clock ? { clock } : {}),
    retention: { sweepMs: 0 },
  });
  open.push(tl);
  return tl;
}

const user = (id: string): Message => ({ id, role: "user", content: `question ${id}` });

async function turn(
  tl: Threadline,
  agentId: string,
  id: string,
  history?: { lastMessages: number },
) {
  await tl.startRun({
    threadId: "t",
    agentId,
    multitask: "enqueue",
    input: {
      messages: [user(id)],
      forwardedProps: { demo: { delayMs: 0, tokens: 2 } },
      ...(history ? { history } : {}),
    },
  });
  await tl.coordinator.idle("t");
}

const ids = (input: RunAgentInput | undefined) => input?.messages.map((m) => m.id) ?? [];

describe("the history window: what a run sees", () => {
  it("cuts the newest N messages without starting on a tool result", () => {
    const msgs: Message[] = [
      { id: "u", role: "user", content: "q" },
      {
        id: "a",
        role: "assistant",
        toolCalls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }],
      },
      { id: "r", role: "tool", toolCallId: "c", content: "ok" },
      { id: "a2", role: "assistant", content: "done" },
    ];
    expect(lastMessagesOf(msgs, 2).map((m) => m.id)).toEqual(["a2"]);
    expect(lastMessagesOf(msgs, 3).map((m) => m.id)).toEqual(["a", "r", "a2"]);
    expect(lastMessagesOf(msgs, 9).map((m) => m.id)).toEqual(["u", "a", "r", "a2"]);
  });

  it("per agent: the last N messages, while the thread keeps its whole view", async () => {
    const tl = instance({ rec: { lastMessages: 3 } });
    for (const id of ["q1", "q2", "q3"]) await turn(tl, "rec", id);
    // Each turn adds the question and a reply: the third run sees reply 1, q2, reply 2... cut to 3.
    expect(Recorder.inputs.map((i) => i.messages.length)).toEqual([1, 3, 3]);
    expect(ids(Recorder.inputs[2]).at(-1)).toBe("q3");
    expect((await tl.store.threads.get("t"))!.messages).toHaveLength(6);
    // Another agent without a window sees everything.
    await turn(tl, "other", "q4");
    expect(Recorder.inputs.at(-1)!.messages).toHaveLength(7);
  });

  it("a run's own window wins over its agent's; a build hook makes the input itself", async () => {
    const tl = instance({
      rec: { lastMessages: 5 },
      other: {
        build: ({ messages, run }) => [
          {
            id: `summary-${run.runId}`,
            role: "system",
            content: `${messages.length} earlier messages`,
          },
          ...messages.slice(-1),
        ],
      },
    });
    for (const id of ["q1", "q2"]) await turn(tl, "rec", id);
    await turn(tl, "rec", "q3", { lastMessages: 1 });
    expect(ids(Recorder.inputs.at(-1))).toEqual(["q3"]);
    await turn(tl, "other", "q4");
    const built = Recorder.inputs.at(-1)!;
    expect(built.messages.map((m) => m.role)).toEqual(["system", "user"]);
    expect(built.messages[0]).toMatchObject({ content: "7 earlier messages" });
    // The hook never changed the thread: its view has every message, none of the summary.
    const view = (await tl.store.threads.get("t"))!;
    expect(view.messages.some((m) => m.id.startsWith("summary-"))).toBe(false);
  });

  it("a heartbeat schedule bounds each tick's prompt and the thread's retention", async () => {
    const clock = new ManualClock(Date.parse("2030-01-01T00:00:00Z"));
    const tl = instance(undefined, clock);
    await tl.ready;
    await tl.scheduler.create({
      id: "beat",
      agentId: "rec",
      threadId: "beat-thread",
      everyMs: 60_000,
      input: { forwardedProps: { demo: { delayMs: 0, tokens: 2 } }, history: { lastMessages: 2 } },
      retention: { keepRuns: 2 },
    });
    for (let i = 1; i <= 4; i++) {
      await clock.advance(60_000);
      await waitFor(
        async () => (await tl.store.runs.list("beat-thread")).length === i,
        `tick ${i}`,
      );
      await tl.coordinator.idle("beat-thread");
    }
    expect(Recorder.inputs.map((i) => i.messages.length)).toEqual([0, 1, 2, 2]);
    const head = (await tl.store.threads.head("beat-thread"))!;
    expect(head.metadata).toMatchObject({
      threadline: { scheduleRetention: { keepRuns: 2 } },
    });
    expect(await tl.retention.sweep()).toMatchObject({ compacted: 1, runs: 2 });
    expect(await tl.store.runs.list("beat-thread")).toHaveLength(2);
    // The schedule's policy follows a change of the schedule.
    await tl.scheduler.update("beat", { retention: { keepRuns: 1 } });
    await clock.advance(60_000);
    await waitFor(async () => (await tl.store.runs.list("beat-thread")).length === 3, "tick 5");
    await tl.coordinator.idle("beat-thread");
    await tl.retention.sweep();
    expect(await tl.store.runs.list("beat-thread")).toHaveLength(1);
  });
});
