import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { followThread, ThreadlineClient, ThreadlineError } from "../../src/client/index.js";
import { GateAgent } from "../helpers/agents.js";
import { type Loopback, startLoopback } from "./loopback.js";

let s: Loopback;
beforeEach(async () => {
  GateAgent.reset();
  s = await startLoopback({ token: "secret" });
});
afterEach(async () => {
  await s.close();
});

describe("ThreadlineClient", () => {
  it("creates, lists, reads threads and starts and cancels runs", async () => {
    const client = new ThreadlineClient({ baseUrl: `${s.url}/`, token: "secret" });
    const created = await client.createThread({ threadId: "t", metadata: { title: "hi" } });
    expect(created).toMatchObject({ threadId: "t", lastSeq: 0, metadata: { title: "hi" } });
    expect((await client.listThreads({ limit: 10 })).map((t) => t.threadId)).toEqual(["t"]);

    const started = await client.startRun("t", { agentId: "gate", runId: "r1" });
    expect(started).toMatchObject({ runId: "r1", threadId: "t" });
    (await GateAgent.nth(0)).started();
    const busy = await client.startRun("t", { agentId: "gate" }).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(ThreadlineError);
    expect(busy).toMatchObject({ code: "THREAD_BUSY", status: 409 });

    expect((await client.getThread("t")).activeRun).toMatchObject({ runId: "r1" });
    const cancelled = await client.cancelRun("t", "r1");
    expect(cancelled.status).toBe("cancelled");
    expect((await client.getThread("t")).activeRun).toBeNull();
  });

  it("rebuilds error responses as ThreadlineError", async () => {
    const client = new ThreadlineClient({ baseUrl: s.url, token: "secret" });
    await expect(client.getThread("missing")).rejects.toMatchObject({
      code: "THREAD_NOT_FOUND",
      status: 404,
    });
    await expect(client.cancelRun("missing", "r")).rejects.toMatchObject({ status: 404 });
    await expect(client.startRun("t", { agentId: "nobody" })).rejects.toMatchObject({
      code: "AGENT_NOT_FOUND",
    });
    const anonymous = new ThreadlineClient({ baseUrl: s.url });
    await expect(anonymous.listThreads()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    const rotating = new ThreadlineClient({
      baseUrl: s.url,
      headers: () => ({ authorization: "Bearer secret" }),
    });
    expect(await rotating.listThreads()).toEqual([]);
  });
});

describe("followThread against a misbehaving stream", () => {
  const frame = (seq: number, type = "CUSTOM") =>
    `id: ${seq}\ndata: ${JSON.stringify({ type, name: "n", value: seq })}\n\n`;
  const sse = (body: string, keepOpen: boolean) =>
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(body));
          if (!keepOpen) controller.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );

  it("reconnects from its cursor when a seq is skipped, and drops repeats", async () => {
    const urls: string[] = [];
    const fetchStub = async (url: string) => {
      urls.push(url);
      return urls.length === 1
        ? sse(frame(1) + frame(3), false)
        : sse(frame(1) + frame(2) + frame(3), true);
    };
    const seqs: number[] = [];
    const abort = new AbortController();
    for await (const item of followThread("http://stub", "t", {
      after: 0,
      fetch: fetchStub,
      signal: abort.signal,
      backoff: { initialMs: 1 },
    })) {
      seqs.push(item.seq);
      if (seqs.length === 3) abort.abort();
    }
    expect(seqs).toEqual([1, 2, 3]);
    expect(urls[1]).toContain("after=1");
  });

  it("refuses a response that is not an event stream", async () => {
    const html = async () => new Response("<html>", { headers: { "content-type": "text/html" } });
    await expect(followThread("http://stub", "t", { fetch: html }).next()).rejects.toMatchObject({
      code: "PROTOCOL_ERROR",
    });
  });
});
