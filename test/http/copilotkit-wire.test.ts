import type { BaseEvent } from "@ag-ui/core";
import { ProxiedCopilotRuntimeAgent } from "@copilotkit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { waitFor } from "../helpers/agents.js";
import { collectFrames, countType, eventsOf } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";

let tl: Threadline;
let server: Awaited<ReturnType<Threadline["listen"]>>;
beforeAll(async () => {
  tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
  server = await tl.listen({ port: 0 });
});
afterAll(async () => {
  await server.close();
  await tl.close({ graceMs: 50 });
});

const post = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const runInput = (threadId: string, extra: Record<string, unknown> = {}) => ({
  threadId,
  runId: crypto.randomUUID(),
  messages: [],
  tools: [],
  context: [],
  state: {},
  forwardedProps: { demo: { delayMs: 1, tokens: 4 } },
  ...extra,
});

describe("CopilotKit v2 wire", () => {
  it("GET /info lists the agents the way CopilotKit's client reads them", async () => {
    type Info = {
      agents: Record<string, unknown>;
      mode: string;
      audioFileTranscriptionEnabled: boolean;
    };
    const body = (await (await fetch(`${server.url}/info`)).json()) as Info;
    expect(body.agents.demo).toMatchObject({ name: "demo", className: "DemoAgent" });
    expect(body.mode).toBe("sse");
    expect(body.audioFileTranscriptionEnabled).toBe(false);
    const single = await post("/", { method: "info" });
    expect(((await single.json()) as Info).agents.demo).toBeDefined();
  });

  it("a stock ProxiedCopilotRuntimeAgent connects, chats and reconnects without hanging", async () => {
    const agent = new ProxiedCopilotRuntimeAgent({
      runtimeUrl: server.url,
      agentId: "demo",
      transport: "rest",
    } as never);
    agent.threadId = "ck-1";
    // Connect on a thread with no history completes at once.
    await agent.connectAgent();
    agent.addMessage({ id: "u1", role: "user", content: "hello there" });
    const result = await agent.runAgent({ forwardedProps: { demo: { delayMs: 1 } } });
    expect(result.newMessages.map((m) => m.role)).toEqual(["assistant"]);
    expect(agent.messages.map((m) => m.content)).toEqual(["hello there", "You said: hello there"]);
    // A second client connecting later gets the history and the stream ends (no follow requested).
    const other = new ProxiedCopilotRuntimeAgent({
      runtimeUrl: server.url,
      agentId: "demo",
      transport: "rest",
    } as never);
    other.threadId = "ck-1";
    await other.connectAgent();
    expect(other.messages.map((m) => m.content)).toEqual(["hello there", "You said: hello there"]);
    expect(other.isRunning).toBe(false);
  });

  it("connect bridges a run in progress and ends with it for stock clients", async () => {
    await post(
      "/agent/demo/run",
      runInput("ck-2", { forwardedProps: { demo: { delayMs: 1, tokens: 3 } } }),
    );
    await waitFor(
      async () => (await tl.store.threads.get("ck-2"))?.activeRunId === null,
      "first run done",
    );
    await tl.startRun({
      threadId: "ck-2",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 10, tokens: 40 } } },
    });
    await waitFor(
      async () => ((await tl.store.threads.get("ck-2"))?.lastSeq ?? 0) > 12,
      "second run streaming",
    );
    const res = await post("/agent/demo/connect", runInput("ck-2"));
    const frames = await collectFrames(res.body!, () => false);
    const events = eventsOf(frames);
    await verifyWithAgUi(events);
    expect(events.at(-1)?.type).toBe("RUN_FINISHED");
    expect(countType(frames, "RUN_STARTED")).toBe(2); // snapshot run + the bridged live run
  });

  it("connect with follow requested stays attached across later runs; run streams only its run", async () => {
    const res = await post("/agent/demo/connect?follow=true", runInput("ck-3"));
    const following = collectFrames(res.body!, (f) => countType(f, "RUN_FINISHED") >= 3);
    for (let i = 0; i < 2; i++) {
      const r = await post(
        "/agent/demo/run",
        runInput("ck-3", { messages: [{ id: `q${i}`, role: "user", content: `q${i}` }] }),
      );
      expect(r.status).toBe(200);
      const own = eventsOf(await collectFrames(r.body!, () => false));
      expect(own[0]?.type).toBe("RUN_STARTED");
      expect(own.at(-1)?.type).toBe("RUN_FINISHED");
      await verifyWithAgUi(own);
    }
    await tl.startRun({
      threadId: "ck-3",
      agentId: "demo",
      trigger: { kind: "schedule", scheduleId: "s" },
      input: { forwardedProps: { demo: { delayMs: 0, tokens: 2 } } },
    });
    const frames = await following;
    await verifyWithAgUi(eventsOf(frames));
    const kinds = eventsOf(frames)
      .filter((e) => e.type === "RUN_STARTED")
      .map(
        (e) =>
          (e as BaseEvent & { metadata?: { threadline?: { trigger?: { kind: string } } } }).metadata
            ?.threadline?.trigger?.kind,
      );
    expect(kinds).toEqual(["client", "client", "schedule"]);
    // Also via forwardedProps.threadline.follow.
    const viaProps = await post(
      "/agent/demo/connect",
      runInput("ck-3", { forwardedProps: { threadline: { follow: true } } }),
    );
    const snap = collectFrames(viaProps.body!, (f) => countType(f, "RUN_FINISHED") >= 2);
    await tl.startRun({
      threadId: "ck-3",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, tokens: 2 } } },
    });
    expect(countType(await snap, "RUN_FINISHED")).toBe(2);
  });

  it("connect with a cursor at the end of an idle thread ends at once; X-Threadline-Follow follows", async () => {
    await post(
      "/agent/demo/run",
      runInput("ck-6", { forwardedProps: { demo: { delayMs: 0, tokens: 2 } } }),
    );
    await waitFor(
      async () => (await tl.store.threads.get("ck-6"))?.activeRunId === null,
      "run done",
    );
    const last = (await tl.store.threads.get("ck-6"))!.lastSeq;
    const atEnd = await post(
      "/agent/demo/connect",
      runInput("ck-6", { lastSeenEventId: String(last) }),
    );
    expect(await collectFrames(atEnd.body!, () => false, 5_000)).toEqual([]);
    const before = await post(
      "/agent/demo/connect",
      runInput("ck-6", { lastSeenEventId: String(last - 2) }),
    );
    const tail = await collectFrames(before.body!, () => false, 5_000);
    // The cursor sits inside the run: it is re-opened first (reopen frames carry no id).
    expect(tail.filter((f) => f.id).map((f) => Number(f.id))).toEqual([last - 1, last]);
    expect(tail[0]?.event).toBe("reopen");
    const res = await fetch(`${server.url}/agent/demo/connect`, {
      method: "POST",
      headers: { "content-type": "application/json", "X-Threadline-Follow": "true" },
      body: JSON.stringify(runInput("ck-6")),
    });
    const following = collectFrames(res.body!, (f) => countType(f, "RUN_FINISHED") >= 2);
    await tl.startRun({
      threadId: "ck-6",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, tokens: 2 } } },
    });
    expect(countType(await following, "RUN_FINISHED")).toBe(2);
  });

  it("stop cancels the active run and the run stream ends with a terminal event", async () => {
    const r = await post(
      "/agent/demo/run",
      runInput("ck-4", { forwardedProps: { demo: { delayMs: 20, tokens: 500 } } }),
    );
    const streaming = collectFrames(r.body!, () => false);
    await waitFor(async () => (await tl.store.threads.get("ck-4"))?.activeRunId, "run active");
    const stop = await post("/agent/demo/stop/ck-4", {});
    expect(await stop.json()).toMatchObject({ stopped: true });
    const events = eventsOf(await streaming);
    await verifyWithAgUi(events);
    expect(events.at(-1)?.type).toBe("RUN_FINISHED");
    expect(await (await post("/agent/demo/stop/ck-4", {})).json()).toMatchObject({
      stopped: false,
    });
  });

  it("bad input: unknown agent 404, bad body 400, unknown single-route method 400", async () => {
    expect((await post("/agent/nope/run", runInput("x"))).status).toBe(404);
    expect((await post("/agent/demo/run", { threadId: 5 })).status).toBe(400);
    expect((await post("/agent/demo/stop/x", { bogus: 1 })).status).toBe(400);
    expect((await post("/", { method: "agent/dance", params: { agentId: "demo" } })).status).toBe(
      400,
    );
    expect((await post("/", { params: {} })).status).toBe(400);
    const env = await post("/", {
      method: "agent/run",
      params: { agentId: "demo" },
      body: runInput("ck-5"),
    });
    expect(eventsOf(await collectFrames(env.body!, () => false)).at(-1)?.type).toBe("RUN_FINISHED");
  });
});
