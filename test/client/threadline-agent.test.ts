import type { AgentSubscriber } from "@ag-ui/client";
import type { BaseEvent, Message } from "@ag-ui/core";
import { lastValueFrom, toArray } from "rxjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ThreadlineAgent, ThreadlineClient } from "../../src/client/index.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { type Loopback, startLoopback } from "./loopback.js";

let s: Loopback;
let agents: ThreadlineAgent[] = [];
beforeEach(async () => {
  GateAgent.reset();
  s = await startLoopback();
});
afterEach(async () => {
  for (const a of agents) await a.dispose();
  agents = [];
  await s.close();
});

function agentFor(
  threadId: string,
  extra: Partial<ConstructorParameters<typeof ThreadlineAgent>[0]> = {},
): ThreadlineAgent {
  const agent = new ThreadlineAgent({
    url: s.url,
    agentId: "demo",
    threadId,
    backoff: { initialMs: 20, maxMs: 200 },
    ...extra,
  });
  agents.push(agent);
  return agent;
}

/** Records what subscribers hear, including `isRunning` at each lifecycle callback. */
function record(agent: ThreadlineAgent) {
  const log = {
    events: [] as BaseEvent[],
    calls: [] as string[],
    runningAt: [] as string[],
    messagesChanged: 0,
    stateChanged: 0,
  };
  const subscriber: AgentSubscriber = {
    onEvent: ({ event }) => {
      log.events.push(event);
    },
    onRunInitialized: () => {
      log.runningAt.push(`init:${agent.isRunning}`);
    },
    onRunFinalized: () => {
      log.runningAt.push(`final:${agent.isRunning}`);
    },
    onRunStartedEvent: () => {
      log.calls.push("started");
    },
    onRunFinishedEvent: () => {
      log.calls.push("finished");
    },
    onTextMessageContentEvent: () => {
      log.calls.push("content");
    },
    onNewMessage: ({ message }) => {
      log.calls.push(`new:${message.role}`);
    },
    onMessagesChanged: () => {
      log.messagesChanged += 1;
    },
    onStateChanged: () => {
      log.stateChanged += 1;
    },
  };
  agent.subscribe(subscriber);
  return log;
}

const user = (id: string, content: string): Message => ({ id, role: "user", content });

async function serverThread(threadId: string) {
  return new ThreadlineClient({ baseUrl: s.url }).getThread(threadId);
}

async function demoTurns(threadId: string, n: number) {
  for (let i = 0; i < n; i++) {
    await s.tl.startRun({
      threadId,
      agentId: "demo",
      multitask: "enqueue",
      input: { messages: [user(`u${i}`, `hello ${i}`)], forwardedProps: { demo: { delayMs: 0 } } },
    });
  }
  await s.tl.coordinator.idle(threadId);
}

const textOf = (m: Message | undefined) => (m as { content?: string } | undefined)?.content;

describe("ThreadlineAgent", () => {
  it("connectAgent resolves once the replay is applied", async () => {
    await demoTurns("t", 2);
    const agent = agentFor("t");
    const log = record(agent);
    const result = await agent.connectAgent();
    const thread = await serverThread("t");
    expect(agent.messages).toEqual(thread.messages);
    expect(agent.state).toEqual(thread.state);
    expect(result.newMessages).toEqual(thread.messages);
    expect(agent.isRunning).toBe(false);
    // The snapshot is applied, but it is not a run: no run lifecycle callbacks.
    expect(log.runningAt).toEqual([]);
    await verifyWithAgUi(log.events);
  });

  it("a question asked before connecting reaches onRunFinalized, as after a stock connect", async () => {
    const { runId } = await s.tl.startRun({
      threadId: "asked",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, interrupt: true } } },
    });
    await s.tl.coordinator.idle("asked");
    const agent = agentFor("asked");
    const log = record(agent);
    // What CopilotKit's useInterrupt does: collect the outcome, show it when the run finalizes.
    let seen: string[] = [];
    const shown: string[][] = [];
    agent.subscribe({
      onRunFinishedEvent: (params) => {
        if (params.outcome === "interrupt") seen = params.interrupts.map((i) => i.id);
      },
      onRunFinalized: () => {
        shown.push(seen);
      },
    });
    await agent.connectAgent();
    expect(shown).toEqual([[`approve-${runId}`]]);
    expect(agent.pendingInterrupts.map((i) => i.id)).toEqual([`approve-${runId}`]);
    expect(log.runningAt).toEqual(["final:false"]);
    await verifyWithAgUi(log.events);
  });

  it("applies a run the server started, with subscriber callbacks and no client action", async () => {
    const agent = agentFor("t");
    await agent.connectAgent();
    const log = record(agent);
    await s.tl.startRun({
      threadId: "t",
      agentId: "demo",
      trigger: { kind: "schedule", scheduleId: "daily" },
      input: { messages: [user("u1", "ping")], forwardedProps: { demo: { delayMs: 1 } } },
    });
    await waitFor(() => log.runningAt.includes("final:false"), "the run to be applied");
    expect(agent.messages.map((m) => [m.role, textOf(m)])).toEqual([
      ["user", "ping"],
      ["assistant", "You said: ping"],
    ]);
    expect(agent.messages).toEqual((await serverThread("t")).messages);
    expect(agent.state).toMatchObject({ turns: 1, lastReply: "You said: ping" });
    expect(log.runningAt).toEqual(["init:true", "final:false"]);
    expect(log.calls[0]).toBe("started");
    expect(log.calls.at(-1)).toBe("finished");
    expect(log.calls.filter((c) => c === "content")).toHaveLength(3);
    expect(log.calls).toContain("new:assistant");
    expect(log.messagesChanged).toBeGreaterThan(0);
    expect(log.stateChanged).toBe(1);
    await verifyWithAgUi(log.events);
  });

  it("runAgent returns the reply once, applied once, and isRunning toggles per run", async () => {
    const agent = agentFor("t");
    await agent.connectAgent();
    const log = record(agent);

    agent.addMessage(user("u1", "first"));
    const first = await agent.runAgent({ forwardedProps: { demo: { delayMs: 1 } } });
    expect(agent.isRunning).toBe(false);
    expect(first.newMessages.map((m) => [m.role, textOf(m)])).toEqual([
      ["assistant", "You said: first"],
    ]);

    await s.tl.startRun({ threadId: "t", agentId: "demo", input: { messages: [user("u2", "x")] } });
    await waitFor(() => log.runningAt.length === 4, "the server-started run");

    agent.addMessage(user("u3", "third"));
    const third = await agent.runAgent({ forwardedProps: { demo: { delayMs: 1 } } });
    expect(third.newMessages.map(textOf)).toEqual(["You said: third"]);

    expect(log.runningAt).toEqual([
      "init:true",
      "final:false",
      "init:true",
      "final:false",
      "init:true",
      "final:false",
    ]);
    const thread = await serverThread("t");
    expect(agent.messages).toEqual(thread.messages);
    expect(new Set(agent.messages.map((m) => m.id)).size).toBe(agent.messages.length);
    expect(thread.messages.map((m) => m.role)).toEqual([
      "user",
      "assistant",
      "user",
      "assistant",
      "user",
      "assistant",
    ]);
    // Each run's deltas reached subscribers once: every reply is three words.
    const contents = log.events.filter((e) => e.type === "TEXT_MESSAGE_CONTENT");
    expect(contents).toHaveLength(3 * 3);
    await verifyWithAgUi(log.events);
  });

  it("runAgent works without connectAgent, on a thread that does not exist yet", async () => {
    const agent = agentFor("fresh");
    agent.addMessage(user("u1", "hi"));
    const result = await agent.runAgent();
    expect(result.newMessages.map(textOf)).toEqual(["You said: hi"]);
    expect(agent.messages).toEqual((await serverThread("fresh")).messages);
  });

  it("abortRun cancels the thread's active run and runAgent resolves", async () => {
    const agent = agentFor("t");
    await agent.connectAgent();
    agent.addMessage(user("u1", "long"));
    const running = agent.runAgent({ forwardedProps: { demo: { tokens: 10_000, delayMs: 5 } } });
    await waitFor(
      () => textOf(agent.messages.find((m) => m.role === "assistant"))?.startsWith("w1w2"),
      "the reply to stream",
    );
    expect(agent.isRunning).toBe(true);
    agent.abortRun();
    await running;
    expect(agent.isRunning).toBe(false);
    const runs = await new ThreadlineClient({ baseUrl: s.url }).getThread("t");
    expect(runs.activeRun).toBeNull();
    const [run] = await s.tl.store.runs.list("t");
    expect(run?.status).toBe("cancelled");
  });

  it("abortRun cancels a server-started run it is only following", async () => {
    const agent = agentFor("t");
    await agent.connectAgent();
    const { runId } = await s.tl.startRun({
      threadId: "t",
      agentId: "demo",
      input: { forwardedProps: { demo: { tokens: 10_000, delayMs: 5 } } },
    });
    await waitFor(() => agent.isRunning, "the run to be followed");
    agent.abortRun();
    await waitFor(() => !agent.isRunning, "the run to end");
    expect((await s.tl.store.runs.get("t", runId))?.status).toBe("cancelled");
  });

  it("detachActiveRun ends the follow; runAgent resumes it from the cursor", async () => {
    const agent = agentFor("t");
    await agent.connectAgent();
    await waitFor(() => s.tl.fanout.followerCount("t") === 1, "the follow");
    await agent.detachActiveRun();
    await waitFor(() => s.tl.fanout.followerCount("t") === 0, "the follow to end");

    await demoTurns("t", 1); // happens while nobody follows
    expect(agent.messages).toEqual([]);
    agent.addMessage(user("mine", "again"));
    const result = await agent.runAgent({ forwardedProps: { demo: { delayMs: 0 } } });
    // What happened while detached is new to this client too.
    expect(result.newMessages.map(textOf)).toEqual([
      "hello 0",
      "You said: hello 0",
      "You said: again",
    ]);
    const thread = await serverThread("t");
    expect(agent.messages.map((m) => m.id)).toEqual(thread.messages.map((m) => m.id));
    expect(agent.messages).toEqual(thread.messages);
  });

  it("resuming from a cursor compacted away applies the reset snapshot and says so", async () => {
    await demoTurns("t", 1);
    const resets: unknown[] = [];
    const agent = agentFor("t", { onHistoryReset: (r) => resets.push(r) });
    await agent.connectAgent();
    const cursor = (await s.tl.store.threads.head("t"))!.lastSeq;
    await agent.detachActiveRun();
    await waitFor(() => s.tl.fanout.followerCount("t") === 0, "the follow to end");
    await demoTurns("t", 2); // while detached; then compacted away
    const head = (await s.tl.store.threads.head("t"))!;
    await s.tl.store.threads.compact("t", { horizon: head.lastSeq, endedBefore: 0 });
    expect(agent.historyReset).toBeUndefined();

    agent.addMessage(user("mine", "after the gap"));
    await agent.runAgent({ forwardedProps: { demo: { delayMs: 0 } } });
    expect(agent.historyReset).toEqual({ after: cursor, horizon: head.lastSeq });
    expect(resets).toEqual([{ after: cursor, horizon: head.lastSeq }]);
    // The view the server kept (its compaction removed the old runs' messages) plus the new run.
    const thread = await serverThread("t");
    expect(agent.messages).toEqual(thread.messages);
    expect(agent.messages.map(textOf)).toEqual(["after the gap", "You said: after the gap"]);
  });

  it("a message sent while another run streams stays visible and lands after that run", async () => {
    const agent = agentFor("t");
    await agent.connectAgent();
    await s.tl.startRun({ threadId: "t", agentId: "gate" });
    const gate = await GateAgent.nth(0);
    gate.started();
    gate.text("m-gate", "scheduled ");
    await waitFor(() => agent.messages.length === 1, "the scheduled run's text");

    agent.addMessage(user("mine", "typed meanwhile"));
    const mine = agent.runAgent({ forwardedProps: { demo: { delayMs: 0 } } }); // enqueued
    await waitFor(async () => (await s.tl.store.runs.list("t")).length === 2, "the queued run");
    gate.emit({ type: "TEXT_MESSAGE_CONTENT", messageId: "m-gate", delta: "news" } as BaseEvent);
    await waitFor(() => textOf(agent.messages[0]) === "scheduled news", "more scheduled text");
    expect(agent.messages.map((m) => m.id)).toEqual(["m-gate", "mine"]);
    gate.emit({ type: "TEXT_MESSAGE_END", messageId: "m-gate" } as BaseEvent);
    gate.finish();

    const result = await mine;
    expect(result.newMessages.map(textOf)).toEqual(["You said: typed meanwhile"]);
    expect(agent.messages).toEqual((await serverThread("t")).messages);
  });

  it("a fresh connect in the middle of a run shows it running and finishes it", async () => {
    await s.tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m1", "partial ");
    await waitFor(async () => (await serverThread("t")).messages.length === 1, "stored text");

    const agent = agentFor("t");
    const log = record(agent);
    await agent.connectAgent();
    await waitFor(() => agent.isRunning, "the reopened run");
    run.emit(
      { type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: "answer" } as BaseEvent,
      { type: "TEXT_MESSAGE_END", messageId: "m1" } as BaseEvent,
    );
    run.finish();
    await waitFor(() => !agent.isRunning, "the run to finish");
    expect(agent.messages.map(textOf)).toEqual(["partial answer"]);
    expect(agent.messages).toEqual((await serverThread("t")).messages);
    await verifyWithAgUi(log.events);
  });

  it("run() streams one server run as a valid AG-UI event stream", async () => {
    const agent = agentFor("t");
    const events = await lastValueFrom(
      agent
        .run({
          threadId: "t",
          runId: "r-plain",
          messages: [user("u1", "plain")],
          state: {},
          tools: [],
          context: [],
          forwardedProps: { demo: { delayMs: 0 } },
        })
        .pipe(toArray()),
    );
    await verifyWithAgUi(events);
    expect(events[0]).toMatchObject({ type: "RUN_STARTED", runId: "r-plain" });
    expect(events.at(-1)?.type).toBe("RUN_FINISHED");
  });
});
