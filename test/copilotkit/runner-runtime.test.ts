import type { BaseEvent } from "@ag-ui/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ThreadlineAgentRunner } from "../../src/copilotkit/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { waitFor } from "../helpers/agents.js";
import { collectFrames, countType, eventsOf, FrameReader } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import {
  post,
  type RuntimeServer,
  runInput,
  serveRuntime,
  stockAgent,
  triggerKinds,
} from "./runtime-helpers.js";

vi.hoisted(() => {
  // No telemetry calls from the CopilotRuntime under test (the machine is offline anyway).
  process.env.COPILOTKIT_TELEMETRY_DISABLED = "true";
});

let tl: Threadline;
let runner: ThreadlineAgentRunner;
let rt: RuntimeServer;
beforeAll(async () => {
  tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
  runner = new ThreadlineAgentRunner({ threadline: tl });
  rt = await serveRuntime({ demo: new DemoAgent() }, runner);
});
afterAll(async () => {
  await rt.close();
  await tl.close({ graceMs: 50 });
});

/**
 * Waits until a follower is attached to the thread. Needed because the runtime's Node adapter
 * sends the response headers with the first body bytes: a follow of a thread with nothing to
 * replay only answers once a run streams (or the runtime's keep-alive comment is due).
 */
const attached = (threadId: string) =>
  waitFor(() => tl.fanout.followerCount(threadId) > 0, `a follower on ${threadId}`);

const FOLLOW = { "x-threadline-follow": "true" };
const fast = { demo: { delayMs: 1, tokens: 3 } };

describe("ThreadlineAgentRunner inside a CopilotRuntime", () => {
  it("a follower on the runtime's /agent/:id/connect sees runtime /run runs and a server-started run", async () => {
    const connecting = post(`${rt.url}/agent/demo/connect`, runInput("f-1"), FOLLOW);
    await attached("f-1");

    // A stock CopilotKit client chats through the runtime's /run.
    const chat = stockAgent(rt.url, "f-1");
    chat.addMessage({ id: "u1", role: "user", content: "hello" });
    const result = await chat.runAgent({ forwardedProps: { demo: { delayMs: 1 } } });
    expect(result.newMessages.map((m) => m.content)).toEqual(["You said: hello"]);
    chat.addMessage({ id: "u2", role: "user", content: "again" });
    await chat.runAgent({ forwardedProps: fast });

    // Server code starts a run on the same store, as a schedule would.
    await tl.startRun({
      threadId: "f-1",
      agentId: "demo",
      trigger: { kind: "schedule", scheduleId: "nightly" },
      input: { forwardedProps: fast },
    });
    const res = await connecting;
    expect(res.status).toBe(200);
    const follower = new FrameReader(res.body!);

    await follower.until(() => countType(follower.frames, "RUN_FINISHED") >= 3);
    const events = eventsOf(follower.frames);
    await verifyWithAgUi(events);
    expect(triggerKinds(events)).toEqual(["client", "client", "schedule"]);
    // Each client run announces only its new message (CopilotKit's contract).
    const inputs = events
      .filter((e) => e.type === "RUN_STARTED")
      .map((e) => (e as BaseEvent & { input?: { messages?: { id: string }[] } }).input?.messages);
    expect(inputs.map((m) => m?.map((x) => x.id))).toEqual([["u1"], ["u2"], []]);

    // Still attached: the next run shows up too.
    await tl.startRun({ threadId: "f-1", agentId: "demo", input: { forwardedProps: fast } });
    await follower.until(() => countType(follower.frames, "RUN_FINISHED") >= 4);
    await verifyWithAgUi(eventsOf(follower.frames));
    await follower.close();

    // The history is durable: a stock client's connect replays it and ends.
    const late = stockAgent(rt.url, "f-1");
    await late.connectAgent();
    expect(late.isRunning).toBe(false);
    expect(late.messages.map((m) => m.content)).toEqual([
      "hello",
      "You said: hello",
      "again",
      "w1w2w3",
      "w1w2w3",
      "w1w2w3",
    ]);
  });

  it("connect without follow ends: at once when empty, after the replay when idle, after the run in progress", async () => {
    const empty = await post(`${rt.url}/agent/demo/connect`, runInput("c-empty"));
    expect(eventsOf(await collectFrames(empty.body!, () => false))).toEqual([]);

    await tl.startRun({ threadId: "c-1", agentId: "demo", input: { forwardedProps: fast } });
    await tl.coordinator.idle("c-1");
    const idle = await post(`${rt.url}/agent/demo/connect`, runInput("c-1"));
    const replay = eventsOf(await collectFrames(idle.body!, () => false));
    await verifyWithAgUi(replay);
    expect(replay.map((e) => e.type)).toEqual([
      "RUN_STARTED",
      "MESSAGES_SNAPSHOT",
      "STATE_SNAPSHOT",
      "RUN_FINISHED",
    ]);

    await tl.startRun({
      threadId: "c-1",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 5, tokens: 60 } } },
    });
    await waitFor(
      async () => ((await tl.store.threads.get("c-1"))?.lastSeq ?? 0) > 12,
      "streaming",
    );
    const bridged = await post(`${rt.url}/agent/demo/connect`, runInput("c-1"));
    const events = eventsOf(await collectFrames(bridged.body!, () => false));
    await verifyWithAgUi(events);
    expect(
      countType(
        events.map((data) => ({ data })),
        "RUN_STARTED",
      ),
    ).toBe(2);
    expect(events.at(-1)?.type).toBe("RUN_FINISHED");
    expect(await runner.isRunning({ threadId: "c-1" })).toBe(false);
  });

  it("resumes a follow after a cursor (X-Threadline-After) and rejects malformed options", async () => {
    await tl.startRun({ threadId: "r-1", agentId: "demo", input: { forwardedProps: fast } });
    await tl.coordinator.idle("r-1");
    const lastSeq = (await tl.store.threads.get("r-1"))!.lastSeq;
    const connecting = post(`${rt.url}/agent/demo/connect`, runInput("r-1"), {
      ...FOLLOW,
      "x-threadline-after": String(lastSeq),
    });
    await attached("r-1");
    await tl.startRun({ threadId: "r-1", agentId: "demo", input: { forwardedProps: fast } });
    const reader = new FrameReader((await connecting).body!);
    await reader.until(() => countType(reader.frames, "RUN_FINISHED") >= 1);
    const events = eventsOf(reader.frames);
    await verifyWithAgUi(events);
    // Only the new run: nothing at or before the cursor is sent again.
    expect(countType(reader.frames, "RUN_STARTED")).toBe(1);
    await reader.close();

    const bad = await post(`${rt.url}/agent/demo/connect`, runInput("r-1"), {
      "x-threadline-follow": "maybe",
    });
    const error = eventsOf(await collectFrames(bad.body!, () => false));
    expect(error).toEqual([expect.objectContaining({ type: "RUN_ERROR", code: "BAD_REQUEST" })]);
  });

  it("a user's run waits behind a server run (enqueue) and streams only its own events", async () => {
    await tl.startRun({
      threadId: "q-1",
      agentId: "demo",
      trigger: { kind: "heartbeat", scheduleId: "hb" },
      input: { forwardedProps: { demo: { delayMs: 5, tokens: 40 } } },
    });
    await waitFor(
      async () => (await tl.store.threads.get("q-1"))?.activeRunId,
      "server run active",
    );
    const res = await post(
      `${rt.url}/agent/demo/run`,
      runInput("q-1", {
        messages: [{ id: "q-u1", role: "user", content: "are you there" }],
        forwardedProps: fast,
      }),
    );
    const own = eventsOf(await collectFrames(res.body!, () => false));
    await verifyWithAgUi(own);
    expect(triggerKinds(own)).toEqual(["client"]);
    expect(own.at(-1)?.type).toBe("RUN_FINISHED");
    const runs = await tl.store.runs.list("q-1");
    expect(runs.map((r) => [r.trigger.kind, r.status])).toEqual([
      ["client", "succeeded"],
      ["heartbeat", "succeeded"],
    ]);
  });

  it("stop cancels the run: its /run stream ends with RUN_FINISHED (cancelled)", async () => {
    const res = await post(
      `${rt.url}/agent/demo/run`,
      runInput("s-1", { forwardedProps: { demo: { delayMs: 20, tokens: 500 } } }),
    );
    const streaming = collectFrames(res.body!, () => false);
    await waitFor(() => runner.isRunning({ threadId: "s-1" }), "run active");
    const stop = await post(`${rt.url}/agent/demo/stop/s-1`, {});
    expect(await stop.json()).toMatchObject({ stopped: true });
    const events = eventsOf(await streaming);
    await verifyWithAgUi(events);
    expect(events.at(-1)).toMatchObject({
      type: "RUN_FINISHED",
      metadata: { threadline: { outcome: "cancelled" } },
    });
    expect(await runner.isRunning({ threadId: "s-1" })).toBe(false);
    expect(await (await post(`${rt.url}/agent/demo/stop/s-1`, {})).json()).toMatchObject({
      stopped: false,
    });
  });

  it("a busy thread with multitask reject answers with one RUN_ERROR", async () => {
    await tl.startRun({
      threadId: "b-1",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 10, tokens: 100 } } },
    });
    const res = await post(
      `${rt.url}/agent/demo/run`,
      runInput("b-1", { forwardedProps: { threadline: { multitask: "reject" } } }),
    );
    const events = eventsOf(await collectFrames(res.body!, () => false));
    expect(events).toEqual([expect.objectContaining({ type: "RUN_ERROR", code: "THREAD_BUSY" })]);
    await verifyWithAgUi(events);
    expect(await runner.stop({ threadId: "b-1" })).toBe(true);
  });
});
