import type { BaseEvent } from "@ag-ui/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectFrames, countType, eventsOf, type Frame, FrameReader } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";

export interface ServerUnderTest {
  baseUrl: string;
  token?: string;
  /** Compacts a thread up to `horizon` (the store's `threads.compact`), for §2.9's cases. */
  compact(threadId: string, horizon: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * HTTP-level conformance: checks a running Threadline server against PROTOCOL.md.
 * Needs the built-in `demo` agent on the server (it is scripted through forwardedProps.demo).
 * Written once; the tests run it against the server on every store.
 */
export function runServerConformance(name: string, setup: () => Promise<ServerUnderTest>): void {
  describe(`server conformance: ${name}`, () => {
    let server: ServerUnderTest;
    let n = 0;
    const newThread = () => `conf-${Date.now().toString(36)}-${n++}`;
    const headers = (extra: Record<string, string> = {}) => ({
      "content-type": "application/json",
      ...(server.token ? { authorization: `Bearer ${server.token}` } : {}),
      ...extra,
    });
    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${server.baseUrl}${path}`, {
        ...init,
        headers: headers(init.headers as Record<string, string>),
      });
    const post = (path: string, body: unknown, extra?: Record<string, string>) =>
      call(path, {
        method: "POST",
        body: typeof body === "string" ? body : JSON.stringify(body),
        headers: extra ?? {},
      });
    const createThread = async () => {
      const threadId = newThread();
      expect((await post("/threads", { threadId })).status).toBe(201);
      return threadId;
    };
    const startRun = async (threadId: string, extra: Record<string, unknown> = {}) => {
      const res = await post(`/threads/${threadId}/runs`, {
        agentId: "demo",
        multitask: "enqueue",
        forwardedProps: { demo: { delayMs: 1, tokens: 5 } },
        ...extra,
      });
      expect(res.status).toBe(202);
      return (await res.json()) as { runId: string; status: string };
    };
    const follow = async (threadId: string, query = "", extra: Record<string, string> = {}) => {
      const controller = new AbortController();
      const res = await call(`/threads/${threadId}/events${query}`, {
        headers: extra,
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      return { res, controller };
    };
    const expectError = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message.length).toBeGreaterThan(0);
    };
    const logIds = (frames: Frame[]) =>
      frames.filter((f) => f.id !== undefined && !f.event).map((f) => Number(f.id));

    beforeAll(async () => {
      server = await setup();
    });
    afterAll(async () => {
      await server?.close();
    });

    const agentRun = async (threadId: string, messages: unknown[] = []) => {
      const res = await post("/agent/demo/run", {
        threadId,
        runId: crypto.randomUUID(),
        messages,
        tools: [],
        context: [],
        state: {},
        forwardedProps: { demo: { delayMs: 1, tokens: 5 } },
      });
      expect(res.status).toBe(200);
      // The run's own stream ends with its terminal event.
      const own = eventsOf(await collectFrames(res.body!, () => false));
      expect(own.at(-1)?.type).toBe("RUN_FINISHED");
    };

    for (const via of ["events", "connect"] as const) {
      it(`a follower (${via === "events" ? "GET /threads/:id/events" : "POST /agent/demo/connect?follow=true"}) sees three later runs in order and stays attached`, async () => {
        const threadId = await createThread();
        const controller = new AbortController();
        const res =
          via === "events"
            ? (await follow(threadId)).res
            : await call("/agent/demo/connect?follow=true", {
                method: "POST",
                signal: controller.signal,
                body: JSON.stringify({
                  threadId,
                  runId: "c",
                  messages: [],
                  tools: [],
                  context: [],
                  state: {},
                  forwardedProps: {},
                }),
              });
        expect(res.status).toBe(200);
        const reader = new FrameReader(res.body!);
        const frames = reader.until((f) => countType(f, "RUN_FINISHED") >= 3);
        await startRun(threadId);
        await startRun(threadId);
        await agentRun(threadId, [{ id: "m-3", role: "user", content: "third" }]);
        const got = await frames;
        await verifyWithAgUi(eventsOf(got));
        expect(countType(got, "RUN_STARTED")).toBe(3);
        const ids = logIds(got);
        expect(ids).toEqual(ids.map((_, i) => ids[0]! + i));
        const started = eventsOf(got).filter((e) => e.type === "RUN_STARTED") as Array<
          BaseEvent & {
            metadata?: { threadline?: { trigger?: { kind: string } } };
            input?: { messages: Array<{ id: string }> };
          }
        >;
        expect(started.map((e) => e.metadata?.threadline?.trigger?.kind)).toEqual([
          "api",
          "api",
          "client",
        ]);
        expect(started[2]!.input?.messages.map((m) => m.id)).toEqual(["m-3"]);
        // Still attached: a fourth run arrives on the same stream.
        const more = reader.until((f) => countType(f, "RUN_FINISHED") >= 1);
        await startRun(threadId);
        expect(countType(await more, "RUN_STARTED")).toBe(1);
        await reader.close();
        controller.abort();
      });
    }

    it("resumes from Last-Event-ID and from ?after= with no gap and no duplicate", async () => {
      const threadId = await createThread();
      await startRun(threadId);
      await startRun(threadId);
      await collectFrames(
        (await follow(threadId, "?replay=full")).res.body!,
        (f) => countType(f, "RUN_FINISHED") >= 2,
      );
      const whole = await collectFrames(
        (await follow(threadId, "?replay=full&follow=false")).res.body!,
        () => false,
      );
      const all = logIds(whole);
      expect(all.length).toBeGreaterThan(10);
      expect(countType(whole, "RUN_FINISHED")).toBe(2);
      const cut = all[7]!;
      const viaHeader = await collectFrames(
        (await follow(threadId, "?follow=false", { "Last-Event-ID": String(cut) })).res.body!,
        () => false,
      );
      expect(logIds(viaHeader)).toEqual(all.filter((s) => s > cut));
      const viaQuery = await collectFrames(
        (await follow(threadId, `?after=${cut}&follow=false`)).res.body!,
        () => false,
      );
      expect(logIds(viaQuery)).toEqual(all.filter((s) => s > cut));
      await verifyWithAgUi(eventsOf(viaHeader));
    });

    it("compact replay summarises the thread as one valid run; its last frame carries the cursor", async () => {
      const threadId = await createThread();
      await startRun(threadId, { messages: [{ id: "q1", role: "user", content: "hi" }] });
      await startRun(threadId);
      await collectFrames(
        (await follow(threadId, "?replay=full")).res.body!,
        (f) => countType(f, "RUN_FINISHED") >= 2,
      );
      const state = (await (await call(`/threads/${threadId}`)).json()) as {
        lastSeq: number;
        messages: unknown[];
      };
      const frames = await collectFrames(
        (await follow(threadId, "?follow=false")).res.body!,
        () => false,
      );
      expect(frames.map((f) => f.data?.type)).toEqual([
        "RUN_STARTED",
        "MESSAGES_SNAPSHOT",
        "STATE_SNAPSHOT",
        "RUN_FINISHED",
      ]);
      expect(frames.every((f) => f.event === "snapshot")).toBe(true);
      expect(frames[3]!.id).toBe(String(state.lastSeq));
      expect((frames[1]!.data as unknown as { messages: unknown[] }).messages).toEqual(
        state.messages,
      );
      await verifyWithAgUi(eventsOf(frames));
    });

    it("GET /threads/:id and /runs report the view and the runs with provenance", async () => {
      const threadId = await createThread();
      const { runId } = await startRun(threadId, {
        messages: [{ id: "q", role: "user", content: "x" }],
        trigger: { kind: "client", source: "conformance" },
      });
      await collectFrames(
        (await follow(threadId, "?replay=full")).res.body!,
        (f) => countType(f, "RUN_FINISHED") >= 1,
      );
      const thread = (await (await call(`/threads/${threadId}`)).json()) as Record<string, unknown>;
      expect(thread).toMatchObject({ threadId, activeRun: null });
      expect((thread.messages as unknown[]).length).toBe(2);
      const runs = (await (await call(`/threads/${threadId}/runs`)).json()) as {
        runs: Array<Record<string, unknown>>;
      };
      expect(runs.runs[0]).toMatchObject({
        runId,
        status: "succeeded",
        trigger: { kind: "client", source: "conformance" },
      });
      const list = (await (await call("/threads?limit=1000")).json()) as {
        threads: Array<{ threadId: string }>;
      };
      expect(list.threads.some((t) => t.threadId === threadId)).toBe(true);
    });

    it("cancel closes a running run with a cancelled RUN_FINISHED", async () => {
      const threadId = await createThread();
      const { res, controller } = await follow(threadId);
      const reader = new FrameReader(res.body!);
      const { runId } = await startRun(threadId, {
        forwardedProps: { demo: { delayMs: 20, tokens: 500 } },
      });
      // Cancel once it runs (202 means queued: on a networked store the claim may still be in
      // flight, and a run cancelled while queued never writes anything).
      await reader.until((f) => countType(f, "RUN_STARTED") >= 1);
      const cancel = await post(`/threads/${threadId}/runs/${runId}/cancel`, {});
      expect(cancel.status).toBe(200);
      await reader.until((f) => countType(f, "RUN_FINISHED") >= 1);
      const got = reader.frames;
      await reader.close();
      controller.abort();
      await verifyWithAgUi(eventsOf(got));
      const last = eventsOf(got).at(-1) as BaseEvent & {
        metadata?: { threadline?: { outcome?: string } };
      };
      expect(last.metadata?.threadline?.outcome).toBe("cancelled");
    });

    it("PATCH /threads/:id merges a metadata patch; unknown threads and bad bodies are refused", async () => {
      const threadId = newThread();
      expect(
        (await post("/threads", { threadId, metadata: { name: "a", tags: { x: 1 } } })).status,
      ).toBe(201);
      const patch = (body: unknown) =>
        call(`/threads/${threadId}`, { method: "PATCH", body: JSON.stringify(body) });
      const res = await patch({ metadata: { name: "b", archived: true, tags: { x: null, y: 2 } } });
      expect(res.status).toBe(200);
      const summary = (await res.json()) as { threadId: string; metadata: unknown };
      expect(summary).toMatchObject({
        threadId,
        metadata: { name: "b", archived: true, tags: { y: 2 } },
      });
      const thread = (await (await call(`/threads/${threadId}`)).json()) as { metadata: unknown };
      expect(thread.metadata).toEqual(summary.metadata);
      await expectError(
        await call("/threads/no-such-thread", {
          method: "PATCH",
          body: JSON.stringify({ metadata: { a: 1 } }),
        }),
        404,
        "THREAD_NOT_FOUND",
      );
      await expectError(await patch({ metadata: [1] }), 400, "VALIDATION_FAILED");
      await expectError(await patch({ name: "x" }), 400, "VALIDATION_FAILED");
      await expectError(
        await call(`/threads/${threadId}`, { method: "PATCH", body: "{oops" }),
        400,
        "INVALID_JSON",
      );
    });

    it("DELETE /threads/:id cancels the running run, ends followers with the marker, frees the id", async () => {
      const threadId = await createThread();
      const { res, controller } = await follow(threadId);
      const reader = new FrameReader(res.body!);
      await startRun(threadId, { forwardedProps: { demo: { delayMs: 20, tokens: 500 } } });
      await reader.until((f) => countType(f, "TEXT_MESSAGE_CONTENT") >= 1);
      const del = await call(`/threads/${threadId}`, { method: "DELETE" });
      expect(del.status).toBe(200);
      expect(await del.json()).toMatchObject({ threadId, deleted: true });
      // The stream ends by itself: the cancelled run's end, then the marker, then EOF.
      await reader.until(() => false, 10_000);
      controller.abort();
      const got = reader.frames;
      await verifyWithAgUi(eventsOf(got));
      const last = eventsOf(got).at(-1) as BaseEvent & {
        metadata?: { threadline?: { outcome?: string } };
      };
      expect(last.type).toBe("RUN_FINISHED");
      expect(last.metadata?.threadline?.outcome).toBe("cancelled");
      expect(got.at(-1)?.comment).toBe("thread-deleted");

      await expectError(await call(`/threads/${threadId}`), 404, "THREAD_NOT_FOUND");
      await expectError(await call(`/threads/${threadId}/runs`), 404, "THREAD_NOT_FOUND");
      await expectError(await call(`/threads/${threadId}/events`), 404, "THREAD_NOT_FOUND");
      await expectError(
        await call(`/threads/${threadId}`, { method: "DELETE" }),
        404,
        "THREAD_NOT_FOUND",
      );
      const list = (await (await call("/threads?limit=1000")).json()) as {
        threads: Array<{ threadId: string }>;
      };
      expect(list.threads.some((t) => t.threadId === threadId)).toBe(false);
      // The id starts over as a new, empty thread.
      expect((await post("/threads", { threadId })).status).toBe(201);
      const fresh = (await (await call(`/threads/${threadId}`)).json()) as Record<string, unknown>;
      expect(fresh).toMatchObject({ lastSeq: 0, messages: [], activeRunId: null });
    });

    it("a follower resuming from a compacted-away cursor gets a reset, then every later event (§2.9)", async () => {
      const threadId = await createThread();
      await startRun(threadId);
      await startRun(threadId);
      await startRun(threadId);
      const whole = await collectFrames(
        (await follow(threadId, "?replay=full")).res.body!,
        (f) => countType(f, "RUN_FINISHED") >= 3,
      );
      const runs = (await (await call(`/threads/${threadId}/runs`)).json()) as {
        runs: Array<{ startSeq: number }>;
      };
      const horizon = runs.runs[0]!.startSeq - 1;
      const lastSeq = logIds(whole).at(-1)!;
      await server.compact(threadId, horizon);
      expect(
        ((await (await call(`/threads/${threadId}`)).json()) as { horizon: number }).horizon,
      ).toBe(horizon);

      const { res, controller } = await follow(threadId, "", { "Last-Event-ID": "2" });
      expect(res.headers.get("x-threadline-reset")).toBe(String(horizon));
      expect(res.headers.get("x-threadline-replay")).toBe("compact");
      const reader = new FrameReader(res.body!);
      const prefix = await reader.until((f) => f.some((x) => x.id !== undefined));
      expect(prefix.every((f) => f.event === "snapshot")).toBe(true);
      expect(prefix.at(-1)!.id).toBe(String(lastSeq));
      expect(eventsOf(prefix)[1]).toMatchObject({
        type: "CUSTOM",
        name: "threadline.reset",
        value: { after: 2, horizon, seq: lastSeq },
      });
      const later = reader.until((f) => countType(f, "RUN_FINISHED") >= 1);
      await startRun(threadId);
      const tail = await later;
      await reader.close();
      controller.abort();
      const ids = logIds(tail);
      expect(ids).toEqual(ids.map((_, i) => lastSeq + 1 + i));
      await verifyWithAgUi([...eventsOf(prefix), ...eventsOf(tail)]);
      // replay=full from 0 on a compacted thread is a reset too; a cursor at the horizon is not.
      const full = await follow(threadId, "?replay=full&follow=false");
      expect(full.res.headers.get("x-threadline-reset")).toBe(String(horizon));
      await collectFrames(full.res.body!, () => false);
      const at = await follow(threadId, `?after=${horizon}&follow=false`);
      expect(at.res.headers.get("x-threadline-reset")).toBeNull();
      const rest = await collectFrames(at.res.body!, () => false);
      expect(logIds(rest)[0]).toBe(horizon + 1);
    });

    it("rejects bad input with JSON errors and the right status", async () => {
      const threadId = await createThread();
      await expectError(await call("/threads/does-not-exist/events"), 404, "THREAD_NOT_FOUND");
      await expectError(await call("/threads/does-not-exist"), 404, "THREAD_NOT_FOUND");
      await expectError(await call(`/threads/${threadId}/events?after=-1`), 400, "BAD_REQUEST");
      await expectError(await call(`/threads/${threadId}/events?after=99999`), 400, "BAD_REQUEST");
      await expectError(
        await call(`/threads/${threadId}/events?replay=sometimes`),
        400,
        "BAD_REQUEST",
      );
      await expectError(await post(`/threads/${threadId}/runs`, "{not json"), 400, "INVALID_JSON");
      await expectError(
        await post(`/threads/${threadId}/runs`, { agentId: 5 }),
        400,
        "VALIDATION_FAILED",
      );
      await expectError(
        await post(`/threads/${threadId}/runs`, {
          agentId: "demo",
          messages: [{ id: "x", role: "wizard" }],
        }),
        400,
        "VALIDATION_FAILED",
      );
      await expectError(
        await post(`/threads/${threadId}/runs`, { agentId: "no-such-agent" }),
        404,
        "AGENT_NOT_FOUND",
      );
      await expectError(
        await post(`/threads/${threadId}/runs`, { agentId: "demo", trigger: { kind: "schedule" } }),
        400,
        "VALIDATION_FAILED",
      );
      await expectError(await call(`/threads/${threadId}/runs/nope`), 404, "RUN_NOT_FOUND");
      await expectError(
        await post(`/threads/${threadId}/runs/nope/cancel`, {}),
        404,
        "RUN_NOT_FOUND",
      );
      await expectError(await call("/no/such/route"), 404, "NOT_FOUND");
      const big = JSON.stringify({ agentId: "demo", state: { blob: "x".repeat(2 * 1024 * 1024) } });
      await expectError(await post(`/threads/${threadId}/runs`, big), 413, "PAYLOAD_TOO_LARGE");
      await startRun(threadId, { forwardedProps: { demo: { delayMs: 20, tokens: 200 } } });
      await expectError(
        await post(`/threads/${threadId}/runs`, { agentId: "demo", multitask: "reject" }),
        409,
        "THREAD_BUSY",
      );
      // Nothing stored was lost by any of the above: the accepted run writes to the log. It
      // starts asynchronously (202), so on a networked store it may not have written yet.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const thread = (await (await call(`/threads/${threadId}`)).json()) as { lastSeq: number };
        if (thread.lastSeq > 0) break;
        expect(Date.now(), "the accepted run never wrote to the log").toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 10));
      }
    });
  });
}
