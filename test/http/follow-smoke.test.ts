import { afterEach, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { SSE_HEADERS, SseHandoff, sseResponse } from "../../src/http/sse.js";
import { HEADER_REPLAY_MODE, HEADER_THREAD_LAST_SEQ } from "../../src/protocol.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { waitFor } from "../helpers/agents.js";
import { collectFrames, countType, eventsOf, FrameReader } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";

let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
});

describe("follow over HTTP (in-process)", () => {
  it("a follower sees runs started after it attached and stays attached", async () => {
    tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    const create = await tl.app.request("/threads", {
      method: "POST",
      body: JSON.stringify({ threadId: "t1" }),
    });
    expect(create.status).toBe(201);
    const res = await tl.app.request("/threads/t1/events");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const collecting = collectFrames(res.body!, (f) => countType(f, "RUN_FINISHED") >= 2);
    for (let i = 0; i < 2; i++) {
      const r = await tl.app.request("/threads/t1/runs", {
        method: "POST",
        body: JSON.stringify({
          agentId: "demo",
          multitask: "enqueue",
          messages: [{ id: `u${i}`, role: "user", content: `hello ${i}` }],
          forwardedProps: { demo: { delayMs: 1 } },
        }),
      });
      expect(r.status).toBe(202);
    }
    const frames = await collecting;
    const events = eventsOf(frames);
    await verifyWithAgUi(events);
    expect(countType(frames, "RUN_STARTED")).toBe(2);
    const ids = frames.filter((f) => f.id).map((f) => Number(f.id));
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i));
    const thread = await (await tl.app.request("/threads/t1")).json();
    expect(thread.messages.map((m: { role: string }) => m.role)).toEqual([
      "user",
      "assistant",
      "user",
      "assistant",
    ]);
    expect(thread.state.turns).toBe(2);
  });
});

describe("follower lifecycle", () => {
  it("a follower that disconnects is released (no leak of subscriptions)", async () => {
    tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    const server = await tl.listen({ port: 0 });
    try {
      await tl.store.threads.ensure("t1");
      const controllers = Array.from({ length: 5 }, () => new AbortController());
      const responses = await Promise.all(
        controllers.map((c) => fetch(`${server.url}/threads/t1/events`, { signal: c.signal })),
      );
      expect(responses.every((r) => r.status === 200)).toBe(true);
      await waitFor(() => tl!.fanout.followerCount("t1") === 5, "followers attached");
      for (const c of controllers) c.abort();
      await waitFor(() => tl!.fanout.followerCount() === 0, "followers released");
    } finally {
      await server.close();
    }
  });
});

describe("keep-alives", () => {
  it("an idle stream gets SSE comment lines, never events, from one shared timer", async () => {
    tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      keepaliveMs: 30,
    });
    await tl.store.threads.ensure("idle");
    const a = await tl.app.request("/threads/idle/events");
    const b = await tl.app.request("/threads/idle/events");
    for (const res of [a, b]) {
      const frames = await collectFrames(
        res.body!,
        (f) => f.filter((x) => x.comment === "keepalive").length >= 3,
      );
      expect(frames.every((f) => f.comment === "keepalive" && f.data === undefined)).toBe(true);
    }
  });
});

describe("SSE served by Node", () => {
  it("writes the follow straight to the socket: same headers, keep-alives, events, release", async () => {
    tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      keepaliveMs: 30,
    });
    await tl.store.threads.ensure("t");
    const server = await tl.listen({ port: 0 });
    const abort = new AbortController();
    try {
      const res = await fetch(`${server.url}/threads/t/events`, { signal: abort.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(SSE_HEADERS["content-type"]);
      expect(res.headers.get(HEADER_THREAD_LAST_SEQ)).toBe("0");
      expect(res.headers.get(HEADER_REPLAY_MODE)).toBe("compact");
      const reader = new FrameReader(res.body!);
      const idle = await reader.until(
        (f) => f.filter((x) => x.comment === "keepalive").length >= 2,
      );
      expect(idle.every((f) => f.comment === "keepalive")).toBe(true);

      await tl.startRun({
        threadId: "t",
        agentId: "demo",
        input: { forwardedProps: { demo: { delayMs: 0, tokens: 3 } } },
      });
      const frames = await reader.until((f) => countType(f, "RUN_FINISHED") === 1);
      await verifyWithAgUi(eventsOf(frames));
      expect(tl.fanout.followerCount("t")).toBe(1);
      abort.abort();
      await waitFor(() => tl!.fanout.followerCount() === 0, "the follower to be released");
    } finally {
      await server.close();
    }
  });

  it("hands a response's follow over once, and only for bodies sseResponse made", async () => {
    tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    await tl.store.threads.ensure("t");
    const follow = tl.follow("t", { after: 0, replay: "full", live: true });
    await follow.open();
    const handoff = new SseHandoff();
    const res = sseResponse(follow, { handoff });
    const source = handoff.take(res.body!);
    expect(source?.follow).toBe(follow);
    expect(handoff.take(res.body!)).toBeUndefined();
    expect(handoff.take(new Response("plain").body!)).toBeUndefined();
    // Another app's handoff does not take this app's body.
    expect(new SseHandoff().take(sseResponse(follow, { handoff }).body!)).toBeUndefined();
    // The web stream gave it up without closing the follow: it still delivers.
    await tl.startRun({
      threadId: "t",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, tokens: 1 } } },
    });
    const chunk = await source!.next();
    expect(new TextDecoder().decode(chunk!)).toContain("RUN_STARTED");
    source!.close();
    expect(await source!.next()).toBeNull();
  });
});
