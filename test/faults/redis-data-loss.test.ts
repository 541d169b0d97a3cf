import type { BaseEvent } from "@ag-ui/core";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { followThread, type ThreadEvent } from "../../src/client/follow-thread.js";
import { ThreadlineError } from "../../src/core/errors.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { HEADER_EPOCH } from "../../src/protocol.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { type PrivateRedis, startPrivateRedis } from "../helpers/private-services.js";
import { type Frame, readFrames } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * A Redis of our own, without persistence, killed and started again on the same port under a
 * live Threadline with a run writing and followers attached: the loss is detected (the keyspace's
 * epoch key is gone), followers end with a clear error, nothing is written into the empty
 * keyspace (no seq reused), the process lives, /readyz says why; a restarted instance starts a
 * new epoch and refuses cursors of the old one.
 */
let redis: PrivateRedis;
let tl: Threadline;
let url: string;
let closeServer: () => Promise<void>;
beforeAll(async () => {
  redis = await startPrivateRedis();
  const store = await createRedisStore({ url: redis.url, prefix: "loss" });
  tl = createThreadline({ store, agents: { demo: new DemoAgent() }, leaseMs: 3_000 });
  await tl.ready;
  const server = await tl.listen({ port: 0 });
  url = server.url;
  closeServer = () => server.close();
}, 30_000);
afterAll(async () => {
  await closeServer?.();
  await tl?.close({ graceMs: 50 });
  await redis?.stop();
});

describe("a Redis that lost its data", () => {
  let epoch: string;
  let cursor = 0;

  it("ends the run's followers with DATA_LOST, writes nothing more, keeps the process", async () => {
    // A follower on the real client and one reading the raw stream (the wire frames).
    const seen: ThreadEvent[] = [];
    // Its end (the DATA_LOST rejection) is taken at once: it can come while the test still
    // awaits the restart, and a rejection nobody holds yet is an unhandled one.
    const client = (async () => {
      for await (const item of followThread(url, "t", { after: 0, replay: "full" })) {
        seen.push(item);
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    const raw: Frame[] = [];
    await tl.store.threads.ensure("t");
    const res = await fetch(`${url}/threads/t/events?replay=full`);
    expect(res.status).toBe(200);
    epoch = res.headers.get(HEADER_EPOCH) ?? "";
    expect(epoch).toMatch(/^[0-9a-f-]{36}$/);
    const rawDone = (async () => {
      for await (const frame of readFrames(res.body!)) raw.push(frame);
    })();
    // A follower of an idle thread: nothing of its own fails, the store's check on reconnect does.
    await tl.store.threads.ensure("idle");
    const idleRes = await fetch(`${url}/threads/idle/events`);
    const idle: Frame[] = [];
    const idleDone = (async () => {
      for await (const frame of readFrames(idleRes.body!)) idle.push(frame);
    })();

    await tl.startRun({
      threadId: "t",
      agentId: "demo",
      input: {
        messages: [{ id: "u1", role: "user", content: "keep going" }],
        forwardedProps: { demo: { tokens: 5_000, delayMs: 2 } },
      },
    });
    await waitFor(() => seen.length > 20 && raw.length > 20, "the run to stream");
    await redis.restart();

    const error = await client;
    expect(ThreadlineError.is(error, "DATA_LOST")).toBe(true);
    await rawDone;
    await idleDone;
    expect(idle).toEqual([{ comment: "data-lost" }]);

    // The raw stream: log frames with consecutive ids, the synthetic RUN_ERROR, the marker.
    const ids = raw.filter((f) => f.id !== undefined).map((f) => Number(f.id));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    cursor = ids.at(-1)!;
    const abort = raw.at(-2)!;
    expect(abort.event).toBe("abort");
    expect(abort.id).toBeUndefined();
    expect(abort.data).toMatchObject({ type: "RUN_ERROR", code: "DATA_LOST" });
    expect(raw.at(-1)!.comment).toBe("data-lost");
    // What a stock AG-UI client sees is a valid stream: the run ends with an error.
    await verifyWithAgUi(raw.filter((f) => f.data).map((f) => f.data as BaseEvent));
    // The client follower got the same, and its run ended the same way.
    expect(seen.at(-1)).toMatchObject({ kind: "abort", event: { type: "RUN_ERROR" } });
    await verifyWithAgUi(seen.map((i) => i.event));

    // Nothing was written into the empty keyspace: no seq (nor token, nor run) was reused.
    const direct = new Redis(redis.url);
    try {
      expect(await direct.dbsize()).toBe(0);
      // And the store refuses to operate, with the stable code.
      const refused = await tl.store.threads.head("t").catch((e: unknown) => e);
      expect(ThreadlineError.is(refused, "DATA_LOST")).toBe(true);
      const post = await fetch(`${url}/threads/t/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ agentId: "demo", messages: [] }),
      });
      expect(post.status).toBe(503);
      expect(((await post.json()) as { error: { code: string } }).error.code).toBe("DATA_LOST");
      expect(await direct.dbsize()).toBe(0);
    } finally {
      direct.disconnect();
    }

    // The process lives; readiness says why it is not ready.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("DATA_LOST");
    expect(body.error.message).toMatch(/lost its data.*restarted/);
    // A new follower is refused before its stream starts.
    const late = await fetch(`${url}/threads/t/events`);
    expect(late.status).toBe(503);
  });

  it("a restarted instance starts a new epoch and refuses cursors of the old one", async () => {
    const store = await createRedisStore({ url: redis.url, prefix: "loss" });
    const fresh = createThreadline({ store, agents: { demo: new DemoAgent() } });
    const server = await fresh.listen({ port: 0 });
    try {
      await fresh.ready;
      expect(store.epoch).toBeDefined();
      expect(store.epoch).not.toBe(epoch);
      // The thread exists again (a new one) and has grown past the old cursor.
      const { runId } = await fresh.startRun({
        threadId: "t",
        agentId: "demo",
        input: { forwardedProps: { demo: { tokens: cursor + 10, delayMs: 0 } } },
      });
      await waitFor(async () => {
        const run = await store.runs.get("t", runId);
        return run?.status === "succeeded";
      }, "the new run to finish");
      expect((await store.threads.head("t"))!.lastSeq).toBeGreaterThan(cursor);

      const resume = await fetch(`${server.url}/threads/t/events?follow=false`, {
        headers: { "last-event-id": String(cursor), [HEADER_EPOCH]: epoch },
      });
      expect(resume.status).toBe(409);
      expect(((await resume.json()) as { error: { code: string } }).error.code).toBe(
        "EPOCH_MISMATCH",
      );
      // The client library, given the epoch it saved with its cursor: the error, not other seqs.
      const resumed = followThread(server.url, "t", { after: cursor, epoch });
      const failed = await resumed.next().catch((e: unknown) => e);
      expect(ThreadlineError.is(failed, "EPOCH_MISMATCH")).toBe(true);
      // With the current epoch the cursor is fine.
      const ok = await fetch(`${server.url}/threads/t/events?follow=false`, {
        headers: { "last-event-id": String(cursor), [HEADER_EPOCH]: store.epoch! },
      });
      expect(ok.status).toBe(200);
      await ok.body?.cancel();
    } finally {
      await server.close();
      await fresh.close({ graceMs: 50 });
    }
  });
});
