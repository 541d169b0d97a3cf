import { get, type IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import type { BaseEvent } from "@ag-ui/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectFrames, countType, eventsOf, type Frame, FrameReader } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";

export interface ServerUnderTest {
  baseUrl: string;
  token?: string;
  /**
   * Compacts a thread up to `horizon` (the store's `threads.compact`), for §2.9's cases; they run
   * when `runServerConformance`'s `opts.compaction` says so (not against a bare URL).
   */
  compact?(threadId: string, horizon: number): Promise<void>;
  close(): Promise<void>;
  /**
   * Starts a graceful shutdown (what SIGTERM does) with a grace period of 500 ms, and resolves
   * once it is done. A server that has it also gets the shutdown cases, on a server of its own
   * (setup is called again).
   */
  shutdown?(): Promise<void>;
}

/**
 * HTTP-level conformance: checks a running Threadline server against PROTOCOL.md.
 * Needs the built-in `demo` agent on the server (it is scripted through forwardedProps.demo).
 * Written once; the tests run it against the server on every store.
 */
export function runServerConformance(
  name: string,
  setup: () => Promise<ServerUnderTest>,
  opts: { shutdown?: boolean; compaction?: boolean } = {},
): void {
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

    if (opts.compaction) {
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
        await server.compact!(threadId, horizon);
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
    }

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

    const runsOf = async (threadId: string) =>
      (
        (await (await call(`/threads/${threadId}/runs`)).json()) as {
          runs: Array<{ runId: string; status: string }>;
        }
      ).runs;
    /** Polls the run list until every run ended (a networked store commits asynchronously). */
    const allEnded = async (threadId: string, count: number, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const runs = await runsOf(threadId);
        if (runs.length >= count && runs.every((r) => !["queued", "running"].includes(r.status))) {
          return runs;
        }
        expect(Date.now(), `runs of ${threadId} did not end`).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const lastSeqOf = async (threadId: string) =>
      ((await (await call(`/threads/${threadId}`)).json()) as { lastSeq: number }).lastSeq;
    const contiguous = (ids: number[], from: number) =>
      expect(ids).toEqual(ids.map((_, i) => from + i));

    it("Last-Event-ID wins over ?after= (§2)", async () => {
      const threadId = await createThread();
      await startRun(threadId);
      await allEnded(threadId, 1);
      const last = await lastSeqOf(threadId);
      const frames = await collectFrames(
        (await follow(threadId, "?after=1&follow=false", { "Last-Event-ID": "3" })).res.body!,
        () => false,
      );
      contiguous(logIds(frames), 4);
      expect(logIds(frames).at(-1)).toBe(last);
    });

    it("replay=none sends only what is committed after the stream opened (§2.2)", async () => {
      const threadId = await createThread();
      await startRun(threadId);
      await allEnded(threadId, 1);
      const last = await lastSeqOf(threadId);
      const { res, controller } = await follow(threadId, "?replay=none");
      expect(res.headers.get("x-threadline-replay")).toBe("none");
      expect(res.headers.get("x-threadline-last-seq")).toBe(String(last));
      const reader = new FrameReader(res.body!);
      const frames = reader.until((f) => countType(f, "RUN_FINISHED") >= 1);
      await startRun(threadId);
      const got = await frames;
      await reader.close();
      controller.abort();
      expect(got.every((f) => f.event === undefined)).toBe(true);
      expect(got[0]!.data?.type).toBe("RUN_STARTED");
      contiguous(logIds(got), last + 1);
      await verifyWithAgUi(eventsOf(got));
    });

    it("a client that resumes right after the compact prefix gets exactly what came after it (§2.4)", async () => {
      const threadId = await createThread();
      await startRun(threadId, { messages: [{ id: "p1", role: "user", content: "hi" }] });
      await allEnded(threadId, 1);
      const prefix = await collectFrames(
        (await follow(threadId, "?follow=false")).res.body!,
        () => false,
      );
      expect(prefix.map((f) => f.event)).toEqual(["snapshot", "snapshot", "snapshot", "snapshot"]);
      const cursor = prefix.at(-1)!.id!;
      expect(prefix.slice(0, -1).every((f) => f.id === undefined)).toBe(true);
      await startRun(threadId);
      await allEnded(threadId, 2);
      const rest = await collectFrames(
        (await follow(threadId, "?follow=false", { "Last-Event-ID": cursor })).res.body!,
        () => false,
      );
      expect(rest.some((f) => f.event !== undefined)).toBe(false);
      expect(rest[0]!.data?.type).toBe("RUN_STARTED");
      contiguous(logIds(rest), Number(cursor) + 1);
      expect(logIds(rest).at(-1)).toBe(await lastSeqOf(threadId));
      // The prefix and what follows it are one valid AG-UI stream.
      await verifyWithAgUi([...eventsOf(prefix), ...eventsOf(rest)]);
    });

    it("a follower that stops reading for megabytes of events gets them all, in order, when it reads again (§2.6)", async () => {
      const threadId = await createThread();
      // A socket whose reader pauses right after the headers: the kernel's buffers fill, then
      // the server's queue for it (1 MiB by default), then it is served from the store.
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = get(`${server.baseUrl}/threads/${threadId}/events?replay=full&after=0`, {
          headers: headers(),
        });
        req.on("response", resolve);
        req.on("error", reject);
      });
      res.pause();
      expect(res.statusCode).toBe(200);
      // Eight runs, each with a prompt of 900 KB (its RUN_STARTED carries it): ~7 MB of frames.
      for (let i = 0; i < 8; i++) {
        const content = `${i}`.padEnd(900_000, "abcdefghij");
        await startRun(threadId, {
          messages: [{ id: `big-${i}`, role: "user", content }],
          forwardedProps: { demo: { tokens: 3, delayMs: 0 } },
        });
      }
      const runs = await allEnded(threadId, 8, 20_000);
      expect(runs.map((r) => r.status)).toEqual(runs.map(() => "succeeded"));
      const last = await lastSeqOf(threadId);
      const got = await collectFrames(
        Readable.toWeb(res) as ReadableStream<Uint8Array>,
        (f) => countType(f, "RUN_FINISHED") >= 8,
        20_000,
      );
      res.destroy();
      contiguous(logIds(got), 1);
      expect(logIds(got).at(-1)).toBe(last);
      await verifyWithAgUi(eventsOf(got));
    });

    it("interrupt cancels the active run and starts at once (§3)", async () => {
      const threadId = await createThread();
      const { res, controller } = await follow(threadId);
      const reader = new FrameReader(res.body!);
      const first = await startRun(threadId, {
        forwardedProps: { demo: { delayMs: 20, tokens: 500 } },
      });
      await reader.until((f) => countType(f, "TEXT_MESSAGE_CONTENT") >= 1);
      const second = await post(`/threads/${threadId}/runs`, {
        agentId: "demo",
        multitask: "interrupt",
        forwardedProps: { demo: { delayMs: 1, tokens: 3 } },
      });
      expect(second.status).toBe(202);
      const body = (await second.json()) as { runId: string; interrupted?: string };
      expect(body.interrupted).toBe(first.runId);
      await reader.until((f) => countType(f, "RUN_FINISHED") >= 2);
      await reader.close();
      controller.abort();
      const events = eventsOf(reader.frames);
      await verifyWithAgUi(events);
      const ends = events.filter((e) => e.type === "RUN_FINISHED") as Array<
        BaseEvent & { runId: string; metadata?: { threadline?: { outcome?: string } } }
      >;
      expect(ends.map((e) => [e.runId, e.metadata?.threadline?.outcome])).toEqual([
        [first.runId, "cancelled"],
        [body.runId, undefined],
      ]);
      const runs = await allEnded(threadId, 2);
      expect(runs.map((r) => [r.runId, r.status])).toEqual([
        [body.runId, "succeeded"],
        [first.runId, "cancelled"],
      ]);
    });

    it("a run id the thread already has is refused with 409 CONFLICT, whatever the strategy (§3)", async () => {
      const threadId = await createThread();
      const runId = `mine-${Date.now().toString(36)}`;
      const first = await startRun(threadId, { runId });
      expect(first.runId).toBe(runId);
      for (const multitask of ["enqueue", "reject", "interrupt"]) {
        await expectError(
          await post(`/threads/${threadId}/runs`, { agentId: "demo", runId, multitask }),
          409,
          "CONFLICT",
        );
      }
      const runs = await allEnded(threadId, 1);
      expect(runs.map((r) => [r.runId, r.status])).toEqual([[runId, "succeeded"]]);
    });
  });

  if (opts.shutdown) {
    describe(`server conformance: ${name}: graceful shutdown`, () => {
      it("while it shuts down, runs are refused with 503 and /readyz says so; a run in progress ends and its followers see it end (§3, §6)", async () => {
        const s = await setup();
        expect(s.shutdown, "setup gives no shutdown()").toBeTypeOf("function");
        const call = (path: string, init: RequestInit = {}) =>
          fetch(`${s.baseUrl}${path}`, {
            ...init,
            headers: {
              "content-type": "application/json",
              ...(s.token ? { authorization: `Bearer ${s.token}` } : {}),
            },
          });
        try {
          const threadId = `conf-shutdown-${Date.now().toString(36)}`;
          expect(
            (await call("/threads", { method: "POST", body: JSON.stringify({ threadId }) })).status,
          ).toBe(201);
          const followed = await call(`/threads/${threadId}/events`);
          const reader = new FrameReader(followed.body!);
          const run = (body: unknown) =>
            call(`/threads/${threadId}/runs`, { method: "POST", body: JSON.stringify(body) });
          expect(
            (
              await run({
                agentId: "demo",
                // Longer than the grace period (setup's shutdown gives 500 ms): it is cut off.
                forwardedProps: { demo: { delayMs: 10, tokens: 1_000 } },
              })
            ).status,
          ).toBe(202);
          await reader.until((f) => countType(f, "TEXT_MESSAGE_CONTENT") >= 1);
          const stopped = s.shutdown!();
          // A signal reaches a process asynchronously: once /readyz says it is shutting down,
          // every run request is refused.
          const deadline = Date.now() + 5_000;
          let ready = await call("/readyz");
          while (ready.status !== 503) {
            expect(Date.now(), "/readyz never said 503").toBeLessThan(deadline);
            await new Promise((r) => setTimeout(r, 5));
            ready = await call("/readyz");
          }
          expect(((await ready.json()) as { error: { message: string } }).error.message).toMatch(
            /shutting down/,
          );
          const refused = await run({ agentId: "demo", multitask: "enqueue" });
          expect(refused.status).toBe(503);
          expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
            "UNAVAILABLE",
          );
          // Past the grace period the run is closed as interrupted while its followers are still
          // attached: they see its RUN_ERROR (committed, on every store), then the stream ends.
          await reader.until(() => false, 15_000);
          await stopped;
          const events = eventsOf(reader.frames);
          await verifyWithAgUi(events);
          expect(events.at(-1)).toMatchObject({ type: "RUN_ERROR", code: "INTERRUPTED" });
          expect(countType(reader.frames, "RUN_STARTED")).toBe(1);
        } finally {
          await s.close();
        }
      });
    });
  }
}
